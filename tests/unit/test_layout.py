"""The shape of the source tree that the architecture review asked for, kept by CI: small
modules named after nouns (the import layers are kept by `lint-imports` in scripts/test)."""

from __future__ import annotations

import statistics
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "inlet"
MAX_LINES = 500
MAX_MEDIAN = 200


def module_lines() -> dict[str, int]:
    return {
        str(path.relative_to(SRC)): len(path.read_text().splitlines()) for path in SRC.rglob("*.py")
    }


def test_no_module_is_over_500_lines() -> None:
    too_long = {name: n for name, n in module_lines().items() if n > MAX_LINES}
    assert too_long == {}


def test_the_median_module_is_under_200_lines() -> None:
    assert statistics.median(module_lines().values()) < MAX_MEDIAN


def test_no_module_is_a_grab_bag_named_utils_or_helpers() -> None:
    names = {Path(name).stem for name in module_lines()}
    assert names.isdisjoint({"utils", "util", "helpers", "misc", "common"})
