"""CEL expressions as the SDKs send them (PROTOCOL §8), compiled once and cached."""

from __future__ import annotations

from inlet.expr.cel import Expression, ExpressionInvalid, compile_expression

__all__ = ["Expression", "ExpressionInvalid", "compile_expression"]
