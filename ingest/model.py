"""Plain data passed between the notebook reader, the extractor and the warehouse writer.

Rows are dictionaries whose keys are the column names of `ingest.schema`; the
writer turns lists of them into Arrow tables. Keeping them as dictionaries makes
them cheap to pickle between worker processes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Row = dict[str, Any]

# Values of raw.cells.status.
CELL_PARSED = "parsed"  # libcst parsed the cell after IPython syntax was neutralised
CELL_FALLBACK = "fallback"  # libcst failed; imports came from the token-based fallback
CELL_FAILED = "failed"  # nothing could be read from the cell
CELL_NOT_PYTHON = "not_python"  # a code cell in another language (%%bash, %%html, nbformat 3 language)
CELL_NOT_CODE = "not_code"  # markdown, raw and heading cells

# Values of raw.outcomes.outcome.
INGESTED = "ingested"
FAILED = "failed"
SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class CellSource:
    """One cell as read from the notebook file, before any IPython handling."""

    index: int  # 0-based position among all cells of the notebook
    cell_type: str
    source: str  # list sources joined with '', BOM and CR/CRLF left as they were
    language: str | None = None  # per-cell language (nbformat 3), else None


@dataclass(slots=True)
class ExtractedRows:
    """What the extractor returns for one notebook: rows for the content tables."""

    cells: list[Row] = field(default_factory=list)
    imports: list[Row] = field(default_factory=list)
    uses: list[Row] = field(default_factory=list)
    installs: list[Row] = field(default_factory=list)
    cache_hits: int = 0
    cache_misses: int = 0


@dataclass(slots=True)
class NotebookDoc:
    """A notebook file decoded into cells, with the metadata the warehouse keeps."""

    cells: list[CellSource]
    language: str | None  # lower-case language name, None when nothing says
    language_origin: str  # language_info / kernelspec / kernelspec_name / metadata / cell / default
    kernel: str | None
    nbformat: int | None
    nbformat_minor: int | None

    @property
    def is_python(self) -> bool:
        return self.language in (None, "python", "python2", "python3", "ipython")
