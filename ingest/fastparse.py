"""Parse with libcst faster by sharing identical leaf nodes and skipping re-validation.

libcst's native parser builds every node by calling the node class it finds
on the `libcst` module, and 40-60% of the nodes of notebook code are
whitespace, newlines, commas, dots and brackets that repeat with the same
values. While `fast_parsing()` is active, those classes are replaced on the
`libcst` module by factories that return one shared instance per distinct value,
and `CSTNode.__post_init__` (which re-validates every node) does nothing.

The trees are the same as libcst builds, except that equal leaves are the same
object. That is harmless for code that reads trees without node identities,
like the event walker, but metadata providers keyed by node identity must not
be used on them. Measured on 4,000 corpus cells (libcst 1.9): about 15% of the parse
time is validation and about 10% more goes to building the shared leaves.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import logging
from collections.abc import Callable, Iterator
from typing import Any

import libcst as cst
from libcst._nodes.base import CSTNode

log = logging.getLogger(__name__)

# Distinct values kept per class before the shared instances are dropped.
MAX_SHARED_PER_CLASS = 10_000


def _no_validation(self: CSTNode) -> None:
    return None


def _value_factory(node_class: type[CSTNode], cache: dict[Any, CSTNode]) -> Callable[..., CSTNode]:
    """Share nodes whose only field is a string (`SimpleWhitespace`, `Newline`)."""

    def make(value: Any = None) -> CSTNode:
        node = cache.get(value)
        if node is None:
            if len(cache) >= MAX_SHARED_PER_CLASS:
                cache.clear()
            node = cache[value] = node_class(value) if value is not None else node_class()
        return node

    return make


def _name_factory(cache: dict[str, CSTNode]) -> Callable[..., CSTNode]:
    """Share `Name` nodes without parentheses."""
    name_class = cst.Name

    def make(value: str, lpar: Any = (), rpar: Any = ()) -> CSTNode:
        if lpar or rpar:
            return name_class(value=value, lpar=lpar, rpar=rpar)
        node = cache.get(value)
        if node is None:
            if len(cache) >= MAX_SHARED_PER_CLASS:
                cache.clear()
            node = cache[value] = name_class(value=value)
        return node

    return make


def _whitespace_factory(node_class: type[CSTNode], cache: dict[Any, CSTNode]) -> Callable[..., CSTNode]:
    """Share nodes made only of whitespace (`Comma`, `Dot`, operators, brackets).

    Their fields are shared `SimpleWhitespace` nodes, so the identities of the
    fields are the key. A node with a field of another type
    (`ParenthesizedWhitespace`) is built anew.
    """
    simple = cst.SimpleWhitespace

    def make(**fields: Any) -> CSTNode:
        key = []
        for value in fields.values():
            if type(value) is not simple:
                return node_class(**fields)
            key.append(id(value))
        shared_key = tuple(key)
        node = cache.get(shared_key)
        if node is None:
            if len(cache) >= MAX_SHARED_PER_CLASS:
                cache.clear()
            node = cache[shared_key] = node_class(**fields)
        return node

    return make


def _whitespace_only_classes() -> list[type[CSTNode]]:
    classes = []
    for value in vars(cst).values():
        if not (inspect.isclass(value) and issubclass(value, CSTNode)) or inspect.isabstract(value):
            continue
        if not dataclasses.is_dataclass(value):
            continue
        names = [field.name for field in dataclasses.fields(value)]
        if names and all(name.startswith("whitespace") for name in names):
            classes.append(value)
    return classes


def _factories() -> dict[str, Callable[..., CSTNode]]:
    factories: dict[str, Callable[..., CSTNode]] = {
        "SimpleWhitespace": _value_factory(cst.SimpleWhitespace, {}),
        "Newline": _value_factory(cst.Newline, {}),
        "Name": _name_factory({}),
    }
    for node_class in _whitespace_only_classes():
        factories[node_class.__name__] = _whitespace_factory(node_class, {})
    return factories


_FACTORIES = _factories()
_ORIGINALS = {name: getattr(cst, name) for name in _FACTORIES}


@contextlib.contextmanager
def fast_parsing() -> Iterator[None]:
    """Within the block, `libcst.parse_module` shares leaves and skips validation.

    NOTE: the block swaps attributes of the `libcst` module and of `CSTNode`,
    so nodes that other code builds meanwhile (in another thread) are affected
    too. libcst code that reads `libcst.Name` and the like at call time, such
    as `libcst.helpers.get_full_name_for_node`, fails inside the block.
    """
    original_post_init = CSTNode.__post_init__
    CSTNode.__post_init__ = _no_validation  # type: ignore[method-assign]
    for name, factory in _FACTORIES.items():
        setattr(cst, name, factory)
    try:
        yield
    finally:
        for name, original in _ORIGINALS.items():
            setattr(cst, name, original)
        CSTNode.__post_init__ = original_post_init  # type: ignore[method-assign]
