"""Turn the cells of one Python notebook into cells, imports, uses and installs rows.

For each code cell: read its IPython syntax (`ingest.ipython`), parse the
Python text with libcst into context-free events (`ingest.fallback`, cached by
text in `ingest.cellcache`), then resolve names in notebook order
(`ingest.resolve`). Markdown and raw cells only get a cells row.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from ingest.cellcache import CellCache
from ingest.events import CellParse
from ingest.fallback import parse_cell
from ingest.ipython import CellCode, read_cell
from ingest.model import (
    CELL_FAILED,
    CELL_NOT_CODE,
    CELL_NOT_PYTHON,
    CellSource,
    ExtractedRows,
    Row,
)
from ingest.resolve import NotebookResolver

log = logging.getLogger(__name__)

# Per-cell languages (nbformat 3) that are Python.
PYTHON_CELL_LANGUAGES = frozenset({"python", "python2", "python3", "ipython", "ipython2", "ipython3"})


def extract_notebook(notebook_id: str, cells: Sequence[CellSource], cache: CellCache | None = None) -> ExtractedRows:
    """Return the rows of one Python notebook's cells.

    `cache` is shared between notebooks of one process; without it every cell
    is parsed. The hit and miss counts of this notebook are in the result.
    """
    rows = ExtractedRows()
    resolver = NotebookResolver(notebook_id, rows.imports, rows.uses)

    for cell in cells:
        if cell.cell_type != "code":
            rows.cells.append(_cell_row(notebook_id, cell, None, "cell", CELL_NOT_CODE, None, _line_count(cell.source), False))
            continue

        if cell.language is not None and cell.language.lower() not in PYTHON_CELL_LANGUAGES:
            language = cell.language.lower()
            rows.cells.append(_cell_row(notebook_id, cell, language, "cell", CELL_NOT_PYTHON, None, _line_count(cell.source), False))
            continue

        code = read_cell(cell.source)
        for line, install in code.installs:
            rows.installs.append(
                {
                    "notebook_id": notebook_id,
                    "cell_index": cell.index,
                    "line": line,
                    "installer": install.installer,
                    "package": install.package,
                    "requirement": install.requirement,
                }
            )
        if code.code is None:
            rows.cells.append(_cell_row(notebook_id, cell, code.language, code.origin, CELL_NOT_PYTHON, None, code.lines, False))
            continue

        parse, hit = _parse(cell, code, cache)
        if hit:
            rows.cache_hits += 1
        elif cache is not None:
            rows.cache_misses += 1
        rows.cells.append(_cell_row(notebook_id, cell, "python", code.origin, parse.status, parse.error, code.lines, hit))
        if parse.status != CELL_FAILED:
            resolver.resolve_cell(cell.index, parse.events, code.origin, code.append)
    return rows


def _parse(cell: CellSource, code: CellCode, cache: CellCache | None) -> tuple[CellParse, bool]:
    """Return the parse of a cell's code and whether it came from the cache."""
    assert code.code is not None
    if cache is not None:
        cached = cache.get(code.code)
        if cached is not None:
            return cached, True

    parse = parse_cell(code.code)
    if parse.status != "parsed" and code.unwrapped:
        # The statement of a %time-like magic did not parse: read it as a placeholder.
        plain = read_cell(cell.source, unwrap=False)
        if plain.code is not None:
            retry = parse_cell(plain.code)
            if retry.status == "parsed" or parse.status == CELL_FAILED:
                parse = retry
    if parse.status == CELL_FAILED:
        log.debug("cell %d failed to parse: %s", cell.index, parse.error)

    if cache is not None:
        cache.put(code.code, parse)
    return parse, False


def _line_count(source: str) -> int:
    if not source:
        return 0
    return source.count("\n") + (0 if source.endswith("\n") else 1)


def _cell_row(
    notebook_id: str,
    cell: CellSource,
    language: str | None,
    origin: str,
    status: str,
    error: str | None,
    lines: int,
    cache_hit: bool,
) -> Row:
    return {
        "notebook_id": notebook_id,
        "cell_index": cell.index,
        "cell_type": cell.cell_type,
        "language": language,
        "origin": origin,
        "status": status,
        "error": error,
        "lines": lines,
        "cache_hit": cache_hit,
    }
