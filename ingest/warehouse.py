"""The DuckDB warehouse: the `raw` tables and how an ingest run writes them.

Writes go through Arrow: a batch of rows arrives as one `pyarrow.Table` per
table, is registered with DuckDB and inserted with `INSERT ... BY NAME`, all
tables of a batch in one transaction, so a reader never sees half a batch.

A run replaces the rows of its sources without a window in which they are
missing or doubled:
- content rows (`raw.cells`, `raw.imports`, `raw.uses`, `raw.installs`, keyed
  by `notebook_id`) are written batch by batch, straight into `raw`. Content
  of a notebook_id that already has cells rows is not written again, unless
  the batch names it to be replaced;
- `raw.notebooks` and `raw.outcomes` rows go to staging tables in the
  `ingest_staging` schema, and `finish_run` swaps them in for the run's sources
  and deletes content rows no notebook refers to, in one transaction.
A run that is killed leaves its staging rows behind (cleared by the next run)
and complete content batches, which the next run reuses instead of parsing
those notebooks again.

A file whose fingerprint is unchanged since the last finished run is not read
at all: `reuse_unchanged` copies its raw.notebooks and raw.outcomes rows,
`ingested_at` included, into staging, and `finish_run` swaps them back in
with the rest. Its content rows stay, because its copied notebooks row still
refers to them (see `ingest.fingerprint`).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TypeVar

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ingest.errors import NbcensusError
from ingest.model import INGESTED
from ingest.reasons import NOT_PYTHON, REUSABLE_REASONS
from ingest.schema import CONTENT_TABLES, TABLES

log = logging.getLogger(__name__)

T = TypeVar("T")

WAREHOUSE_ENV = "NBCENSUS_WAREHOUSE"
DEFAULT_WAREHOUSE = Path("warehouse") / "nbcensus.duckdb"

RAW_SCHEMA = "raw"
STAGING_SCHEMA = "ingest_staging"
# Tables keyed by input file, replaced per source at the end of a run.
FILE_TABLES = ("notebooks", "outcomes")

LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")


class WarehouseLockedError(NbcensusError):
    """Another process has the warehouse file open."""


def resolve_warehouse_path(path: str | os.PathLike[str] | None) -> Path:
    """Return the warehouse path from the option, else the environment, else the default."""
    if path:
        return Path(path)
    from_env = os.environ.get(WAREHOUSE_ENV)
    if from_env:
        return Path(from_env)
    return DEFAULT_WAREHOUSE


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, turning DuckDB's lock error into a one-line message with the holder and the next step."""
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as error:
        message = str(error)
        locked = lock_error(path, message)
        if locked is None:
            raise NbcensusError(f"cannot open warehouse {path}: {message}") from None
        raise locked from None


def lock_error(path: Path, message: str) -> WarehouseLockedError | None:
    """Return the error for a DuckDB message that names another process holding the file's lock, else None."""
    holder = LOCK_HOLDER.search(message)
    if holder is None:
        return None
    return WarehouseLockedError(
        f"warehouse {path} is locked by another process: {holder['program']} (PID {holder['pid']}). "
        "Wait for it to finish, or close it (a DuckDB shell, dbt, another nbcensus run), then run this again."
    )


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _table(schema: str, table: str) -> str:
    return f"{_quote(schema)}.{_quote(table)}"


class Warehouse:
    """A connection to the warehouse that writes one ingest run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.connection = connect(path)
        self.ensure_schema()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.connection.close()

    def ensure_schema(self) -> None:
        """Create the raw and staging tables, adding columns that a newer schema defines."""
        connection = self.connection
        connection.execute(f"create schema if not exists {_quote(RAW_SCHEMA)}")
        connection.execute(f"create schema if not exists {_quote(STAGING_SCHEMA)}")

        for name, schema in TABLES.items():
            self._ensure_table(RAW_SCHEMA, name, schema)
        for name in FILE_TABLES:
            self._ensure_table(STAGING_SCHEMA, name, TABLES[name])

    def _ensure_table(self, schema_name: str, name: str, schema: pa.Schema) -> None:
        connection = self.connection
        target = _table(schema_name, name)
        connection.register("empty_table", schema.empty_table())
        try:
            connection.execute(f"create table if not exists {target} as select * from empty_table")
            wanted = connection.execute("describe select * from empty_table").fetchall()
        finally:
            connection.unregister("empty_table")

        existing = {
            row[0]
            for row in connection.execute(
                "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
                [schema_name, name],
            ).fetchall()
        }
        for column_name, column_type, *_ in wanted:
            if column_name not in existing:
                log.info("adding column %s.%s.%s (%s)", schema_name, name, column_name, column_type)
                connection.execute(f"alter table {target} add column {_quote(column_name)} {column_type}")

    def content_notebook_ids(self) -> set[str]:
        """Return the ids of notebooks whose content rows are loaded (every parsed notebook has cell rows)."""
        rows = self.connection.execute(f"select distinct notebook_id from {_table(RAW_SCHEMA, 'cells')}").fetchall()
        return {row[0] for row in rows}

    def begin_run(self) -> None:
        """Clear the staging rows that a killed run may have left."""

        def clear() -> None:
            for name in FILE_TABLES:
                self._delete_all(STAGING_SCHEMA, name)

        self._in_transaction(clear)

    def write_batch(self, tables: Mapping[str, pa.Table], replace_content: Iterable[str] = ()) -> None:
        """Write one batch in one transaction: content rows to raw, file rows to staging.

        `replace_content` lists notebook ids whose existing content rows are
        deleted first (used when notebooks are parsed again on request).
        """
        replace_ids = sorted(set(replace_content))

        tables = self._without_loaded_content(tables, set(replace_ids))

        def write() -> None:
            if replace_ids:
                ids = pa.table({"notebook_id": pa.array(replace_ids, pa.string())})
                with self._registered("replaced_ids", ids):
                    for name in CONTENT_TABLES:
                        self.connection.execute(
                            f"delete from {_table(RAW_SCHEMA, name)} "
                            "where notebook_id in (select notebook_id from replaced_ids)"
                        )
            for name, table in tables.items():
                if table.num_rows == 0:
                    continue
                schema_name = STAGING_SCHEMA if name in FILE_TABLES else RAW_SCHEMA
                self._insert(schema_name, name, table)

        self._in_transaction(write)

    def _without_loaded_content(self, tables: Mapping[str, pa.Table], replaced: set[str]) -> dict[str, pa.Table]:
        """Drop content rows of notebooks already loaded, so that content is stored once per notebook_id."""
        batch_ids = pa.concat_arrays(
            [tables[name]["notebook_id"].combine_chunks() for name in CONTENT_TABLES if name in tables]
        ).unique()
        if len(batch_ids) == 0:
            return dict(tables)

        with self._registered("batch_ids", pa.table({"notebook_id": batch_ids})):
            rows = self.connection.execute(
                f"select distinct notebook_id from {_table(RAW_SCHEMA, 'cells')} "
                "where notebook_id in (select notebook_id from batch_ids)"
            ).fetchall()
        loaded = {row[0] for row in rows} - replaced
        if not loaded:
            return dict(tables)

        log.debug("skipping content rows of %d notebooks already loaded", len(loaded))
        keep = {name: table for name, table in tables.items()}
        loaded_ids = pa.array(sorted(loaded), pa.string())
        for name in CONTENT_TABLES:
            if name in keep:
                keep[name] = keep[name].filter(pc.invert(pc.is_in(keep[name]["notebook_id"], value_set=loaded_ids)))
        return keep

    def reuse_unchanged(self, listed: pa.Table) -> pa.Table:
        """Copy the stored file rows of unchanged files into staging; return the file_id, outcome and reason of each.

        `listed` has a `file_id` and a `fingerprint` column, one row per listed
        file. A stored outcome is reused when its fingerprint equals the listed
        one and its reason is reusable. An ingested file also needs its
        notebooks row and, unless it has no cells, its content rows in
        raw.cells. A `not_python` file needs its notebooks row. Call this after
        `begin_run` and before the first `write_batch`.
        """
        outcomes = _table(RAW_SCHEMA, "outcomes")
        notebooks = _table(RAW_SCHEMA, "notebooks")
        cells = _table(RAW_SCHEMA, "cells")
        reusable = pa.table({"reason": pa.array(sorted(REUSABLE_REASONS), pa.string())})
        matches = f"""
            select o.file_id, o.outcome, o.reason
            from {outcomes} o
            join listed_files l on l.file_id = o.file_id and l.fingerprint = o.fingerprint
            where (o.reason is null or o.reason in (select reason from reusable_reasons))
              and case
                    when o.outcome = '{INGESTED}' then exists (
                        select 1 from {notebooks} n
                        where n.file_id = o.file_id
                          and (n.cells = 0 or n.notebook_id in (select notebook_id from {cells}))
                    )
                    when o.reason = '{NOT_PYTHON}' then exists (
                        select 1 from {notebooks} n where n.file_id = o.file_id
                    )
                    else true
                  end
        """

        def copy() -> pa.Table:
            connection = self.connection
            with self._registered("listed_files", listed), self._registered("reusable_reasons", reusable):
                reused = connection.execute(matches).to_arrow_table()
            with self._registered("reused_files", reused):
                for name in FILE_TABLES:
                    connection.execute(
                        f"insert into {_table(STAGING_SCHEMA, name)} by name "
                        f"select * from {_table(RAW_SCHEMA, name)} where file_id in (select file_id from reused_files)"
                    )
            return reused

        return self._in_transaction(copy)

    def finish_run(self, sources: Sequence[str]) -> None:
        """Swap the staged file rows in for the run's sources and drop orphaned content rows."""
        source_list = pa.table({"source": pa.array(sorted(set(sources)), pa.string())})

        def swap() -> None:
            connection = self.connection
            with self._registered("run_sources", source_list):
                for name in FILE_TABLES:
                    target = _table(RAW_SCHEMA, name)
                    staged = _table(STAGING_SCHEMA, name)
                    connection.execute(f"delete from {target} where source in (select source from run_sources)")
                    # Sorted so that two runs over the same input store rows in the same order.
                    connection.execute(
                        f"insert into {target} by name select * from {staged} order by source, file_id"
                    )
                    self._delete_all(STAGING_SCHEMA, name)

            notebooks = _table(RAW_SCHEMA, "notebooks")
            for name in CONTENT_TABLES:
                connection.execute(
                    f"delete from {_table(RAW_SCHEMA, name)} "
                    f"where notebook_id not in (select notebook_id from {notebooks} where notebook_id is not null)"
                )

        self._in_transaction(swap)
        self.connection.execute("checkpoint")

    def _insert(self, schema_name: str, name: str, table: pa.Table) -> None:
        view = f"batch_{name}"
        with self._registered(view, table):
            self.connection.execute(f"insert into {_table(schema_name, name)} by name select * from {_quote(view)}")

    @contextmanager
    def _registered(self, view: str, table: pa.Table) -> Iterator[None]:
        """Make an Arrow table readable by SQL under a view name for the duration of a block."""
        self.connection.register(view, table)
        try:
            yield
        finally:
            self.connection.unregister(view)

    def _delete_all(self, schema_name: str, name: str) -> None:
        self.connection.execute(f"delete from {_table(schema_name, name)}")

    def _in_transaction(self, work: Callable[[], T]) -> T:
        self.connection.execute("begin transaction")
        try:
            result = work()
        except BaseException:
            self.connection.execute("rollback")
            raise
        self.connection.execute("commit")
        return result
