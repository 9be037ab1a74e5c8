"""Nothing lost: reruns, SIGKILL midway, a killed worker, and a warehouse that another process holds.

A module fixture writes a folder of a few thousand small notebooks (a few of
them broken) and ingests it once into a reference warehouse. Each test then
runs `nbcensus ingest` in a subprocess, interrupts it in some way, and compares
every raw table with the reference, ignoring the columns that record when or
how a row was made rather than what it contains:
- `ingested_at`, the time of the run;
- `cells.cache_hit`, which records whether the same worker had parsed the same
  text earlier, so it depends on how files were shared among the workers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from hostile_inputs import ingest_command, run_ingest

from ingest import dbt
from ingest.errors import NbcensusError
from ingest.warehouse import WarehouseLockedError

NOTEBOOKS = 2_400
BROKEN_EVERY = 97  # every 97th file is invalid JSON, so failed outcomes are in the tables too
BATCH_SIZE = 50
RAW_TABLES = ("notebooks", "outcomes", "cells", "imports", "uses", "installs")
RUN_COLUMNS = {"ingested_at", "cache_hit"}

# Maximum wait, in seconds, for a subprocess to reach the state a test waits for.
WAIT_SECONDS = 600.0

TableSnapshot = dict[str, Counter[tuple[object, ...]]]


def write_notebooks(folder: Path, count: int) -> None:
    """Write `count` notebooks with distinct content in subfolders of 100 files."""
    for index in range(count):
        subfolder = folder / f"part{index // 100:03d}"
        subfolder.mkdir(parents=True, exist_ok=True)
        path = subfolder / f"notebook{index:05d}.ipynb"
        if index % BROKEN_EVERY == BROKEN_EVERY - 1:
            path.write_text('{"cells": [', encoding="utf-8")
            continue
        cells = [
            {"cell_type": "markdown", "metadata": {}, "source": f"# Notebook {index}"},
            {"cell_type": "code", "metadata": {}, "outputs": [], "source": "import numpy as np\nimport boto3\n"},
            {
                "cell_type": "code",
                "metadata": {},
                "outputs": [],
                "source": [
                    "!pip install sagemaker\n",
                    "sm = boto3.client('sagemaker')\n",
                    f"sm.create_training_job(TrainingJobName='job-{index}')\n",
                    f"x = np.ones({index})\n",
                ],
            },
        ]
        notebook = {"cells": cells, "metadata": {"kernelspec": {"name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}
        path.write_text(json.dumps(notebook), encoding="utf-8")


def snapshot(warehouse: Path) -> TableSnapshot:
    """Return every raw table as a multiset of rows, without the columns in RUN_COLUMNS."""
    tables: TableSnapshot = {}
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        for table in RAW_TABLES:
            columns = [
                row[0]
                for row in connection.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = 'raw' and table_name = ? order by ordinal_position",
                    [table],
                ).fetchall()
            ]
            selected = ", ".join(f'"{column}"' for column in columns if column not in RUN_COLUMNS)
            tables[table] = Counter(connection.execute(f"select {selected} from raw.{table}").fetchall())
    return tables


def scalar(warehouse: Path, sql: str) -> object:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute(sql).fetchone()[0]


def assert_same_tables(actual: TableSnapshot, expected: TableSnapshot) -> None:
    for table in RAW_TABLES:
        missing = expected[table] - actual[table]
        extra = actual[table] - expected[table]
        assert not missing, f"raw.{table}: {sum(missing.values())} rows missing, for example {list(missing)[:2]}"
        assert not extra, f"raw.{table}: {sum(extra.values())} rows extra, for example {list(extra)[:2]}"


@dataclass(frozen=True)
class Reference:
    folder: Path
    warehouse: Path
    tables: TableSnapshot


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """The notebook folder and one clean, uninterrupted ingest of it."""
    workdir = tmp_path_factory.mktemp("interrupt")
    folder = workdir / "notebooks"
    write_notebooks(folder, NOTEBOOKS)
    warehouse = workdir / "reference.duckdb"

    result = run_ingest([str(folder)], warehouse, "--batch-size", str(BATCH_SIZE))

    assert result.returncode == 0, result.stderr[-5000:]
    return Reference(folder, warehouse, snapshot(warehouse))


def copy_warehouse(source: Path, target: Path) -> Path:
    shutil.copyfile(source, target)
    return target


# --- subprocess control ------------------------------------------------------------


def start_ingest(folder: Path, warehouse: Path, *options: str) -> subprocess.Popen[str]:
    """Start `nbcensus ingest` in its own process group, so its workers can be killed with it."""
    return subprocess.Popen(
        ingest_command([str(folder)], warehouse, "--batch-size", str(BATCH_SIZE), *options),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
    )


def wait_until(condition: Callable[[], bool], process: subprocess.Popen[str], awaited: str) -> None:
    """Poll `condition()` until it holds; fail if the process ends first or the wait times out."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if process.poll() is not None:
            _, stderr = process.communicate()
            pytest.fail(f"nbcensus ingest exited {process.returncode} before {awaited}:\n{stderr[-3000:]}")
        if time.monotonic() > deadline:
            kill_group(process)
            pytest.fail(f"timed out after {WAIT_SECONDS:.0f} s waiting for {awaited}")
        time.sleep(0.05)


def wal_bytes(warehouse: Path) -> int:
    try:
        return os.stat(f"{warehouse}.wal").st_size
    except FileNotFoundError:
        return 0


def batches_committed(warehouse: Path, first_size: list[int]) -> bool:
    """Whether the write-ahead log grew well past its size after the schema was written.

    The first size seen is the schema and the cleared staging tables (a few
    KB); one batch of 50 notebooks adds about 80 KB.
    """
    size = wal_bytes(warehouse)
    if size and not first_size:
        first_size.append(size)
    return bool(first_size) and size > first_size[0] + 32 * 1024


def group_processes(group: int) -> list[int]:
    """Return the ids of the live processes in a process group, from /proc."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # Fields after the command name: state, ppid, pgrp, ...; zombies are already dead.
        if int(fields[2]) == group and fields[0] != "Z":
            members.append(int(entry))
    return members


def child_processes(parent: int) -> list[int]:
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent and fields[0] != "Z":
            children.append(int(entry))
    return children


def kill_group(process: subprocess.Popen[str]) -> None:
    """SIGKILL the ingest and every process it started, and wait until all are gone."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.communicate()
    deadline = time.monotonic() + 30
    while group_processes(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test starts; any still running at the end are killed with their workers."""
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            kill_group(process)


# --- reruns ---------------------------------------------------------------------------


def test_rerun_leaves_tables_identical(reference: Reference, tmp_path: Path) -> None:
    warehouse = copy_warehouse(reference.warehouse, tmp_path / "rerun.duckdb")

    result = run_ingest([str(reference.folder)], warehouse, "--batch-size", str(BATCH_SIZE))

    assert result.returncode == 0, result.stderr[-3000:]
    assert " 0 notebooks parsed" in result.stderr
    assert_same_tables(snapshot(warehouse), reference.tables)


def test_reference_holds_every_file(reference: Reference) -> None:
    broken = NOTEBOOKS // BROKEN_EVERY

    assert sum(reference.tables["outcomes"].values()) == NOTEBOOKS
    assert sum(reference.tables["notebooks"].values()) == NOTEBOOKS - broken
    assert sum(reference.tables["cells"].values()) == 3 * (NOTEBOOKS - broken)


# --- SIGKILL midway -----------------------------------------------------------------


def test_sigkill_midway_then_rerun_matches_clean_run(
    reference: Reference, tmp_path: Path, started: list[subprocess.Popen[str]]
) -> None:
    warehouse = tmp_path / "killed.duckdb"
    process = start_ingest(reference.folder, warehouse)
    started.append(process)
    first_size: list[int] = []

    wait_until(lambda: batches_committed(warehouse, first_size), process, "a batch was written")
    kill_group(process)

    # What a reader sees after the kill: no file rows at all, since they are
    # swapped into raw only when a run ends, and whole batches in staging.
    staged = scalar(warehouse, "select count(*) from ingest_staging.outcomes")
    assert scalar(warehouse, "select count(*) from raw.outcomes") == 0
    assert scalar(warehouse, "select count(*) from raw.notebooks") == 0
    assert 0 < staged < NOTEBOOKS, f"{staged} staged outcomes: the kill did not land midway"
    assert_consistent_batches(warehouse)

    content_after_kill = scalar(warehouse, "select count(distinct notebook_id) from raw.cells")
    result = run_ingest([str(reference.folder)], warehouse, "--batch-size", str(BATCH_SIZE))

    assert result.returncode == 0, result.stderr[-3000:]
    assert_same_tables(snapshot(warehouse), reference.tables)
    assert scalar(warehouse, "select count(*) from ingest_staging.outcomes") == 0
    parsed_python = sum(reference.tables["notebooks"].values())
    assert f" {parsed_python - content_after_kill:,} notebooks parsed" in result.stderr


def assert_consistent_batches(warehouse: Path) -> None:
    """Every staged notebook has its outcome and its content rows, and no content lacks its notebook."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        notebooks_without_outcome = connection.execute(
            "select count(*) from ingest_staging.notebooks n "
            "where not exists (select 1 from ingest_staging.outcomes o where o.file_id = n.file_id)"
        ).fetchone()[0]
        ingested_without_cells = connection.execute(
            "select count(*) from ingest_staging.outcomes o where o.outcome = 'ingested' "
            "and not exists (select 1 from raw.cells c where c.notebook_id = o.notebook_id)"
        ).fetchone()[0]
        cells_without_notebook = connection.execute(
            "select count(distinct notebook_id) from raw.cells c "
            "where not exists (select 1 from ingest_staging.notebooks n where n.notebook_id = c.notebook_id)"
        ).fetchone()[0]
        partial_notebooks = connection.execute(
            "select count(*) from (select notebook_id, count(*) as cells from raw.cells group by notebook_id) "
            "where cells <> 3"
        ).fetchone()[0]

    assert notebooks_without_outcome == 0
    assert ingested_without_cells == 0
    assert cells_without_notebook == 0
    assert partial_notebooks == 0


def test_sigkill_during_reparse_keeps_previous_tables(
    reference: Reference, tmp_path: Path, started: list[subprocess.Popen[str]]
) -> None:
    """A re-ingest killed midway leaves the tables of the last finished run as they were."""
    warehouse = copy_warehouse(reference.warehouse, tmp_path / "reparse.duckdb")
    process = start_ingest(reference.folder, warehouse, "--reparse")
    started.append(process)
    first_size: list[int] = []

    wait_until(lambda: batches_committed(warehouse, first_size), process, "a batch was written")
    kill_group(process)

    assert scalar(warehouse, "select count(*) from ingest_staging.outcomes") > 0
    assert_same_tables(snapshot(warehouse), reference.tables)


def test_worker_killed_midway_loses_nothing(
    reference: Reference, tmp_path: Path, started: list[subprocess.Popen[str]]
) -> None:
    """A worker killed from outside (as the OOM killer would) is replaced and its files are retried."""
    warehouse = tmp_path / "worker.duckdb"
    process = start_ingest(reference.folder, warehouse, "--jobs", "2")
    started.append(process)
    first_size: list[int] = []

    wait_until(lambda: batches_committed(warehouse, first_size), process, "a batch was written")
    workers = [pid for server in child_processes(process.pid) for pid in child_processes(server)]
    assert workers, "no worker processes found under the fork server"
    os.kill(workers[0], signal.SIGKILL)
    _, stderr = process.communicate(timeout=WAIT_SECONDS)

    assert process.returncode == 0, stderr[-3000:]
    assert "Worker processes restarted" in stderr
    assert_same_tables(snapshot(warehouse), reference.tables)


# --- a warehouse held by another process --------------------------------------------------


def test_second_ingest_fails_at_once(reference: Reference, tmp_path: Path, started: list[subprocess.Popen[str]]) -> None:
    """A second ingest on a warehouse that a running ingest holds stops with a message naming the holder.

    The first ingest is paused (SIGSTOP) while the second runs, so that it
    cannot finish first on a fast machine; a stopped process keeps its lock.
    """
    warehouse = tmp_path / "busy.duckdb"
    first = start_ingest(reference.folder, warehouse)
    started.append(first)
    wait_until(lambda: wal_bytes(warehouse) > 0, first, "the first ingest opened the warehouse")
    small = tmp_path / "small"
    write_notebooks(small, 3)

    os.killpg(first.pid, signal.SIGSTOP)
    try:
        began = time.monotonic()
        second = run_ingest([str(small)], warehouse, timeout=WAIT_SECONDS)
        seconds = time.monotonic() - began
    finally:
        os.killpg(first.pid, signal.SIGCONT)
    _, first_stderr = first.communicate(timeout=WAIT_SECONDS)

    assert second.returncode == 1
    message = second.stderr.strip().splitlines()[-1]
    assert message.startswith(f"Error: warehouse {warehouse} is locked by another process: "), message
    assert f"(PID {first.pid})" in message
    assert "Wait for it to finish, or close it" in message
    assert seconds < 60, f"the second ingest took {seconds:.0f} s to fail"
    assert first.returncode == 0, first_stderr[-3000:]
    assert_same_tables(snapshot(warehouse), reference.tables)


def test_dbt_build_fails_while_shell_holds_file(
    reference: Reference, tmp_path: Path, started: list[subprocess.Popen[str]]
) -> None:
    warehouse = copy_warehouse(reference.warehouse, tmp_path / "shell.duckdb")
    duckdb_cli = shutil.which("duckdb", path=str(Path(dbt.dbt_executable()).parent))
    if duckdb_cli is None:
        pytest.skip("the duckdb command-line shell is not installed in this environment")
    # The shell waits on its open stdin, holding the file, as an interactive session does.
    shell = subprocess.Popen(
        [duckdb_cli, str(warehouse)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True, start_new_session=True,
    )
    started.append(shell)
    # The shell answers a dot command only after it has opened the file. Polling with
    # a connection of our own instead could take the lock first and make the shell exit.
    assert shell.stdin is not None and shell.stdout is not None
    shell.stdin.write(".print ready\n")
    shell.stdin.flush()
    assert shell.stdout.readline().strip() == "ready", "the DuckDB shell did not open the warehouse"
    assert is_locked(warehouse)

    began = time.monotonic()
    with pytest.raises(NbcensusError) as caught:
        dbt.build(warehouse, target_path=tmp_path / "target", log_path=tmp_path / "logs")
    seconds = time.monotonic() - began

    message = str(caught.value)
    holder = re.search(r"locked by another process: (?P<program>\S+) \(PID (?P<pid>\d+)\)", message)
    assert isinstance(caught.value, WarehouseLockedError), message
    assert message.startswith(f"warehouse {warehouse} is locked by another process: "), message
    assert holder is not None, message
    # The duckdb command is a Python wrapper that runs the shell binary as its child.
    assert os.path.basename(holder["program"]) == "duckdb", message
    assert int(holder["pid"]) in group_processes(shell.pid), message
    assert "Wait for it to finish, or close it (a DuckDB shell" in message
    assert seconds < 10, f"dbt build took {seconds:.0f} s to fail"


def is_locked(warehouse: Path) -> bool:
    try:
        duckdb.connect(str(warehouse), read_only=True).close()
    except duckdb.IOException as error:
        return "Conflicting lock" in str(error)
    return False
