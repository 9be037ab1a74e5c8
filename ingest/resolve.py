"""Resolve the names in a notebook's cell events into import and use rows.

Cells are replayed in notebook order against one namespace, the way a kernel
that runs them top to bottom binds names. An import binds its alias, and an
assignment from a call binds an object whose origin is that call. Any other
assignment ends what the name stood for. Functions, lambdas, comprehensions
and classes get their own frames, so parameters and locals shadow module names.
A `%%writefile x.py` module is replayed against a namespace of its own.

A name is bound to one of:

- `("q", qualified)`: a module or object reached through imports, e.g.
  `np` -> `("q", "numpy")`;
- `("o", path, origin, arg, via, depth)`: an object made by a call. `path` is
  how the receiver is spelled in callee strings (`sagemaker.estimator.Estimator()`,
  `boto3.client('s3')`), `origin` the callee of the call that made it,
  `arg` that call's literal first argument, `via` the factory a boto3 client
  was made by, `depth` the number of calls in `path`.

Anything else is unknown (None). What is not resolved: attribute assignments
(`self.model = ...`), values passed through function calls or containers,
names brought in by star imports, and control flow (the last binding in
source order wins, whichever branch would run).
"""

from __future__ import annotations

from typing import Any

from ingest.events import (
    ATTR,
    CALL,
    CHAIN,
    CLASS_SCOPE,
    ENTER,
    EXIT,
    IMPORT,
    MODULE_SCOPE,
    SUBSCRIPT,
    UNBIND,
    Event,
)
from ingest.model import Row

Value = tuple[Any, ...] | None

# A receiver is followed through at most this many calls (`Estimator().deploy().predict`).
# NOTE: the limit keeps callee strings of long method chains (pandas) readable;
# a method called on a longer chain is reported with an unresolved receiver.
MAX_RECEIVER_DEPTH = 3

# Functions that return a boto3 client or resource, keyed by their qualified name.
_DIRECT_FACTORIES = {"boto3.client": "client", "boto3.resource": "resource"}
# Receivers whose methods make clients: (receiver path, method) -> boto3.client / boto3.resource.
_SESSION_PATHS = (
    "boto3.Session()",
    "boto3.session.Session()",
    "sagemaker.Session().boto_session",
    "sagemaker.session.Session().boto_session",
    "sagemaker.LocalSession().boto_session",
    "sagemaker.local.LocalSession().boto_session",
    "sagemaker.local.local_session.LocalSession().boto_session",
)
_METHOD_FACTORIES: dict[tuple[str, str], str] = {}
for _path in _SESSION_PATHS:
    _METHOD_FACTORIES[(_path, "client")] = "client"
    _METHOD_FACTORIES[(_path, "resource")] = "resource"
for _path in ("botocore.session.get_session()", "botocore.session.Session()"):
    _METHOD_FACTORIES[(_path, "create_client")] = "client"
# Clients that a SageMaker session already has as attributes.
_SESSION_CLIENT_ATTRIBUTES = {
    "sagemaker_client": "sagemaker",
    "sagemaker_runtime_client": "sagemaker-runtime",
    "sagemaker_featurestore_runtime_client": "sagemaker-featurestore-runtime",
    "sagemaker_metrics_client": "sagemaker-metrics",
    "s3_client": "s3",
}
_SAGEMAKER_SESSIONS = frozenset(
    {"sagemaker.Session()", "sagemaker.session.Session()", "sagemaker.LocalSession()", "sagemaker.local.LocalSession()"}
)

_DYNAMIC_IMPORTERS = frozenset({"importlib.import_module"})


def package_and_member(qualified: str | None) -> tuple[str | None, str | None]:
    """Return the top-level package and the first component after it; relative names have neither."""
    if not qualified or qualified[0] == ".":
        return None, None
    parts = qualified.split("(", 1)[0].split(".")
    return parts[0], parts[1] if len(parts) > 1 else None


def _client_object(kind: str, service: str | None, via: str | None) -> tuple[Any, ...]:
    spelled = "" if service is None else repr(service)
    return ("o", f"boto3.{kind}({spelled})", f"boto3.{kind}", service, via, 1)


class _Frame:
    """The namespace of a function (lambda, comprehension) or class body being replayed."""

    __slots__ = ("kind", "local_names", "global_names", "nonlocal_names", "values")

    def __init__(self, kind: str, local_names: frozenset[str], global_names: frozenset[str], nonlocal_names: frozenset[str]) -> None:
        self.kind = kind
        self.local_names = local_names
        self.global_names = global_names
        self.nonlocal_names = nonlocal_names
        self.values: dict[str, Value] = {}


class NotebookResolver:
    """Replay the cell events of one notebook and append import and use rows."""

    def __init__(self, notebook_id: str, imports: list[Row], uses: list[Row]) -> None:
        self.notebook_id = notebook_id
        self.imports = imports
        self.uses = uses
        self.namespaces: dict[str, dict[str, Value]] = {"cell": {}}
        self._module: dict[str, Value] = self.namespaces["cell"]
        self._frames: list[_Frame] = []
        self._cell_index = 0
        self._origin = "cell"
        self._line_map: tuple[int, ...] | None = None

    # -- cells --------------------------------------------------------------------------

    def resolve_cell(
        self,
        cell_index: int,
        events: tuple[Event, ...],
        origin: str = "cell",
        append: bool = False,
        line_map: tuple[int, ...] | None = None,
    ) -> None:
        """Replay one cell's events; `origin` other than `cell` selects a module of its own.

        `line_map` maps the line numbers in the events to the cell's lines
        (see `ingest.compact`).
        """
        if origin == "cell":
            module = self.namespaces["cell"]
        elif append and origin in self.namespaces:
            module = self.namespaces[origin]
        else:
            module = self.namespaces[origin] = {}
        self._module = module
        self._frames = []
        self._cell_index = cell_index
        self._origin = origin
        self._line_map = line_map

        for event in events:
            code = event[0]
            if code == CHAIN:
                self._chain(event)
            elif code == UNBIND:
                for name in event[1]:
                    self._bind(name, None)
            elif code == IMPORT:
                self._import(event)
            elif code == ENTER:
                self._frames.append(_Frame(event[1], event[2], event[3], event[4]))
            elif code == EXIT:
                if self._frames:
                    self._frames.pop()
        self._frames = []

    # -- namespaces -------------------------------------------------------------------

    def _scope_kind(self) -> str:
        return self._frames[-1].kind if self._frames else MODULE_SCOPE

    def _lookup(self, name: str) -> Value:
        frames = self._frames
        for position in range(len(frames) - 1, -1, -1):
            frame = frames[position]
            if frame.kind == CLASS_SCOPE:
                # A class body reads its own names, but the functions inside it do not.
                if position == len(frames) - 1 and name in frame.values:
                    return frame.values[name]
                continue
            if name in frame.global_names:
                return self._module.get(name)
            if name in frame.local_names:
                return frame.values.get(name)
        return self._module.get(name)

    def _bind(self, name: str, value: Value) -> None:
        frames = self._frames
        if not frames:
            if value is None:
                self._module.pop(name, None)
            else:
                self._module[name] = value
            return
        frame = frames[-1]
        if name in frame.global_names:
            if value is None:
                self._module.pop(name, None)
            else:
                self._module[name] = value
            return
        if name in frame.nonlocal_names:
            for outer in reversed(frames[:-1]):
                if outer.kind != CLASS_SCOPE and name in outer.local_names:
                    outer.values[name] = value
                    return
        frame.values[name] = value

    # -- imports ----------------------------------------------------------------------

    def _import(self, event: Event) -> None:
        _, line, module, name, alias, kind, guarded, scope, bound_name, bound_to = event
        package = None if module.startswith(".") else module.split(".", 1)[0]
        self.imports.append(
            {
                "notebook_id": self.notebook_id,
                "cell_index": self._cell_index,
                "line": line if self._line_map is None else self._line_map[line],
                "origin": self._origin,
                "module": module,
                "package": package,
                "name": name,
                "alias": alias,
                "kind": kind,
                "is_guarded": guarded,
                "scope": scope,
            }
        )
        if bound_name is not None:
            self._bind(bound_name, ("q", bound_to))

    def _dynamic_import(self, line: int, module: str, alias: str | None, guarded: bool) -> None:
        package = None if module.startswith(".") else module.split(".", 1)[0]
        self.imports.append(
            {
                "notebook_id": self.notebook_id,
                "cell_index": self._cell_index,
                "line": line if self._line_map is None else self._line_map[line],
                "origin": self._origin,
                "module": module,
                "package": package,
                "name": None,
                "alias": alias,
                "kind": "dynamic",
                "is_guarded": guarded,
                "scope": self._scope_kind(),
            }
        )

    # -- rows ---------------------------------------------------------------------------

    def _use(
        self,
        line: int,
        use_kind: str,
        qualified: str | None,
        is_call: bool,
        first_arg: str | None = None,
        method: str | None = None,
        receiver_origin: str | None = None,
        receiver_arg: str | None = None,
        callee: str | None = None,
        via: str | None = None,
    ) -> None:
        package, member = package_and_member(qualified)
        self.uses.append(
            {
                "notebook_id": self.notebook_id,
                "cell_index": self._cell_index,
                "line": line if self._line_map is None else self._line_map[line],
                "origin": self._origin,
                "use_kind": use_kind,
                "qualified_name": qualified,
                "package": package,
                "member": member,
                "is_call": is_call,
                "first_arg": first_arg,
                "method": method,
                "receiver_origin": receiver_origin,
                "receiver_arg": receiver_arg,
                "callee": callee,
                "via": via,
            }
        )

    # -- chains -------------------------------------------------------------------------

    def _chain(self, event: Event) -> None:
        _, root, root_line, links, stores, guarded = event
        value = self._evaluate(root, root_line, links, stores, guarded)
        for name in stores:
            self._bind(name, value)

    def _evaluate(self, root: str | None, root_line: int, links: tuple[Any, ...], stores: tuple[str, ...], guarded: bool) -> Value:
        """Follow a chain link by link, appending a row for each resolved call or reference."""
        state: Value = self._lookup(root) if root is not None else None
        start = 0
        if state is None and root == "__import__" and links and links[0][0] == CALL and links[0][1]:
            module = links[0][1]
            alias = stores[0] if stores and len(links) == 1 else None
            self._dynamic_import(root_line, module, alias, guarded)
            state = ("q", module.split(".", 1)[0])
            start = 1

        pending: list[tuple[str, int]] = []  # attribute names since the last call
        for position in range(start, len(links)):
            link = links[position]
            code = link[0]
            if code == ATTR:
                pending.append((link[1], link[2]))
                continue

            if code == SUBSCRIPT:
                if state is not None and state[0] == "q":
                    self._use(root_line, "reference", _join(state[1], pending), False)
                state = None
                pending = []
                continue

            # A call.
            first_arg = link[1]
            if state is None:
                if pending:
                    method = pending[-1][0]
                    self._use(pending[-1][1], "method", None, True, first_arg, method=method, callee=f"*.{method}")
                state = None
            elif state[0] == "q":
                qualified = _join(state[1], pending)
                self._use(root_line, "reference", qualified, True, first_arg, callee=qualified)
                state = self._call_result(qualified, first_arg, root_line, stores, guarded, position == len(links) - 1)
            else:
                state = self._method_call(state, pending, first_arg)
            pending = []

        if state is None:
            return None
        if state[0] == "q":
            # A name or attribute chain that is read but not called (`np.float32`, `f(np)`).
            if pending or not links:
                self._use(root_line, "reference", _join(state[1], pending), False)
            return ("q", _join(state[1], pending))
        if pending:
            return self._attribute_of(state, [name for name, _ in pending])
        return state

    def _call_result(self, qualified: str, first_arg: str | None, line: int, stores: tuple[str, ...], guarded: bool, last: bool) -> Value:
        """Return what calling a resolved name gives: a client, an imported module, or an object."""
        factory = _DIRECT_FACTORIES.get(qualified)
        if factory is not None:
            return _client_object(factory, first_arg, None)
        if qualified in _DYNAMIC_IMPORTERS and first_arg:
            self._dynamic_import(line, first_arg, stores[0] if stores and last else None, guarded)
            return ("q", first_arg)
        return ("o", qualified + "()", qualified, first_arg, None, 1)

    def _method_call(self, state: tuple[Any, ...], pending: list[tuple[str, int]], first_arg: str | None) -> Value:
        """Append the row of a method called on an object and return the object it gives."""
        _, path, origin, arg, via, depth = state
        if not pending:
            return None  # the object itself is called: `model(x)`

        names = [name for name, _ in pending]
        method_name, line = pending[-1]
        receiver = path + "".join("." + name for name in names[:-1])

        if len(names) > 1:
            # A client held by a SageMaker session: `sess.sagemaker_client.describe_job()`.
            attribute_state = self._attribute_of(state, names[:-1])
            if attribute_state is not None and attribute_state[2] in _DIRECT_FACTORIES and attribute_state[4]:
                return self._method_call(attribute_state, pending[-1:], first_arg)

        kind = _METHOD_FACTORIES.get((receiver, method_name))
        if kind is not None:
            factory_via = f"{receiver}.{method_name}"
            qualified = f"boto3.{kind}"
            self._use(line, "reference", qualified, True, first_arg, callee=qualified, via=factory_via)
            return _client_object(kind, first_arg, factory_via)

        method = ".".join(names)
        callee = f"{path}.{method}"
        self._use(line, "method", origin, True, first_arg, method=method, receiver_origin=origin, receiver_arg=arg, callee=callee, via=via)
        if depth >= MAX_RECEIVER_DEPTH:
            return None
        return ("o", callee + "()", callee, first_arg, None, depth + 1)

    def _attribute_of(self, state: tuple[Any, ...], names: list[str]) -> Value:
        """Return the object reached by reading attributes of an object (`sess.boto_session`)."""
        _, path, origin, arg, via, depth = state
        if len(names) == 1 and path in _SAGEMAKER_SESSIONS and names[0] in _SESSION_CLIENT_ATTRIBUTES:
            return _client_object("client", _SESSION_CLIENT_ATTRIBUTES[names[0]], f"{path}.{names[0]}")
        return ("o", path + "".join("." + name for name in names), origin, arg, via, depth)


def _join(qualified: str, pending: list[tuple[str, int]]) -> str:
    if not pending:
        return qualified
    if qualified.endswith("."):
        return qualified + ".".join(name for name, _ in pending)  # `from . import x` gives `.x`
    return qualified + "".join("." + name for name, _ in pending)
