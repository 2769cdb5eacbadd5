"""Pure run semantics: what a call reply means, waits, timers, finishing, retries and the
request the executor sends. No I/O, no clock reads (time is a parameter)."""
