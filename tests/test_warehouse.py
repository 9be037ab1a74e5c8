"""Tests of the DuckDB warehouse writer: schema, batches, per-source replacement and the lock message."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from ingest.schema import TABLES
from ingest.warehouse import (
    DEFAULT_WAREHOUSE,
    WAREHOUSE_ENV,
    Warehouse,
    WarehouseLockedError,
    resolve_warehouse_path,
)

NOW = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def table(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=TABLES[name])


def empty_batch() -> dict[str, pa.Table]:
    return {name: schema.empty_table() for name, schema in TABLES.items()}


def notebook_batch(source: str, file_id: str, notebook_id: str, imports: list[str]) -> dict[str, pa.Table]:
    batch = empty_batch()
    location = {"file_id": file_id, "source": source, "source_kind": "folder", "path": f"{source}/{file_id}.ipynb"}
    batch["notebooks"] = table("notebooks", [{**location, "notebook_id": notebook_id, "language": "python", "ingested_at": NOW}])
    batch["outcomes"] = table("outcomes", [{**location, "outcome": "ingested", "notebook_id": notebook_id, "ingested_at": NOW}])
    batch["cells"] = table("cells", [{"notebook_id": notebook_id, "cell_index": 0, "cell_type": "code", "status": "parsed"}])
    batch["imports"] = table(
        "imports",
        [{"notebook_id": notebook_id, "cell_index": 0, "line": line, "module": module, "package": module, "kind": "import"}
         for line, module in enumerate(imports, start=1)],
    )
    return batch


def count(connection: duckdb.DuckDBPyConnection, name: str, where: str = "true") -> int:
    row = connection.execute(f"select count(*) from raw.{name} where {where}").fetchone()
    assert row is not None
    return int(row[0])


def run(store: Warehouse, sources: list[str], batches: list[dict[str, pa.Table]]) -> None:
    store.begin_run()
    for batch in batches:
        store.write_batch(batch)
    store.finish_run(sources)


def test_schema_matches_contract(tmp_path: Path) -> None:
    with Warehouse(tmp_path / "w" / "nb.duckdb") as store:
        for name, schema in TABLES.items():
            columns = [row[0] for row in store.connection.execute(f"describe raw.{name}").fetchall()]
            assert columns == schema.names, name


def test_types_follow_arrow_schema(tmp_path: Path) -> None:
    with Warehouse(tmp_path / "nb.duckdb") as store:
        types = dict(
            (row[0], row[1]) for row in store.connection.execute("describe raw.notebooks").fetchall()
        )

    assert types["first_commit_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["cells"] == "INTEGER"
    assert types["size_bytes"] == "BIGINT"


def test_missing_columns_added_to_old_table(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    connection = duckdb.connect(str(path))
    connection.execute("create schema raw")
    connection.execute("create table raw.installs (notebook_id varchar, cell_index integer)")
    connection.execute("insert into raw.installs values ('n1', 0)")
    connection.close()

    with Warehouse(path) as store:
        columns = [row[0] for row in store.connection.execute("describe raw.installs").fetchall()]
        kept = count(store.connection, "installs")

    assert columns[:2] == ["notebook_id", "cell_index"]
    assert set(columns) == set(TABLES["installs"].names)
    assert kept == 1


def test_run_writes_rows_and_reruns_identically(tmp_path: Path) -> None:
    path = tmp_path / "nb.duckdb"
    batches = [notebook_batch("/s", "f1", "n1", ["os", "sys"]), notebook_batch("/s", "f2", "n2", ["numpy"])]

    with Warehouse(path) as store:
        run(store, ["/s"], batches)
        first = {name: store.connection.execute(f"select * from raw.{name} order by all").fetchall() for name in TABLES}
        run(store, ["/s"], batches)
        second = {name: store.connection.execute(f"select * from raw.{name} order by all").fetchall() for name in TABLES}

    assert first == second
    assert len(first["notebooks"]) == 2
    assert len(first["imports"]) == 3


def test_rerun_replaces_source_and_drops_orphans(tmp_path: Path) -> None:
    with Warehouse(tmp_path / "nb.duckdb") as store:
        run(store, ["/s"], [notebook_batch("/s", "f1", "n1", ["os"]), notebook_batch("/s", "f2", "n2", ["numpy"])])
        run(store, ["/other"], [notebook_batch("/other", "g1", "n2", ["numpy"])])

        run(store, ["/s"], [notebook_batch("/s", "f1", "n1", ["os"])])

        connection = store.connection
        assert count(connection, "notebooks", "source = '/s'") == 1
        assert count(connection, "outcomes", "source = '/s'") == 1
        assert count(connection, "notebooks", "source = '/other'") == 1
        # n2 is still used by the other source, so its content stays.
        assert count(connection, "imports", "notebook_id = 'n2'") == 1

        run(store, ["/other"], [])

        assert count(connection, "notebooks", "source = '/other'") == 0
        assert count(connection, "imports", "notebook_id = 'n2'") == 0
        assert count(connection, "cells", "notebook_id = 'n2'") == 0
        assert count(connection, "imports", "notebook_id = 'n1'") == 1


def test_staged_rows_invisible_until_finish(tmp_path: Path) -> None:
    with Warehouse(tmp_path / "nb.duckdb") as store:
        run(store, ["/s"], [notebook_batch("/s", "f1", "n1", ["os"])])
        store.begin_run()
        store.write_batch(notebook_batch("/s", "f2", "n2", ["numpy"]))

        assert count(store.connection, "notebooks", "source = '/s'") == 1

        store.finish_run(["/s"])

        file_ids = [row[0] for row in store.connection.execute("select file_id from raw.notebooks").fetchall()]
        assert file_ids == ["f2"]


def test_begin_run_clears_rows_left_by_killed_run(tmp_path: Path) -> None:
    with Warehouse(tmp_path / "nb.duckdb") as store:
        store.begin_run()
        store.write_batch(notebook_batch("/s", "stale", "n9", ["os"]))
        # The run stops here, as if killed, and the next run starts over.

        run(store, ["/s"], [notebook_batch("/s", "f1", "n1", ["os"])])

        file_ids = [row[0] for row in store.connection.execute("select file_id from raw.notebooks").fetchall()]
        assert file_ids == ["f1"]
        assert count(store.connection, "imports", "notebook_id = 'n9'") == 0


def test_failed_batch_leaves_nothing(tmp_path: Path) -> None:
    batch = notebook_batch("/s", "f1", "n1", ["os"])
    bad_outcomes = pa.table({"file_id": ["f1"], "no_such_column": ["x"]})
    batch["outcomes"] = bad_outcomes

    with Warehouse(tmp_path / "nb.duckdb") as store:
        store.begin_run()
        with pytest.raises(duckdb.Error):
            store.write_batch(batch)

        assert count(store.connection, "cells") == 0
        assert count(store.connection, "imports") == 0


def test_loaded_content_not_written_twice(tmp_path: Path) -> None:
    with Warehouse(tmp_path / "nb.duckdb") as store:
        run(store, ["/s"], [notebook_batch("/s", "f1", "n1", ["os"])])
        store.begin_run()
        store.write_batch(notebook_batch("/s", "f1", "n1", ["os"]))
        store.write_batch(notebook_batch("/s", "f2", "n1", ["os"]))
        store.finish_run(["/s"])

        assert count(store.connection, "imports") == 1
        assert count(store.connection, "cells") == 1
        assert count(store.connection, "notebooks") == 2


def test_content_ids_and_replacement(tmp_path: Path) -> None:
    with Warehouse(tmp_path / "nb.duckdb") as store:
        run(store, ["/s"], [notebook_batch("/s", "f1", "n1", ["os", "sys"])])
        assert store.content_notebook_ids() == {"n1"}

        store.begin_run()
        store.write_batch(notebook_batch("/s", "f1", "n1", ["pandas"]), replace_content=["n1"])
        store.finish_run(["/s"])

        modules = [row[0] for row in store.connection.execute("select module from raw.imports").fetchall()]
        assert modules == ["pandas"]


def with_fingerprint(batch: dict[str, pa.Table], fingerprint: str | None) -> dict[str, pa.Table]:
    outcomes = batch["outcomes"].drop_columns(["fingerprint"])
    batch["outcomes"] = outcomes.append_column("fingerprint", pa.array([fingerprint] * outcomes.num_rows, pa.string()))
    return batch


def listed(fingerprints: dict[str, str]) -> pa.Table:
    return pa.table({"file_id": list(fingerprints), "fingerprint": list(fingerprints.values())})


def outcome_batch(source: str, file_id: str, outcome: str, reason: str, fingerprint: str) -> dict[str, pa.Table]:
    batch = empty_batch()
    row = {"file_id": file_id, "source": source, "source_kind": "folder", "path": f"{source}/{file_id}.ipynb",
           "outcome": outcome, "reason": reason, "ingested_at": NOW, "fingerprint": fingerprint}
    batch["outcomes"] = table("outcomes", [row])
    return batch


def test_reuse_copies_unchanged_file_rows(tmp_path: Path) -> None:
    with Warehouse(tmp_path / "nb.duckdb") as store:
        batches = [
            with_fingerprint(notebook_batch("/s", "f1", "n1", ["os"]), "fp1"),
            with_fingerprint(notebook_batch("/s", "f2", "n2", ["numpy"]), "fp2"),
        ]
        run(store, ["/s"], batches)
        before = store.connection.execute("select * from raw.notebooks where file_id = 'f1'").fetchall()

        store.begin_run()
        reused = store.reuse_unchanged(listed({"f1": "fp1", "f2": "changed"}))
        store.finish_run(["/s"])

        after = store.connection.execute("select * from raw.notebooks").fetchall()
        fingerprints = store.connection.execute("select file_id, fingerprint from raw.outcomes").fetchall()
        assert reused.to_pylist() == [{"file_id": "f1", "outcome": "ingested", "reason": None}]
        assert after == before
        assert fingerprints == [("f1", "fp1")]
        # The reused notebook keeps its content; the other one's is now an orphan.
        assert count(store.connection, "imports", "notebook_id = 'n1'") == 1
        assert count(store.connection, "imports", "notebook_id = 'n2'") == 0


def test_reuse_skips_outcomes_a_rerun_may_change(tmp_path: Path) -> None:
    with Warehouse(tmp_path / "nb.duckdb") as store:
        batches = [
            outcome_batch("/s", "timed_out", "skipped", "timed_out", "fp"),
            outcome_batch("/s", "crashed", "failed", "worker_crashed", "fp"),
            outcome_batch("/s", "unreadable", "failed", "unreadable", "fp"),
            outcome_batch("/s", "invalid_json", "failed", "invalid_json", "fp"),
            outcome_batch("/s", "not_python_without_row", "skipped", "not_python", "fp"),
            with_fingerprint(notebook_batch("/s", "no_fingerprint", "n1", ["os"]), None),
            with_fingerprint(notebook_batch("/s", "no_content", "n2", ["os"]), "fp"),
        ]
        run(store, ["/s"], batches)
        store.connection.execute("delete from raw.cells where notebook_id = 'n2'")
        every_file = {row[0]: "fp" for row in store.connection.execute("select file_id from raw.outcomes").fetchall()}

        store.begin_run()
        reused = store.reuse_unchanged(listed(every_file))

        assert len(every_file) == len(batches)
        assert reused["file_id"].to_pylist() == ["invalid_json"]
        staged = store.connection.execute("select file_id from ingest_staging.outcomes").fetchall()
        assert staged == [("invalid_json",)]


def test_fingerprint_added_to_old_outcomes(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    connection = duckdb.connect(str(path))
    connection.execute("create schema raw")
    connection.execute("create table raw.outcomes (file_id varchar, outcome varchar)")
    connection.execute("insert into raw.outcomes values ('f1', 'ingested')")
    connection.close()

    with Warehouse(path) as store:
        stored = store.connection.execute("select file_id, fingerprint from raw.outcomes").fetchall()
        staging = [row[0] for row in store.connection.execute("describe ingest_staging.outcomes").fetchall()]
        reused = store.reuse_unchanged(listed({"f1": "fp1"}))

    assert stored == [("f1", None)]
    assert "fingerprint" in staging
    assert reused.num_rows == 0


def test_path_option_then_env_then_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WAREHOUSE_ENV, "/env/w.duckdb")
    assert resolve_warehouse_path("/opt/w.duckdb") == Path("/opt/w.duckdb")
    assert resolve_warehouse_path(None) == Path("/env/w.duckdb")

    monkeypatch.delenv(WAREHOUSE_ENV)
    assert resolve_warehouse_path(None) == DEFAULT_WAREHOUSE


def test_lock_error_names_holder(tmp_path: Path) -> None:
    path = tmp_path / "locked.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('ready', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"
        started = time.monotonic()

        with pytest.raises(WarehouseLockedError) as caught:
            Warehouse(path)

        message = str(caught.value)
        assert f"PID {holder.pid}" in message
        assert str(path) in message
        assert "then run this again" in message
        assert "\n" not in message
        assert time.monotonic() - started < 10
    finally:
        holder.kill()
        holder.wait()
