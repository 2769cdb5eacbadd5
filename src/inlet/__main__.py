from __future__ import annotations

from inlet.cli.main import main

main()
