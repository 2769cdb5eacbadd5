"""CEL expressions as the SDKs send them, evaluated with Inngest's rules (docs/protocol.md §8).

``compile_expression`` parses once and caches; ``Expression.matches`` is the trigger,
batch and pause test; ``interpolate`` fixes a run's trigger event into wait and
cancellation conditions; ``equality_index`` extracts what a pause index can look up.
"""

from __future__ import annotations

from inlet.expr.cel import Expression, ExpressionInvalid, compile_expression
from inlet.expr.index import (
    IndexValue,
    equality_index,
    equality_paths,
    index_value,
    path_value,
)
from inlet.expr.interpolate import interpolate

__all__ = [
    "Expression",
    "ExpressionInvalid",
    "IndexValue",
    "compile_expression",
    "equality_index",
    "equality_paths",
    "index_value",
    "interpolate",
    "path_value",
]
