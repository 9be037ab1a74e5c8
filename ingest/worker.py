"""Process input files into warehouse rows: read, decode, extract, and record the outcome.

This runs inside worker processes (see `ingest.pool`): `init_worker` sets up
the per-process state once (limits, the ids of content already loaded, the cell
cache), and `process_chunk` turns a list of `InputFile`s into one Arrow table per
raw table. Every file of a chunk ends with exactly one outcome row, whatever
happens: expected problems carry their reason code, and any other exception
becomes `internal_error` with its traceback sent back for the driver to log.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import signal
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

from ingest import reasons
from ingest.cellcache import DEFAULT_MAX_ENTRIES, CellCache
from ingest.errors import NotebookError
from ingest.extract import extract_notebook
from ingest.limits import Limits
from ingest.model import CELL_FAILED, FAILED, INGESTED, SKIPPED, CellSource, ExtractedRows, NotebookDoc, Row
from ingest.notebook import read_notebook
from ingest.reasons import outcome_of
from ingest.schema import TABLES
from ingest.sources import InputFile, load_plugins, read_input

log = logging.getLogger(__name__)

# Error codes written to raw.cells.error for code cells not handed to the parser.
CELL_TOO_LONG = "too_long"
CELL_TOO_DEEP = "too_deeply_nested"

OPENING_BRACKETS = "([{"
BRACKET_DEPTH_CHANGE = {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}
BRACKET = re.compile(r"[][(){}]")
SURROGATE = re.compile("[\ud800-\udfff]")

# A run of prefix operators nests the parse tree like brackets do; libcst 1.x
# crashed the process on about 10,000 of them, and passed 3,000.
PREFIX_OPERATOR_RUN_LIMIT = 1_000
PREFIX_OPERATOR_RUN = re.compile(r"(?:(?:\bnot\b|\blambda\b[^:\n]*:|[-+~])\s*){%d,}" % PREFIX_OPERATOR_RUN_LIMIT)


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """Everything a worker process needs, passed once when it starts."""

    limits: Limits
    ingested_at: datetime
    known_content: frozenset[str] = frozenset()  # notebook ids whose content rows are loaded
    log_level: int = logging.WARNING
    cache_entries: int = DEFAULT_MAX_ENTRIES  # bound of each worker's cell cache


@dataclass(slots=True)
class ChunkResult:
    """The rows and counts of one processed chunk of input files."""

    tables: dict[str, pa.Table]
    extracted_ids: list[str]  # notebook ids whose content rows are in `tables`
    extracted_code_cells: list[int] = field(default_factory=list)  # code cells of each, in the same order
    counts: Counter[tuple[str, str | None]] = field(default_factory=Counter)  # (outcome, reason) -> files
    files: int = 0
    code_cells: int = 0  # code cells of the notebooks extracted
    cache_hits: int = 0
    cache_misses: int = 0
    errors: list[str] = field(default_factory=list)  # messages for the driver's log


@dataclass(slots=True)
class _WorkerState:
    config: WorkerConfig
    cache: CellCache
    extracted: set[str]  # content extracted by this process during the run


_state: _WorkerState | None = None


def init_worker(config: WorkerConfig) -> None:
    """Set up a worker process; the driver, not the worker, reacts to Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    init_state(config)


def init_state(config: WorkerConfig) -> None:
    """Set up the per-process state of a run, leaving signals and logging to the process's owner.

    Executors whose tasks run outside the main thread (Dask workers) call this
    instead of `init_worker`, because only the main thread may set signal handlers.
    """
    global _state
    load_plugins()
    _state = _WorkerState(config=config, cache=CellCache(config.cache_entries), extracted=set())


def process_chunk(inputs: list[InputFile], on_start: Callable[[int], None] | None = None) -> ChunkResult:
    """Process the files of one chunk in this worker process.

    `on_start(i)` is called before the i-th file, so that a pool can tell which
    file a worker was on when it crashed or ran out of time.
    """
    if _state is None:
        raise RuntimeError("init_worker() must run before process_chunk()")
    state = _state
    builder = _RowBuilder(state.config.ingested_at)
    result = ChunkResult(tables={}, extracted_ids=[])
    for index, input_file in enumerate(inputs):
        if on_start is not None:
            on_start(index)
        _process_file(input_file, state, builder, result)

    try:
        result.tables = builder.tables()
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        if len(inputs) == 1:
            raise
        # A row that does not fit its Arrow schema: convert file by file so that
        # only the file holding it fails.
        log.warning("a chunk's rows do not convert to Arrow; converting its files one by one")
        return _process_one_by_one(inputs, state)
    return result


def _process_one_by_one(inputs: list[InputFile], state: _WorkerState) -> ChunkResult:
    merged = ChunkResult(tables={}, extracted_ids=[])
    parts: list[dict[str, pa.Table]] = []
    for input_file in inputs:
        builder = _RowBuilder(state.config.ingested_at)
        result = ChunkResult(tables={}, extracted_ids=[])
        _process_file(input_file, state, builder, result)
        try:
            result.tables = builder.tables()
        except (pa.ArrowException, TypeError, ValueError, OverflowError) as error:
            merged.errors.append(f"rows of {input_file.display_name} do not fit the schema:\n{traceback.format_exc()}")
            builder = _RowBuilder(state.config.ingested_at)
            builder.add_outcome(input_file, FAILED, reasons.INTERNAL_ERROR, f"{type(error).__name__}: {error}", None)
            result = ChunkResult(tables=builder.tables(), extracted_ids=[], files=1)
            result.counts[(FAILED, reasons.INTERNAL_ERROR)] += 1
        parts.append(result.tables)
        merged.extracted_ids.extend(result.extracted_ids)
        merged.extracted_code_cells.extend(result.extracted_code_cells)
        merged.counts.update(result.counts)
        merged.files += result.files
        merged.code_cells += result.code_cells
        merged.cache_hits += result.cache_hits
        merged.cache_misses += result.cache_misses
        merged.errors.extend(result.errors)
    merged.tables = {name: pa.concat_tables([part[name] for part in parts]) for name in TABLES}
    return merged


def _process_file(input_file: InputFile, state: _WorkerState, builder: _RowBuilder, result: ChunkResult) -> None:
    """Add one file's rows to the builder, all of them or, on an error, only its outcome."""
    result.files += 1
    notebook_id: str | None = None
    try:
        data = read_input(input_file, state.config.limits)
        notebook_id = hashlib.sha256(data).hexdigest()
        doc = read_notebook(data, state.config.limits)
        file_rows = _notebook_rows(input_file, notebook_id, data, doc, state, builder)
    except NotebookError as error:
        outcome = outcome_of(error.reason)
        builder.add_outcome(input_file, outcome, error.reason, error.detail, notebook_id)
        result.counts[(outcome, error.reason)] += 1
        return
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:  # noqa: BLE001 - libcst raises Rust panics as BaseException
        result.errors.append(f"internal error on {input_file.display_name}:\n{traceback.format_exc()}")
        detail = f"{type(error).__name__}: {error}"[:1000]
        builder.add_outcome(input_file, FAILED, reasons.INTERNAL_ERROR, detail, notebook_id)
        result.counts[(FAILED, reasons.INTERNAL_ERROR)] += 1
        return

    builder.add(file_rows)
    result.counts[(file_rows.outcome, file_rows.reason)] += 1
    if file_rows.content is not None:
        state.extracted.add(notebook_id)
        code_cells = sum(1 for cell in doc.cells if cell.cell_type == "code")
        result.extracted_ids.append(notebook_id)
        result.extracted_code_cells.append(code_cells)
        result.code_cells += code_cells
        result.cache_hits += file_rows.content.cache_hits
        result.cache_misses += file_rows.content.cache_misses


@dataclass(slots=True)
class _FileRows:
    """The rows of one decoded notebook, added to a chunk only once all are built."""

    notebook: Row
    outcome_row: Row
    outcome: str
    reason: str | None
    content: ExtractedRows | None


def _notebook_rows(
    input_file: InputFile,
    notebook_id: str,
    data: bytes,
    doc: NotebookDoc,
    state: _WorkerState,
    builder: _RowBuilder,
) -> _FileRows:
    notebook = builder.notebook_row(input_file, notebook_id, data, doc)
    if not doc.is_python:
        detail = f"notebook language is {doc.language} (from {doc.language_origin})"
        outcome = builder.outcome_row(input_file, SKIPPED, reasons.NOT_PYTHON, detail, notebook_id)
        return _FileRows(notebook, outcome, SKIPPED, reasons.NOT_PYTHON, None)

    content = None
    if notebook_id not in state.config.known_content and notebook_id not in state.extracted:
        content = extract_guarded(notebook_id, doc.cells, state.config.limits, state.cache)
    outcome = builder.outcome_row(input_file, INGESTED, None, None, notebook_id)
    return _FileRows(notebook, outcome, INGESTED, None, content)


def extract_guarded(notebook_id: str, cells: list[CellSource], limits: Limits, cache: CellCache | None) -> ExtractedRows:
    """Extract a notebook's rows, keeping code cells over a limit away from the parser.

    Such a cell is extracted as an empty cell, then its cells row is marked
    failed with the limit in `error`: one oversized cell never loses its notebook.
    """
    rejected: dict[int, tuple[str, int]] = {}
    guarded: list[CellSource] = []
    for cell in cells:
        problem = cell_limit_problem(cell, limits) if cell.cell_type == "code" else None
        if problem is None:
            guarded.append(cell)
            continue
        rejected[cell.index] = (problem, _line_count(cell.source))
        guarded.append(CellSource(cell.index, cell.cell_type, "", cell.language))

    rows = extract_notebook(notebook_id, guarded, cache)
    if rejected:
        for row in rows.cells:
            if row["cell_index"] in rejected:
                row["status"] = CELL_FAILED
                row["error"], row["lines"] = rejected[row["cell_index"]]
                row["cache_hit"] = False
    return rows


def cell_limit_problem(cell: CellSource, limits: Limits) -> str | None:
    """Return why a code cell must not be parsed, or None."""
    source = cell.source
    if len(source) > limits.max_cell_chars:
        return f"{CELL_TOO_LONG}: {len(source):,} characters, over the limit of {limits.max_cell_chars:,}"

    depth = bracket_depth(source, limits.max_nesting)
    if depth > limits.max_nesting:
        return f"{CELL_TOO_DEEP}: brackets nested {depth:,} deep, over the limit of {limits.max_nesting:,}"
    if len(source) >= PREFIX_OPERATOR_RUN_LIMIT and PREFIX_OPERATOR_RUN.search(source):
        return f"{CELL_TOO_DEEP}: a run of over {PREFIX_OPERATOR_RUN_LIMIT:,} prefix operators"
    return None


def bracket_depth(source: str, limit: int) -> int:
    """Return the maximum bracket depth of source, or 0 when it cannot exceed `limit`.

    Brackets inside strings and comments count too, so the depth may be an
    over-estimate; counting opening brackets first skips the scan for almost
    every cell.
    """
    if sum(source.count(bracket) for bracket in OPENING_BRACKETS) <= limit:
        return 0
    depth = deepest = 0
    for bracket in BRACKET.findall(source):
        depth += BRACKET_DEPTH_CHANGE[bracket]
        deepest = max(deepest, depth)
    return deepest


def _line_count(source: str) -> int:
    if not source:
        return 0
    return source.count("\n") + (0 if source.endswith("\n") else 1)


class _RowBuilder:
    """Collects the rows of one chunk and turns them into Arrow tables."""

    def __init__(self, ingested_at: datetime) -> None:
        self.ingested_at = ingested_at
        self.rows: dict[str, list[Row]] = {name: [] for name in TABLES}

    def notebook_row(self, input_file: InputFile, notebook_id: str, data: bytes, doc: NotebookDoc) -> Row:
        row = location_columns(input_file)
        row.update(
            notebook_id=notebook_id,
            repo=_valid_text(input_file.repo),
            html_url=_valid_text(input_file.html_url),
            first_commit_at=input_file.first_commit_at,
            last_commit_at=input_file.last_commit_at,
            repo_last_commit_at=input_file.repo_last_commit_at,
            date_origin=input_file.date_origin,
            metadata=metadata_json(input_file.metadata),
            language=_valid_text(doc.language),
            language_origin=doc.language_origin,
            kernel=_valid_text(doc.kernel),
            nbformat=doc.nbformat,
            nbformat_minor=doc.nbformat_minor,
            cells=len(doc.cells),
            code_cells=sum(1 for cell in doc.cells if cell.cell_type == "code"),
            size_bytes=len(data),
            ingested_at=self.ingested_at,
        )
        return row

    def outcome_row(
        self, input_file: InputFile, outcome: str, reason: str | None, detail: str | None, notebook_id: str | None
    ) -> Row:
        return outcome_row(input_file, outcome, reason, detail, notebook_id, self.ingested_at)

    def add_outcome(
        self, input_file: InputFile, outcome: str, reason: str | None, detail: str | None, notebook_id: str | None
    ) -> None:
        self.rows["outcomes"].append(self.outcome_row(input_file, outcome, reason, detail, notebook_id))

    def add(self, file_rows: _FileRows) -> None:
        self.rows["notebooks"].append(file_rows.notebook)
        self.rows["outcomes"].append(file_rows.outcome_row)
        content = file_rows.content
        if content is not None:
            self.rows["cells"].extend(content.cells)
            self.rows["imports"].extend(content.imports)
            self.rows["uses"].extend(content.uses)
            self.rows["installs"].extend(content.installs)

    def tables(self) -> dict[str, pa.Table]:
        return {name: pa.Table.from_pylist(rows, schema=TABLES[name]) for name, rows in self.rows.items()}


def location_columns(input_file: InputFile) -> Row:
    """Return the columns that locate a file, shared by notebooks and outcomes rows."""
    return {
        "file_id": input_file.file_id,
        "source": _valid_text(input_file.source),
        "source_kind": input_file.source_kind,
        "path": _valid_text(input_file.path),
        "archive": _valid_text(input_file.archive),
        "member": _valid_text(input_file.member),
    }


def outcome_row(
    input_file: InputFile,
    outcome: str,
    reason: str | None,
    detail: str | None,
    notebook_id: str | None,
    ingested_at: datetime,
) -> Row:
    row = location_columns(input_file)
    row.update(
        outcome=outcome,
        reason=reason,
        detail=_valid_text(detail),
        notebook_id=notebook_id,
        ingested_at=ingested_at,
        fingerprint=input_file.fingerprint if reasons.is_reusable(reason) else None,
    )
    return row


def metadata_json(metadata: dict[str, Any] | None) -> str | None:
    if not metadata:
        return None
    return _valid_text(json.dumps(metadata, ensure_ascii=False, default=str))


def _valid_text(value: str | None) -> str | None:
    """Make text encodable as UTF-8: file names may hold undecodable bytes as surrogates."""
    if value is None or value.isascii():
        return value
    return SURROGATE.sub("\ufffd", value)
