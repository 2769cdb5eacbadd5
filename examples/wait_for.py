"""Wait until each URL answers (any HTTP status), for at most 60 s; used by the start
scripts so that `inlet dev`'s first sync finds the apps. Stdlib only."""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request


def wait(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.monotonic() > deadline:
                sys.exit(f"{url} did not answer within {timeout:.0f}s; see the output above")
            time.sleep(0.2)


if __name__ == "__main__":
    for url in sys.argv[1:]:
        wait(url)
