"""Runs: which functions, waits and cancellations an event hits, and the one place that
applies them (route, store, wake the worker)."""
