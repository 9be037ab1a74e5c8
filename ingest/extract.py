"""Turn the cells of one Python notebook into cells, imports, uses and installs rows.

For each code cell: read its IPython syntax (`ingest.ipython`), parse the
Python text with libcst into context-free events (`ingest.fallback`, cached by
text in `ingest.cellcache`), then resolve names in notebook order
(`ingest.resolve`). Markdown and raw cells only get a cells row.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from ingest.cellcache import CellCache
from ingest.compact import CompactCode, compact_code
from ingest.events import CellParse
from ingest.fallback import parse_cell
from ingest.fastparse import fast_parsing
from ingest.ipython import CellCode, read_cell
from ingest.model import (
    CELL_FAILED,
    CELL_NOT_CODE,
    CELL_PARSED,
    CELL_NOT_PYTHON,
    CellSource,
    ExtractedRows,
    Row,
)
from ingest.resolve import NotebookResolver

log = logging.getLogger(__name__)

# Per-cell languages (nbformat 3) that are Python.
PYTHON_CELL_LANGUAGES = frozenset({"python", "python2", "python3", "ipython", "ipython2", "ipython3"})

_POSITION_RE = re.compile(r"@ (\d+):(\d+)")


def extract_notebook(notebook_id: str, cells: Sequence[CellSource], cache: CellCache | None = None) -> ExtractedRows:
    """Return the rows of one Python notebook's cells.

    `cache` is shared between notebooks of one process; without it every cell
    is parsed. The hit and miss counts of this notebook are in the result.
    """
    rows = ExtractedRows()
    resolver = NotebookResolver(notebook_id, rows.imports, rows.uses)
    with fast_parsing():
        for cell in cells:
            _extract_cell(notebook_id, cell, cache, rows, resolver)
    return rows


def _extract_cell(
    notebook_id: str, cell: CellSource, cache: CellCache | None, rows: ExtractedRows, resolver: NotebookResolver
) -> None:
    """Append the rows of one cell; a code cell's names are resolved right away, in notebook order."""
    if cell.cell_type != "code":
        rows.cells.append(_cell_row(notebook_id, cell, None, "cell", CELL_NOT_CODE, None, _line_count(cell.source), False))
        return

    if cell.language is not None and cell.language.lower() not in PYTHON_CELL_LANGUAGES:
        language = cell.language.lower()
        rows.cells.append(_cell_row(notebook_id, cell, language, "cell", CELL_NOT_PYTHON, None, _line_count(cell.source), False))
        return

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
        return

    compact, parse, hit = _parse(cell, code, cache)
    if hit:
        rows.cache_hits += 1
    elif cache is not None:
        rows.cache_misses += 1
    error = _map_error_lines(parse.error, compact) if parse.error else None
    rows.cells.append(_cell_row(notebook_id, cell, "python", code.origin, parse.status, error, code.lines, hit))
    if parse.status != CELL_FAILED:
        resolver.resolve_cell(cell.index, parse.events, code.origin, code.append, compact.line_map)


def _parse(cell: CellSource, code: CellCode, cache: CellCache | None) -> tuple[CompactCode, CellParse, bool]:
    """Return a cell's compact code, its parse, and whether the parse came from the cache."""
    assert code.code is not None
    compact = compact_code(code.code)
    if cache is not None:
        cached = cache.get(compact.text)
        if cached is not None:
            return compact, cached, True

    parse = parse_cell(compact.text)
    if parse.status != CELL_PARSED and code.unwrapped:
        # The statement of a %time-like magic did not parse: read it as a placeholder.
        plain = read_cell(cell.source, unwrap=False)
        if plain.code is not None:
            plain_compact = compact_code(plain.code)
            retry = parse_cell(plain_compact.text)
            if retry.status == CELL_PARSED or parse.status == CELL_FAILED:
                # NOTE: the placeholder keeps every line where it was, so the
                # line map of the unwrapped text still applies.
                parse = retry
    if parse.status == CELL_FAILED:
        log.debug("cell %d failed to parse: %s", cell.index, parse.error)

    if cache is not None:
        cache.put(compact.text, parse)
    return compact, parse, False


def _map_error_lines(error: str, compact: CompactCode) -> str:
    """Rewrite libcst's `@ line:column` positions from compact lines to cell lines."""
    if compact.line_map is None:
        return error

    def replace(match: re.Match[str]) -> str:
        line = int(match.group(1))
        if 0 < line < len(compact.line_map):
            line = compact.line_map[line]
        return f"@ {line}:{match.group(2)}"

    return _POSITION_RE.sub(replace, error)


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
