"""Write a synthetic warehouse whose raw tables are a real one's, replicated N times.

Copy r (0 <= r < N) of every row gets new ids, so the copies count as
different notebooks and files:
- `notebook_id` and `file_id` become the SHA-256 of the old id and r (copy 0
  keeps the real ids), so files that shared content still share it;
- `repo` gets the suffix `~r`, so repositories multiply with the notebooks;
- the three dates of a file move by one offset per file and copy, chosen so
  that `first_commit_at` lands anywhere in the real range of dates, keeping
  the gap to `last_commit_at`; dates past the real maximum are clipped to it.
Cells, imports, uses and installs follow their notebook's new id. The whole
replication runs as DuckDB SQL, from the template attached read-only.

Usage: .venv/bin/python bench/synthetic.py TEMPLATE.duckdb TARGET.duckdb --factor 10
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import duckdb

from ingest.schema import CONTENT_TABLES, TABLES

log = logging.getLogger("bench.synthetic")

# Columns rewritten per copy, in raw.notebooks and raw.outcomes.
DATE_COLUMNS = ("first_commit_at", "last_commit_at", "repo_last_commit_at")

ID_MAPS_SQL = """
create temp table copies as select range as copy from range({factor});

create temp table date_range as
select
    min(first_commit_at) as low,
    greatest(max(last_commit_at), max(repo_last_commit_at)) as high,
    greatest(epoch(greatest(max(last_commit_at), max(repo_last_commit_at))) - epoch(min(first_commit_at)), 1)::bigint
        as span_seconds,
from template.raw.notebooks;

create temp table notebook_ids as
select
    ids.notebook_id as old_id,
    copies.copy,
    case when copies.copy = 0 then ids.notebook_id else sha256(ids.notebook_id || ':' || copies.copy) end as new_id,
from (
    select notebook_id from template.raw.notebooks where notebook_id is not null
    union
    select notebook_id from template.raw.outcomes where notebook_id is not null
    union
    select notebook_id from template.raw.cells
) as ids
cross join copies;

create temp table file_ids as
select
    files.file_id as old_id,
    copies.copy,
    case when copies.copy = 0 then files.file_id else sha256(files.file_id || ':' || copies.copy) end as new_id,
    case
        when copies.copy = 0 then 0
        else (hash(files.file_id, copies.copy) % date_range.span_seconds)::bigint
    end as shift_seconds,
from (
    select file_id from template.raw.outcomes
    union
    select file_id from template.raw.notebooks
) as files
cross join copies
cross join date_range;
"""


def _moved(column: str) -> str:
    """SQL for a date column moved by its file's shift, wrapped into the real range, clipped at its end."""
    return f"""
        case
            when t.{column} is null or f.copy = 0 then t.{column}
            else least(
                t.{column} + to_seconds(
                    (epoch(t.first_commit_at)::bigint - epoch(d.low)::bigint + f.shift_seconds) % d.span_seconds
                    - (epoch(t.first_commit_at)::bigint - epoch(d.low)::bigint)
                ),
                d.high
            )
        end as {column}"""


def _file_table_sql(name: str, columns: Sequence[str]) -> str:
    """Select one copy per file and copy number of raw.notebooks or raw.outcomes, with new ids and dates."""
    replaced = {"file_id", "notebook_id", "repo", *DATE_COLUMNS}
    selected = []
    for column in columns:
        if column == "file_id":
            selected.append("f.new_id as file_id")
        elif column == "notebook_id":
            selected.append("n.new_id as notebook_id")
        elif column == "repo":
            selected.append("case when f.copy = 0 or t.repo is null then t.repo else t.repo || '~' || f.copy end as repo")
        elif column in DATE_COLUMNS:
            selected.append(_moved(column))
        elif column not in replaced:
            selected.append(f't."{column}"')
    return f"""
        insert into raw.{name} ({_column_list(columns)})
        select {", ".join(selected)}
        from template.raw.{name} as t
        join file_ids as f on f.old_id = t.file_id
        left join notebook_ids as n on n.old_id = t.notebook_id and n.copy = f.copy
        cross join date_range as d
        order by f.copy
    """


def _column_list(columns: Sequence[str]) -> str:
    return ", ".join(f'"{column}"' for column in columns)


def _content_table_sql(name: str, columns: Sequence[str]) -> str:
    selected = ["n.new_id as notebook_id" if column == "notebook_id" else f't."{column}"' for column in columns]
    return f"""
        insert into raw.{name} ({_column_list(columns)})
        select {", ".join(selected)}
        from template.raw.{name} as t
        join notebook_ids as n on n.old_id = t.notebook_id
        order by n.copy
    """


def scale_warehouse(template: Path, target: Path, factor: int, memory_limit: str | None = None) -> dict[str, int]:
    """Write TARGET with the raw tables of TEMPLATE replicated `factor` times; return the row counts."""
    if factor < 1:
        raise ValueError(f"factor must be at least 1, got {factor}")
    if target.stem in ("raw", "template"):
        # DuckDB names a database after its file, and these names clash with the schema and the attached template.
        raise ValueError(f"choose another file name than {target.name}")
    if target.exists():
        target.unlink()

    with duckdb.connect(str(target)) as connection:
        if memory_limit:
            connection.execute(f"set memory_limit = '{memory_limit}'")
        connection.execute(f"attach '{template}' as template (read_only)")
        connection.execute("create schema raw")
        for name in TABLES:
            connection.execute(f"create table raw.{name} as select * from template.raw.{name} limit 0")
        connection.execute(ID_MAPS_SQL.format(factor=factor))

        counts: dict[str, int] = {}
        for name, schema in TABLES.items():
            started = time.perf_counter()
            template_columns = [
                row[0]
                for row in connection.execute(
                    "select column_name from information_schema.columns "
                    "where table_catalog = 'template' and table_schema = 'raw' and table_name = ? "
                    "order by ordinal_position",
                    [name],
                ).fetchall()
            ]
            columns = [column for column in schema.names if column in template_columns]
            sql = _content_table_sql(name, columns) if name in CONTENT_TABLES else _file_table_sql(name, columns)
            connection.execute(sql)
            [(rows,)] = connection.execute(f"select count(*) from raw.{name}").fetchall()
            counts[name] = rows
            log.info("raw.%s: %d rows in %.1f s", name, rows, time.perf_counter() - started)
        connection.execute("detach template")
        connection.execute("checkpoint")
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("template", type=Path, help="warehouse written by `nbcensus ingest`")
    parser.add_argument("target", type=Path, help="warehouse to write (replaced if it exists)")
    parser.add_argument("--factor", type=int, required=True, help="copies of every row")
    parser.add_argument("--memory-limit", default=None, help="DuckDB memory_limit for the copy, e.g. 6GB")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)

    if not args.template.is_file():
        print(f"Error: template warehouse not found: {args.template}", file=sys.stderr)
        return 1
    counts = scale_warehouse(args.template, args.target, args.factor, args.memory_limit)
    for name, rows in counts.items():
        print(f"raw.{name}: {rows:,} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
