"""Fixing the trigger event into wait and cancellation expressions (docs/protocol.md §8.2).

``waitForEvent`` and ``cancelOn`` conditions name both the run's trigger (``event``) and
the candidate (``async``). Like Inngest's ``expressions.Interpolate`` (residual.go), the
``event`` references are replaced by literals once, when the pause is created, so that
matching reads only ``async`` and equality terms can be indexed
(:func:`inlet.expr.index.equality_index`).

A missing ``event`` field becomes ``null``, as in Go (``event.data.foo == async.data.foo``
with no ``foo`` becomes ``async.data.foo == null``): the comparison is then true for a
candidate that lacks the field too, where the uninterpolated expression would be false.
"""

from __future__ import annotations

from typing import Any

import lark

from inlet.expr.cel import ExpressionInvalid, parse
from inlet.expr.compiler import _MACROS
from inlet.expr.literals import LiteralInvalid, decode_literal, render

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
_MISSING = object()


def interpolate(source: str, variables: dict[str, Any]) -> str:
    """``source`` with every reference to a name in ``variables`` (e.g. ``event.data.id``)
    replaced by the CEL literal of its value; other names (``async``) are left alone.

    ``has(event.data.x)`` becomes ``true`` or ``false``. The rest of the text, string
    literals included, is kept byte for byte. Raises :class:`ExpressionInvalid` when
    ``source`` does not parse or a value has no literal (a NaN).
    """
    tree = parse(source)
    edits: list[tuple[int, int, str]] = []
    _collect(tree, variables, frozenset(), edits)
    if not edits:
        return source
    # Spans never overlap: a replaced node's children are not visited.
    parts: list[str] = []
    position = 0
    for start, end, text in sorted(edits):
        parts.append(source[position:start])
        parts.append(text)
        position = end
    parts.append(source[position:])
    return "".join(parts)


def _collect(
    tree: lark.Tree[Any],
    variables: dict[str, Any],
    bound: frozenset[str],
    edits: list[tuple[int, int, str]],
) -> None:
    reference = _reference(tree, variables, bound)
    if reference is not None:
        value = _resolve(variables, reference)
        edits.append((tree.meta.start_pos, tree.meta.end_pos, _literal(value, tree)))
        return
    if tree.data == "ident_arg" and str(tree.children[0]) == "has" and len(tree.children) == 2:
        arguments = tree.children[1].children
        presence = _presence(arguments[0], variables, bound) if len(arguments) == 1 else None
        if presence is not None:
            edits.append((tree.meta.start_pos, tree.meta.end_pos, presence))
            return
    if tree.data == "member_dot_arg" and str(tree.children[1]) in _MACROS:
        # x in list.exists(x, …) shadows an outer x inside the macro's body.
        _collect(tree.children[0], variables, bound, edits)
        arguments = tree.children[2].children if len(tree.children) > 2 else []
        name = _identifier(arguments[0]) if arguments else None
        inner = bound | {name} if name else bound
        for argument in arguments[1:]:
            _collect(argument, variables, inner, edits)
        return
    for child in tree.children:
        if isinstance(child, lark.Tree):
            _collect(child, variables, bound, edits)


def _reference(
    tree: lark.Tree[Any],
    variables: dict[str, Any],
    bound: frozenset[str],
) -> list[Any] | None:
    """[root, key, …] when ``tree`` is the longest constant path from a fixed variable:
    ``event.data.id``, ``event["data"]``, ``event.data.items[0]``."""
    path: list[Any] = []
    node = tree
    while True:
        if node.data in _PASS_THROUGH and len(node.children) == 1:
            node = node.children[0]
        elif node.data == "member_dot":
            path.append(str(node.children[1]))
            node = node.children[0]
        elif node.data == "member_index":
            key = _constant(node.children[1])
            if key is _MISSING:
                return None
            path.append(key)
            node = node.children[0]
        elif node.data == "ident":
            name = str(node.children[0])
            if name in variables and name not in bound:
                return [name, *reversed(path)]
            return None
        else:
            return None


def _constant(tree: lark.Tree[Any]) -> Any:
    node = _unwrap(tree)
    if node.data == "literal":
        try:
            value = decode_literal(node.children[0])
        except LiteralInvalid:
            return _MISSING
        if isinstance(value, str | int) and not isinstance(value, bool):
            return value
    return _MISSING


def _unwrap(tree: lark.Tree[Any]) -> lark.Tree[Any]:
    while tree.data in _PASS_THROUGH and len(tree.children) == 1:
        child = tree.children[0]
        if not isinstance(child, lark.Tree):
            break
        tree = child
    return tree


def _identifier(tree: lark.Tree[Any]) -> str | None:
    node = _unwrap(tree)
    return str(node.children[0]) if node.data == "ident" else None


def _resolve(variables: dict[str, Any], path: list[Any]) -> Any:
    value: Any = variables
    for key in path:
        if isinstance(value, dict) and isinstance(key, str):
            value = value.get(key, _MISSING)
        elif isinstance(value, list) and isinstance(key, int) and 0 <= key < len(value):
            value = value[key]
        else:
            return _MISSING
        if value is _MISSING:
            return _MISSING
    return value


def _literal(value: Any, tree: lark.Tree[Any]) -> str:
    if value is _MISSING:
        return "null"
    try:
        return render(value)
    except LiteralInvalid as exc:
        raise ExpressionInvalid(
            f"cannot interpolate {value!r} at column {tree.meta.column}: {exc}"
        ) from None


def _presence(
    argument: lark.Tree[Any], variables: dict[str, Any], bound: frozenset[str]
) -> str | None:
    node = _unwrap(argument)
    if node.data != "member_dot":
        return None
    reference = _reference(node, variables, bound)
    if reference is None:
        return None
    return "false" if _resolve(variables, reference) is _MISSING else "true"
