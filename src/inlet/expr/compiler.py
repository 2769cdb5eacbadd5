"""celpy's parse tree turned into Python closures with Inngest's lenient semantics.

celpy parses (its lark grammar is the CEL grammar); evaluation is ours because Inngest's
rules wrap every call of cel-go (``pkg/expressions/unknown.go``), and because reading the
event in place costs a few microseconds where celpy's interpreter plus ``json_to_cel``
costs hundreds (figures in ``tests/unit/test_expr.py``). The rules, per call:

* an unknown (missing field) or failed operand gives a fixed answer instead of an error:
  ``==`` is false (true against ``null``), ``!=`` true (false against ``null``), ``<``/``<=``
  true only when the left side is unknown, ``>``/``>=`` true only when the right side is,
  ``+`` returns the other operand, ``size`` 0, any other function false;
* operands of two kinds: numbers compare and equal across int and double, other kinds are
  unequal; a failed ``+`` concatenates Go's ``%v`` of both (``"a" + 1`` is ``"a1"``);
  ``null`` compares as the other side's zero (``null < 1`` is true);
* ``&&``/``||`` and the ``?:`` condition use JavaScript truthiness and return operands
  (``event.data.a || event.data.b`` is the first truthy one).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import lark

from inlet.expr import values as v
from inlet.expr.functions import FUNCTIONS, TIME_FUNCTIONS
from inlet.expr.literals import LiteralInvalid, decode_literal
from inlet.expr.values import UNKNOWN, Absent, Fail, kind, truthy


class Context:
    """The variables of one evaluation and its time (epoch seconds, for ``now()``)."""

    __slots__ = ("now", "variables")

    def __init__(self, variables: dict[str, Any], now: float | None) -> None:
        self.variables = variables
        self.now = now


Node = Callable[[Context], Any]


class CompileError(Exception):
    """The tree is valid CEL syntax but not an expression we can evaluate."""

    def __init__(self, message: str, tree: lark.Tree[Any] | lark.Token) -> None:
        super().__init__(message)
        meta = tree if isinstance(tree, lark.Token) else tree.meta
        self.line: int | None = getattr(meta, "line", None)
        self.column: int | None = getattr(meta, "column", None)


def compile_tree(tree: lark.Tree[Any]) -> Node:
    return _compile(tree)


_BINARY: dict[str, tuple[str, Callable[[Any, Any], Any]]] = {
    "relation_eq": ("_==_", v.equals),
    "relation_ne": ("_!=_", lambda a, b: not v.equals(a, b)),
    "relation_lt": ("_<_", lambda a, b: v.compare(a, b) < 0),
    "relation_le": ("_<=_", lambda a, b: v.compare(a, b) <= 0),
    "relation_gt": ("_>_", lambda a, b: v.compare(a, b) > 0),
    "relation_ge": ("_>=_", lambda a, b: v.compare(a, b) >= 0),
    "relation_in": ("_in_", v.contained),
    "addition_add": ("_+_", v.add),
    "addition_sub": ("_-_", v.subtract),
    "multiplication_mul": ("_*_", v.multiply),
    "multiplication_div": ("_/_", v.divide),
    "multiplication_mod": ("_%_", v.modulo),
}
_ORDERING = frozenset({"_<_", "_<=_", "_>_", "_>=_"})
_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})


def _fail(message: str, tree: lark.Tree[Any] | lark.Token) -> NoReturn:
    raise CompileError(message, tree)


def _compile(tree: lark.Tree[Any]) -> Node:
    rule = tree.data
    children = tree.children
    if (
        rule
        in (
            "expr",
            "conditionalor",
            "conditionaland",
            "relation",
            "addition",
            "multiplication",
            "member",
            "primary",
            "paren_expr",
        )
        and len(children) == 1
    ):
        return _compile(children[0])
    if rule == "expr":
        return _conditional(*(_compile(child) for child in children))
    if rule == "conditionalor":
        return _or(_compile(children[0]), _compile(children[1]))
    if rule == "conditionaland":
        return _and(_compile(children[0]), _compile(children[1]))
    if rule in ("relation", "addition", "multiplication"):
        operator, right = children
        name, impl = _BINARY[operator.data]
        return _binary(name, impl, _compile(operator.children[0]), _compile(right))
    if rule == "unary":
        if len(children) == 1:
            return _compile(children[0])
        operator, operand = children
        if operator.data == "unary_not":
            return _call("!_", v.logical_not, [_compile(operand)])
        return _call("-_", v.negate, [_compile(operand)])
    if rule == "literal":
        try:
            value = decode_literal(children[0])
        except LiteralInvalid as exc:
            _fail(str(exc), children[0])
        return lambda ctx: value
    if rule in ("ident", "dot_ident"):
        name = str(children[0])
        return lambda ctx: ctx.variables.get(name, UNKNOWN)
    if rule == "member_dot":
        return _select(tree)
    if rule == "member_index":
        return _index(_compile(children[0]), _compile(children[1]))
    if rule in ("ident_arg", "dot_ident_arg"):
        name_token, *rest = children
        return _function(str(name_token), None, _arguments(rest), tree)
    if rule == "member_dot_arg":
        receiver, name_token, *rest = children
        return _function(str(name_token), receiver, _arguments(rest), tree)
    if rule == "list_lit":
        return _list([_compile(item) for item in _arguments(children)])
    if rule == "map_lit":
        entries = children[0].children if children else []
        return _map([_compile(item) for item in entries], tree)
    if rule == "member_object":
        _fail("message construction (Type{field: value}) is not supported", tree)
    _fail(f"unsupported syntax {rule!r}", tree)


def _arguments(rest: Sequence[Any]) -> list[lark.Tree[Any]]:
    return list(rest[0].children) if rest else []


def _conditional(condition: Node, then: Node, otherwise: Node) -> Node:
    return lambda ctx: then(ctx) if truthy(condition(ctx)) else otherwise(ctx)


def _or(left: Node, right: Node) -> Node:
    def run(ctx: Context) -> Any:
        value = left(ctx)
        return value if truthy(value) else right(ctx)

    return run


def _and(left: Node, right: Node) -> Node:
    def run(ctx: Context) -> Any:
        value = left(ctx)
        return right(ctx) if truthy(value) else value

    return run


def _unknown_result(name: str, args: Sequence[Any]) -> Any:
    """Inngest's ``handleUnknownCall``: a call with an unknown or failed operand."""
    if name == "_+_":
        return next((a for a in args if not isinstance(a, Absent)), False)
    if name == "_==_":
        return None in args
    if name == "_!=_":
        return None not in args
    if name in ("_<_", "_<=_"):
        return isinstance(args[0], Absent)
    if name in ("_>_", "_>=_"):
        return not isinstance(args[0], Absent)
    if name == "size":
        return 0
    return False


def _apply(name: str, impl: Callable[..., Any], args: list[Any]) -> Any:
    for arg in args:
        if isinstance(arg, Absent):
            return _unknown_result(name, args)
    try:
        return impl(*args)
    except Fail as exc:
        if len(args) == 2 and kind(args[0]) != kind(args[1]):
            if name == "_+_":
                return v.go_format(args[0]) + v.go_format(args[1])
            if name in _ORDERING and None in args:
                other = args[1] if args[0] is None else args[0]
                zero = v.zero_of(other)
                if zero is not None:
                    return _apply(name, impl, [zero if a is None else a for a in args])
        return Absent(str(exc))


def _binary(name: str, impl: Callable[[Any, Any], Any], left: Node, right: Node) -> Node:
    def run(ctx: Context) -> Any:
        a = left(ctx)
        b = right(ctx)
        if type(a) is type(b) and type(a) is not Absent:
            try:
                return impl(a, b)
            except Fail as exc:
                return Absent(str(exc))
        return _apply(name, impl, [a, b])

    return run


def _call(name: str, impl: Callable[..., Any], args: list[Node]) -> Node:
    return lambda ctx: _apply(name, impl, [arg(ctx) for arg in args])


def _static_path(tree: lark.Tree[Any]) -> tuple[str, tuple[str, ...]] | None:
    """``event.data.id`` as ("event", ("data", "id")), or None if not a plain chain."""
    fields: list[str] = []
    node = tree
    while True:
        if node.data in ("member", "primary") and len(node.children) == 1:
            node = node.children[0]
        elif node.data == "member_dot":
            fields.append(str(node.children[1]))
            node = node.children[0]
        elif node.data == "ident":
            return str(node.children[0]), tuple(reversed(fields))
        else:
            return None


def _select(tree: lark.Tree[Any]) -> Node:
    static = _static_path(tree)
    if static is not None:
        root, path = static

        def run_path(ctx: Context) -> Any:
            value = ctx.variables.get(root, UNKNOWN)
            for field in path:
                if not isinstance(value, dict):
                    return UNKNOWN
                value = value.get(field, UNKNOWN)
            return value

        return run_path
    operand = _compile(tree.children[0])
    field = str(tree.children[1])

    def run(ctx: Context) -> Any:
        value = operand(ctx)
        return value.get(field, UNKNOWN) if isinstance(value, dict) else UNKNOWN

    return run


def _index(operand: Node, key: Node) -> Node:
    def run(ctx: Context) -> Any:
        container = operand(ctx)
        index = key(ctx)
        if isinstance(container, Absent) or isinstance(index, Absent):
            return UNKNOWN
        if isinstance(index, float) and index.is_integer():
            index = int(index)
        if isinstance(container, dict):
            if isinstance(index, list | dict):
                return Absent("invalid map key")
            return container.get(index, UNKNOWN)
        if isinstance(container, list) and type(index) is int:
            return container[index] if 0 <= index < len(container) else Absent("index out of range")
        return Absent(f"no {kind(container)}[{kind(index)}]")

    return run


def _list(items: list[Node]) -> Node:
    def run(ctx: Context) -> Any:
        result = [item(ctx) for item in items]
        return next((x for x in result if isinstance(x, Absent)), result)

    return run


def _map(entries: list[Node], tree: lark.Tree[Any]) -> Node:
    pairs = list(zip(entries[0::2], entries[1::2], strict=True))

    def run(ctx: Context) -> Any:
        result: dict[Any, Any] = {}
        for key_node, value_node in pairs:
            key, value = key_node(ctx), value_node(ctx)
            for item in (key, value):
                if isinstance(item, Absent):
                    return item
            if not isinstance(key, str | int) or key in result:
                return Absent(f"invalid or repeated map key {key!r}")
            result[key] = value
        return result

    return run


def _function(
    name: str, receiver: lark.Tree[Any] | None, args: list[lark.Tree[Any]], tree: lark.Tree[Any]
) -> Node:
    if name == "has" and receiver is None:
        return _has(args, tree)
    if name in _MACROS and receiver is not None:
        return _comprehension(name, _compile(receiver), args, tree)
    nodes = ([_compile(receiver)] if receiver is not None else []) + [_compile(a) for a in args]
    if name in TIME_FUNCTIONS and receiver is None:
        time_impl = TIME_FUNCTIONS[name]
        return lambda ctx: _apply(name, time_impl, [ctx.now] + [n(ctx) for n in nodes])
    impl = FUNCTIONS.get(name)
    if impl is None:
        missing = Absent(f"undeclared function {name!r}")
        return lambda ctx: missing
    return _call(name, impl, nodes)


def _has(args: list[lark.Tree[Any]], tree: lark.Tree[Any]) -> Node:
    argument = _unwrap(args[0]) if len(args) == 1 else None
    if argument is None or argument.data != "member_dot":
        _fail("has() takes one field selection, such as has(event.data.id)", tree)
    operand = _compile(argument.children[0])
    field = str(argument.children[1])
    static = _static_path(argument) is not None

    def run(ctx: Context) -> Any:
        value = operand(ctx)
        if isinstance(value, dict):
            # Go marks a missing path as unknown before evaluating, has() included, so
            # has() of a missing field is unknown (falsy), never false.
            return True if field in value else (UNKNOWN if static else False)
        return UNKNOWN if static or isinstance(value, Absent) else Absent("has() on a non-map")

    return run


def _unwrap(tree: lark.Tree[Any]) -> lark.Tree[Any]:
    """The single meaningful node under pass-through rules (expr → … → member_dot)."""
    while (
        len(tree.children) == 1
        and isinstance(tree.children[0], lark.Tree)
        and tree.data
        in (
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
        )
    ):
        tree = tree.children[0]
    return tree


def _comprehension(
    name: str, target: Node, args: list[lark.Tree[Any]], tree: lark.Tree[Any]
) -> Node:
    variable_tree = _unwrap(args[0]) if args else None
    expected = 3 if name == "map" and len(args) == 3 else 2
    if variable_tree is None or variable_tree.data != "ident" or len(args) != expected:
        _fail(f"{name}() takes a variable name and an expression, such as {name}(x, x > 0)", tree)
    variable = str(variable_tree.children[0])
    body = [_compile(a) for a in args[1:]]

    def run(ctx: Context) -> Any:
        collection = target(ctx)
        if isinstance(collection, Absent):
            return collection
        if not isinstance(collection, list | dict):
            return Absent(f"{name}() over {kind(collection)}")
        scope = dict(ctx.variables)
        inner = Context(scope, ctx.now)
        results: list[Any] = []
        for element in collection:
            scope[variable] = element
            outcome = [b(inner) for b in body]
            if name == "all" and not truthy(outcome[0]):
                return False
            if name == "exists" and truthy(outcome[0]):
                return True
            if name in ("exists_one", "filter") and truthy(outcome[0]):
                results.append(element)
            elif name == "map" and (len(outcome) == 1 or truthy(outcome[0])):
                if isinstance(outcome[-1], Absent):
                    return outcome[-1]
                results.append(outcome[-1])
        if name == "all":
            return True
        if name == "exists":
            return False
        if name == "exists_one":
            return len(results) == 1
        return results

    return run
