"""``inlet doctor``: a preflight of a running server and its apps.

``checks.py`` turns what was gathered into verdicts (pure: the time comes in as an
argument); ``probe.py`` asks each app a signed question as the server would call it;
``database.py`` reads the schema version on a connection of its own; ``service.py``
gathers it all for ``GET /v1/doctor``.
"""
