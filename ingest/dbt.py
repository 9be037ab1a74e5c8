"""Build the dbt marts and the docs page of a warehouse.

`nbcensus docs` writes the dbt documentation site as one self-contained HTML
page (`dbt docs generate --static`) and prints its path. The page lists every
model, column and metric definition and works offline.

Example:

    nbcensus docs --warehouse warehouse/nbcensus.duckdb

dbt runs in a subprocess with the repository root as its project directory,
so its logging, its exit codes and its thread pool stay out of this process.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from ingest.errors import NbcensusError
from ingest.warehouse import DEFAULT_WAREHOUSE, WAREHOUSE_ENV, connect, lock_error, resolve_warehouse_path

log = logging.getLogger(__name__)

PROJECT_DIR = Path(__file__).resolve().parent.parent
STATIC_PAGE = "static_index.html"

# Values of the dbt var `trend_date`: which date puts a notebook in a month.
TREND_DATES = ("first_commit_at", "last_commit_at", "repo_last_commit_at")

# Statuses of dbt's run_results.json that mean a node did not pass.
FAILED_STATUSES = ("error", "fail", "runtime error")

# How many lines of dbt's output an error message quotes when run_results.json
# does not name the failing nodes (for example a compilation error).
OUTPUT_TAIL_LINES = 20


def default_warehouse() -> Path:
    """Return the warehouse named by NBCENSUS_WAREHOUSE, else the default path."""
    return resolve_warehouse_path(None)


def dbt_executable() -> str:
    """Find the dbt script of the environment this process runs in."""
    beside_python = Path(sys.executable).parent / "dbt"
    if beside_python.is_file():
        return str(beside_python)
    found = shutil.which("dbt")
    if found is None:
        raise NbcensusError("dbt not found: install the project with `pip install -e .` in this environment")
    return found


def dbt_vars(trend_date: str | None = None, count_duplicates: bool | None = None) -> dict[str, object]:
    """Collect the dbt vars that differ from the project defaults."""
    values: dict[str, object] = {}
    if trend_date is not None:
        if trend_date not in TREND_DATES:
            raise NbcensusError(f"invalid trend date '{trend_date}': use one of {', '.join(TREND_DATES)}")
        values["trend_date"] = trend_date
    if count_duplicates is not None:
        values["count_duplicates"] = count_duplicates
    return values


def run_dbt(
    args: Sequence[str],
    warehouse: Path,
    *,
    target_path: Path | None = None,
    log_path: Path | None = None,
    variables: Mapping[str, object] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run one dbt command on a warehouse and return the finished process.

    The output is captured, not checked: callers decide what a non-zero exit
    means. `target_path` and `log_path` default to `target/` and `logs/` in the
    repository; give separate ones to runs that may overlap, because dbt
    rewrites its manifest there.
    """
    command = [dbt_executable(), *args]
    if variables:
        command += ["--vars", json.dumps(dict(variables))]
    if target_path is not None:
        command += ["--target-path", str(Path(target_path).resolve())]
    if log_path is not None:
        command += ["--log-path", str(Path(log_path).resolve())]

    env = dict(os.environ)
    env[WAREHOUSE_ENV] = str(Path(warehouse).resolve())
    env["DBT_PROFILES_DIR"] = str(PROJECT_DIR)
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"

    log.debug("running %s", " ".join(command))
    return subprocess.run(
        command,
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def failed_nodes(target_path: Path) -> list[str]:
    """List the nodes of the last dbt run that did not pass, with dbt's message."""
    results_file = target_path / "run_results.json"
    try:
        results = json.loads(results_file.read_text(encoding="utf-8"))["results"]
    except (OSError, ValueError, KeyError):
        return []

    failures = []
    for result in results:
        if result.get("status") in FAILED_STATUSES:
            message = (result.get("message") or "").strip().splitlines()
            first_line = message[0] if message else "no message"
            failures.append(f"{result['unique_id']} ({result['status']}): {first_line}")
    return failures


def summary_line(output: str) -> str:
    """Return dbt's closing count line (`Done. PASS=... ERROR=...`), or an empty string."""
    for line in reversed(output.splitlines()):
        if "Done. PASS=" in line:
            return line[line.index("Done.") :].strip()
    return ""


def check_dbt(
    step: str, process: subprocess.CompletedProcess[str], target_path: Path, warehouse: Path | None = None
) -> None:
    """Raise NbcensusError naming the dbt step and its failing nodes when dbt failed."""
    log.debug("%s output:\n%s", step, process.stdout)
    if process.returncode == 0:
        return

    failures = failed_nodes(target_path)
    if failures:
        details = "\n  ".join(failures)
        raise NbcensusError(f"{step} failed for {len(failures)} node(s):\n  {details}")

    # Another process may have opened the warehouse after require_warehouse checked it.
    locked = lock_error(warehouse, process.stdout + process.stderr) if warehouse is not None else None
    if locked is not None:
        raise locked

    output = (process.stdout + process.stderr).strip().splitlines()
    tail = "\n  ".join(output[-OUTPUT_TAIL_LINES:]) or "no output"
    raise NbcensusError(f"{step} failed with exit status {process.returncode}:\n  {tail}")


def artifact_folder(target_path: Path | None) -> Path:
    """Return dbt's target folder as an absolute path, since dbt runs in the repository root."""
    return (target_path or PROJECT_DIR / "target").resolve()


def require_warehouse(warehouse: Path) -> None:
    """Check that the warehouse exists and no other process holds it, before dbt's slow start."""
    if not Path(warehouse).is_file():
        raise NbcensusError(f"warehouse not found: {warehouse} (run `nbcensus ingest` first)")
    # Opening it for writing, as dbt does, raises WarehouseLockedError naming the holder.
    connect(Path(warehouse)).close()


def build(
    warehouse: Path,
    *,
    trend_date: str | None = None,
    count_duplicates: bool | None = None,
    target_path: Path | None = None,
    log_path: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `dbt build`: seeds, models, data tests and unit tests, in dependency order."""
    require_warehouse(warehouse)
    target = artifact_folder(target_path)
    process = run_dbt(
        ["build"],
        warehouse,
        target_path=target,
        log_path=log_path,
        variables=dbt_vars(trend_date, count_duplicates),
    )
    check_dbt("dbt build", process, target, warehouse)
    log.info("dbt build passed on %s: %s", warehouse, summary_line(process.stdout))
    return process


def docs(warehouse: Path, *, target_path: Path | None = None, log_path: Path | None = None) -> Path:
    """Write the dbt docs site as one offline HTML page and return its path."""
    require_warehouse(warehouse)
    target = artifact_folder(target_path)
    process = run_dbt(["docs", "generate", "--static"], warehouse, target_path=target, log_path=log_path)
    check_dbt("dbt docs generate", process, target, warehouse)

    page = target / STATIC_PAGE
    if not page.is_file():
        raise NbcensusError(f"dbt docs generate passed but wrote no {STATIC_PAGE} in {target}")
    return page


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--warehouse",
        default=None,
        help=f"DuckDB warehouse to document (default: ${WAREHOUSE_ENV}, else {DEFAULT_WAREHOUSE})",
    )
    parser.add_argument(
        "--target-path",
        type=Path,
        default=None,
        help="folder for dbt's artifacts and the page (default: target/ in the repository)",
    )


def main(args: argparse.Namespace) -> int:
    page = docs(resolve_warehouse_path(args.warehouse), target_path=args.target_path)
    print(page)
    return 0
