"""Read notebooks and load their imports, uses, cells and outcomes into the warehouse.

Every SOURCE may be a folder (searched recursively for *.ipynb), a single
.ipynb file, a .zip or .tar[.gz] archive (read in place), or a local git
repository. It may also be a manifest CSV whose rows name notebooks by
`notebook_path` or by `archive` + `member`. Every input file ends with one row
in raw.outcomes: ingested, failed or skipped, with a reason. Ingesting a source
again replaces its rows. A file unchanged since the last run is not read again
(its rows are copied, see `ingest.fingerprint`), and notebooks whose content is
already loaded are not parsed again.

Examples:

    nbcensus ingest examples/manifest.csv
    nbcensus ingest notebooks/ more.zip --warehouse /tmp/census.duckdb --jobs 2
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from ingest.cellcache import DEFAULT_MAX_ENTRIES
from ingest.errors import NbcensusError
from ingest.fingerprint import Fingerprinter
from ingest.limits import DEFAULT_LIMITS, MEBIBYTE, Limits
from ingest.model import FAILED, INGESTED, SKIPPED
from ingest.pool import CrashTolerantPool
from ingest.progress import Progress
from ingest.reasons import outcome_of
from ingest.schema import CONTENT_TABLES, TABLES
from ingest.sources import InputFile, iter_inputs, load_plugins, normalise_source, source_kind_of
from ingest.warehouse import DEFAULT_WAREHOUSE, WAREHOUSE_ENV, Warehouse, resolve_warehouse_path
from ingest.worker import ChunkResult, WorkerConfig, init_state, init_worker, outcome_row, process_chunk

if TYPE_CHECKING:
    from ingest.dask_executor import DaskExecutor

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 500  # input files per warehouse transaction
# Input files per worker task. Sources list a repository's notebooks next to
# each other, and they repeat each other's cells, so larger chunks keep those
# cells in one worker's cell cache. Measured on the 8,032-notebook corpus with
# --jobs 2 on 2 cores: chunks of 16 gave a 36.7% hit rate and 50.6 s, chunks
# of 64 gave 37.9% and 46.4 s.
MAX_CHUNK_SIZE = 64
DEFAULT_FILE_TIMEOUT = 300.0  # seconds one file may take in a worker

OUTCOMES = (INGESTED, FAILED, SKIPPED)
EXECUTORS = ("local", "dask")


@dataclass(slots=True)
class IngestSummary:
    """Counts and timings of one ingest run, for the closing summary and for callers such as `nbcensus run`."""

    warehouse: Path
    sources: list[str]
    files: int = 0
    counts: Counter[tuple[str, str | None]] = field(default_factory=Counter)  # (outcome, reason) -> files
    reused: int = 0  # unchanged files whose stored rows were reused without reading them
    extracted_notebooks: int = 0  # distinct notebooks parsed in this run
    code_cells: int = 0  # code cells of the distinct notebooks parsed in this run
    cache_hits: int = 0
    cache_misses: int = 0
    worker_restarts: int = 0
    seconds: float = 0.0

    def outcome_counts(self) -> dict[str, int]:
        totals = {outcome: 0 for outcome in OUTCOMES}
        for (outcome, _), count in self.counts.items():
            totals[outcome] = totals.get(outcome, 0) + count
        return totals

    @property
    def cache_hit_rate(self) -> float:
        lookups = self.cache_hits + self.cache_misses
        return self.cache_hits / lookups if lookups else 0.0

    def lines(self) -> list[str]:
        """Return the human-readable summary printed at the end of a run."""
        seconds = max(self.seconds, 1e-9)
        reused = f"{self.reused:,} unchanged files reused, " if self.reused else ""
        lines = [
            f"Ingested {len(self.sources)} source(s) into {self.warehouse} in {self.seconds:.1f} s: "
            f"{self.files:,} files ({self.files / seconds:,.1f} files/s), {reused}"
            f"{self.extracted_notebooks:,} notebooks parsed, {self.code_cells:,} code cells "
            f"({self.code_cells / seconds:,.1f} code cells/s)"
        ]
        for outcome, total in self.outcome_counts().items():
            by_reason = sorted(
                ((reason, count) for (kind, reason), count in self.counts.items() if kind == outcome and reason),
                key=lambda pair: (-pair[1], pair[0]),
            )
            detail = ", ".join(f"{reason} {count:,}" for reason, count in by_reason)
            lines.append(f"  {outcome:<9}{total:>9,}" + (f"   {detail}" if detail else ""))
        lookups = self.cache_hits + self.cache_misses
        lines.append(
            f"Cell cache: {self.cache_hit_rate:.1%} hit rate ({self.cache_hits:,} of {lookups:,} Python cells "
            "reused a parse made earlier in the same worker)"
        )
        if self.worker_restarts:
            lines.append(f"Worker processes restarted after a crash or timeout: {self.worker_restarts}")
        return lines


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """Add SOURCE... and the ingest options; shared by `ingest` and `run`."""
    parser.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help="folder, .ipynb file, .zip/.tar archive, manifest .csv or git repository",
    )
    add_ingest_options(parser)


def add_ingest_options(parser: argparse.ArgumentParser) -> None:
    """Add the ingest options without SOURCE; `collect` lists its sources itself."""
    parser.add_argument(
        "--warehouse",
        type=Path,
        default=resolve_warehouse_path(None),
        help=f"DuckDB file to write (default: ${WAREHOUSE_ENV}, else {DEFAULT_WAREHOUSE})",
    )
    parser.add_argument(
        "--jobs",
        type=_positive_int,
        default=None,
        help="worker processes (default: one per available CPU core)",
    )
    parser.add_argument(
        "--batch-size",
        type=_positive_int,
        default=DEFAULT_BATCH_SIZE,
        help=f"input files written per warehouse transaction (default: {DEFAULT_BATCH_SIZE})",
    )
    parser.add_argument(
        "--cache-entries",
        type=_positive_int,
        default=DEFAULT_MAX_ENTRIES,
        help=(
            "distinct cell texts whose parse each worker keeps for reuse, about 4 KB each "
            f"(default: {DEFAULT_MAX_ENTRIES:,})"
        ),
    )
    parser.add_argument("--quiet", action="store_true", help="show no progress line")
    parser.add_argument(
        "--reparse",
        action="store_true",
        help="parse every notebook again, even when its content is already loaded",
    )
    parser.add_argument(
        "--rev",
        default=None,
        help="revision read from git repository sources (default: HEAD)",
    )

    limits = parser.add_argument_group("limits (a file over a limit is skipped with that reason)")
    limits.add_argument(
        "--max-file-mb",
        type=_positive_float,
        default=DEFAULT_LIMITS.max_file_bytes / MEBIBYTE,
        help=f"largest notebook file read, in MiB (default: {DEFAULT_LIMITS.max_file_bytes // MEBIBYTE})",
    )
    limits.add_argument(
        "--max-cells",
        type=_positive_int,
        default=DEFAULT_LIMITS.max_cells,
        help=f"maximum number of cells in one notebook (default: {DEFAULT_LIMITS.max_cells:,})",
    )
    limits.add_argument(
        "--max-cell-chars",
        type=_positive_int,
        default=DEFAULT_LIMITS.max_cell_chars,
        help="maximum length of a code cell parsed, in characters; longer cells are recorded as failed "
        f"(default: {DEFAULT_LIMITS.max_cell_chars:,})",
    )
    limits.add_argument(
        "--max-nesting",
        type=_positive_int,
        default=DEFAULT_LIMITS.max_nesting,
        help=f"deepest bracket nesting parsed in a code cell (default: {DEFAULT_LIMITS.max_nesting})",
    )
    limits.add_argument(
        "--timeout",
        type=_positive_float,
        default=DEFAULT_FILE_TIMEOUT,
        help=f"seconds one file may take before it is skipped as timed_out (default: {DEFAULT_FILE_TIMEOUT:g})",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_source_arguments(parser)
    parser.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="local",
        help="where files are parsed: local worker processes, or a Dask distributed cluster (default: local)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="address of the Dask scheduler for --executor dask, e.g. tcp://10.0.0.5:8786",
    )


def main(args: argparse.Namespace) -> int:
    summary = ingest_from_args(args)
    for line in summary.lines():
        print(line, file=sys.stderr)
    return 0


def ingest_from_args(args: argparse.Namespace, extra_inputs: Sequence[InputFile] = ()) -> IngestSummary:
    """Run an ingest from parsed command-line arguments."""
    if getattr(args, "rev", None):
        from ingest import gitsource

        gitsource.use_revision(args.rev)

    limits = Limits(
        max_file_bytes=int(args.max_file_mb * MEBIBYTE),
        max_cells=args.max_cells,
        max_cell_chars=args.max_cell_chars,
        max_nesting=args.max_nesting,
    )
    return ingest_sources(
        args.sources,
        warehouse=args.warehouse,
        jobs=args.jobs,
        batch_size=args.batch_size,
        limits=limits,
        quiet=args.quiet,
        reparse=args.reparse,
        file_timeout=args.timeout,
        cache_entries=args.cache_entries,
        extra_inputs=extra_inputs,
        executor=getattr(args, "executor", "local"),
        scheduler=getattr(args, "scheduler", None),
    )


def ingest_sources(
    sources: Sequence[str | os.PathLike[str]],
    warehouse: str | os.PathLike[str] | None = None,
    jobs: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    limits: Limits = DEFAULT_LIMITS,
    quiet: bool = False,
    reparse: bool = False,
    file_timeout: float = DEFAULT_FILE_TIMEOUT,
    cache_entries: int = DEFAULT_MAX_ENTRIES,
    extra_inputs: Sequence[InputFile] = (),
    executor: str = "local",
    scheduler: str | None = None,
) -> IngestSummary:
    """Ingest SOURCEs into the warehouse and return what happened.

    Sources are checked before the warehouse is opened, so a mistyped path
    fails at once. The whole run holds the warehouse's write lock.
    EXTRA_INPUTS are files listed by the caller, such as the failed clones of
    `nbcensus collect`; their sources are replaced like the others.
    `executor="dask"` parses on the Dask cluster at `scheduler` instead of
    local worker processes (see `ingest.dask_executor`).
    """
    if executor not in EXECUTORS:
        raise ValueError(f"invalid executor {executor!r}: use one of {', '.join(EXECUTORS)}")
    if executor == "dask" and not scheduler:
        raise NbcensusError("--executor dask needs --scheduler ADDRESS, e.g. tcp://10.0.0.5:8786")
    started = time.monotonic()
    load_plugins()
    source_list = _check_sources(sources) if sources or not extra_inputs else []
    warehouse_path = resolve_warehouse_path(warehouse)
    jobs = jobs or default_jobs()
    summary = IngestSummary(warehouse=warehouse_path, sources=source_list)


    # The warehouse is opened before the sources are listed, so that a second
    # ingest on a locked warehouse fails at once, even on a slow git listing.
    with Warehouse(warehouse_path) as store:
        # NOTE: the input list has one small record per file (about 1 KB with
        # manifest metadata), so it grows with the corpus. The rows do not.
        inputs = [input_file for source in source_list for input_file in iter_inputs(source)]
        inputs.extend(extra_inputs)
        source_list.extend(dict.fromkeys(item.source for item in extra_inputs if item.source not in source_list))
        log.info("found %d input files in %d source(s)", len(inputs), len(source_list))

        store.begin_run()
        fingerprinter = Fingerprinter(limits)
        inputs = [fingerprinter.with_fingerprint(item) for item in inputs]
        pending = inputs if reparse else _reuse_unchanged(store, inputs, summary)

        # A file that the listing found unreadable needs no worker: reading it
        # would only raise the listing's error.
        listing_errors = [(item, *item.error) for item in pending if item.error is not None]
        to_read = [item for item in pending if item.error is None]

        known_content = store.content_notebook_ids() if to_read else set()
        config = WorkerConfig(
            limits=limits,
            ingested_at=datetime.now(UTC),
            known_content=frozenset() if reparse else frozenset(known_content),
            log_level=logging.getLogger().getEffectiveLevel(),
            cache_entries=cache_entries,
        )
        writer = _BatchWriter(store, batch_size, known_content, reparse)
        with Progress(total=len(inputs), enabled=not quiet, initial=summary.files) as progress:

            def record(result: ChunkResult) -> None:
                for message in result.errors:
                    log.error("%s", message)
                writer.add(result)
                _count(summary, result)
                progress.update(result.files, summary.outcome_counts())

            if listing_errors:
                record(_outcome_result(listing_errors, config))
            # No worker process starts when every file was reused or failed at listing.
            if to_read:
                summary.worker_restarts = _read_in_workers(
                    to_read, config, jobs, executor, scheduler, file_timeout, record
                )

        writer.flush()
        store.finish_run(source_list)

    summary.extracted_notebooks = writer.written_notebooks
    summary.code_cells = writer.written_code_cells
    summary.seconds = time.monotonic() - started
    if summary.files != len(inputs):
        log.error("%d input files were listed but %d outcomes were recorded", len(inputs), summary.files)
    return summary


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _check_sources(sources: Sequence[str | os.PathLike[str]]) -> list[str]:
    """Return the distinct sources as absolute paths, raising for any that does not exist or is unsupported."""
    if not sources:
        raise ValueError("at least one source is needed")
    checked: list[str] = []
    for argument in sources:
        source = normalise_source(argument)
        source_kind_of(Path(source))
        if source not in checked:
            checked.append(source)
    return checked


def _chunks(inputs: list[InputFile], size: int) -> Iterator[list[InputFile]]:
    for start in range(0, len(inputs), size):
        yield inputs[start : start + size]


def _reuse_unchanged(store: Warehouse, inputs: list[InputFile], summary: IngestSummary) -> list[InputFile]:
    """Reuse the stored rows of files whose fingerprint is unchanged, count them, and return the other files."""
    fingerprints = {item.file_id: item.fingerprint for item in inputs if item.fingerprint is not None}
    if not fingerprints:
        return inputs

    listed = pa.table(
        {
            "file_id": pa.array(list(fingerprints), pa.string()),
            "fingerprint": pa.array(list(fingerprints.values()), pa.string()),
        }
    )
    reused = store.reuse_unchanged(listed)
    reused_ids = set(reused["file_id"].to_pylist())
    summary.reused = len(reused_ids)
    summary.files += reused.num_rows
    summary.counts.update(zip(reused["outcome"].to_pylist(), reused["reason"].to_pylist(), strict=True))
    log.info(
        "%d of %d listed files are unchanged since the last run; their stored rows are reused",
        len(reused_ids),
        len(inputs),
    )
    return [item for item in inputs if item.file_id not in reused_ids]


def _read_in_workers(
    inputs: list[InputFile],
    config: WorkerConfig,
    jobs: int,
    executor: str,
    scheduler: str | None,
    file_timeout: float,
    record: Callable[[ChunkResult], None],
) -> int:
    """Process the files on the chosen executor, passing each result to `record`; return the worker restarts."""
    chunk_size = max(1, min(MAX_CHUNK_SIZE, len(inputs) // (jobs * 4) or 1))

    pool: CrashTolerantPool[InputFile, ChunkResult] | DaskExecutor[InputFile, ChunkResult]
    if executor == "dask":
        from ingest.dask_executor import DaskExecutor

        assert scheduler is not None
        pool = DaskExecutor(
            scheduler,
            task_function=process_chunk,
            initializer=init_state,
            initargs=(config,),
            item_timeout=file_timeout,
        )
    else:
        pool = CrashTolerantPool(
            jobs=jobs,
            task_function=process_chunk,
            initializer=init_worker,
            initargs=(config,),
            item_timeout=file_timeout,
            preload=["ingest.worker"],
        )
    with pool:
        for item in pool.run(_chunks(inputs, chunk_size)):
            if isinstance(item, ChunkResult):
                record(item)
                continue
            log.error("%s: %s (%s)", item.item.display_name, item.reason, item.detail)
            record(_outcome_result([(item.item, item.reason, item.detail)], config))
        return pool.restarts


def _outcome_result(failures: list[tuple[InputFile, str, str]], config: WorkerConfig) -> ChunkResult:
    """Turn files that were not read, each with a reason and a detail, into their outcome rows."""
    rows = []
    result = ChunkResult(tables={}, extracted_ids=[], files=len(failures))
    for input_file, reason, detail in failures:
        outcome = outcome_of(reason)
        rows.append(outcome_row(input_file, outcome, reason, detail, None, config.ingested_at))
        result.counts[(outcome, reason)] += 1

    result.tables = {name: schema.empty_table() for name, schema in TABLES.items()}
    result.tables["outcomes"] = pa.Table.from_pylist(rows, schema=TABLES["outcomes"])
    return result


def _count(summary: IngestSummary, result: ChunkResult) -> None:
    summary.files += result.files
    summary.counts.update(result.counts)
    summary.cache_hits += result.cache_hits
    summary.cache_misses += result.cache_misses


class _BatchWriter:
    """Buffers chunk results and writes them to the warehouse every `batch_size` files.

    Two workers may parse the same content in one run (identical files in two
    chunks); only the first copy's content rows are written.
    """

    def __init__(self, store: Warehouse, batch_size: int, known_content: set[str], reparse: bool) -> None:
        self.store = store
        self.batch_size = batch_size
        self.known_content = known_content
        self.reparse = reparse
        self.written: set[str] = set()
        self.written_code_cells = 0
        self.parts: list[dict[str, pa.Table]] = []
        self.replaced: list[str] = []
        self.files = 0

    @property
    def written_notebooks(self) -> int:
        return len(self.written)

    def add(self, result: ChunkResult) -> None:
        duplicates = {
            notebook_id
            for notebook_id in result.extracted_ids
            if notebook_id in self.written or (notebook_id in self.known_content and not self.reparse)
        }
        tables = dict(result.tables)
        if duplicates:
            mask = pc.is_in(pc.field("notebook_id"), value_set=pa.array(sorted(duplicates), pa.string()))
            for name in CONTENT_TABLES:
                tables[name] = tables[name].filter(~mask)
        for notebook_id, code_cells in zip(result.extracted_ids, result.extracted_code_cells, strict=True):
            if notebook_id in duplicates:
                continue
            self.written_code_cells += code_cells
            if self.reparse and notebook_id in self.known_content:
                self.replaced.append(notebook_id)
            self.written.add(notebook_id)

        self.parts.append(tables)
        self.files += result.files
        if self.files >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if not self.parts:
            return
        batch = {name: pa.concat_tables([part[name] for part in self.parts]) for name in TABLES}
        self.store.write_batch(batch, replace_content=self.replaced)
        self.parts = []
        self.replaced = []
        self.files = 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {value}")
    return value
