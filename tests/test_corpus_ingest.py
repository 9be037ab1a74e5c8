"""Ingest the whole real corpus and check that every manifest row is accounted for exactly once."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ingest.pipeline import IngestSummary, ingest_sources

pytestmark = [pytest.mark.corpus, pytest.mark.slow]


@pytest.fixture(scope="module")
def corpus_run(corpus_manifest: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, IngestSummary]:
    warehouse = tmp_path_factory.mktemp("corpus") / "corpus.duckdb"
    summary = ingest_sources([corpus_manifest], warehouse=warehouse, jobs=2, quiet=True)
    return warehouse, summary


def manifest_rows(manifest: Path) -> list[dict[str, str]]:
    # Paths contain spaces, commas and quotes, so only the csv module reads them right.
    with open(manifest, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def query(warehouse: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def test_every_manifest_row_has_one_outcome(corpus_manifest: Path, corpus_run: tuple[Path, IngestSummary]) -> None:
    warehouse, _ = corpus_run
    expected = Counter(
        (str(corpus_manifest.parent / row["archive"]), row["member"]) for row in manifest_rows(corpus_manifest)
    )

    outcomes = Counter(query(warehouse, "select archive, member from raw.outcomes"))

    assert outcomes == expected
    assert max(outcomes.values()) == 1


def test_outcome_counts_add_up(corpus_manifest: Path, corpus_run: tuple[Path, IngestSummary]) -> None:
    warehouse, summary = corpus_run
    rows = len(manifest_rows(corpus_manifest))
    by_outcome = dict(query(warehouse, "select outcome, count(*) from raw.outcomes group by outcome"))

    assert sum(by_outcome.values()) == rows
    assert summary.files == rows
    assert summary.outcome_counts() == {outcome: by_outcome.get(outcome, 0) for outcome in summary.outcome_counts()}
    assert set(by_outcome) <= {"ingested", "failed", "skipped"}


def test_invalid_json_files_fail(corpus_run: tuple[Path, IngestSummary]) -> None:
    warehouse, _ = corpus_run
    # The corpus README lists 8 files that are not valid JSON (automated edits
    # that broke them in their repositories).
    failed = query(warehouse, "select reason, count(*) from raw.outcomes where outcome = 'failed' group by reason")

    assert failed == [("invalid_json", 8)]


def test_notebooks_rows_match_outcomes(corpus_run: tuple[Path, IngestSummary]) -> None:
    warehouse, _ = corpus_run

    kept = query(warehouse, "select count(*) from raw.outcomes where outcome = 'ingested' or reason = 'not_python'")
    notebooks = query(warehouse, "select count(*) from raw.notebooks")
    undated = query(warehouse, "select count(*) from raw.notebooks where first_commit_at is null or repo is null")
    skipped_python = query(
        warehouse,
        "select count(*) from raw.outcomes o join raw.notebooks n using (file_id) "
        "where o.reason = 'not_python' and n.language = 'python'",
    )

    assert notebooks == kept
    assert undated == [(0,)]
    assert skipped_python == [(0,)]


def test_every_parsed_notebook_has_cells(corpus_run: tuple[Path, IngestSummary]) -> None:
    warehouse, summary = corpus_run

    missing = query(
        warehouse,
        "select count(*) from raw.notebooks n join raw.outcomes o using (file_id) "
        "where o.outcome = 'ingested' and n.cells > 0 and n.notebook_id not in (select notebook_id from raw.cells)",
    )
    cells = query(warehouse, "select count(*) from raw.cells")[0][0]
    distinct_notebooks = query(
        warehouse, "select count(distinct n.notebook_id) from raw.notebooks n join raw.outcomes o using (file_id) "
        "where o.outcome = 'ingested'"
    )[0][0]

    assert missing == [(0,)]
    assert cells > 0
    assert summary.extracted_notebooks == distinct_notebooks
    assert 0 < summary.cache_hit_rate < 1
