"""End-to-end runs of `nbcensus ingest` into temporary warehouses: exit codes, stderr and rows."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ingest.progress import Progress
from ingest.schema import TABLES

pytestmark = pytest.mark.slow


def notebook(*sources: str, language: str = "python", cell_type: str = "code") -> bytes:
    cells = [{"cell_type": cell_type, "source": source, "metadata": {}} for source in sources]
    metadata = {"kernelspec": {"name": "ir", "language": "R"}} if language == "r" else {"language_info": {"name": language}}
    return json.dumps({"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}).encode()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def ingest(*arguments: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real command line, as a user would."""
    command = [sys.executable, "-m", "ingest.cli", "ingest", *map(str, arguments)]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)


def query(warehouse: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def snapshot(warehouse: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every raw table's rows in a fixed order, without the ingested_at column."""
    tables = {}
    for name, schema in TABLES.items():
        columns = ", ".join(column for column in schema.names if column != "ingested_at")
        tables[name] = query(warehouse, f"select {columns} from raw.{name} order by all")
    return tables


@pytest.fixture(scope="module")
def examples_run(repo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    warehouse = tmp_path_factory.mktemp("examples") / "nb.duckdb"
    result = ingest(repo_root / "examples" / "manifest.csv", "--warehouse", warehouse, "--jobs", "2")
    return warehouse, result


def test_examples_exit_code_and_summary(examples_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    warehouse, result = examples_run
    counts = dict(query(warehouse, "select outcome, count(*) from raw.outcomes group by outcome"))

    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert f"  ingested {counts['ingested']:>9,}" in result.stderr
    assert "Cell cache:" in result.stderr
    assert "hit rate" in result.stderr


def test_examples_one_outcome_per_manifest_row(
    repo_root: Path, examples_run: tuple[Path, subprocess.CompletedProcess[str]]
) -> None:
    warehouse, _ = examples_run
    manifest = repo_root / "examples" / "manifest.csv"
    with open(manifest, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    expected = sorted(
        (str(manifest.parent / row["archive"]), row["member"]) if row["member"] else (str(manifest.parent / row["notebook_path"]), None)
        for row in rows
    )

    outcomes = query(warehouse, "select path, member from raw.outcomes order by all")

    assert sorted(outcomes, key=repr) == sorted(expected, key=repr)
    assert query(warehouse, "select count(distinct file_id) from raw.outcomes") == [(len(rows),)]


def test_examples_rows_are_consistent(examples_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    warehouse, _ = examples_run

    notebooks = query(warehouse, "select count(*) from raw.notebooks")[0][0]
    kept = query(warehouse, "select count(*) from raw.outcomes where outcome = 'ingested' or reason = 'not_python'")[0][0]
    orphans = query(
        warehouse, "select count(*) from raw.imports where notebook_id not in (select notebook_id from raw.notebooks)"
    )[0][0]
    unparsed = query(
        warehouse,
        "select count(*) from raw.notebooks n join raw.outcomes o using (file_id) "
        "where o.outcome = 'ingested' and n.code_cells > 0 "
        "and n.notebook_id not in (select notebook_id from raw.cells)",
    )[0][0]

    assert notebooks == kept
    assert orphans == 0
    assert unparsed == 0
    assert query(warehouse, "select count(*) from raw.imports")[0][0] > 0
    assert query(warehouse, "select count(*) from raw.notebooks where repo is null or first_commit_at is null") == [(0,)]


def test_examples_failures_and_skips_have_reasons(examples_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    warehouse, _ = examples_run

    unexplained = query(warehouse, "select count(*) from raw.outcomes where outcome <> 'ingested' and (reason is null or detail is null)")
    reasons = {row[0] for row in query(warehouse, "select reason from raw.outcomes where outcome <> 'ingested'")}
    skipped_languages = query(
        warehouse,
        "select n.language from raw.outcomes o join raw.notebooks n using (file_id) where o.reason = 'not_python'",
    )

    assert unexplained == [(0,)]
    assert {"invalid_json", "lfs_pointer", "not_python"} <= reasons
    assert skipped_languages and all(language != "python" for (language,) in skipped_languages)


def test_rerun_parses_nothing_and_changes_nothing(repo_root: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "nb.duckdb"
    source = repo_root / "examples" / "manifest.csv"

    first = ingest(source, "--warehouse", warehouse, "--quiet")
    before = snapshot(warehouse)
    second = ingest(source, "--warehouse", warehouse, "--quiet")
    after = snapshot(warehouse)

    assert first.returncode == second.returncode == 0
    assert " 0 notebooks parsed" not in first.stderr
    assert "unchanged files reused" not in first.stderr
    assert " 0 notebooks parsed, 0 code cells" in second.stderr
    assert re.search(r"[0-9,]+ files \(.*\), [0-9,]+ unchanged files reused, 0 notebooks parsed", second.stderr)
    assert after == before


def test_cache_entries_bound_changes_no_row(repo_root: Path, tmp_path: Path) -> None:
    source = repo_root / "examples" / "manifest.csv"
    default_warehouse = tmp_path / "default.duckdb"
    small_warehouse = tmp_path / "small.duckdb"

    default = ingest(source, "--warehouse", default_warehouse, "--jobs", "1", "--quiet")
    small = ingest(source, "--warehouse", small_warehouse, "--jobs", "1", "--quiet", "--cache-entries", "1")

    assert default.returncode == small.returncode == 0
    hits = [re.search(r"Cell cache: .*\(([0-9,]+) of ([0-9,]+)", result.stderr) for result in (default, small)]
    assert hits[0] is not None and hits[1] is not None
    assert int(hits[1][1].replace(",", "")) < int(hits[0][1].replace(",", ""))
    assert hits[1][2] == hits[0][2]

    # Only the cells' cache_hit flags may differ.
    cell_columns = ", ".join(name for name in TABLES["cells"].names if name not in ("ingested_at", "cache_hit"))
    cells = [query(warehouse, f"select {cell_columns} from raw.cells order by all") for warehouse in (default_warehouse, small_warehouse)]
    assert cells[0] == cells[1]
    for name in ("imports", "uses", "installs", "notebooks", "outcomes"):
        assert snapshot(small_warehouse)[name] == snapshot(default_warehouse)[name], name


def test_mixed_sources_each_file_once(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    write(folder / "a.ipynb", notebook("import pandas as pd\npd.read_csv('x')"))
    write(folder / "sub" / "b.ipynb", notebook("from sklearn.svm import SVC"))
    write(folder / "broken.ipynb", b'{"cells": [')
    single = write(tmp_path / "single.ipynb", notebook("import boto3\nboto3.client('s3')"))
    archive = tmp_path / "nbs.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("z/one.ipynb", notebook("import numpy"))
        handle.writestr("../escape.ipynb", notebook("import os"))
    tarball = tmp_path / "nbs.tar.gz"
    with tarfile.open(tarball, "w:gz") as handle:
        data = notebook("import torch")
        info = tarfile.TarInfo("t/two.ipynb")
        info.size = len(data)
        handle.addfile(info, io.BytesIO(data))
    warehouse = tmp_path / "nb.duckdb"

    result = ingest(folder, single, archive, tarball, "--warehouse", warehouse, "--jobs", "2")

    assert result.returncode == 0, result.stderr
    outcomes = query(warehouse, "select source_kind, coalesce(member, path), outcome, reason from raw.outcomes order by 2")
    by_name = {Path(name).name: (kind, outcome, reason) for kind, name, outcome, reason in outcomes}
    assert len(outcomes) == 7
    assert by_name["a.ipynb"] == ("folder", "ingested", None)
    assert by_name["b.ipynb"] == ("folder", "ingested", None)
    assert by_name["broken.ipynb"] == ("folder", "failed", "invalid_json")
    assert by_name["single.ipynb"] == ("file", "ingested", None)
    assert by_name["one.ipynb"] == ("zip", "ingested", None)
    assert by_name["escape.ipynb"] == ("zip", "skipped", "unsafe_member_path")
    assert by_name["two.ipynb"] == ("tar", "ingested", None)
    packages = {row[0] for row in query(warehouse, "select distinct package from raw.imports")}
    assert {"pandas", "sklearn", "boto3", "numpy", "torch"} <= packages
    assert not (tmp_path.parent / "escape.ipynb").exists()


def test_reingest_drops_removed_file(tmp_path: Path) -> None:
    folder = tmp_path / "nbs"
    write(folder / "keep.ipynb", notebook("import numpy"))
    gone = write(folder / "gone.ipynb", notebook("import scipy"))
    warehouse = tmp_path / "nb.duckdb"
    assert ingest(folder, "--warehouse", warehouse, "--quiet").returncode == 0

    gone.unlink()
    result = ingest(folder, "--warehouse", warehouse, "--quiet")

    assert result.returncode == 0, result.stderr
    assert query(warehouse, "select count(*) from raw.outcomes") == [(1,)]
    assert query(warehouse, "select distinct package from raw.imports") == [("numpy",)]


def test_notebook_code_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    source = (
        f"open({str(marker)!r}, 'w').write('x')\n"
        f"import os; os.system('touch {marker}')\n"
        f"!touch {marker}\n"
        f"%run -i {marker}\n"
    )
    write(tmp_path / "nbs" / "evil.ipynb", notebook(source, f"%%bash\ntouch {marker}\n"))

    result = ingest(tmp_path / "nbs", "--warehouse", tmp_path / "nb.duckdb", "--quiet")

    assert result.returncode == 0, result.stderr
    assert not marker.exists()


def test_oversized_cell_fails_alone(tmp_path: Path) -> None:
    write(tmp_path / "nbs" / "long.ipynb", notebook("import numpy", "x = 1\n" * 100, "((((((((((1))))))))))"))
    warehouse = tmp_path / "nb.duckdb"

    result = ingest(tmp_path / "nbs", "--warehouse", warehouse, "--max-cell-chars", "100", "--max-nesting", "5", "--quiet")

    assert result.returncode == 0, result.stderr
    cells = query(warehouse, "select cell_index, status, error, lines from raw.cells order by cell_index")
    assert cells[0][1] == "parsed"
    assert cells[1][1] == "failed"
    assert cells[1][2].startswith("too_long:")
    assert cells[1][3] == 100
    assert cells[2][1] == "failed"
    assert cells[2][2].startswith("too_deeply_nested:")
    assert query(warehouse, "select outcome from raw.outcomes") == [("ingested",)]
    assert query(warehouse, "select package from raw.imports") == [("numpy",)]


def test_file_over_limit_is_skipped(tmp_path: Path) -> None:
    write(tmp_path / "nbs" / "big.ipynb", notebook("x = 1\n" * 1000))
    write(tmp_path / "nbs" / "small.ipynb", notebook("import os"))
    warehouse = tmp_path / "nb.duckdb"

    result = ingest(tmp_path / "nbs", "--warehouse", warehouse, "--max-file-mb", "0.001", "--quiet")

    assert result.returncode == 0, result.stderr
    outcomes = dict(query(warehouse, "select regexp_extract(path, '[^/]+$'), reason from raw.outcomes"))
    assert outcomes == {"big.ipynb": "too_large", "small.ipynb": None}
    assert "too_large 1" in result.stderr


def test_deep_expression_affects_one_file(tmp_path: Path) -> None:
    # libcst 1.x overflows its native stack on about 10,000 nested conditional
    # expressions and kills the process, unless the cell is caught before it
    # reaches the parser. Either way, no other file may suffer.
    crasher = "x = " + "1 if y else " * 20_000 + "1\n"
    write(tmp_path / "nbs" / "crash.ipynb", notebook("import numpy", crasher))
    for index in range(5):
        write(tmp_path / "nbs" / f"ok{index}.ipynb", notebook(f"import mod{index}"))
    warehouse = tmp_path / "nb.duckdb"

    result = ingest(tmp_path / "nbs", "--warehouse", warehouse, "--jobs", "1", "--timeout", "60")

    assert result.returncode == 0, result.stderr
    outcomes = dict(query(warehouse, "select regexp_extract(path, '[^/]+$'), outcome from raw.outcomes"))
    assert len(outcomes) == 6
    assert all(outcomes[f"ok{index}.ipynb"] == "ingested" for index in range(5))
    packages = {row[0] for row in query(warehouse, "select package from raw.imports")}
    assert {f"mod{index}" for index in range(5)} <= packages
    if outcomes["crash.ipynb"] != "ingested":
        assert query(warehouse, "select reason from raw.outcomes where path like '%crash.ipynb'") == [("worker_crashed",)]


def test_missing_source_fails_before_warehouse(tmp_path: Path) -> None:
    warehouse = tmp_path / "w" / "nb.duckdb"

    result = ingest(tmp_path / "nope", "--warehouse", warehouse)

    assert result.returncode == 1
    assert result.stderr.strip().endswith(f"Error: source not found: {tmp_path / 'nope'}")
    assert not warehouse.exists()


def test_locked_warehouse_fails_at_once(tmp_path: Path) -> None:
    warehouse = tmp_path / "nb.duckdb"
    write(tmp_path / "nbs" / "a.ipynb", notebook("import os"))
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(warehouse)!r}); print('ready', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        started = time.monotonic()

        result = ingest(tmp_path / "nbs", "--warehouse", warehouse)

        assert result.returncode == 1
        assert f"locked by another process" in result.stderr
        assert f"PID {holder.pid}" in result.stderr
        assert time.monotonic() - started < 60
    finally:
        holder.kill()
        holder.wait()


def test_warehouse_from_environment(tmp_path: Path) -> None:
    write(tmp_path / "nbs" / "a.ipynb", notebook("import os"))
    warehouse = tmp_path / "env.duckdb"
    env = {**os.environ, "NBCENSUS_WAREHOUSE": str(warehouse)}

    result = ingest(tmp_path / "nbs", "--quiet", env=env)

    assert result.returncode == 0, result.stderr
    assert query(warehouse, "select count(*) from raw.outcomes") == [(1,)]


def test_invalid_option_values_rejected(tmp_path: Path) -> None:
    for option, value in [("--jobs", "0"), ("--batch-size", "-1"), ("--max-file-mb", "0"), ("--timeout", "soon")]:
        result = ingest(tmp_path, option, value)

        assert result.returncode == 2, option
        assert option in result.stderr


def test_progress_log_line_when_not_a_terminal(caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()
    with caplog.at_level(logging.INFO, logger="ingest.progress"):
        with Progress(total=10, stream=stream, interval=0.0) as progress:
            progress.update(4, {"ingested": 3, "failed": 1, "skipped": 0})

    assert stream.getvalue() == ""
    (record,) = caplog.records
    assert "4/10 files (40%)" in record.getMessage()
    assert "ETA" in record.getMessage()
    assert "ingested 3, failed 1, skipped 0" in record.getMessage()


def test_progress_rate_leaves_out_initial_files(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="ingest.progress"):
        with Progress(total=10, stream=io.StringIO(), interval=0.0, initial=6) as progress:
            started = progress.started
            progress.update(2, {"ingested": 8})
            line = progress.status_line({"ingested": 8}, now=started + 2.0)

    (record,) = caplog.records
    assert "8/10 files (80%)" in record.getMessage()
    assert "1.0 files/s" in line
    assert "ETA 0:02" in line


def test_progress_disabled_is_silent(caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()
    with caplog.at_level(logging.INFO, logger="ingest.progress"):
        with Progress(total=10, enabled=False, stream=stream, interval=0.0) as progress:
            progress.update(10, {"ingested": 10})

    assert stream.getvalue() == ""
    assert caplog.records == []
