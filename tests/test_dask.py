"""The Dask executor: the same warehouse rows as the local pool, and the pool's failure rules.

Every test runs on a real `LocalCluster` of two worker processes bound to
loopback. Task functions defined here reach the workers by reference, which
works because pytest puts this folder on `sys.path` and the workers are spawned
with the parent's `sys.path`.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from ingest import pipeline, reasons
from ingest.errors import NbcensusError
from ingest.pipeline import ingest_sources
from ingest.pool import TaskFailure
from ingest.schema import TABLES

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

from ingest.dask_executor import DaskExecutor  # noqa: E402 - only importable where dask is

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_MANIFEST = REPO_ROOT / "examples" / "manifest.csv"
EXAMPLES_NOTEBOOKS = REPO_ROOT / "examples" / "notebooks"

# Columns that describe the run rather than the notebooks: the load time, and
# whether a cell's parse came from the cache of the worker process that read
# it, which depends on how files were spread over the processes.
RUN_COLUMNS = {"ingested_at", "cache_hit"}

# Every CORPUS_STRIDE-th manifest row of the real corpus goes into the slice.
CORPUS_STRIDE = 20

POISON = "poison"
CRASH_DELAY_SECONDS = 3.0


def loopback_cluster() -> distributed.LocalCluster:
    """Start two worker processes and a scheduler on loopback; its HTTP server takes a free port, not 8787."""
    return distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
    )


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """Address of a LocalCluster with Dask's default retry rules, shared by the module."""
    cluster = loopback_cluster()
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def raw_rows(warehouse: Path) -> dict[str, list[tuple[object, ...]]]:
    """Return every raw table's rows without the run columns, sorted, so two warehouses compare row for row."""
    rows: dict[str, list[tuple[object, ...]]] = {}
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        for name, schema in TABLES.items():
            columns = ", ".join(f'"{column}"' for column in schema.names if column not in RUN_COLUMNS)
            fetched = connection.execute(f"select {columns} from raw.{name}").fetchall()
            rows[name] = sorted(fetched, key=repr)
    return rows


def assert_same_rows(local: Path, remote: Path) -> None:
    local_rows = raw_rows(local)
    remote_rows = raw_rows(remote)
    for name in TABLES:
        assert len(remote_rows[name]) == len(local_rows[name]), f"raw.{name} row counts differ"
        assert remote_rows[name] == local_rows[name], f"raw.{name} rows differ"


def write_corpus_slice(manifest: Path, target: Path) -> int:
    """Write every CORPUS_STRIDE-th row of the corpus manifest with absolute archive paths; return the row count."""
    with manifest.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        rows = [row for number, row in enumerate(reader) if number % CORPUS_STRIDE == 0]
    for row in rows:
        row["archive"] = str(manifest.parent / row["archive"])
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def test_examples_match_local_pool(scheduler: str, tmp_path: Path) -> None:
    sources = [EXAMPLES_MANIFEST, EXAMPLES_NOTEBOOKS]
    local = ingest_sources(sources, warehouse=tmp_path / "local.duckdb", jobs=2, quiet=True)
    remote = ingest_sources(
        sources, warehouse=tmp_path / "dask.duckdb", quiet=True, executor="dask", scheduler=scheduler
    )

    assert remote.files == local.files
    assert remote.counts == local.counts
    assert remote.extracted_notebooks == local.extracted_notebooks
    assert local.extracted_notebooks > 0
    assert_same_rows(tmp_path / "local.duckdb", tmp_path / "dask.duckdb")


def test_examples_rows_not_empty(scheduler: str, tmp_path: Path) -> None:
    """Guard the equality test against two equally empty warehouses."""
    ingest_sources([EXAMPLES_MANIFEST], warehouse=tmp_path / "dask.duckdb", quiet=True, executor="dask", scheduler=scheduler)
    rows = raw_rows(tmp_path / "dask.duckdb")
    with EXAMPLES_MANIFEST.open(newline="", encoding="utf-8") as handle:
        manifest_rows = sum(1 for _ in csv.DictReader(handle))

    assert len(rows["outcomes"]) == manifest_rows
    for name in ("notebooks", "cells", "imports", "uses"):
        assert rows[name], f"raw.{name} is empty"


@pytest.mark.corpus
@pytest.mark.slow
def test_corpus_slice_matches_local_pool(scheduler: str, corpus_manifest: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "slice.csv"
    files = write_corpus_slice(corpus_manifest, manifest)
    local = ingest_sources([manifest], warehouse=tmp_path / "local.duckdb", jobs=2, quiet=True)
    remote = ingest_sources([manifest], warehouse=tmp_path / "dask.duckdb", quiet=True, executor="dask", scheduler=scheduler)

    assert remote.files == files
    assert remote.counts == local.counts
    assert_same_rows(tmp_path / "local.duckdb", tmp_path / "dask.duckdb")


def test_rerun_parses_nothing(scheduler: str, tmp_path: Path) -> None:
    warehouse = tmp_path / "dask.duckdb"
    first = ingest_sources([EXAMPLES_MANIFEST], warehouse=warehouse, quiet=True, executor="dask", scheduler=scheduler)
    before = raw_rows(warehouse)
    second = ingest_sources([EXAMPLES_MANIFEST], warehouse=warehouse, quiet=True, executor="dask", scheduler=scheduler)

    assert first.extracted_notebooks > 0
    assert second.extracted_notebooks == 0
    assert second.code_cells == 0
    assert second.counts == first.counts
    assert raw_rows(warehouse) == before


def test_rerun_reads_changed_file_only(scheduler: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = shutil.copytree(EXAMPLES_NOTEBOOKS, tmp_path / "notebooks")
    warehouse = tmp_path / "dask.duckdb"
    ingest_sources([folder], warehouse=warehouse, quiet=True, executor="dask", scheduler=scheduler)
    changed = sorted(folder.rglob("*.ipynb"))[0]
    changed.write_text(
        json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "source": "import polars"}], "metadata": {},
                    "nbformat": 4, "nbformat_minor": 5}),
        encoding="utf-8",
    )
    sent: list[tuple[str, str]] = []
    read_in_workers = pipeline._read_in_workers

    def recording(inputs, config, jobs, executor, *arguments):
        sent.extend((executor, item.display_name) for item in inputs)
        return read_in_workers(inputs, config, jobs, executor, *arguments)

    monkeypatch.setattr(pipeline, "_read_in_workers", recording)
    rerun = ingest_sources([folder], warehouse=warehouse, quiet=True, executor="dask", scheduler=scheduler)
    fresh = ingest_sources([folder], warehouse=tmp_path / "local.duckdb", jobs=2, quiet=True)

    assert sent[0] == ("dask", str(changed))
    assert len(sent) == 1 + fresh.files
    assert rerun.reused == rerun.files - 1
    assert rerun.counts == fresh.counts
    assert_same_rows(tmp_path / "local.duckdb", warehouse)


def test_cli_ingest_with_dask(scheduler: str, tmp_path: Path) -> None:
    warehouse = tmp_path / "cli.duckdb"
    command = [
        str(Path(sys.executable).parent / "nbcensus"),
        "ingest",
        str(EXAMPLES_MANIFEST),
        "--warehouse",
        str(warehouse),
        "--executor",
        "dask",
        "--scheduler",
        scheduler,
        "--quiet",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)

    assert result.returncode == 0, result.stderr[-3000:]
    assert "Ingested 1 source(s)" in result.stderr
    with EXAMPLES_MANIFEST.open(newline="", encoding="utf-8") as handle:
        manifest_rows = sum(1 for _ in csv.DictReader(handle))
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        [(outcomes,)] = connection.execute("select count(*) from raw.outcomes").fetchall()
    assert outcomes == manifest_rows


def test_cli_dask_without_scheduler(tmp_path: Path) -> None:
    command = [
        str(Path(sys.executable).parent / "nbcensus"),
        "ingest",
        str(EXAMPLES_MANIFEST),
        "--warehouse",
        str(tmp_path / "cli.duckdb"),
        "--executor",
        "dask",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)

    assert result.returncode == 1
    assert "needs --scheduler" in result.stderr


def test_unreachable_scheduler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A port on loopback that nothing listens on: bind one, read its number, close it.
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr("ingest.dask_executor.CONNECT_SECONDS", 2.0)

    with pytest.raises(NbcensusError, match="cannot connect to the Dask scheduler"):
        ingest_sources(
            [EXAMPLES_MANIFEST],
            warehouse=tmp_path / "dask.duckdb",
            quiet=True,
            executor="dask",
            scheduler=f"tcp://127.0.0.1:{port}",
        )


# --- failure rules, with task functions that misbehave on purpose -----------------


def setup_nothing() -> None:
    """Initializer of the failure tests: nothing to set up."""


def crash_on_poison(items: list[str]) -> list[str]:
    """Kill the worker process when a chunk contains the poison item, else echo the items.

    The pause lets the nanny finish starting a restarted worker first: a Dask
    nanny gives up on a worker that dies while it is still starting.
    """
    if POISON in items:
        time.sleep(CRASH_DELAY_SECONDS)
        os._exit(3)
    return items


def hang_on_poison(items: list[str]) -> list[str]:
    """Sleep far past any test timeout when a chunk contains the poison item, else echo the items."""
    if POISON in items:
        time.sleep(3600)
    return items


def raise_on_poison(items: list[str]) -> list[str]:
    if POISON in items:
        raise ValueError("poisoned chunk")
    return items


def run_executor(scheduler: str, task_function, item_timeout: float = 60.0) -> tuple[list[str], list[TaskFailure[str]]]:
    chunks = [["a", "b"], ["c", POISON, "d"], ["e"]]
    executor: DaskExecutor[str, list[str]] = DaskExecutor(
        scheduler,
        task_function=task_function,
        initializer=setup_nothing,
        initargs=(),
        item_timeout=item_timeout,
    )
    done: list[str] = []
    failures: list[TaskFailure[str]] = []
    with executor:
        for result in executor.run(chunks):
            if isinstance(result, TaskFailure):
                failures.append(result)
            else:
                done.extend(result)
    return sorted(done), failures


@pytest.fixture
def strict_scheduler(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A cluster of its own for the crash test, where Dask gives up on a task after one worker death."""
    monkeypatch.setattr("ingest.dask_executor.RESULT_SECONDS", 15.0)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = loopback_cluster()
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


@pytest.mark.slow
def test_crashed_worker_isolates_file(strict_scheduler: str) -> None:
    done, failures = run_executor(strict_scheduler, crash_on_poison)

    assert done == ["a", "b", "c", "d", "e"]
    assert [failure.item for failure in failures] == [POISON]
    assert failures[0].reason == reasons.WORKER_CRASHED


def test_raising_task_isolates_file(scheduler: str) -> None:
    done, failures = run_executor(scheduler, raise_on_poison)

    assert done == ["a", "b", "c", "d", "e"]
    assert [failure.item for failure in failures] == [POISON]
    assert failures[0].reason == reasons.INTERNAL_ERROR
    assert "poisoned chunk" in failures[0].detail


@pytest.mark.slow
def test_hanging_task_times_out(scheduler: str) -> None:
    done, failures = run_executor(scheduler, hang_on_poison, item_timeout=3.0)

    assert done == ["a", "b", "c", "d", "e"]
    assert [failure.item for failure in failures] == [POISON]
    assert failures[0].reason == reasons.TIMED_OUT
