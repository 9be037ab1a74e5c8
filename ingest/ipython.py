"""Turn the IPython syntax of a code cell into plain Python, keeping its line numbers.

IPython passes a cell through input transformers before Python parses it (IPython
8, `IPython.core.inputtransformer2`): a first line `%%name` makes the whole cell
a cell magic, and a logical line that starts with `!`, `%`, `?` (or ends with
`?`) is a shell escape, a line magic or a help request. This module applies the
same rules, but replaces each such line with a placeholder instead of a
`get_ipython()` call:

- a line magic or shell escape becomes `pass` at its own indentation, so a block
  whose only statement it was still parses; its backslash continuation lines
  become empty lines;
- `x = !cmd` and `x = %magic` become `x = None`, so the assignment still ends
  whatever `x` was bound to;
- `%time stmt`, `%timeit [options] stmt` and `%prun`/`%memit` keep their
  statement, so the calls in it are seen;
- a `%` or `!` that starts a physical line inside brackets or after a backslash
  belongs to the Python expression (`a\\\\n% b`) and is kept.

Line numbers never move: every original line maps to exactly one output line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest.installs import Install, parse_install_command

# Cell magics that run their body as Python in the kernel (timing, capture, profiling).
PYTHON_BODY_MAGICS = frozenset(
    {
        "time", "timeit", "capture", "prun", "debug", "memit", "mprun", "snakeviz",
        "heat", "pixie_debugger", "px", "local",
    }
)
# Cell magics that write their body to a file; a `.py` target is parsed as a module.
WRITEFILE_MAGICS = frozenset({"writefile", "file"})
# Cell magics (and `%%script` interpreters) that run their body in a new Python
# process: the body is a module of its own.
_PYTHON_PROCESS_RE = re.compile(r"(?:python|pypy)[\d.]*")
# Cell magics whose body is shell script, scanned for install commands.
SHELL_MAGICS = frozenset({"bash", "sh", "zsh", "system", "sx"})
# Canonical language names of other cell magics; unknown magics keep their own name.
MAGIC_LANGUAGES = {
    "js": "javascript",
    "javascript": "javascript",
    "html": "html",
    "latex": "latex",
    "markdown": "markdown",
    "svg": "svg",
    "sql": "sql",
    "r": "r",
    "perl": "perl",
    "ruby": "ruby",
    "bash": "bash",
    "sh": "sh",
    "system": "sh",
    "sx": "sh",
    "powershell": "powershell",
    "cmd": "cmd",
}
# Line magics that install packages: `%pip install x`.
INSTALL_MAGICS = frozenset({"pip", "conda", "mamba", "micromamba"})
# Line magics whose argument is a Python statement, with the options that take a value.
STATEMENT_MAGICS: dict[str, frozenset[str]] = {
    "time": frozenset(),
    "timeit": frozenset({"-n", "-r", "-p"}),
    "prun": frozenset({"-l", "-s", "-T", "-D"}),
    "memit": frozenset({"-r", "-t", "-i"}),
}

PLACEHOLDER = "pass"

_BLANK_RE = re.compile(r"^[ \t\f]*$")
_CELL_MAGIC_RE = re.compile(r"^%%(\S*)[ \t]*(.*)$")
_LINE_MAGIC_NAME_RE = re.compile(r"^%{1,2}([A-Za-z_][\w.]*)?[ \t]*(.*)$")
# `target = !cmd`, `target = %magic`: the first `=` of the line is followed by `!` or `%name`.
_MAGIC_ASSIGN_RE = re.compile(r"^([^=#]*?[^=!<>:+\-*/%&|^@~\s])[ \t]*=[ \t]*(?:!|%{1,2}[A-Za-z_])")
_STRING_LITERAL_RE = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"")
_TARGET_CHARS_RE = re.compile(r"^[\w.\s,()\[\]*]*$")
_NEEDS_WORK_RE = re.compile(r"^[ \t]*(?:[%!?/,;]|>>>|In \[)|\?[ \t]*(?:#.*)?$|=[ \t]*[!%]", re.MULTILINE)
_TOKEN_RE = re.compile(r"""[#'"()\[\]{}\\]""")
_PROMPT_RE = re.compile(r"^(?:>>> ?|\.\.\. ?|In \[\d*\]: ?|[ \t]+\.\.\.: ?)")


@dataclass(slots=True)
class CellCode:
    """A code cell after IPython syntax has been read.

    `code` is the Python text to parse, with one line per original line, or None
    when the cell is not Python (`language` then names what it is).
    """

    language: str
    code: str | None
    origin: str = "cell"  # cell, writefile:<name>, or script:<magic>
    append: bool = False  # %%writefile -a: continue the module already written
    installs: list[tuple[int, Install]] = field(default_factory=list)  # (line, install)
    unwrapped: bool = False  # a %time-like magic was replaced by its statement
    lines: int = 0


def normalise_newlines(source: str) -> str:
    """Strip a leading byte-order mark and turn CRLF and CR line ends into LF."""
    if source.startswith("\ufeff"):
        source = source[1:]
    if "\r" in source:
        source = source.replace("\r\n", "\n").replace("\r", "\n")
    return source


def read_cell(source: str, unwrap: bool = True) -> CellCode:
    """Classify a code cell by its cell magic and neutralise its IPython syntax.

    `unwrap=False` turns `%time stmt` into a placeholder as well; the caller
    retries with it when the unwrapped statement does not parse.
    """
    source = normalise_newlines(source)
    lines = source.split("\n")
    line_count = len(lines) - (1 if lines and lines[-1] == "" else 0)

    first = 0
    while first < len(lines) and _BLANK_RE.match(lines[first]):
        first += 1
    if first < len(lines) and lines[first].startswith("%%"):
        cell = _read_cell_magic(lines, first, unwrap)
    else:
        cell = CellCode(language="python", code=None)
        cell.code = _neutralise(lines, cell, unwrap)
    cell.lines = line_count
    return cell


def _read_cell_magic(lines: list[str], first: int, unwrap: bool) -> CellCode:
    """Handle a cell that starts with `%%name args`."""
    match = _CELL_MAGIC_RE.match(lines[first])
    name = match.group(1) if match else ""
    arguments = match.group(2).strip() if match else ""
    body = list(lines)
    body[first] = ""
    key = name.lower()

    if key in PYTHON_BODY_MAGICS:
        cell = CellCode(language="python", code=None)
        cell.code = _neutralise(body, cell, unwrap)
        return cell

    if key in WRITEFILE_MAGICS:
        words = arguments.split()
        append = any(word in ("-a", "--append") for word in words)
        target = next((word for word in words if not word.startswith("-")), "")
        target = target.strip("'\"")
        if target.lower().endswith(".py"):
            # The file is written verbatim, so no IPython syntax is neutralised in it.
            return CellCode(language="python", code="\n".join(body), origin=f"writefile:{target}", append=append)
        extension = target.rsplit(".", 1)[-1].lower() if "." in target else "text"
        return CellCode(language=extension or "text", code=None, origin=f"writefile:{target}")

    if key == "script":
        interpreter = arguments.split()[0] if arguments else ""
        key = interpreter.rsplit("/", 1)[-1].lower()
        if not key:
            return CellCode(language="script", code=None)
    if _PYTHON_PROCESS_RE.fullmatch(key):
        return CellCode(language="python", code="\n".join(body), origin=f"script:{key}")

    cell = CellCode(language=MAGIC_LANGUAGES.get(key, key or "unknown"), code=None)
    if key in SHELL_MAGICS:
        _collect_shell_installs(body, cell)
    return cell


def _collect_shell_installs(lines: list[str], cell: CellCode) -> None:
    """Find install commands in the lines of a shell cell, joining backslash continuations."""
    index = 0
    while index < len(lines):
        start = index
        command = lines[index]
        while command.endswith("\\") and index + 1 < len(lines):
            index += 1
            command = command[:-1] + " " + lines[index]
        for install in parse_install_command(command):
            cell.installs.append((start + 1, install))
        index += 1


def _strip_prompts(lines: list[str]) -> list[str]:
    """Remove `>>> ` / `... ` and `In [1]: ` prompts, as IPython does for pasted sessions."""
    first = next((line for line in lines if line.strip()), "")
    if not _PROMPT_RE.match(first) or first.startswith("..."):
        return lines
    return [_PROMPT_RE.sub("", line, count=1) for line in lines]


def _strip_leading_indent(lines: list[str]) -> list[str]:
    """Remove the indentation of the first line from every line, as IPython does."""
    first = next((line for line in lines if line.strip()), "")
    indent = first[: len(first) - len(first.lstrip(" \t"))]
    if not indent:
        return lines
    return [line[len(indent):] if line.startswith(indent) else line for line in lines]


def _neutralise(lines: list[str], cell: CellCode, unwrap: bool) -> str:
    """Replace the IPython lines of a Python cell, returning text with the same line count."""
    text = "\n".join(lines)
    first = next((line for line in lines if line.strip()), "")
    if not _NEEDS_WORK_RE.search(text) and first[:1] not in (" ", "\t"):
        return text

    lines = _strip_leading_indent(_strip_prompts(lines))
    scanner = _LineScanner()
    output: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if not scanner.at_logical_start():
            scanner.scan(line)
            output.append(line)
            index += 1
            continue

        stripped = line.lstrip(" \t")
        indent = line[: len(line) - len(stripped)]
        replacement = _replace_escape(stripped, indent, index + 1, cell, unwrap)
        if replacement is None:
            scanner.scan(line)
            if scanner.ends_with_help():
                line = indent + PLACEHOLDER  # `obj?` / `obj??`
            output.append(line)
            index += 1
            continue

        # The escaped line and its backslash continuation lines are not Python,
        # except the statement of an unwrapped %time.
        text, is_python = replacement
        output.append(text)
        if is_python:
            scanner.scan(text)
        while line.endswith("\\") and index + 1 < len(lines):
            index += 1
            line = lines[index]
            output.append("")
        index += 1
    return "\n".join(output)


def _replace_escape(
    stripped: str, indent: str, line_number: int, cell: CellCode, unwrap: bool
) -> tuple[str, bool] | None:
    """Return the replacement of a logical line that starts with IPython syntax, or None.

    The flag is True when the replacement is Python taken from the line (the
    statement of `%time stmt`), and False for a placeholder.
    """
    if not stripped:
        return None
    head = stripped[0]

    if head == "!":
        command = stripped.lstrip("!")
        for install in parse_install_command(_join_continuation(command)):
            cell.installs.append((line_number, install))
        return indent + PLACEHOLDER, False

    if head == "%":
        match = _LINE_MAGIC_NAME_RE.match(stripped)
        name = (match.group(1) or "") if match else ""
        argument = match.group(2) if match else ""
        if name.lower() in INSTALL_MAGICS:
            command = f"{name} {argument}"
            for install in parse_install_command(_join_continuation(command)):
                cell.installs.append((line_number, install))
        elif unwrap and name in STATEMENT_MAGICS and not stripped.startswith("%%"):
            statement = _statement_of(argument, STATEMENT_MAGICS[name])
            if statement:
                cell.unwrapped = True
                return indent + statement, True
        return indent + PLACEHOLDER, False

    if head in "?/,;":
        return indent + PLACEHOLDER, False  # `?obj` help, and autocall escapes

    match = _MAGIC_ASSIGN_RE.match(stripped)
    if match and _is_assignment_target(match.group(1)):
        return indent + match.group(1) + " = None", False
    return None


def _is_assignment_target(text: str) -> bool:
    """Return whether text can be the target of `x = !cmd` (`a, b`, `self.x`, `d["k"]`).

    Text inside a call, like `print("a` in `print("a = %s" % x)`, cannot.
    """
    text = _STRING_LITERAL_RE.sub("0", text)
    if not _TARGET_CHARS_RE.match(text):
        return False
    depth = 0
    for char in text:
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def _join_continuation(command: str) -> str:
    return command[:-1] if command.endswith("\\") else command


def _statement_of(argument: str, options_with_value: frozenset[str]) -> str:
    """Return the statement after the options of a %time-like magic ('' if it is continued)."""
    words = argument.split(" ")
    index = 0
    while index < len(words):
        word = words[index]
        if not word:
            index += 1
            continue
        if not word.startswith("-") or len(word) < 2 or word[1].isdigit() or word[1] == " ":
            break
        index += 2 if word in options_with_value else 1
    statement = " ".join(words[index:]).strip()
    if statement.endswith("\\"):
        return ""
    return statement


class _LineScanner:
    """Track brackets, strings and backslashes across physical lines.

    IPython only reads escapes at the start of a logical line, so a `%` that
    starts a line inside brackets or after a backslash is the modulo operator.
    """

    __slots__ = ("depth", "string", "continued", "help_end")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.depth = 0
        self.string: str | None = None  # the open triple-quote delimiter
        self.continued = False
        self.help_end = False

    def at_logical_start(self) -> bool:
        return self.depth == 0 and self.string is None and not self.continued

    def ends_with_help(self) -> bool:
        return self.help_end and self.at_logical_start()

    def scan(self, line: str) -> None:
        """Update the state with one physical line."""
        self.continued = False
        self.help_end = False
        position = 0
        length = len(line)
        code_end = length
        while position < length:
            if self.string is not None:
                position = self._skip_string(line, position)
                continue
            match = _TOKEN_RE.search(line, position)
            if match is None:
                break
            char = match.group()
            position = match.end()
            if char == "#":
                code_end = match.start()
                break
            if char in "([{":
                self.depth += 1
            elif char in ")]}":
                self.depth = max(0, self.depth - 1)
            elif char == "\\":
                if position == length:
                    self.continued = True
                position += 1  # an escaped character outside a string (a continuation)
            else:
                triple = line[match.start() : match.start() + 3]
                self.string = triple if triple in ('"""', "'''") else char
                position = match.start() + len(self.string)
        if self.string is not None and len(self.string) == 1:
            # A one-quote string cannot span lines except with a backslash.
            if line.endswith("\\"):
                self.continued = True
            self.string = None
        if self.string is None and not self.continued:
            self.help_end = line[:code_end].rstrip().endswith("?")

    def _skip_string(self, line: str, position: int) -> int:
        delimiter = self.string
        assert delimiter is not None
        while True:
            found = line.find(delimiter, position)
            backslash = line.find("\\", position)
            if backslash != -1 and (found == -1 or backslash < found):
                position = backslash + 2
                if position > len(line):
                    return len(line)
                continue
            if found == -1:
                return len(line)
            self.string = None
            return found + len(delimiter)
