"""Compiling and evaluating expressions the way Inngest does (docs/protocol.md §8).

celpy parses the CEL source; :mod:`inlet.expr.compiler` turns its tree into closures that
apply Inngest's lenient rules to plain JSON values. Compiled expressions are cached by
source text, so each distinct expression is parsed once per process.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import celpy
import lark
from celpy.celparser import CELParseError

from inlet.errors import InvalidValue
from inlet.expr.compiler import CompileError, Context, Node, compile_tree
from inlet.expr.functions import NoClock
from inlet.expr.values import Absent

_EXAMPLE = "such as event.data.id == async.data.id"


class ExpressionInvalid(InvalidValue):
    """An expression does not compile."""

    code = "expression_invalid"


class Expression:
    """A compiled expression: immutable, cached, safe to share."""

    __slots__ = ("_run", "source", "tree")

    def __init__(self, source: str, tree: lark.Tree[Any], run: Node) -> None:
        self.source = source
        self.tree = tree
        self._run = run

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"

    def evaluate(self, variables: dict[str, Any], now: float | None = None) -> Any:
        """The value, as JSON-shaped Python (timestamps are ``datetime``), or None when it
        is unknown or fails: a missing field, a type mismatch, ``now()`` without ``now``.

        ``variables`` maps names (``event``, ``async``) to JSON values, read in place and
        never copied; ``now`` is the time in epoch seconds that ``now()`` returns.
        """
        try:
            result = self._run(Context(variables, now))
        except NoClock:
            return None
        # Go returns false for an unknown result and an error for a failed one; both mean
        # "no value" to callers here.
        return None if isinstance(result, Absent) else result

    def matches(self, variables: dict[str, Any], now: float | None = None) -> bool:
        """True only for a boolean true result: anything else is no match."""
        try:
            return self._run(Context(variables, now)) is True
        except NoClock:
            return False


def parse(source: str) -> lark.Tree[Any]:
    """celpy's parse tree of ``source``; raises :class:`ExpressionInvalid`."""
    return _parse(source)


@lru_cache(maxsize=4096)
def _parse(source: str) -> lark.Tree[Any]:
    try:
        return _ENV.compile(source)
    except CELParseError as exc:
        raise _invalid(source, "syntax error", exc.line, exc.column) from None


@lru_cache(maxsize=4096)
def compile_expression(source: str) -> Expression:
    """Compile ``source`` once; raises :class:`ExpressionInvalid` naming the expression and
    the line and column where it goes wrong."""
    tree = _parse(source)
    try:
        run = compile_tree(tree)
    except CompileError as exc:
        raise _invalid(source, str(exc), exc.line, exc.column) from None
    return Expression(source, tree, run)


def _invalid(source: str, problem: str, line: int | None, column: int | None) -> ExpressionInvalid:
    if line is None or column is None:
        return ExpressionInvalid(
            f"invalid expression {source!r}: {problem}; expected CEL {_EXAMPLE}"
        )
    text = source.splitlines()[line - 1] if source.splitlines() else source
    where = f"line {line}, column {column}" if "\n" in source else f"column {column}"
    return ExpressionInvalid(
        f"invalid expression {source!r}: {problem} at {where}\n  {text}\n  {' ' * (column - 1)}^\n"
        f"expected CEL {_EXAMPLE}"
    )


_ENV = celpy.Environment()
