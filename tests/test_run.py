"""`nbcensus run` end to end: the example collection, the real corpus, failures.

The study fixtures (tests/conftest.py) run the real CLI once per session:
ingest into a new DuckDB file, `dbt build`, the report and the docs page.
"""

from __future__ import annotations

import csv
import importlib.util
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import duckdb
import pytest
from conftest import EXAMPLES_MANIFEST, REPO_ROOT, StudyRun

from ingest import dbt
from ingest.errors import NbcensusError
from ingest.run import StepTimes
from reports.queries import MARTS

STEPS = ("ingest", "dbt build", "report", "dbt docs")


def mart_row_counts(warehouse: Path) -> dict[str, int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {mart: con.execute(f"select count(*) from marts.{mart}").fetchone()[0] for mart in MARTS}


def scalar(warehouse: Path, sql: str) -> object:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchone()[0]


# --- the example collection ---------------------------------------------------


def test_run_examples_prints_paths(examples_study: StudyRun) -> None:
    stdout = examples_study.result.stdout

    assert f"warehouse: {examples_study.warehouse}" in stdout
    assert f"report:    {examples_study.out / 'index.html'}" in stdout
    assert f"report:    {examples_study.out / 'findings.html'}" in stdout
    assert f"docs:      {examples_study.target / dbt.STATIC_PAGE}" in stdout


def test_run_examples_writes_every_output(examples_study: StudyRun) -> None:
    assert examples_study.warehouse.is_file()
    assert (examples_study.out / "index.html").is_file()
    assert (examples_study.out / "findings.html").is_file()
    assert (examples_study.target / dbt.STATIC_PAGE).is_file()


def test_run_examples_prints_step_times(examples_study: StudyRun) -> None:
    stdout = examples_study.result.stdout

    for step in (*STEPS, "total"):
        assert re.search(rf"^  {step}: +\d+\.\d s$", stdout, re.MULTILINE), f"no wall time for {step}:\n{stdout}"


def test_run_examples_prints_headline(examples_study: StudyRun) -> None:
    stdout = examples_study.result.stdout
    python_notebooks = scalar(examples_study.warehouse, "select max(python_notebooks) from marts.package_share")
    boto_share = scalar(
        examples_study.warehouse, "select share from marts.package_share where kind = 'family' and family = 'boto'"
    )

    assert f"Python notebooks: {python_notebooks:,}" in stdout
    assert f"{float(boto_share) * 100:.2f} %" in stdout


def test_run_examples_every_mart_has_rows(examples_study: StudyRun) -> None:
    counts = mart_row_counts(examples_study.warehouse)

    for mart, rows in counts.items():
        assert rows > 0, f"marts.{mart} is empty"


# The example collection exists to light up every figure; these checks fail
# when an edit of examples/make_examples.py leaves a figure without data.


@pytest.mark.parametrize("package", ["boto", "boto3", "botocore", "sagemaker", "mxnet"])
def test_examples_have_members_of(examples_study: StudyRun, package: str) -> None:
    members = scalar(examples_study.warehouse, f"select count(*) from marts.member_uses where package = '{package}'")

    assert members >= 2


@pytest.mark.parametrize("api", ["client", "resource"])
def test_examples_have_boto3_services(examples_study: StudyRun, api: str) -> None:
    services = scalar(
        examples_study.warehouse, f"select count(*) from marts.boto_services where api = '{api}' and uses > 0"
    )

    assert services >= 2


@pytest.mark.parametrize("population", ["boto", "boto_sagemaker_client"])
def test_examples_have_training_styles(examples_study: StudyRun, population: str) -> None:
    with duckdb.connect(str(examples_study.warehouse), read_only=True) as con:
        row = con.execute(
            """
            select create_training_job_notebooks, fit_notebooks, both_notebooks,
                sagemaker_fit_notebooks, other_fit_notebooks
            from marts.training_style where population = ?
            """,
            [population],
        ).fetchone()

    assert row is not None
    create_training_job, fit, both, sagemaker_fit, other_fit = row
    assert create_training_job > 0
    assert fit > 0
    assert both > 0
    assert sagemaker_fit > 0
    if population == "boto":
        assert other_fit > 0


def test_examples_pairs_have_correlations(examples_study: StudyRun) -> None:
    nulls = scalar(
        examples_study.warehouse,
        "select count(*) from marts.package_cooccurrence where phi is null",
    )
    pairs = scalar(examples_study.warehouse, "select count(*) from marts.package_cooccurrence")

    assert pairs >= 6
    assert nulls == 0


def test_examples_trend_spans_two_years(examples_study: StudyRun) -> None:
    months = scalar(examples_study.warehouse, "select count(distinct month) from marts.package_trend_monthly")

    assert months == 24


@pytest.mark.parametrize(
    ("section", "item"),
    [
        ("input_files", "ingested"),
        ("input_files", "failed"),
        ("input_files", "skipped"),
        ("cells", "parsed"),
        ("cells", "fallback"),
        ("cells", "not_python"),
        ("duplicates", "duplicate_python_files"),
    ],
)
def test_examples_cover_outcome(examples_study: StudyRun, section: str, item: str) -> None:
    value = scalar(
        examples_study.warehouse,
        f"select sum(value) from marts.ingest_coverage where section = '{section}' and item = '{item}'",
    )

    assert value is not None and value > 0, f"no {item} in coverage section {section}"


def load_generator(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_examples", REPO_ROOT / "examples" / "make_examples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses looks the module up in sys.modules to resolve string annotations.
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def test_examples_match_their_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    generator = load_generator(monkeypatch)
    examples = generator.collection()

    with zipfile.ZipFile(generator.ARCHIVE_PATH) as archive:
        for example in examples:
            if example.in_archive:
                stored = archive.read(example.path).decode("utf-8")
            else:
                stored = (generator.NOTEBOOKS_DIR / example.path).read_text(encoding="utf-8")
            assert stored == example.content(), f"{example.path} differs: run python examples/make_examples.py"

    manifest_rows = EXAMPLES_MANIFEST.read_text(encoding="utf-8").splitlines()
    assert len(manifest_rows) == len(examples) + 1


# --- the real corpus --------------------------------------------------------------


@pytest.mark.corpus
@pytest.mark.slow
def test_run_corpus_every_mart_has_rows(corpus_study: StudyRun) -> None:
    counts = mart_row_counts(corpus_study.warehouse)

    for mart, rows in counts.items():
        assert rows > 0, f"marts.{mart} is empty"


@pytest.mark.corpus
@pytest.mark.slow
def test_run_corpus_every_manifest_row_has_outcome(corpus_study: StudyRun, corpus_manifest: Path) -> None:
    with corpus_manifest.open(encoding="utf-8", newline="") as handle:
        manifest_rows = sum(1 for _ in csv.DictReader(handle))
    input_files = scalar(
        corpus_study.warehouse, "select sum(value) from marts.ingest_coverage where section = 'input_files'"
    )

    assert input_files == manifest_rows


@pytest.mark.corpus
@pytest.mark.slow
def test_run_corpus_prints_step_times(corpus_study: StudyRun) -> None:
    stdout = corpus_study.result.stdout

    for step in (*STEPS, "total"):
        assert re.search(rf"^  {step}: +\d+\.\d s$", stdout, re.MULTILINE), f"no wall time for {step}:\n{stdout}"


# --- failures name their step -------------------------------------------------------


def test_run_missing_source_names_ingest(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    result = subprocess.run(
        [sys.executable, "-m", "ingest.cli", "run", str(missing), "--warehouse", str(tmp_path / "w.duckdb"), "--quiet"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 1
    assert "Error: step 'ingest' failed" in result.stderr
    assert str(missing) in result.stderr


def test_step_times_names_failed_dbt_build(tmp_path: Path) -> None:
    """A DuckDB file without the raw tables makes the real `dbt build` fail on its sources."""
    warehouse = tmp_path / "no_raw_tables.duckdb"
    duckdb.connect(str(warehouse)).close()
    times = StepTimes()

    with pytest.raises(NbcensusError, match=r"^step 'dbt build' failed: dbt build failed"):
        times.run("dbt build", lambda: dbt.build(warehouse, target_path=tmp_path / "target", log_path=tmp_path / "logs"))

    assert "dbt build" not in times.seconds


def test_step_times_names_unexpected_error() -> None:
    times = StepTimes()

    def broken_step() -> None:
        raise KeyError("month")

    with pytest.raises(NbcensusError, match=r"^step 'report' failed: KeyError: 'month'$"):
        times.run("report", broken_step)


def test_step_times_records_each_step() -> None:
    times = StepTimes()

    first = times.run("first", lambda: 1)
    second = times.run("second", lambda: 2)

    assert (first, second) == (1, 2)
    assert list(times.seconds) == ["first", "second"]
    assert times.total == pytest.approx(sum(times.seconds.values()))
