"""The context-free result of parsing one cell: a flat list of events in source order.

Parsing a cell with libcst is the expensive step, and notebooks repeat cells
(the same import cell, the same `!pip install` line). The parse therefore
produces only what can be known from the cell's text alone, as small tuples
that pickle well and can be cached by text. Names are resolved afterwards,
per notebook, by replaying the events (`ingest.resolve`).

Event shapes (the first item is the event code):

- `(IMPORT, line, module, name, alias, kind, is_guarded, scope, bound_name, bound_to)`:
  an import; `bound_name` is the name it binds (None for a star import) and
  `bound_to` the dotted path that name stands for.
- `(CHAIN, root, root_line, links, stores, is_guarded)`: the evaluation of a
  name/attribute/call/subscript chain such as `sm.describe_job(Name="x")`.
  `root` is the first name (None when the chain starts at another
  expression, a literal or a parenthesised call); `links` is a tuple of
  `(ATTR, name, line)`, `(CALL, first_arg)` and `(SUBSCRIPT,)`; `stores` are the
  names the result is assigned to (`x = ...`, `with ... as x`, `x := ...`).
- `(UNBIND, names)`: names rebound to something that is not tracked.
- `(ENTER, kind, local_names, global_names, nonlocal_names)` and `(EXIT,)`: a
  function (lambda, comprehension) or class body.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

IMPORT = 0
CHAIN = 1
UNBIND = 2
ENTER = 3
EXIT = 4

# Link codes inside a chain.
ATTR = 0
CALL = 1
SUBSCRIPT = 2

# Scope kinds of ENTER events; lambdas and comprehensions are function scopes.
MODULE_SCOPE = "module"
FUNCTION_SCOPE = "function"
CLASS_SCOPE = "class"

Event = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class CellParse:
    """The result of parsing one cell's text, independent of the notebook around it."""

    status: str  # parsed / fallback / failed (model.CELL_*)
    events: tuple[Event, ...]
    error: str | None = None
