"""Hostile input: every broken, huge or crafted file gets an outcome with a reason, and the run goes on.

One `nbcensus ingest` run reads the whole tree that `hostile_inputs` writes
(a folder, a zip, a tar, corrupt archives and broken manifests) into a new
DuckDB file. The tests then compare raw.outcomes with what each file must get.
Smaller runs check the limit options and a worker that crashes or hangs.
"""

from __future__ import annotations

import os
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from hostile_inputs import (
    FAILED,
    INGESTED,
    MEBIBYTE,
    SKIPPED,
    SOURCE_NAMES,
    Expected,
    HostileTree,
    build_hostile_tree,
    code_cell,
    notebook_bytes,
    plain_notebook_bytes,
    run_ingest,
    summary_counts,
)

from ingest import dbt
from ingest.sources import iter_inputs

IS_ROOT = os.geteuid() == 0
ROOT_SKIP_REASON = "running as root: the kernel lets root read a file with mode 000"

OutcomeKey = tuple[str, str | None, str, str | None]  # path, member, outcome, reason


@dataclass(frozen=True)
class HostileRun:
    tree: HostileTree
    warehouse: Path
    returncode: int
    stderr: str
    outcomes: list[dict[str, object]]

    def rows_of(self, source: str) -> list[dict[str, object]]:
        return [row for row in self.outcomes if row["source"] == source]

    def expected_of(self, source: str) -> list[Expected]:
        return [case for case in self.tree.expected if case.source == source]

    def scalar(self, sql: str, parameters: list[object] | None = None) -> object:
        with duckdb.connect(str(self.warehouse), read_only=True) as connection:
            return connection.execute(sql, parameters or []).fetchone()[0]


def query_rows(warehouse: Path, sql: str) -> list[dict[str, object]]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        cursor = connection.execute(sql)
        columns = [description[0] for description in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> HostileRun:
    """Ingest the whole hostile tree once, with two worker processes."""
    workdir = tmp_path_factory.mktemp("hostile")
    tree_root = workdir / "tree"
    tree_root.mkdir()
    tree = build_hostile_tree(tree_root)
    warehouse = workdir / "warehouse.duckdb"

    result = run_ingest(tree.sources, warehouse, "--jobs", "2")
    outcomes = query_rows(warehouse, "select * from raw.outcomes") if warehouse.exists() else []
    return HostileRun(tree, warehouse, result.returncode, result.stderr, outcomes)


def key_of(case: Expected) -> OutcomeKey:
    return (case.path, case.member, case.outcome, case.reason)


def row_key(row: dict[str, object]) -> OutcomeKey:
    return (str(row["path"]), row["member"], str(row["outcome"]), row["reason"])  # type: ignore[return-value]


def applies(case: Expected) -> bool:
    return not (case.needs_non_root and IS_ROOT)


# --- the run ------------------------------------------------------------------


def test_hostile_run_exits_zero(hostile_run: HostileRun) -> None:
    assert hostile_run.returncode == 0, hostile_run.stderr[-5000:]


def test_hostile_run_reads_every_source(hostile_run: HostileRun) -> None:
    sources = {row["source"] for row in hostile_run.outcomes}

    for source in hostile_run.tree.sources:
        assert source in sources, f"no outcome rows for source {source}"


def source_path(hostile_run: HostileRun, name: str) -> str:
    return str(hostile_run.tree.root / name)


def test_hostile_sources_as_listed(hostile_run: HostileRun) -> None:
    assert hostile_run.tree.sources == [source_path(hostile_run, name) for name in SOURCE_NAMES]


@pytest.mark.parametrize("source_name", SOURCE_NAMES)
def test_hostile_outcomes_match(hostile_run: HostileRun, source_name: str) -> None:
    """Each listed file has exactly the outcome and reason its case names, and nothing else is listed."""
    source = source_path(hostile_run, source_name)
    skipped_paths = {case.path for case in hostile_run.expected_of(source) if not applies(case)}
    expected = Counter(key_of(case) for case in hostile_run.expected_of(source) if applies(case))
    actual = Counter(row_key(row) for row in hostile_run.rows_of(source) if row["path"] not in skipped_paths)

    missing = expected - actual
    unexpected = actual - expected
    assert not missing, f"expected outcomes not recorded: {sorted(missing, key=str)}"
    assert not unexpected, f"outcomes no case expects: {sorted(unexpected, key=str)}"


def test_hostile_counts_add_up_per_source(hostile_run: HostileRun) -> None:
    """Per source, the files the listing yields equal ingested + failed + skipped."""
    for source in hostile_run.tree.sources:
        listed = sum(1 for _ in iter_inputs(source))
        by_outcome = Counter(row["outcome"] for row in hostile_run.rows_of(source))

        assert set(by_outcome) <= {INGESTED, FAILED, SKIPPED}, f"{source}: {by_outcome}"
        assert by_outcome[INGESTED] + by_outcome[FAILED] + by_outcome[SKIPPED] == listed, source
        assert listed == len(hostile_run.expected_of(source)), f"{source}: the listing changed"


def test_hostile_summary_matches_table(hostile_run: HostileRun) -> None:
    printed = summary_counts(hostile_run.stderr)
    stored = Counter(row["outcome"] for row in hostile_run.outcomes)

    for outcome in (INGESTED, FAILED, SKIPPED):
        assert printed.get(outcome) == stored[outcome], f"{outcome}: printed {printed}, stored {dict(stored)}"


def test_hostile_outcomes_have_reasons(hostile_run: HostileRun) -> None:
    for row in hostile_run.outcomes:
        if row["outcome"] == INGESTED:
            assert row["reason"] is None, row
        else:
            assert row["reason"], f"no reason: {row}"
            assert row["detail"], f"no detail: {row}"


def test_hostile_no_internal_errors(hostile_run: HostileRun) -> None:
    internal = [row for row in hostile_run.outcomes if row["reason"] in ("internal_error", "worker_crashed")]

    assert internal == []


def test_hostile_file_ids_unique(hostile_run: HostileRun) -> None:
    """A file listed by two manifests keeps one row per listing, so file_id stays a key."""
    file_ids = Counter(row["file_id"] for row in hostile_run.outcomes)

    assert [file_id for file_id, count in file_ids.items() if count > 1] == []


def test_hostile_unlisted_files_have_no_rows(hostile_run: HostileRun) -> None:
    paths = {row["path"] for row in hostile_run.outcomes}

    for path in hostile_run.tree.unlisted:
        assert path not in paths


def test_hostile_notebook_rows_match_outcomes(hostile_run: HostileRun) -> None:
    """Every ingested file has a notebooks row, and every notebooks row an outcome."""
    notebooks = query_rows(hostile_run.warehouse, "select file_id from raw.notebooks")
    ingested = {row["file_id"] for row in hostile_run.outcomes if row["outcome"] == INGESTED}
    not_python = {row["file_id"] for row in hostile_run.outcomes if row["reason"] == "not_python"}

    assert {row["file_id"] for row in notebooks} == ingested | not_python


# --- what the ingested hostile files hold --------------------------------------


def ingested_cases(hostile_run: HostileRun) -> list[Expected]:
    return [case for case in hostile_run.tree.expected if case.outcome == INGESTED and applies(case)]


def notebook_of(hostile_run: HostileRun, case: Expected) -> dict[str, object]:
    rows = query_rows(
        hostile_run.warehouse,
        "select n.* from raw.notebooks n join raw.outcomes o using (file_id) "
        f"where o.source = '{case.source}' and o.path = '{case.path}' "
        + ("and o.member is null" if case.member is None else f"and o.member = '{case.member}'"),
    )
    assert rows, f"{case.name}: no notebooks row"
    return rows[0]


def test_ingested_cell_counts(hostile_run: HostileRun) -> None:
    for case in ingested_cases(hostile_run):
        if case.cells is None:
            continue
        notebook = notebook_of(hostile_run, case)
        stored_cells = hostile_run.scalar(
            "select count(*) from raw.cells where notebook_id = ?", [notebook["notebook_id"]]
        )

        assert notebook["cells"] == case.cells, case.name
        assert stored_cells == case.cells, case.name


def test_ingested_packages_found(hostile_run: HostileRun) -> None:
    for case in ingested_cases(hostile_run):
        notebook = notebook_of(hostile_run, case)
        packages = {
            row["package"]
            for row in query_rows(
                hostile_run.warehouse,
                f"select distinct package from raw.imports where notebook_id = '{notebook['notebook_id']}'",
            )
        }

        for package in case.packages:
            assert package in packages, f"{case.name}: no import of {package} in {sorted(map(str, packages))}"


def test_ingested_failed_cells(hostile_run: HostileRun) -> None:
    """Cells over a limit, or too deep to parse, fail alone; the other cells of the notebook are parsed."""
    for case in ingested_cases(hostile_run):
        if case.failed_cells is None:
            continue
        notebook = notebook_of(hostile_run, case)
        failed = hostile_run.scalar(
            "select count(*) from raw.cells where notebook_id = ? and status = 'failed'", [notebook["notebook_id"]]
        )

        assert failed == case.failed_cells, case.name


def test_long_line_cell_error_names_limit(hostile_run: HostileRun) -> None:
    case = next(case for case in hostile_run.tree.expected if case.name == "long_line.ipynb")
    notebook = notebook_of(hostile_run, case)

    error = hostile_run.scalar(
        "select error from raw.cells where notebook_id = ? and status = 'failed'", [notebook["notebook_id"]]
    )

    assert str(error).startswith("too_long")


def test_deep_nesting_cell_errors_name_limit(hostile_run: HostileRun) -> None:
    case = next(case for case in hostile_run.tree.expected if case.name == "deep_nesting.ipynb")
    notebook = notebook_of(hostile_run, case)

    errors = [
        row["error"]
        for row in query_rows(
            hostile_run.warehouse,
            f"select error from raw.cells where notebook_id = '{notebook['notebook_id']}' and status = 'failed'",
        )
    ]

    assert len(errors) == case.failed_cells
    for error in errors:
        assert str(error).startswith("too_deeply_nested"), error


def test_surrogates_stored_as_replacement(hostile_run: HostileRun) -> None:
    case = next(case for case in hostile_run.tree.expected if case.name == "unpaired_surrogates.ipynb")

    notebook = notebook_of(hostile_run, case)

    assert notebook["kernel"] == "python3\ufffd"


def test_big_notebook_size_recorded(hostile_run: HostileRun) -> None:
    case = next(case for case in hostile_run.tree.expected if case.name == "big_outputs.ipynb")

    notebook = notebook_of(hostile_run, case)

    assert int(notebook["size_bytes"]) >= 50 * MEBIBYTE  # type: ignore[call-overload]


def test_manifest_latin1_metadata_decoded(hostile_run: HostileRun) -> None:
    source = next(source for source in hostile_run.tree.sources if source.endswith("manifest_latin1.csv"))

    titles = [
        row["metadata"]
        for row in query_rows(hostile_run.warehouse, f"select metadata from raw.notebooks where source = '{source}'")
    ]

    assert any("Café" in str(title) for title in titles), titles


@pytest.mark.skipif(IS_ROOT, reason=ROOT_SKIP_REASON)
def test_file_without_permission_unreadable(hostile_run: HostileRun) -> None:
    case = next(case for case in hostile_run.tree.expected if case.name == "no_permission.ipynb")

    rows = [row for row in hostile_run.outcomes if row["path"] == case.path]

    assert [(row["outcome"], row["reason"]) for row in rows] == [(FAILED, "unreadable")]


@pytest.mark.slow
def test_hostile_warehouse_passes_dbt_build(hostile_run: HostileRun, tmp_path: Path) -> None:
    """dbt's tests pass on the hostile warehouse, and ingest_coverage counts every input file."""
    copy = tmp_path / "warehouse.duckdb"
    copy.write_bytes(hostile_run.warehouse.read_bytes())

    dbt.build(copy, target_path=tmp_path / "target", log_path=tmp_path / "logs")

    coverage = query_rows(
        copy, "select item, detail, value from marts.ingest_coverage where section = 'input_files'"
    )
    by_outcome = Counter()
    for row in coverage:
        by_outcome[row["item"]] += int(row["value"])  # type: ignore[call-overload]
    stored = Counter(row["outcome"] for row in hostile_run.outcomes)
    assert by_outcome == stored
    assert sum(by_outcome.values()) == len(hostile_run.tree.expected)


# --- limits given as options ----------------------------------------------------


def test_limit_options_skip_with_reason(tmp_path: Path) -> None:
    """A file over a limit given on the command line is skipped with that limit's reason."""
    folder = tmp_path / "limits"
    folder.mkdir()
    big = notebook_bytes([code_cell("import os\n"), code_cell("x = '" + "a" * (2 * MEBIBYTE) + "'\n")])
    (folder / "big.ipynb").write_bytes(big)
    (folder / "many_cells.ipynb").write_bytes(notebook_bytes([code_cell(f"x = {i}\n") for i in range(101)]))
    (folder / "long_cell.ipynb").write_bytes(
        notebook_bytes([code_cell("import json\nx = '" + "b" * 1000 + "'\n"), code_cell("import os\n")])
    )
    nested = "import re\nx = " + "(" * 11 + "1" + ")" * 11 + "\n"
    (folder / "nested.ipynb").write_bytes(notebook_bytes([code_cell(nested), code_cell("import sys\n")]))
    (folder / "small.ipynb").write_bytes(plain_notebook_bytes("small"))
    warehouse = tmp_path / "warehouse.duckdb"

    result = run_ingest(
        [str(folder)], warehouse,
        "--jobs", "1", "--max-file-mb", "1", "--max-cells", "100", "--max-cell-chars", "1000", "--max-nesting", "10",
    )

    assert result.returncode == 0, result.stderr
    outcomes = {
        Path(str(row["path"])).name: (row["outcome"], row["reason"])
        for row in query_rows(warehouse, "select path, outcome, reason from raw.outcomes")
    }
    assert outcomes == {
        "big.ipynb": (SKIPPED, "too_large"),
        "many_cells.ipynb": (SKIPPED, "too_many_cells"),
        "long_cell.ipynb": (INGESTED, None),
        "nested.ipynb": (INGESTED, None),
        "small.ipynb": (INGESTED, None),
    }
    cell_errors = {
        (Path(str(row["path"])).name, row["cell_index"]): str(row["error"]).split(":")[0]
        for row in query_rows(
            warehouse,
            "select n.path, c.cell_index, c.error from raw.cells c join raw.notebooks n using (notebook_id) "
            "where c.status = 'failed'",
        )
    }
    assert cell_errors == {("long_cell.ipynb", 0): "too_long", ("nested.ipynb", 0): "too_deeply_nested"}


def test_limit_options_reject_zero(tmp_path: Path) -> None:
    result = run_ingest([str(tmp_path)], tmp_path / "warehouse.duckdb", "--max-cells", "0")

    assert result.returncode == 2
    assert "--max-cells" in result.stderr
    assert "at least 1" in result.stderr


def test_limit_zip_member_over_file_limit(tmp_path: Path) -> None:
    archive = tmp_path / "members.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as handle:
        handle.writestr("big.ipynb", notebook_bytes([code_cell("x = '" + " " * (2 * MEBIBYTE) + "'\n")]))
        handle.writestr("small.ipynb", plain_notebook_bytes("zip small"))
    warehouse = tmp_path / "warehouse.duckdb"

    result = run_ingest([str(archive)], warehouse, "--jobs", "1", "--max-file-mb", "1")

    assert result.returncode == 0, result.stderr
    outcomes = {
        row["member"]: (row["outcome"], row["reason"])
        for row in query_rows(warehouse, "select member, outcome, reason from raw.outcomes")
    }
    assert outcomes == {"big.ipynb": (SKIPPED, "too_large"), "small.ipynb": (INGESTED, None)}
