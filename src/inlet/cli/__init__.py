"""The ``inlet`` command."""
