"""App sync: the server PUTs apps, apps register their functions (docs/protocol.md §2)."""
