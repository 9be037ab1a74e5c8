"""Walk a libcst module in source order and gather the events of `ingest.events`.

This walker does not use `CSTVisitor`: libcst's visitor rebuilds every node
through `_visit_and_replace_children` even when nothing changes, and line
numbers through `MetadataWrapper` + `PositionProvider` cost about 2.8 times the
parse. Instead the walker reads each node's children in the order libcst's own
`_visit_and_replace_children` visits them, which is the order `codegen` writes
them. It counts newlines as it passes the nodes that contain them: `Newline`
(inside `TrailingWhitespace` and `EmptyLine`), `ParenthesizedWhitespace`, the
backslash continuations in `SimpleWhitespace`, and string tokens.

What the walker does not do: it resolves no names (that needs the notebook's
earlier cells), it ignores `exec`/`eval` strings and `__import__` with a
computed name, and a comprehension's first iterable is read in the
comprehension's scope instead of the enclosing one.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Callable
from typing import Any

import libcst as cst
from libcst import CSTNode, MaybeSentinel

from ingest.events import (
    ATTR,
    CALL,
    CHAIN,
    CLASS_SCOPE,
    ENTER,
    EXIT,
    FUNCTION_SCOPE,
    IMPORT,
    MODULE_SCOPE,
    SUBSCRIPT,
    UNBIND,
    Event,
)

Chain = list[Any]  # [root name or None, root line, list of links]

# `ingest.fastparse` swaps `libcst.Name` and others for factories while
# notebooks are parsed, so the walker compares node types with classes read at import.
NAME_NODE = cst.Name
SIMPLE_WHITESPACE_NODE = cst.SimpleWhitespace

_VISIT_FIELD_RE = re.compile(r'visit_\w+\(\s*self,\s*"(\w+)"')


def _child_order(node_class: type[CSTNode]) -> tuple[str, ...]:
    """Return the child fields of a node class in the order libcst visits (and prints) them.

    The order is read from the source of the class's `_visit_and_replace_children`,
    whose keyword arguments name each child field in visiting order.
    """
    source = inspect.getsource(node_class._visit_and_replace_children)
    return tuple(dict.fromkeys(_VISIT_FIELD_RE.findall(source)))


def _all_node_classes() -> list[type[CSTNode]]:
    classes = []
    for value in vars(cst).values():
        if inspect.isclass(value) and issubclass(value, CSTNode) and not inspect.isabstract(value):
            classes.append(value)
    return classes


class _ChildOrders(dict[type[Any], tuple[str, ...]]):
    """Child field order per node class, read on first use for classes libcst does not export."""

    def __missing__(self, node_class: type[CSTNode]) -> tuple[str, ...]:
        order = self[node_class] = _child_order(node_class)
        return order


CHILD_ORDER = _ChildOrders({cls: _child_order(cls) for cls in _all_node_classes()})
# Optional fields hold MaybeSentinel.DEFAULT or None: leaves without children.
CHILD_ORDER[MaybeSentinel] = ()
CHILD_ORDER[type(None)] = ()


def literal_value(node: CSTNode) -> str | None:
    """Return a string or number literal as text, or None for any other expression."""
    node_type = type(node)
    if node_type is cst.SimpleString:
        value = node.value
        if value[:1] in "'\"" and "\\" not in value and value[:3] not in ('"""', "'''"):
            return value[1:-1]
        try:
            evaluated = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return None
        return evaluated if isinstance(evaluated, str) else None
    if node_type is cst.ConcatenatedString:
        left = literal_value(node.left)
        right = literal_value(node.right)
        return None if left is None or right is None else left + right
    if node_type is cst.Integer or node_type is cst.Float:
        return node.value
    return None


def _dotted_name(node: CSTNode) -> str:
    # NOTE: not `libcst.helpers.get_full_name_for_node`, which reads `libcst.Name`
    # at call time and so fails inside `ingest.fastparse.fast_parsing()`.
    if type(node) is NAME_NODE:
        return node.value
    return f"{_dotted_name(node.value)}.{node.attr.value}"


class _Scope:
    """Names bound in one scope while it is walked, for the ENTER event's local set."""

    __slots__ = ("kind", "bound", "global_names", "nonlocal_names")

    def __init__(self, kind: str, bound: set[str] | None = None) -> None:
        self.kind = kind
        self.bound: set[str] = bound if bound is not None else set()
        self.global_names: set[str] = set()
        self.nonlocal_names: set[str] = set()


class EventWalker:
    """Gather import, chain, binding and scope events from a libcst module.

    Use `EventWalker().walk_module(module)`; the result is a tuple of events.
    `self.line` is the 1-based line of the next token, so each handler reads
    it right when it reaches the token whose line it records.
    """

    def __init__(self) -> None:
        self.line = 1
        self.events: list[Event] = []
        self.guard_depth = 0
        self.scopes: list[_Scope] = [_Scope(MODULE_SCOPE)]
        self.node_lines: list[tuple[CSTNode, int]] | None = None  # set by tests to record lines

    # -- entry points -----------------------------------------------------------

    def walk_module(self, module: cst.Module) -> tuple[Event, ...]:
        self._walk_fields(module)
        return tuple(self.events)

    def walk(self, node: CSTNode) -> Chain | None:
        """Walk one node; an expression that can start a chain returns it unfinished."""
        return _HANDLERS.get(type(node), _generic)(self, node)

    # -- generic traversal ----------------------------------------------------------

    def _generic(self, node: CSTNode) -> None:
        self._walk_fields(node)
        return None

    def _walk_fields(self, node: CSTNode) -> None:
        for field_name in CHILD_ORDER[type(node)]:
            value = getattr(node, field_name)
            value_type = type(value)
            if value_type is SIMPLE_WHITESPACE_NODE:
                # Inlined: the most common node, with a newline only after a backslash.
                if "\\" in value.value:
                    self.line += value.value.count("\n")
            elif value_type is tuple:
                for child in value:
                    chain = self.walk(child)
                    if chain is not None:
                        self._finish(chain)
            elif value is not None and value is not MaybeSentinel.DEFAULT:
                chain = self.walk(value)
                if chain is not None:
                    self._finish(chain)

    def _count(self, node: CSTNode) -> None:
        """Walk a subtree only to count its newlines: its names are not references."""
        node_type = type(node)
        if node_type is SIMPLE_WHITESPACE_NODE:
            if "\\" in node.value:
                self.line += node.value.count("\n")
            return
        handler = _NEWLINE_HANDLERS.get(node_type)
        if handler is not None:
            handler(self, node)
            return
        for field_name in CHILD_ORDER[node_type]:
            value = getattr(node, field_name)
            if type(value) is tuple:
                for child in value:
                    self._count(child)
            elif value is not None and value is not MaybeSentinel.DEFAULT:
                self._count(value)

    def _walk_sequence(self, nodes: tuple[CSTNode, ...]) -> None:
        for node in nodes:
            self.walk(node)

    def _finish(self, chain: Chain) -> None:
        """Emit a chain that is not part of a longer one as a CHAIN event."""
        if chain[0] is None and not any(link[0] == CALL for link in chain[2]):
            return  # no name and no method call: nothing to report
        self.events.append((CHAIN, chain[0], chain[1], tuple(chain[2]), (), self.guard_depth > 0))

    def _emit_binding(self, chain: Chain | None, names: list[str], simple: bool) -> None:
        """Emit the assignment of a value to target names (simple: every target is a plain name)."""
        if chain is not None and simple and names:
            if chain[0] is None and not chain[2]:
                self.events.append((UNBIND, tuple(names)))
                return
            self.events.append((CHAIN, chain[0], chain[1], tuple(chain[2]), tuple(names), self.guard_depth > 0))
            return
        if chain is not None:
            self._finish(chain)
        if names:
            self.events.append((UNBIND, tuple(names)))

    def _bind(self, names: list[str]) -> None:
        self.scopes[-1].bound.update(names)

    # -- newlines -------------------------------------------------------------------

    def _simple_whitespace(self, node: cst.SimpleWhitespace) -> None:
        value = node.value
        if "\\" in value:
            self.line += value.count("\n")

    def _newline_node(self, node: CSTNode) -> None:
        self.line += 1

    def _parenthesized_whitespace(self, node: cst.ParenthesizedWhitespace) -> None:
        self.line += 1 + len(node.empty_lines) + node.last_line.value.count("\n")

    def _no_newline(self, node: CSTNode) -> None:
        return None

    def _simple_string(self, node: cst.SimpleString) -> None:
        for paren in node.lpar:
            self._count(paren)
        self.line += node.value.count("\n")
        for paren in node.rpar:
            self._count(paren)

    def _string_text(self, node: cst.FormattedStringText) -> None:
        self.line += node.value.count("\n")

    # -- chains: names, attributes, calls, subscripts ---------------------------------

    def _name(self, node: cst.Name) -> Chain:
        for paren in node.lpar:
            self._count(paren)
        line = self.line
        if self.node_lines is not None:
            self.node_lines.append((node, line))
        for paren in node.rpar:
            self._count(paren)
        return [node.value, line, []]

    def _attribute(self, node: cst.Attribute) -> Chain:
        for paren in node.lpar:
            self._count(paren)
        chain = self.walk(node.value)
        if chain is None:
            chain = [None, self.line, []]
        self._count(node.dot)
        line = self.line
        if self.node_lines is not None:
            self.node_lines.append((node.attr, line))
        self._count(node.attr)
        chain[2].append((ATTR, node.attr.value, line))
        for paren in node.rpar:
            self._count(paren)
        return chain

    def _call(self, node: cst.Call) -> Chain:
        for paren in node.lpar:
            self._count(paren)
        chain = self.walk(node.func)
        if chain is None:
            chain = [None, self.line, []]
        self._count(node.whitespace_after_func)
        self._count(node.whitespace_before_args)

        first_arg = None
        positional = False
        service_name = None
        for arg in node.args:
            if arg.keyword is None:
                if not positional and not arg.star:
                    first_arg = literal_value(arg.value)
                positional = True
            elif arg.keyword.value == "service_name":
                service_name = literal_value(arg.value)
            self._arg(arg)
        if not positional:
            first_arg = service_name

        chain[2].append((CALL, first_arg))
        for paren in node.rpar:
            self._count(paren)
        return chain

    def _arg(self, node: cst.Arg) -> None:
        self._count(node.whitespace_after_star)
        if node.keyword is not None:
            self._count(node.keyword)
        if node.equal is not MaybeSentinel.DEFAULT:
            self._count(node.equal)
        chain = self.walk(node.value)
        if chain is not None:
            self._finish(chain)
        if node.comma is not MaybeSentinel.DEFAULT:
            self._count(node.comma)
        self._count(node.whitespace_after_arg)

    def _subscript(self, node: cst.Subscript) -> Chain:
        for paren in node.lpar:
            self._count(paren)
        chain = self.walk(node.value)
        if chain is None:
            chain = [None, self.line, []]
        self._count(node.whitespace_after_value)
        self._count(node.lbracket)
        for element in node.slice:
            self._generic(element)
        self._count(node.rbracket)
        chain[2].append((SUBSCRIPT,))
        for paren in node.rpar:
            self._count(paren)
        return chain

    # -- assignment targets -----------------------------------------------------------

    def _target(self, node: CSTNode, names: list[str]) -> bool:
        """Walk an assignment target, collecting the plain names it binds.

        Returns True when the target is one plain name. Attribute and subscript
        targets (`os.environ["X"] = ...`) read their base, so they are chains.
        """
        node_type = type(node)
        if node_type is NAME_NODE:
            self._count(node)
            names.append(node.value)
            return True
        if node_type is cst.Tuple or node_type is cst.List:
            for paren in node.lpar:
                self._count(paren)
            if node_type is cst.List:
                self._count(node.lbracket)
            for element in node.elements:
                if type(element) is cst.StarredElement:
                    for paren in element.lpar:
                        self._count(paren)
                    self._count(element.whitespace_before_value)
                    self._target(element.value, names)
                    for paren in element.rpar:
                        self._count(paren)
                else:
                    self._target(element.value, names)
                if element.comma is not MaybeSentinel.DEFAULT:
                    self._count(element.comma)
            if node_type is cst.List:
                self._count(node.rbracket)
            for paren in node.rpar:
                self._count(paren)
            return False
        if node_type is cst.StarredElement:
            self._generic(node)
            return False
        chain = self.walk(node)
        if chain is not None:
            self._finish(chain)
        return False

    def _assign(self, node: cst.Assign) -> None:
        names: list[str] = []
        simple = True
        for target in node.targets:
            simple = self._target(target.target, names) and simple
            self._count(target.whitespace_before_equal)
            self._count(target.whitespace_after_equal)
        chain = self.walk(node.value)
        self._bind(names)
        self._emit_binding(chain, names, simple)
        if node.semicolon is not MaybeSentinel.DEFAULT:
            self._count(node.semicolon)

    def _ann_assign(self, node: cst.AnnAssign) -> None:
        names: list[str] = []
        simple = self._target(node.target, names)
        self._generic(node.annotation)
        self._bind(names)
        if node.equal is not MaybeSentinel.DEFAULT:
            self._count(node.equal)
        if node.value is not None:
            chain = self.walk(node.value)
            self._emit_binding(chain, names, simple)
        if node.semicolon is not MaybeSentinel.DEFAULT:
            self._count(node.semicolon)

    def _aug_assign(self, node: cst.AugAssign) -> None:
        names: list[str] = []
        if type(node.target) is NAME_NODE:
            self._finish(self._name(node.target))
            names.append(node.target.value)
        else:
            self._target(node.target, names)
        self._count(node.operator)
        chain = self.walk(node.value)
        if chain is not None:
            self._finish(chain)
        self._bind(names)
        if names:
            self.events.append((UNBIND, tuple(names)))
        if node.semicolon is not MaybeSentinel.DEFAULT:
            self._count(node.semicolon)

    def _named_expr(self, node: cst.NamedExpr) -> None:
        for paren in node.lpar:
            self._count(paren)
        names: list[str] = []
        simple = self._target(node.target, names)
        self._count(node.whitespace_before_walrus)
        self._count(node.whitespace_after_walrus)
        chain = self.walk(node.value)
        self._bind(names)
        self._emit_binding(chain, names, simple)
        for paren in node.rpar:
            self._count(paren)
        return None

    def _del(self, node: cst.Del) -> None:
        names: list[str] = []
        self._target(node.target, names)
        self._count(node.whitespace_after_del)
        if names:
            self.events.append((UNBIND, tuple(names)))
        if node.semicolon is not MaybeSentinel.DEFAULT:
            self._count(node.semicolon)

    # -- compound statements ----------------------------------------------------------

    def _for(self, node: cst.For) -> None:
        self._walk_sequence(node.leading_lines)
        if node.asynchronous is not None:
            self._count(node.asynchronous)
        self._count(node.whitespace_after_for)
        names: list[str] = []
        self._target(node.target, names)
        self._count(node.whitespace_before_in)
        self._count(node.whitespace_after_in)
        chain = self.walk(node.iter)
        if chain is not None:
            self._finish(chain)
        self._bind(names)
        if names:
            self.events.append((UNBIND, tuple(names)))
        self._count(node.whitespace_before_colon)
        self.walk(node.body)
        if node.orelse is not None:
            self.walk(node.orelse)

    def _with(self, node: cst.With) -> None:
        self._walk_sequence(node.leading_lines)
        if node.asynchronous is not None:
            self._count(node.asynchronous)
        self._count(node.whitespace_after_with)
        if node.lpar is not MaybeSentinel.DEFAULT:
            self._count(node.lpar)
        for item in node.items:
            chain = self.walk(item.item)
            names: list[str] = []
            simple = False
            if item.asname is not None:
                self._count(item.asname.whitespace_before_as)
                simple = self._target(item.asname.name, names)
                self._count(item.asname.whitespace_after_as)
            self._bind(names)
            self._emit_binding(chain, names, simple)
            if item.comma is not MaybeSentinel.DEFAULT:
                self._count(item.comma)
        if node.rpar is not MaybeSentinel.DEFAULT:
            self._count(node.rpar)
        self._count(node.whitespace_before_colon)
        self.walk(node.body)

    def _try(self, node: cst.Try) -> None:
        self.guard_depth += 1
        self._walk_fields(node)
        self.guard_depth -= 1

    def _except_handler(self, node: cst.ExceptHandler) -> None:
        self._walk_sequence(node.leading_lines)
        self._count(node.whitespace_after_except)
        if type(node) is cst.ExceptStarHandler:
            self._count(node.whitespace_after_star)
        if node.type is not None:
            chain = self.walk(node.type)
            if chain is not None:
                self._finish(chain)
        if node.name is not None:
            names: list[str] = []
            self._count(node.name.whitespace_before_as)
            self._target(node.name.name, names)
            self._count(node.name.whitespace_after_as)
            self._bind(names)
            self.events.append((UNBIND, tuple(names)))
        self._count(node.whitespace_before_colon)
        self.walk(node.body)

    def _parameters(self, node: cst.Parameters, names: list[str]) -> None:
        """Walk parameters: defaults and annotations are read in the enclosing scope."""
        for field_name in CHILD_ORDER[cst.Parameters]:
            value = getattr(node, field_name)
            for param in value if type(value) is tuple else (value,):
                if type(param) is cst.Param:
                    self._count(param.whitespace_after_star)
                    self._count(param.name)
                    names.append(param.name.value)
                    if param.annotation is not None:
                        self._generic(param.annotation)
                    if param.equal is not MaybeSentinel.DEFAULT:
                        self._count(param.equal)
                    if param.default is not None:
                        chain = self.walk(param.default)
                        if chain is not None:
                            self._finish(chain)
                    if param.comma is not MaybeSentinel.DEFAULT:
                        self._count(param.comma)
                    self._count(param.whitespace_after_param)
                elif param is not None and param is not MaybeSentinel.DEFAULT:
                    self._count(param)

    def _enter(self, kind: str, bound: set[str]) -> int:
        self.scopes.append(_Scope(kind, bound))
        self.events.append((ENTER, kind, frozenset(), frozenset(), frozenset()))
        return len(self.events) - 1

    def _exit(self, index: int) -> None:
        scope = self.scopes.pop()
        local_names = frozenset(scope.bound - scope.global_names - scope.nonlocal_names)
        self.events[index] = (ENTER, scope.kind, local_names, frozenset(scope.global_names), frozenset(scope.nonlocal_names))
        self.events.append((EXIT,))

    def _function_def(self, node: cst.FunctionDef) -> None:
        self._walk_sequence(node.leading_lines)
        self._walk_sequence(node.decorators)
        self._walk_sequence(node.lines_after_decorators)
        if node.asynchronous is not None:
            self._count(node.asynchronous)
        self._count(node.whitespace_after_def)
        self._count(node.name)
        self._count(node.whitespace_after_name)
        if node.type_parameters is not None:
            self._count(node.type_parameters)
        self._count(node.whitespace_after_type_parameters)
        self._count(node.whitespace_before_params)
        params: list[str] = []
        self._parameters(node.params, params)
        if node.returns is not None:
            self._generic(node.returns)
        self._count(node.whitespace_before_colon)

        index = self._enter(FUNCTION_SCOPE, set(params))
        self.walk(node.body)
        self._exit(index)

        self._bind([node.name.value])
        self.events.append((UNBIND, (node.name.value,)))

    def _lambda(self, node: cst.Lambda) -> None:
        for paren in node.lpar:
            self._count(paren)
        self._count(node.whitespace_after_lambda)
        params: list[str] = []
        self._parameters(node.params, params)
        self._count(node.colon)
        index = self._enter(FUNCTION_SCOPE, set(params))
        chain = self.walk(node.body)
        if chain is not None:
            self._finish(chain)
        self._exit(index)
        for paren in node.rpar:
            self._count(paren)
        return None

    def _class_def(self, node: cst.ClassDef) -> None:
        self._walk_sequence(node.leading_lines)
        self._walk_sequence(node.decorators)
        self._walk_sequence(node.lines_after_decorators)
        self._count(node.whitespace_after_class)
        self._count(node.name)
        self._count(node.whitespace_after_name)
        if node.type_parameters is not None:
            self._count(node.type_parameters)
        self._count(node.whitespace_after_type_parameters)
        if node.lpar is not MaybeSentinel.DEFAULT:
            self._count(node.lpar)
        for arg in node.bases:
            self._arg(arg)
        for arg in node.keywords:
            self._arg(arg)
        if node.rpar is not MaybeSentinel.DEFAULT:
            self._count(node.rpar)
        self._count(node.whitespace_before_colon)

        index = self._enter(CLASS_SCOPE, set())
        self.walk(node.body)
        self._exit(index)

        self._bind([node.name.value])
        self.events.append((UNBIND, (node.name.value,)))

    def _comprehension(self, node: CSTNode) -> None:
        index = -1
        for field_name in CHILD_ORDER[type(node)]:
            if field_name in ("elt", "key") and index < 0:
                index = self._enter(FUNCTION_SCOPE, set())
            value = getattr(node, field_name)
            if type(value) is tuple:
                for child in value:
                    self._count(child)
            elif value is not None and value is not MaybeSentinel.DEFAULT:
                chain = self.walk(value)
                if chain is not None:
                    self._finish(chain)
            if field_name == "for_in":
                self._exit(index)
        return None

    def _comp_for(self, node: cst.CompFor) -> None:
        self._count(node.whitespace_before)
        if node.asynchronous is not None:
            self._count(node.asynchronous)
        self._count(node.whitespace_after_for)
        names: list[str] = []
        self._target(node.target, names)
        self._count(node.whitespace_before_in)
        self._count(node.whitespace_after_in)
        chain = self.walk(node.iter)
        if chain is not None:
            self._finish(chain)
        self._bind(names)
        if names:
            self.events.append((UNBIND, tuple(names)))
        for condition in node.ifs:
            self._generic(condition)
        if node.inner_for_in is not None:
            self.walk(node.inner_for_in)

    def _global(self, node: cst.Global) -> None:
        self.scopes[-1].global_names.update(item.name.value for item in node.names)
        self._count(node)

    def _nonlocal(self, node: cst.Nonlocal) -> None:
        self.scopes[-1].nonlocal_names.update(item.name.value for item in node.names)
        self._count(node)

    def _match_capture(self, node: cst.MatchAs | cst.MatchStar) -> None:
        for field_name in CHILD_ORDER[type(node)]:
            value = getattr(node, field_name)
            if field_name == "name":
                if value is not None:
                    self._count(value)
                    self._bind([value.value])
                    self.events.append((UNBIND, (value.value,)))
            elif type(value) is tuple:
                for child in value:
                    self._count(child)
            elif value is not None and value is not MaybeSentinel.DEFAULT:
                self._generic_child(value)

    def _match_mapping(self, node: cst.MatchMapping) -> None:
        for field_name in CHILD_ORDER[cst.MatchMapping]:
            value = getattr(node, field_name)
            if field_name == "rest":
                if value is not None:
                    self._count(value)
                    self._bind([value.value])
                    self.events.append((UNBIND, (value.value,)))
            elif type(value) is tuple:
                for child in value:
                    self._generic_child(child)
            elif value is not None and value is not MaybeSentinel.DEFAULT:
                self._generic_child(value)

    def _match_keyword(self, node: cst.MatchKeywordElement) -> None:
        self._count(node.key)
        self._count(node.whitespace_before_equal)
        self._count(node.whitespace_after_equal)
        self._generic_child(node.pattern)
        if node.comma is not MaybeSentinel.DEFAULT:
            self._count(node.comma)

    def _generic_child(self, node: CSTNode) -> None:
        chain = self.walk(node)
        if chain is not None:
            self._finish(chain)

    def _type_alias(self, node: cst.TypeAlias) -> None:
        self._count(node.whitespace_after_type)
        self._count(node.name)
        self._count(node.whitespace_after_name)
        if node.type_parameters is not None:
            self._count(node.type_parameters)
        self._count(node.whitespace_after_type_parameters)
        self._count(node.whitespace_after_equals)
        self._generic_child(node.value)
        self._bind([node.name.value])
        self.events.append((UNBIND, (node.name.value,)))
        if node.semicolon is not MaybeSentinel.DEFAULT:
            self._count(node.semicolon)

    # -- imports ----------------------------------------------------------------------

    def _scope_kind(self) -> str:
        return self.scopes[-1].kind

    def _import(self, node: cst.Import) -> None:
        line = self.line
        guarded = self.guard_depth > 0
        scope = self._scope_kind()
        for alias in node.names:
            module = _dotted_name(alias.name)
            asname = alias.asname.name.value if alias.asname is not None else None
            if asname is not None:
                bound_name, bound_to = asname, module
            else:
                bound_name = bound_to = module.split(".", 1)[0]
            self._bind([bound_name])
            self.events.append((IMPORT, line, module, None, asname, "import", guarded, scope, bound_name, bound_to))
        self._count(node)

    def _import_from(self, node: cst.ImportFrom) -> None:
        line = self.line
        guarded = self.guard_depth > 0
        scope = self._scope_kind()
        dots = "." * len(node.relative)
        module = dots + (_dotted_name(node.module) if node.module is not None else "")
        if type(node.names) is cst.ImportStar:
            kind = "relative" if dots else "star"
            self.events.append((IMPORT, line, module, "*", None, kind, guarded, scope, None, None))
        else:
            kind = "relative" if dots else "from"
            prefix = module if module.endswith(".") else module + "."
            for alias in node.names:
                name = _dotted_name(alias.name)
                asname = alias.asname.name.value if alias.asname is not None else None
                bound_name = asname or name
                self._bind([bound_name])
                self.events.append((IMPORT, line, module, name, asname, kind, guarded, scope, bound_name, prefix + name))
        self._count(node)


# Nodes that contain newlines, and leaves that contain none.
_NEWLINE_HANDLERS: dict[type[CSTNode], Callable[[EventWalker, Any], None]] = {
    cst.SimpleWhitespace: EventWalker._simple_whitespace,
    cst.TrailingWhitespace: EventWalker._newline_node,
    cst.EmptyLine: EventWalker._newline_node,
    cst.Newline: EventWalker._newline_node,
    cst.ParenthesizedWhitespace: EventWalker._parenthesized_whitespace,
    cst.Comment: EventWalker._no_newline,
    cst.SimpleString: EventWalker._simple_string,
    cst.FormattedStringText: EventWalker._string_text,
}
if hasattr(cst, "TemplatedStringText"):
    _NEWLINE_HANDLERS[cst.TemplatedStringText] = EventWalker._string_text

_HANDLERS: dict[type[CSTNode], Callable[[EventWalker, Any], Chain | None]] = {
    **_NEWLINE_HANDLERS,
    cst.Name: EventWalker._name,
    cst.Attribute: EventWalker._attribute,
    cst.Call: EventWalker._call,
    cst.Subscript: EventWalker._subscript,
    cst.Assign: EventWalker._assign,
    cst.AnnAssign: EventWalker._ann_assign,
    cst.AugAssign: EventWalker._aug_assign,
    cst.NamedExpr: EventWalker._named_expr,
    cst.For: EventWalker._for,
    cst.With: EventWalker._with,
    cst.Try: EventWalker._try,
    cst.TryStar: EventWalker._try,
    cst.ExceptHandler: EventWalker._except_handler,
    cst.ExceptStarHandler: EventWalker._except_handler,
    cst.FunctionDef: EventWalker._function_def,
    cst.Lambda: EventWalker._lambda,
    cst.ClassDef: EventWalker._class_def,
    cst.ListComp: EventWalker._comprehension,
    cst.SetComp: EventWalker._comprehension,
    cst.GeneratorExp: EventWalker._comprehension,
    cst.DictComp: EventWalker._comprehension,
    cst.CompFor: EventWalker._comp_for,
    cst.Global: EventWalker._global,
    cst.Nonlocal: EventWalker._nonlocal,
    cst.Del: EventWalker._del,
    cst.Import: EventWalker._import,
    cst.ImportFrom: EventWalker._import_from,
    cst.MatchAs: EventWalker._match_capture,
    cst.MatchStar: EventWalker._match_capture,
    cst.MatchMapping: EventWalker._match_mapping,
    cst.MatchKeywordElement: EventWalker._match_keyword,
    cst.TypeAlias: EventWalker._type_alias,
    cst.TypeParameters: EventWalker._count,
}
_generic = EventWalker._generic
