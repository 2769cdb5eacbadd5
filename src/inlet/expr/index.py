"""Equality terms of an interpolated expression, for looking pauses up by value.

Inngest's aggregate evaluator (``inngest/expr``) indexes each pause expression by the
``async.<path> == <literal>`` predicates it must satisfy, so an arriving event fetches only
the pauses whose literal equals its value at that path instead of evaluating all of them.
:func:`equality_index` extracts those predicates; the full expression is still evaluated
on the pauses a lookup returns.
"""

from __future__ import annotations

from typing import Any

import lark

from inlet.expr.cel import parse
from inlet.expr.literals import LiteralInvalid, decode_literal

IndexValue = str | int | float | bool

_PASS_THROUGH = frozenset(
    {
        "expr",
        "conditionalor",
        "conditionaland",
        "relation",
        "addition",
        "multiplication",
        "unary",
        "member",
        "primary",
        "paren_expr",
    }
)
_ROOT = "async"


def equality_index(source: str, root: str = _ROOT) -> list[tuple[str, IndexValue]] | None:
    """The ``(path, literal)`` pairs of the ``async.<path> == <literal>`` terms (either
    operand order) of ``source``'s top-level ``&&`` chain, e.g. ``[("data.id", 7)]``; or
    None when there is none and the expression must be evaluated on every candidate.
    ``root`` names the variable instead of ``async`` (``event`` for a trigger).

    Every pair is a necessary condition: the expression can only match an event whose
    value at ``path`` equals the literal. Literals are strings, ints, floats and bools,
    normalised with :func:`index_value` (7.0 is 7). ``null`` literals are not indexed:
    they match a missing field, which has no value to look up.
    """
    pairs: list[tuple[str, IndexValue]] = []
    for term in _conjuncts(parse(source)):
        pair = _equality(term, root)
        if pair is not None:
            pairs.append(pair)
    return pairs or None


def equality_paths(source: str, root: str = _ROOT) -> frozenset[str] | None:
    """The paths ``source`` compares with a literal when its whole top-level ``&&`` chain
    is such equality terms (``equality_index``'s): its result then depends on the values
    at those paths alone. None when any term is something else."""
    paths = set()
    for term in _conjuncts(parse(source)):
        pair = _equality(term, root)
        if pair is None:
            return None
        paths.add(pair[0])
    return frozenset(paths)


def index_value(value: Any) -> IndexValue | None:
    """The key under which an event's field value is looked up: what equals a literal in
    CEL maps to the same key (an int-valued float becomes an int), other values to None.

    Beware that ``True == 1`` for Python dict keys: a bool and an int literal may share a
    bucket, which only adds candidates (the full evaluation tells them apart).
    """
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    return None


def _unwrap(tree: lark.Tree[Any]) -> lark.Tree[Any]:
    while tree.data in _PASS_THROUGH and len(tree.children) == 1:
        child = tree.children[0]
        if not isinstance(child, lark.Tree):
            break
        tree = child
    return tree


def _conjuncts(tree: lark.Tree[Any]) -> list[lark.Tree[Any]]:
    """The terms of a top-level ``a && b && …`` chain (parentheses flattened), or [tree]."""
    node = _unwrap(tree)
    if node.data == "conditionaland" and len(node.children) == 2:
        return _conjuncts(node.children[0]) + _conjuncts(node.children[1])
    return [node]


def _equality(term: lark.Tree[Any], root: str) -> tuple[str, IndexValue] | None:
    if term.data != "relation" or len(term.children) != 2:
        return None
    operator, right = term.children
    if operator.data != "relation_eq":
        return None
    left = operator.children[0]
    for path_side, literal_side in ((left, right), (right, left)):
        path = _root_path(path_side, root)
        literal = _literal(literal_side)
        if path is not None and literal is not None:
            return path, literal
    return None


def _root_path(tree: lark.Tree[Any], root: str) -> str | None:
    fields: list[str] = []
    node = _unwrap(tree)
    while node.data == "member_dot":
        fields.append(str(node.children[1]))
        node = _unwrap(node.children[0])
    if node.data == "ident" and str(node.children[0]) == root and fields:
        return ".".join(reversed(fields))
    return None


def _literal(tree: lark.Tree[Any]) -> IndexValue | None:
    node = _unwrap(tree)
    negative = False
    if node.data == "unary" and len(node.children) == 2 and node.children[0].data == "unary_neg":
        negative = True
        node = _unwrap(node.children[1])
    if node.data != "literal":
        return None
    try:
        value = decode_literal(node.children[0])
    except LiteralInvalid:
        return None
    if negative:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        value = -value
    return index_value(value)


def path_value(document: Any, path: str) -> Any:
    """The value at a dotted ``path`` (as ``equality_index`` returns) in a JSON document,
    or None when any part is missing."""
    value = document
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value
