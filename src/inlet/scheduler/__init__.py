"""Time-driven work: cron schedules and the fires they produce.

:mod:`inlet.scheduler.cron` holds the pure maths (parsing, next fire, jitter, missed
fires); the loop that turns fires into runs lives beside it and does the I/O.
"""
