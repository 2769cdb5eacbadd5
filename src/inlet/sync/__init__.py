"""App sync: the server PUTs apps, apps register their functions (PROTOCOL §3)."""
