"""Decode the bytes of a `.ipynb` file into cells and the metadata the warehouse keeps.

The reader uses the standard `json` module rather than `nbformat`: it needs only
the cells and a few metadata keys, does no schema validation (real notebooks
often fail it while still being readable), and is several times faster.

Both layouts written by Jupyter are read:
- nbformat 4: `cells[*].source`, the language in `metadata.language_info` or
  `metadata.kernelspec`;
- nbformat 3: `worksheets[*].cells[*]`, code in `input`, a per-cell `language`,
  and `heading` cells.

The notebook language is taken from the first of these that gives one, and
`language_origin` records which:
1. `language_info` - `metadata.language_info.name`, unless it is a placeholder
   such as `plaintext`;
2. `kernelspec` - `metadata.kernelspec.language`;
3. `kernelspec_name` - a known kernel name in `metadata.kernelspec.name`
   (`python3`, `conda_mxnet_p36`, `ir`, `julia-1.9`, ...);
4. `metadata` - `metadata.language`, written by some nbformat 3 tools;
5. `cell` - the most common per-cell `language` of nbformat 3 code cells;
6. `default` - `python`, because a notebook with no language metadata at all
   is almost always an IPython notebook.

Every failure raises `NotebookError` with a reason code from `ingest.reasons`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from ingest import reasons
from ingest.errors import NotebookError
from ingest.limits import DEFAULT_LIMITS, Limits
from ingest.model import CellSource, NotebookDoc

LFS_PREFIXES = (
    b"version https://git-lfs.github.com/spec/",
    b"version https://hawser.github.com/spec/",  # the pre-release name of Git LFS
)
CONFLICT_MARKER = re.compile(r"^(<{7} |={7}$|>{7} )", re.MULTILINE)
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")

# An escaped UTF-16 surrogate; only then can decoded strings hold unpaired
# surrogates, which cannot be encoded as UTF-8 for the warehouse.
ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
SURROGATE = re.compile("[\ud800-\udfff]")

# Kernel names that say which language the kernel runs, for notebooks whose
# kernelspec has a name but no language. Checked in order; first match wins.
KERNEL_NAME_LANGUAGES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), language)
    for pattern, language in (
        (r"^(sparkrkernel|ir|ir\d.*|r|r[-_].*)$", "r"),
        (r"^(sparkkernel|spylon.*|scala.*|almond.*)$", "scala"),
        (r"^(pyspark.*|.*python.*|ipykernel.*|py\d*|py[-_].*|python\d.*)$", "python"),
        (r"^conda[-_].*(_p\d+|_py\d+|-py)$", "python"),
        (r"^julia.*$", "julia"),
        (r"^(bash|sh|zsh|calysto_bash)$", "bash"),
        (r"^(javascript|ijavascript|nodejs|deno|tslab|typescript)$", "javascript"),
        (r"^(xcpp\d*|cling.*)$", "c++"),
        (r"^(\.net-csharp|csharp|icsharp)$", "c#"),
        (r"^(\.net-fsharp|fsharp|ifsharp)$", "f#"),
        (r"^(java|ijava)$", "java"),
        (r"^(kotlin)$", "kotlin"),
        (r"^(gophernotes|go)$", "go"),
        (r"^(rust|evcxr)$", "rust"),
        (r"^(sas)$", "sas"),
        (r"^(matlab|imatlab)$", "matlab"),
        (r"^(octave)$", "octave"),
        (r"^(sos)$", "sos"),
        (r"^(wolframlanguage.*|mathematica)$", "wolfram language"),
        (r"^(xsqlite|xsql|sql)$", "sql"),
        (r"^(powershell)$", "powershell"),
        (r"^(haskell|ihaskell)$", "haskell"),
        (r"^(ruby)$", "ruby"),
    )
)

# Language names that run Python, such as `python3`, `ipython` or AWS Glue's
# `Python_Glue_Session` (a PySpark kernel).
PYTHON_NAME = re.compile(r"^(i?python|pyspark)")

# Values of language_info.name that name no language: VS Code writes `plaintext`
# for notebooks saved without a kernel.
UNINFORMATIVE_LANGUAGES = frozenset({"plaintext", "text", "none", "unknown"})


def read_notebook(data: bytes, limits: Limits | None = None) -> NotebookDoc:
    """Decode one notebook file; raise `NotebookError` when it is not a readable notebook."""
    limits = limits or DEFAULT_LIMITS

    if len(data) > limits.max_file_bytes:
        raise NotebookError(
            reasons.TOO_LARGE, f"file is {len(data):,} bytes, over the limit of {limits.max_file_bytes:,}"
        )
    text = _decode(data)
    notebook = _parse_json(text)

    if not isinstance(notebook, dict):
        raise NotebookError(reasons.NOT_A_NOTEBOOK, f"top-level JSON value is {_json_type(notebook)}, not an object")
    raw_cells, nbformat_major = _raw_cells(notebook)
    if len(raw_cells) > limits.max_cells:
        raise NotebookError(
            reasons.TOO_MANY_CELLS, f"notebook has {len(raw_cells):,} cells, over the limit of {limits.max_cells:,}"
        )

    cells = [_read_cell(index, raw_cell) for index, raw_cell in enumerate(raw_cells)]
    metadata = notebook.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    language, language_origin = detect_language(metadata, cells)
    kernelspec = metadata.get("kernelspec")
    kernel = kernelspec.get("name") if isinstance(kernelspec, dict) else None

    doc = NotebookDoc(
        cells=cells,
        language=language,
        language_origin=language_origin,
        kernel=kernel if isinstance(kernel, str) and kernel else None,
        nbformat=nbformat_major,
        nbformat_minor=_as_int(notebook.get("nbformat_minor")),
    )
    if ESCAPED_SURROGATE.search(data):
        _replace_unpaired_surrogates(doc)
    return doc


def _decode(data: bytes) -> str:
    if not data.strip():
        raise NotebookError(reasons.EMPTY_FILE, "file is empty" if not data else "file contains only whitespace")

    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(LFS_PREFIXES):
        raise NotebookError(reasons.LFS_POINTER, "file is a Git LFS pointer; the notebook itself was not checked out")

    encoding, name = ("utf-16", "UTF-16") if data.startswith(UTF16_BOMS) else ("utf-8-sig", "UTF-8")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise NotebookError(reasons.INVALID_UTF8, f"invalid {name} at byte {error.start}: {error.reason}") from None


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        if CONFLICT_MARKER.search(text):
            raise NotebookError(reasons.MERGE_CONFLICT, "file contains merge-conflict markers") from None
        raise NotebookError(reasons.INVALID_JSON, f"invalid JSON: {error}") from None
    except RecursionError:
        raise NotebookError(reasons.INVALID_JSON, "invalid JSON: values nested too deeply to decode") from None
    except ValueError as error:
        # For example an integer literal longer than Python's int conversion limit.
        raise NotebookError(reasons.INVALID_JSON, f"invalid JSON: {error}") from None


def _raw_cells(notebook: dict[str, Any]) -> tuple[list[Any], int | None]:
    """Return the cell objects in order and the nbformat major version."""
    nbformat_major = _as_int(notebook.get("nbformat"))
    cells = notebook.get("cells")
    if isinstance(cells, list):
        return cells, nbformat_major

    worksheets = notebook.get("worksheets")
    if isinstance(worksheets, list):
        raw_cells: list[Any] = []
        for worksheet in worksheets:
            if isinstance(worksheet, dict) and isinstance(worksheet.get("cells"), list):
                raw_cells.extend(worksheet["cells"])
        return raw_cells, nbformat_major

    if cells is not None:
        raise NotebookError(reasons.NOT_A_NOTEBOOK, f"`cells` is {_json_type(cells)}, not a list")
    keys = ", ".join(sorted(map(str, notebook))[:5]) or "none"
    raise NotebookError(reasons.NOT_A_NOTEBOOK, f"JSON object has no `cells` or `worksheets` (keys: {keys})")


def _read_cell(index: int, raw_cell: Any) -> CellSource:
    """Read one cell, tolerating malformed ones: they become cells with no source."""
    if not isinstance(raw_cell, dict):
        return CellSource(index=index, cell_type="invalid", source="")

    cell_type = raw_cell.get("cell_type")
    if not isinstance(cell_type, str) or not cell_type:
        cell_type = "unknown"

    # nbformat 3 keeps the code of code cells in `input`, everything else in `source`.
    if cell_type == "code" and "source" not in raw_cell:
        source = _join_source(raw_cell.get("input"))
    else:
        source = _join_source(raw_cell.get("source"))

    language = raw_cell.get("language")
    return CellSource(
        index=index,
        cell_type=cell_type,
        source=source,
        language=language.strip().lower() if isinstance(language, str) and language.strip() else None,
    )


def _join_source(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        # NOTE: items that are not strings are malformed and dropped; they cannot be code.
        return "".join(item for item in value if isinstance(item, str))
    return ""


def detect_language(metadata: dict[str, Any], cells: list[CellSource]) -> tuple[str, str]:
    """Return the notebook's language and where it came from (see the module docstring)."""
    language_info = metadata.get("language_info")
    if isinstance(language_info, dict):
        name = _clean(language_info.get("name"))
        if name and name.lower() not in UNINFORMATIVE_LANGUAGES:
            return normalise_language(name), "language_info"

    kernelspec = metadata.get("kernelspec")
    if isinstance(kernelspec, dict):
        language = _clean(kernelspec.get("language"))
        if language:
            return normalise_language(language), "kernelspec"
        kernel_name = _clean(kernelspec.get("name"))
        if kernel_name:
            from_name = language_of_kernel(kernel_name)
            if from_name:
                return from_name, "kernelspec_name"

    language = _clean(metadata.get("language"))
    if language:
        return normalise_language(language), "metadata"

    cell_languages = Counter(cell.language for cell in cells if cell.cell_type == "code" and cell.language)
    if cell_languages:
        # Ties go to the language seen first, since Counter keeps insertion order.
        return normalise_language(cell_languages.most_common(1)[0][0]), "cell"

    return "python", "default"


def normalise_language(name: str) -> str:
    """Lower-case a language name and fold the Python variants into `python`."""
    name = name.strip().lower()
    if PYTHON_NAME.match(name):
        return "python"
    return name


def language_of_kernel(kernel_name: str) -> str | None:
    """Return the language a kernel name implies, or None for names that say nothing."""
    kernel_name = kernel_name.strip().lower()
    for pattern, language in KERNEL_NAME_LANGUAGES:
        if pattern.match(kernel_name):
            return language
    return None


def _replace_unpaired_surrogates(doc: NotebookDoc) -> None:
    """Replace unpaired surrogates (valid in JSON escapes, invalid in UTF-8) with U+FFFD."""
    doc.cells = [
        CellSource(cell.index, cell.cell_type, _to_valid_unicode(cell.source), cell.language) for cell in doc.cells
    ]
    doc.language = _to_valid_unicode(doc.language) if doc.language else doc.language
    doc.kernel = _to_valid_unicode(doc.kernel) if doc.kernel else doc.kernel


def _to_valid_unicode(text: str) -> str:
    return SURROGATE.sub("\ufffd", text)


def _clean(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and -(2**31) <= value < 2**31:
        return value
    return None


def _json_type(value: Any) -> str:
    names = {list: "a list", dict: "an object", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")
