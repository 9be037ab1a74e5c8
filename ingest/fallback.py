"""Parse one cell's Python text with libcst, falling back for cells libcst rejects.

libcst parses Python 3 only, so Python 2 cells (print statements, `except X, e`)
fail. Their imports are still wanted, so a failed parse is retried after
rewriting common Python 2 statements line by line, and if that fails too, each
`import`/`from` statement is cut out and parsed on its own. Either way the
cell's status is `fallback`; a cell that yields nothing is `failed`.

Every libcst call is guarded: besides `ParserSyntaxError`, libcst can raise
`TypeError`, or a Rust panic that derives from `BaseException`, on valid code.
Deeply nested code is worse: libcst 1.9's native parser overflows the C stack
and kills the process (a segmentation fault, measured at about 2,000 nested
parentheses or 5,000 chained `+`, subscripts or calls). CPython's own parser
rejects such code safely, so cells long enough to hold that much nesting are
checked with `ast.parse` before libcst parses them.
"""

from __future__ import annotations

import ast
import contextlib
import logging
import re
import sys
import warnings
from collections.abc import Iterator

import libcst as cst

from ingest.events import CellParse, Event, IMPORT
from ingest.model import CELL_FAILED, CELL_FALLBACK, CELL_PARSED
from ingest.visitors import EventWalker

log = logging.getLogger(__name__)

# A line with code on it: anything but blanks and a comment.
_CODE_LINE_RE = re.compile(r"^[ \t\f]*[^ \t\f#\n]", re.MULTILINE)

# Python 2 statements rewritten into Python 3 before the second parse; each
# rewrite keeps the line count.
_PRINT_RE = re.compile(r"^(\s*)print(?![\w(])\s*(.*?)\s*$")
_PRINT_TO_RE = re.compile(r"^>>\s*([^,]+)\s*(?:,\s*(.*))?$")
_EXEC_RE = re.compile(r"^(\s*)exec\s+(?![\s(=])(.*?)\s*$")
_EXCEPT_RE = re.compile(r"^(\s*except\s*\(?[\w.\s,]*?\)?)\s*,\s*(\w+)\s*:")
_RAISE_RE = re.compile(r"^(\s*raise\s+[\w.]+)\s*,\s*(.+?)\s*$")
_BACKTICK_RE = re.compile(r"`([^`\n]*)`")
_LONG_RE = re.compile(r"\b(\d+)[lL]\b")
_OCTAL_RE = re.compile(r"(?<![\w.])0(\d+)\b")
_UR_PREFIX_RE = re.compile(r"\b[uU][rR](?=['\"])")

# Text up to this length cannot nest deep enough to overflow libcst's stack:
# the densest nesting (`f()()...`, `((...))`, `-+-x`) takes 1 or 2 characters
# per level, and 1,000 levels of each parse safely.
UNCHECKED_MAX_CHARS = 2000
# CPython accepts some nesting that libcst 1.9 crashes on (2,500 chained
# subscripts), so `ast.parse` runs under a lowered recursion limit. CPython
# 3.11 allows its tree about 3 levels per frame of the limit, so this many
# frames above the caller's depth cap it near MAX_LIBCST_DEPTH levels.
AST_FRAMES = 330
MAX_LIBCST_DEPTH = 1000
# Python frames for the walk; Python-to-Python calls use no C stack in 3.11+.
WALK_RECURSION_LIMIT = 20_000

_IMPORT_LINE_RE = re.compile(r"^([ \t]*)(?:import[ \t]+[\w.]|from[ \t]+[\w.]+[ \t]+import\b)")
_BLOCK_RE = re.compile(r"^([ \t]*)(def|class|async[ \t]+def|try|except|finally|else)\b")


def parse_module(text: str) -> cst.Module:
    """Parse text with libcst (faster inside `ingest.fastparse.fast_parsing()`); raises what libcst raises."""
    return cst.parse_module(text)


def walk_text(text: str) -> tuple[Event, ...]:
    """Parse text and return its events; raises whatever libcst or the walk raises."""
    module = parse_module(text)
    with raised_recursion_limit():
        return EventWalker().walk_module(module)


def _describe(error: BaseException) -> str:
    message = str(error).strip().splitlines()
    first = message[0] if message else ""
    return f"{type(error).__name__}: {first}"[:500]


@contextlib.contextmanager
def raised_recursion_limit() -> Iterator[None]:
    """Allow the recursive walk to follow trees as deep as libcst can build them."""
    original = sys.getrecursionlimit()
    sys.setrecursionlimit(max(original, WALK_RECURSION_LIMIT))
    try:
        yield
    finally:
        sys.setrecursionlimit(original)


def _cpython_rejects(text: str) -> str | None:
    """Return why CPython's parser rejects text, or None when it parses.

    A message starting with `too deep` means the nesting is beyond what
    libcst can parse without crashing.
    """
    original_limit = sys.getrecursionlimit()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning for invalid escapes
            sys.setrecursionlimit(_stack_depth() + AST_FRAMES)
            try:
                tree = ast.parse(text)
            finally:
                sys.setrecursionlimit(original_limit)
    except (RecursionError, MemoryError) as error:
        return f"too deep: the cell nests expressions too deeply to parse ({type(error).__name__})"
    except SyntaxError as error:
        if "too many nested" in str(error):
            return f"too deep: {error.msg}"
        return f"SyntaxError: {error.msg} (line {error.lineno})"
    except ValueError as error:  # null bytes
        return f"ValueError: {error}"

    # CPython keeps `a and b and c` as one flat node, libcst nests one level per operand.
    if text.count(" and ") + text.count(" or ") > MAX_LIBCST_DEPTH:
        longest = max((len(node.values) for node in ast.walk(tree) if isinstance(node, ast.BoolOp)), default=0)
        if longest > MAX_LIBCST_DEPTH:
            return f"too deep: a chain of {longest:,} `and`/`or` operands"
    return None


def _stack_depth() -> int:
    frame = sys._getframe()
    depth = 0
    while frame is not None:
        depth += 1
        frame = frame.f_back
    return depth


def _guarded(text: str) -> tuple[tuple[Event, ...] | None, str | None]:
    """Return (events, None) or (None, error text); only interrupts propagate."""
    try:
        return walk_text(text), None
    except (KeyboardInterrupt, SystemExit):
        raise
    except RecursionError:
        return None, "RecursionError: the cell is nested too deeply to parse"
    except BaseException as error:  # noqa: BLE001 - libcst raises Rust panics as BaseException
        return None, _describe(error)


def parse_cell(text: str) -> CellParse:
    """Parse one cell's neutralised Python text into events, with the Python 2 fallbacks."""
    if not _CODE_LINE_RE.search(text):
        return CellParse(CELL_PARSED, ())  # blank or comments only: an empty module

    rejected = _cpython_rejects(text) if len(text) > UNCHECKED_MAX_CHARS else None
    if rejected is None:
        events, error = _guarded(text)
        if events is not None:
            return CellParse(CELL_PARSED, events)
    else:
        # NOTE: a long cell that CPython rejects is not given to libcst, even
        # though libcst accepts a few constructs that CPython does not.
        error = rejected

    rewritten = rewrite_python2(text) if not error.startswith("too deep") else text
    if rewritten != text and (len(rewritten) <= UNCHECKED_MAX_CHARS or _cpython_rejects(rewritten) is None):
        events, _ = _guarded(rewritten)
        if events is not None:
            return CellParse(CELL_FALLBACK, events, error)

    imports = scan_imports(text)
    if imports:
        return CellParse(CELL_FALLBACK, imports, error)
    return CellParse(CELL_FAILED, (), error)


def rewrite_python2(text: str) -> str:
    """Rewrite Python 2 statements into Python 3, line by line, keeping every line in place."""
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if "print" in line:
            line = _rewrite_print(line)
        if "exec" in line:
            line = _EXEC_RE.sub(r"\1exec(\2)", line)
        if "except" in line:
            line = _EXCEPT_RE.sub(r"\1 as \2:", line)
        if "raise" in line:
            line = _RAISE_RE.sub(r"\1(\2)", line)
        if "`" in line:
            line = _BACKTICK_RE.sub(r"repr(\1)", line)
        if "<>" in line:
            line = line.replace("<>", "!=")
        line = _LONG_RE.sub(r"\1", line)
        line = _OCTAL_RE.sub(r"0o\1", line)
        line = _UR_PREFIX_RE.sub("r", line)
        lines[index] = line
    return "\n".join(lines)


def _rewrite_print(line: str) -> str:
    match = _PRINT_RE.match(line)
    if not match:
        return line
    indent, argument = match.groups()
    if argument.startswith(("=", ".", "[")) or argument.endswith("\\"):
        return line  # an assignment to `print`, an attribute, or a continued line
    comment = ""
    if "#" in argument and "'" not in argument and '"' not in argument:
        argument, comment = argument.split("#", 1)
        argument = argument.rstrip()
        comment = "  #" + comment
    if not _balanced(argument):
        return line

    end = ""
    if argument.endswith(","):
        argument = argument[:-1]
        end = ", end=' '"
    to = _PRINT_TO_RE.match(argument)
    if to:
        stream, rest = to.group(1), to.group(2) or ""
        arguments = f"{rest}, file={stream}" if rest else f"file={stream}"
        return f"{indent}print({arguments}{end}){comment}"
    return f"{indent}print({argument}{end}){comment}"


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def scan_imports(text: str) -> tuple[Event, ...]:
    """Find import statements in text that does not parse, and parse each one alone.

    The scope and the try guard of each import are guessed from indentation:
    the nearest less-indented `def`, `class` or `try`/`except` line above it.
    """
    lines = text.split("\n")
    events: list[Event] = []
    blocks: list[tuple[int, str]] = []  # (indent width, keyword) of open blocks
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.lstrip(" \t")
        if not stripped or stripped.startswith("#"):
            index += 1
            continue
        width = len(line) - len(stripped)
        while blocks and blocks[-1][0] >= width:
            blocks.pop()

        block = _BLOCK_RE.match(line)
        if block:
            blocks.append((width, block.group(2).split()[-1]))
            index += 1
            continue
        if not _IMPORT_LINE_RE.match(line):
            index += 1
            continue

        statement, consumed = _statement_lines(lines, index)
        scope = "module"
        for _, keyword in blocks:
            if keyword == "def":
                scope = "function"
            elif keyword == "class" and scope == "module":
                scope = "class"
        guarded = any(keyword in ("try", "except", "finally", "else") for _, keyword in blocks)
        events.extend(_import_events(statement, index, scope, guarded))
        index += consumed
    return tuple(events)


def _statement_lines(lines: list[str], start: int) -> tuple[str, int]:
    """Return one import statement (with its continuation lines) dedented, and its line count."""
    parts = [lines[start].strip()]
    depth = parts[0].count("(") - parts[0].count(")")
    index = start
    while (depth > 0 or parts[-1].endswith("\\")) and index + 1 < len(lines):
        index += 1
        parts.append(lines[index].strip())
        depth += parts[-1].count("(") - parts[-1].count(")")
    return "\n".join(parts) + "\n", index - start + 1


def _import_events(statement: str, line_index: int, scope: str, guarded: bool) -> list[Event]:
    # `import a; print x` keeps only its first statement when the rest is Python 2.
    candidates = [statement]
    if ";" in statement:
        candidates.append(statement.split(";", 1)[0] + "\n")
    for candidate in candidates:
        events, _ = _guarded(candidate)
        if events is None:
            continue
        found = []
        for event in events:
            if event[0] == IMPORT:
                _, line, module, name, alias, kind, _guarded_flag, _scope, bound_name, bound_to = event
                found.append((IMPORT, line + line_index, module, name, alias, kind, guarded, scope, bound_name, bound_to))
        return found
    return []
