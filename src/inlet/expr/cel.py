"""Compiling and evaluating CEL with cel-python (``celpy``).

Inngest's semantics are lenient: a missing field makes a comparison false instead of an
error. Here any evaluation error counts as "no match"; the finer lenient rules (mixed
int/float comparisons, Inngest's extra functions) are still to come.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import celpy
from celpy.adapter import json_to_cel
from celpy.celparser import CELParseError
from celpy.evaluation import CELEvalError

from inlet.errors import BadRequest

_ENV = celpy.Environment()


class ExpressionInvalid(BadRequest):
    """An expression does not compile."""

    code = "expression_invalid"


class Expression:
    __slots__ = ("_program", "source")

    def __init__(self, source: str, program: Any) -> None:
        self.source = source
        self._program = program

    def evaluate(self, variables: dict[str, Any]) -> Any:
        """The value, or None when evaluation fails (a missing field, a type mismatch)."""
        activation = {name: json_to_cel(value) for name, value in variables.items()}
        try:
            result = self._program.evaluate(activation)
        except (CELEvalError, TypeError, ValueError, KeyError):
            return None
        if isinstance(result, CELEvalError):
            return None
        return result

    def matches(self, variables: dict[str, Any]) -> bool:
        """True only for a boolean true result: anything else is no match."""
        result = self.evaluate(variables)
        return isinstance(result, bool | celpy.celtypes.BoolType) and bool(result)


@lru_cache(maxsize=4096)
def compile_expression(source: str) -> Expression:
    """Compile ``source`` once; raises ``ExpressionInvalid`` with the parser's message."""
    try:
        ast = _ENV.compile(source)
        program = _ENV.program(ast)
    except CELParseError as exc:
        raise ExpressionInvalid(f"expression {source!r} does not compile: {exc}") from None
    return Expression(source, program)
