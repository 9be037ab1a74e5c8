"""Re-runs of an ingest: unchanged files are not read, changed ones are read again.

Each test builds a small tree of real notebooks (a folder, a zip, a tar and a
manifest naming files and archive entries), ingests it into a real DuckDB file,
changes one thing and ingests again. The `sent` fixture records every file the
driver hands to a worker, so a test can tell which files a run read.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ingest import pipeline
from ingest.limits import Limits
from ingest.pipeline import IngestSummary, ingest_sources
from ingest.schema import TABLES

pytestmark = pytest.mark.slow

MANIFEST_COLUMNS = ["notebook_path", "archive", "member", "repo", "first_commit_at", "stars"]

# A notebook that takes libcst about a second to parse (eight distinct cells of
# 400 lines each), far over the timeout given to the run that must time out.
SLOW_CELLS = 8
SLOW_LINES = 400
SHORT_TIMEOUT = 0.5


def notebook(*sources: str, language: str = "python") -> bytes:
    metadata = {"kernelspec": {"name": "ir", "language": "R"}} if language == "r" else {"language_info": {"name": language}}
    cells = [{"cell_type": "code", "metadata": {}, "source": source} for source in sources]
    return json.dumps({"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}).encode()


def slow_notebook() -> bytes:
    cells = [
        "".join(
            f"value_{cell}_{line} = compute(alpha_{line}, beta[{line}:{line} + 2], gamma={{'k': {line}}})"
            f" + other.attr_{line}.method({line}) * 3\n"
            for line in range(SLOW_LINES)
        )
        for cell in range(SLOW_CELLS)
    ]
    return notebook(*cells)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def write_zip(path: Path, entries: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def write_tar(path: Path, entries: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w") as archive:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_700_000_000
            archive.addfile(info, io.BytesIO(data))
    return path


def write_manifest(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


ZIP_ENTRIES = {
    "z/one.ipynb": notebook("import sklearn"),
    "z/two.ipynb": notebook("import boto3\nboto3.client('s3')"),
    "../escape.ipynb": notebook("import os"),
}

MANIFEST_ROWS = [
    {"notebook_path": "listed/m1.ipynb", "repo": "example/m1", "first_commit_at": "2020-01-02T03:04:05Z", "stars": "5"},
    {"archive": "archives/nbs.zip", "member": "z/one.ipynb", "repo": "example/zip", "stars": "7"},
    {"archive": "archives/nbs.tar", "member": "t/three.ipynb", "repo": "example/tar", "stars": "9"},
    {"repo": "example/nowhere", "stars": "0"},
]
# Files that fail while the sources are listed, before any worker: the zip
# entry named `../escape.ipynb` and the manifest row without a location.
LISTING_ERRORS = 2


@dataclass(frozen=True)
class Tree:
    """The files of one test, and the SOURCE arguments that list them."""

    root: Path

    @property
    def folder(self) -> Path:
        return self.root / "folder"

    @property
    def zip_path(self) -> Path:
        return self.root / "archives" / "nbs.zip"

    @property
    def tar_path(self) -> Path:
        return self.root / "archives" / "nbs.tar"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.csv"

    @property
    def sources(self) -> list[Path]:
        return [self.folder, self.zip_path, self.tar_path, self.manifest]


def build_tree(root: Path) -> Tree:
    """Write notebooks that end as every kind of outcome: ingested, failed, skipped, listing errors."""
    tree = Tree(root)
    write(tree.folder / "a.ipynb", notebook("import numpy as np\nnp.ones(3)"))
    write(tree.folder / "sub" / "b.ipynb", notebook("import pandas as pd", "pd.read_csv('x.csv')"))
    write(tree.folder / "broken.ipynb", b'{"cells": [')
    write(tree.folder / "r.ipynb", notebook("library(ggplot2)", language="r"))
    write(root / "listed" / "m1.ipynb", notebook("import requests"))
    write_zip(tree.zip_path, ZIP_ENTRIES)
    write_tar(tree.tar_path, {"t/three.ipynb": notebook("import torch")})
    write_manifest(tree.manifest, MANIFEST_ROWS)
    return tree


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return build_tree(tmp_path / "tree")


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The display names of the files each run sends to workers, cleared by `ingest`."""
    names: list[str] = []
    read_in_workers = pipeline._read_in_workers

    def recording(inputs: list[Any], *arguments: Any) -> int:
        names.extend(item.display_name for item in inputs)
        return read_in_workers(inputs, *arguments)

    monkeypatch.setattr(pipeline, "_read_in_workers", recording)
    return names


Ingest = Callable[..., IngestSummary]


@pytest.fixture
def ingest(tmp_path: Path, sent: list[str]) -> Ingest:
    """Ingest the given sources into the test's warehouse; `sent` then lists the files this run read."""

    def run(sources: list[Path], **options: Any) -> IngestSummary:
        sent.clear()
        options.setdefault("jobs", 1)
        summary = ingest_sources(sources, warehouse=tmp_path / "nb.duckdb", quiet=True, **options)
        assert_one_outcome_per_file(tmp_path / "nb.duckdb", summary)
        return summary

    return run


def query(warehouse: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def tables(warehouse: Path, without: frozenset[str] = frozenset()) -> dict[str, list[tuple[Any, ...]]]:
    """Every raw table's rows in a fixed order, without the named columns."""
    rows = {}
    for name, schema in TABLES.items():
        columns = ", ".join(f'"{column}"' for column in schema.names if column not in without)
        rows[name] = sorted(query(warehouse, f"select {columns} from raw.{name}"), key=repr)
    return rows


def assert_one_outcome_per_file(warehouse: Path, summary: IngestSummary) -> None:
    [(rows, files)] = query(warehouse, "select count(*), count(distinct file_id) from raw.outcomes")
    assert rows == files == summary.files


def outcome_of(warehouse: Path, name: str) -> tuple[Any, ...]:
    """Return (outcome, reason, fingerprint) of the file whose path or member ends with NAME."""
    rows = query(
        warehouse,
        "select outcome, reason, fingerprint from raw.outcomes "
        f"where coalesce(member, path) like '%/{name}' or coalesce(member, path) = '{name}'",
    )
    assert len(rows) == 1, f"{len(rows)} outcome rows for {name}"
    return rows[0]


def packages(warehouse: Path) -> set[str]:
    return {row[0] for row in query(warehouse, "select distinct package from raw.imports")}


def corrupt_zip_entry(path: Path, name: str) -> None:
    """Overwrite a stored entry's bytes in place, leaving the central directory (and its CRC-32) as it was."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    with path.open("r+b") as handle:
        handle.seek(info.header_offset + 26)
        name_length = int.from_bytes(handle.read(2), "little")
        extra_length = int.from_bytes(handle.read(2), "little")
        handle.seek(info.header_offset + 30 + name_length + extra_length)
        handle.write(b"#" * info.compress_size)


# --- nothing changed --------------------------------------------------------------


def test_rerun_reads_no_file(tree: Tree, ingest: Ingest, sent: list[str], tmp_path: Path) -> None:
    warehouse = tmp_path / "nb.duckdb"
    first = ingest(tree.sources)
    read_first = list(sent)
    before = tables(warehouse)
    reused_times = "select file_id, ingested_at from raw.outcomes where fingerprint is not null order by file_id"
    read_at = query(warehouse, reused_times)

    second = ingest(tree.sources)
    after = tables(warehouse)

    assert len(read_first) == first.files - LISTING_ERRORS
    assert sent == []
    assert second.files == first.files
    assert second.counts == first.counts
    assert second.extracted_notebooks == 0
    assert second.reused == first.files - LISTING_ERRORS
    assert len(read_at) == second.reused
    assert f"{second.reused:,} unchanged files reused, 0 notebooks parsed" in second.lines()[0]
    # Reused rows are copied as they were, ingested_at included. Only the
    # outcome rows of the listing errors, made again, get the new run's time.
    for name in ("notebooks", "cells", "imports", "uses", "installs"):
        assert after[name] == before[name], f"raw.{name} changed"
    assert query(warehouse, reused_times) == read_at
    without_time = frozenset({"ingested_at"})
    assert tables(warehouse, without=without_time)["outcomes"] == sorted(
        [row[:-2] + row[-1:] for row in before["outcomes"]], key=repr
    )


def test_rerun_leaves_zip_entries_unread(tree: Tree, ingest: Ingest, sent: list[str], tmp_path: Path) -> None:
    """Entry bytes overwritten under an unchanged central directory go unnoticed, so they were not read."""
    warehouse = tmp_path / "nb.duckdb"
    ingest(tree.sources)
    before = tables(warehouse)
    corrupt_zip_entry(tree.zip_path, "z/two.ipynb")

    ingest(tree.sources)
    read_second = list(sent)
    unchanged = tables(warehouse)
    ingest(tree.sources, reparse=True)

    assert read_second == []
    assert unchanged["notebooks"] == before["notebooks"]
    assert unchanged["uses"] == before["uses"]
    # The control: reading the entry now fails its CRC-32 check.
    assert f"{tree.zip_path}!z/two.ipynb" in sent
    assert outcome_of(warehouse, "z/two.ipynb")[:2] == ("failed", "unreadable")


def test_reparse_reads_every_file(tree: Tree, ingest: Ingest, sent: list[str]) -> None:
    first = ingest(tree.sources)
    read_first = sorted(sent)

    second = ingest(tree.sources, reparse=True)

    assert sorted(sent) == read_first
    assert second.reused == 0
    assert second.counts == first.counts


# --- one thing changed ----------------------------------------------------------------


def test_changed_file_same_name_read_again(tree: Tree, ingest: Ingest, sent: list[str], tmp_path: Path) -> None:
    warehouse = tmp_path / "nb.duckdb"
    first = ingest(tree.sources)
    write(tree.folder / "a.ipynb", notebook("import scipy"))

    second = ingest(tree.sources)

    assert sent == [str(tree.folder / "a.ipynb")]
    assert second.reused == first.files - LISTING_ERRORS - 1
    assert second.extracted_notebooks == 1
    assert "scipy" in packages(warehouse)
    assert "numpy" not in packages(warehouse)


def test_changed_zip_entry_read_again(tree: Tree, ingest: Ingest, sent: list[str], tmp_path: Path) -> None:
    warehouse = tmp_path / "nb.duckdb"
    ingest(tree.sources)
    write_zip(tree.zip_path, {**ZIP_ENTRIES, "z/two.ipynb": notebook("import torchvision")})

    ingest(tree.sources)

    assert sent == [f"{tree.zip_path}!z/two.ipynb"]
    assert "torchvision" in packages(warehouse)
    assert "boto3" not in packages(warehouse)


def test_changed_manifest_value_read_again(tree: Tree, ingest: Ingest, sent: list[str], tmp_path: Path) -> None:
    warehouse = tmp_path / "nb.duckdb"
    ingest(tree.sources)
    rows = [dict(row) for row in MANIFEST_ROWS]
    rows[0]["stars"] = "6"
    rows[1]["first_commit_at"] = "2021-05-06T07:08:09Z"
    write_manifest(tree.manifest, rows)

    ingest(tree.sources)

    assert sorted(sent) == sorted([str(tree.root / "listed" / "m1.ipynb"), f"{tree.zip_path}!z/one.ipynb"])
    metadata = query(warehouse, "select metadata from raw.notebooks where path like '%/m1.ipynb'")
    assert json.loads(metadata[0][0]) == {"stars": "6"}
    dates = query(
        warehouse,
        "select strftime(first_commit_at at time zone 'UTC', '%Y-%m-%d') from raw.notebooks "
        "where source_kind = 'manifest' and member = 'z/one.ipynb'",
    )
    assert dates == [("2021-05-06",)]


def test_changed_limit_reads_every_file(tree: Tree, ingest: Ingest, sent: list[str], tmp_path: Path) -> None:
    warehouse = tmp_path / "nb.duckdb"
    first = ingest(tree.sources)
    read_first = sorted(sent)

    ingest(tree.sources, limits=Limits(max_cells=1))
    read_second = sorted(sent)
    ingest(tree.sources, limits=Limits(max_cells=1))

    assert read_second == read_first
    assert outcome_of(warehouse, "b.ipynb")[:2] == ("skipped", "too_many_cells")
    assert sent == []
    assert first.reused == 0


@pytest.mark.parametrize(
    "limits",
    [Limits(max_file_bytes=10_000_000), Limits(max_cell_chars=9_999), Limits(max_nesting=99)],
    ids=["max_file_bytes", "max_cell_chars", "max_nesting"],
)
def test_each_limit_option_in_fingerprint(tree: Tree, ingest: Ingest, sent: list[str], limits: Limits) -> None:
    ingest(tree.sources)
    read_first = sorted(sent)

    ingest(tree.sources, limits=limits)

    assert sorted(sent) == read_first


def test_removed_file_loses_its_rows(tree: Tree, ingest: Ingest, sent: list[str], tmp_path: Path) -> None:
    warehouse = tmp_path / "nb.duckdb"
    first = ingest(tree.sources)
    (tree.folder / "sub" / "b.ipynb").unlink()

    second = ingest(tree.sources)

    assert sent == []
    assert second.files == first.files - 1
    assert "pandas" not in packages(warehouse)
    assert query(warehouse, "select count(*) from raw.outcomes where path like '%/b.ipynb'") == [(0,)]


def test_added_file_read_alone(tree: Tree, ingest: Ingest, sent: list[str], tmp_path: Path) -> None:
    warehouse = tmp_path / "nb.duckdb"
    first = ingest(tree.sources)
    write(tree.folder / "sub" / "c.ipynb", notebook("import xgboost"))

    second = ingest(tree.sources)

    assert sent == [str(tree.folder / "sub" / "c.ipynb")]
    assert second.files == first.files + 1
    assert outcome_of(warehouse, "c.ipynb")[:2] == ("ingested", None)
    assert "xgboost" in packages(warehouse)


def test_fixed_failed_file_read_again(tree: Tree, ingest: Ingest, sent: list[str], tmp_path: Path) -> None:
    warehouse = tmp_path / "nb.duckdb"
    ingest(tree.sources)
    failed = outcome_of(warehouse, "broken.ipynb")
    write(tree.folder / "broken.ipynb", notebook("import lightgbm"))

    ingest(tree.sources)

    assert failed[:2] == ("failed", "invalid_json")
    assert failed[2] is not None  # the same bytes fail the same way, so the outcome may be reused
    assert sent == [str(tree.folder / "broken.ipynb")]
    assert outcome_of(warehouse, "broken.ipynb")[:2] == ("ingested", None)
    assert "lightgbm" in packages(warehouse)


def test_missing_entry_found_later(tree: Tree, ingest: Ingest, sent: list[str], tmp_path: Path) -> None:
    warehouse = tmp_path / "nb.duckdb"
    extra = write_zip(tree.root / "archives" / "extra.zip", {"other.ipynb": notebook("import os")})
    later = {"archive": "archives/extra.zip", "member": "later.ipynb", "repo": "example/extra", "stars": "1"}
    write_manifest(tree.manifest, [*MANIFEST_ROWS, later])
    ingest(tree.sources)
    missing = outcome_of(warehouse, "later.ipynb")
    read_again = list(sent)

    ingest(tree.sources)
    read_while_missing = list(sent)
    write_zip(extra, {"other.ipynb": notebook("import os"), "later.ipynb": notebook("import jax")})
    ingest(tree.sources)

    # A missing entry has no stamp, so every run looks for it again.
    assert missing == ("failed", "missing_member", None)
    assert f"{extra}!later.ipynb" in read_again
    assert read_while_missing == [f"{extra}!later.ipynb"]
    assert sent == [f"{extra}!later.ipynb"]
    assert outcome_of(warehouse, "later.ipynb")[:2] == ("ingested", None)


def test_rewrite_keeping_size_and_mtime_read_again(tree: Tree, ingest: Ingest, sent: list[str], tmp_path: Path) -> None:
    """A file rewritten with the same size and its mtime put back still changes its ctime."""
    warehouse = tmp_path / "nb.duckdb"
    path = tree.folder / "a.ipynb"
    ingest(tree.sources)
    status = os.stat(path)
    original = path.read_bytes()
    path.write_bytes(original.replace(b"numpy", b"numba"))
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))

    ingest(tree.sources)

    assert os.stat(path).st_size == status.st_size
    assert sent == [str(path)]
    assert "numba" in packages(warehouse)


def test_timed_out_file_tried_again(tmp_path: Path, ingest: Ingest, sent: list[str]) -> None:
    folder = tmp_path / "slow"
    write(folder / "slow.ipynb", slow_notebook())
    write(folder / "quick.ipynb", notebook("import numpy"))
    warehouse = tmp_path / "nb.duckdb"

    ingest([folder], file_timeout=SHORT_TIMEOUT)
    timed_out = outcome_of(warehouse, "slow.ipynb")
    second = ingest([folder])

    assert timed_out == ("skipped", "timed_out", None)
    assert sent == [str(folder / "slow.ipynb")]
    assert second.reused == 1
    assert outcome_of(warehouse, "slow.ipynb")[:2] == ("ingested", None)


def test_warehouse_without_fingerprints_read_once(tree: Tree, ingest: Ingest, sent: list[str], tmp_path: Path) -> None:
    """A warehouse written before fingerprints existed gets the column with nulls, so one run reads everything."""
    warehouse = tmp_path / "nb.duckdb"
    ingest(tree.sources)
    read_first = sorted(sent)
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("alter table raw.outcomes drop column fingerprint")
        connection.execute("alter table ingest_staging.outcomes drop column fingerprint")

    ingest(tree.sources)
    read_second = sorted(sent)
    third = ingest(tree.sources)

    assert read_second == read_first
    assert sent == []
    assert third.reused > 0
