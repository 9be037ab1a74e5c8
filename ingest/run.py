"""Ingest notebooks, build the dbt marts, write the report and the docs page.

`nbcensus run SOURCE...` is the whole study in one command. Each step starts
only when the one before it succeeded; a failure stops the run with a message
that names the step. At the end the command prints where the warehouse, the
report and the docs page are, the headline numbers and each step's wall time.

SOURCE is anything `nbcensus ingest` reads: a folder, a notebook, a zip or tar
archive, a manifest CSV or a git repository, with the same options.

Example:

    nbcensus run examples/manifest.csv
    nbcensus run ../corpus/manifest.csv --warehouse /tmp/study.duckdb --out /tmp/report
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from ingest import dbt, pipeline
from ingest.errors import NbcensusError
from reports import build as report_build
from reports import findings, queries

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(slots=True)
class StepTimes:
    """Wall time in seconds of each finished step, in the order the steps ran."""

    seconds: dict[str, float] = field(default_factory=dict)

    def run(self, step: str, action: Callable[[], T]) -> T:
        """Run one step, record its wall time, and name the step in any error it raises."""
        log.info("%s: started", step)
        started = time.perf_counter()
        try:
            result = action()
        except NbcensusError as error:
            raise NbcensusError(f"step '{step}' failed: {error}") from error
        except Exception as error:
            # Anything else is a bug or an environment problem inside the step:
            # the log keeps the traceback, the user gets the step's name.
            log.exception("step %s raised an unexpected error", step)
            raise NbcensusError(f"step '{step}' failed: {type(error).__name__}: {error}") from error
        self.seconds[step] = time.perf_counter() - started
        log.info("%s: done in %.1f s", step, self.seconds[step])
        return result

    @property
    def total(self) -> float:
        return sum(self.seconds.values())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pipeline.add_source_arguments(parser)
    report_build.add_output_argument(parser)
    parser.add_argument(
        "--target-path",
        type=Path,
        default=None,
        help="folder for dbt's artifacts and the docs page (default: target/ in the repository)",
    )


def run_study(args: argparse.Namespace, times: StepTimes) -> tuple[pipeline.IngestSummary, list[Path], Path]:
    """Run the four steps; return the ingest summary, the report pages and the docs page."""
    warehouse = Path(args.warehouse)
    summary = times.run("ingest", lambda: pipeline.ingest_from_args(args))
    times.run("dbt build", lambda: dbt.build(warehouse, target_path=args.target_path))
    pages = times.run("report", lambda: report_build.build_report(warehouse, Path(args.out)))
    docs_page = times.run("dbt docs", lambda: dbt.docs(warehouse, target_path=args.target_path))
    return summary, pages, docs_page


def print_summary(
    warehouse: Path,
    summary: pipeline.IngestSummary,
    pages: list[Path],
    docs_page: Path,
    times: StepTimes,
) -> None:
    for line in summary.lines():
        print(line)

    print()
    print(f"warehouse: {warehouse}")
    for page in pages:
        print(f"report:    {page}")
    print(f"docs:      {docs_page}")

    print()
    with queries.connect(warehouse) as con:
        for line in findings.headline_lines(con):
            print(line)

    print()
    print("wall time:")
    for step, seconds in times.seconds.items():
        print(f"  {step + ':':<11}{seconds:8.1f} s")
    print(f"  {'total:':<11}{times.total:8.1f} s")


def main(args: argparse.Namespace) -> int:
    times = StepTimes()
    summary, pages, docs_page = run_study(args, times)
    print_summary(Path(args.warehouse), summary, pages, docs_page, times)
    return 0
