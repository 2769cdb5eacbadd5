"""Events: validation of what apps send to ``POST /e/{key}``."""
