"""The report: pages written from the marts, numbers quoted exactly, gaps shown as gaps.

The expected strings are formatted here with plain f-strings from values read
straight out of the marts, so a test fails when the page rounds, computes or
fills in a number differently from the mart.
"""

from __future__ import annotations

import ast
import html
import re
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import REPO_ROOT, StudyRun

from ingest.errors import NbcensusError
from reports import formatting
from reports.build import FIGURES_PAGE, FINDINGS_PAGE, build_report

FIGURE_IDS = (
    "figure-adoption",
    "figure-boto",
    "figure-sagemaker",
    "figure-mxnet",
    "figure-correlation",
    "figure-training",
    "figure-coverage",
)


@pytest.fixture(
    params=["examples", pytest.param("corpus", marks=[pytest.mark.corpus, pytest.mark.slow])],
)
def study(request: pytest.FixtureRequest) -> StudyRun:
    return request.getfixturevalue(f"{request.param}_study")


def page_text(path: Path) -> str:
    """The visible text of a page: tags removed, entities decoded, spaces collapsed."""
    without_tags = re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8"))
    return re.sub(r"\s+", " ", html.unescape(without_tags))


def rows(warehouse: Path, sql: str) -> list[dict[str, Any]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cursor = con.execute(sql)
        columns = [description[0] for description in cursor.description]
        return [dict(zip(columns, values)) for values in cursor.fetchall()]


def pct(value: float | Decimal) -> str:
    return f"{float(value) * 100:.2f} %"


# --- the findings page quotes the marts ---------------------------------------------


def test_findings_quote_family_shares(study: StudyRun) -> None:
    text = page_text(study.out / FINDINGS_PAGE)
    families = rows(study.warehouse, "select * from marts.package_share where kind = 'family'")

    assert families
    for row in families:
        expected = (
            f"{pct(row['share'])} of Python notebooks import {row['family']} ({row['packages']}): "
            f"{row['notebooks']:,} of {row['python_notebooks']:,}, 95 % Wilson interval "
            f"{pct(row['share_ci_low'])} to {pct(row['share_ci_high'])}."
        )
        assert expected in text


def test_findings_quote_correlations(study: StudyRun) -> None:
    text = page_text(study.out / FINDINGS_PAGE)
    pairs = rows(
        study.warehouse,
        "select * from marts.package_cooccurrence where family_a < family_b and not has_shared_packages",
    )

    assert pairs
    for row in pairs:
        phi = "n/a" if row["phi"] is None else f"{float(row['phi']):.2f}"
        assert f"{row['family_a']} and {row['family_b']}: r = {phi} ({row['both']:,} notebooks import both)" in text
        if row["lift"] is not None:
            assert f"lift {float(row['lift']):.2f}" in text


def test_findings_quote_training_style(study: StudyRun) -> None:
    text = page_text(study.out / FINDINGS_PAGE)
    populations = rows(study.warehouse, "select * from marts.training_style where notebooks > 0")

    assert populations
    for row in populations:
        assert f"Of the {row['notebooks']:,} " in text
        assert (
            f"{pct(row['create_training_job_share'])} call create_training_job "
            f"(95 % interval {pct(row['create_training_job_share_ci_low'])} to {pct(row['create_training_job_share_ci_high'])}), "
            f"{pct(row['fit_share'])} call fit or fit_generator"
        ) in text
        assert f"and {pct(row['both_share'])} call both." in text
        assert f"{pct(row['sagemaker_fit_share'])} call fit on a SageMaker estimator" in text
        assert f"and {pct(row['other_fit_share'])} on another receiver." in text


def test_findings_quote_growth(study: StudyRun) -> None:
    text = page_text(study.out / FINDINGS_PAGE)
    latest = rows(
        study.warehouse,
        """
        select family, month, cumulative_notebooks, cumulative_share, share
        from marts.package_trend_monthly
        where month = (select max(month) from marts.package_trend_monthly)
        """,
    )

    assert latest
    for row in latest:
        assert f"{row['cumulative_notebooks']:,} notebooks import it by {row['month']:%Y-%m}" in text
        assert f"That is {pct(row['cumulative_share'])} of the dated Python notebooks up to {row['month']:%Y-%m}" in text
        share = "n/a" if row["share"] is None else pct(row["share"])
        assert f"in {row['month']:%Y-%m} alone it is {share}." in text


def test_findings_quote_top_services(study: StudyRun) -> None:
    text = page_text(study.out / FINDINGS_PAGE)
    top = rows(
        study.warehouse,
        """
        select api, service, uses, notebooks
        from marts.boto_services
        where uses > 0
        qualify row_number() over (partition by api order by notebooks desc, uses desc, service) = 1
        """,
    )

    assert top
    for row in top:
        assert f"The boto3 {row['api']}s built in the most notebooks: {row['service']} ({row['notebooks']:,} notebooks, {row['uses']:,} uses)" in text


def test_findings_quote_top_members(study: StudyRun) -> None:
    text = page_text(study.out / FINDINGS_PAGE)
    top = rows(
        study.warehouse,
        "select package, member, uses, notebooks from marts.member_uses where rank_in_package = 1 and package in ('sagemaker', 'boto3', 'mxnet')",
    )

    assert top
    for row in top:
        assert f"The most used members of {row['package']}: {row['member']} ({row['notebooks']:,} notebooks, {row['uses']:,} uses)" in text


def test_findings_quote_coverage(study: StudyRun) -> None:
    text = page_text(study.out / FINDINGS_PAGE)
    totals = {
        row["item"]: row["value"]
        for row in rows(
            study.warehouse,
            "select item, sum(value) as value from marts.ingest_coverage where section = 'input_files' group by item",
        )
    }
    total = sum(totals.values())

    assert f"nbcensus read {total:,} input files: {totals.get('ingested', 0):,} ingested" in text


def test_findings_name_a_source_for_every_sentence(study: StudyRun) -> None:
    page = (study.out / FINDINGS_PAGE).read_text(encoding="utf-8")
    items = re.findall(r"<li>(.*?)</li>", page, re.DOTALL)

    assert len(items) >= 10
    for item in items:
        assert '<span class="source">source: marts.' in item, item


# --- missing values ------------------------------------------------------------------


def test_null_in_mart_shows_as_missing(examples_study: StudyRun, tmp_path: Path) -> None:
    """Nulls written into a copy of the marts come out as n/a, never as zero."""
    warehouse = tmp_path / "with_nulls.duckdb"
    shutil.copyfile(examples_study.warehouse, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "update marts.package_share set share = null, share_ci_low = null, share_ci_high = null "
            "where kind = 'family' and family = 'mxnet'"
        )
        con.execute("update marts.package_cooccurrence set phi = null, lift = null where family_a = 'boto' and family_b = 'mxnet'")
        con.execute("update marts.training_style set fit_share = null where population = 'boto'")

    build_report(warehouse, tmp_path / "report")
    text = page_text(tmp_path / "report" / FINDINGS_PAGE)

    assert "n/a of Python notebooks import mxnet" in text
    assert re.search(r"import mxnet \(mxnet\): \d+ of [\d,]+, 95 % Wilson interval n/a\.", text)
    assert re.search(r"boto and mxnet: r = n/a \(\d+ notebooks import both\)", text)
    assert re.search(r"lift n/a\.", text)
    assert re.search(r"notebooks importing boto, boto3 or botocore, [\d.]+ % call create_training_job \([^)]*\), n/a call fit", text)


def test_formatting_writes_null_as_missing() -> None:
    assert formatting.count(None) == "n/a"
    assert formatting.percent(None) == "n/a"
    assert formatting.interval(0.1, None) == "n/a"
    assert formatting.correlation(None) == "n/a"
    assert formatting.month(None) == "n/a"


def test_formatting_keeps_zero_and_sign() -> None:
    assert formatting.count(0) == "0"
    assert formatting.percent(0) == "0.00 %"
    assert formatting.percent(Decimal("0.0011")) == "0.11 %"
    assert formatting.correlation(-0.031) == "-0.03"
    assert formatting.count(12345) == "12,345"


# --- the figures page ----------------------------------------------------------------


def test_figures_page_embeds_plotly_once(study: StudyRun) -> None:
    page = (study.out / FIGURES_PAGE).read_text(encoding="utf-8")

    assert page.count("* plotly.js v") == 1
    assert not re.search(r"<script[^>]+src=", page), "a script is loaded from elsewhere"


def test_figures_page_has_every_figure(study: StudyRun) -> None:
    page = (study.out / FIGURES_PAGE).read_text(encoding="utf-8")

    for figure_id in FIGURE_IDS:
        assert f'id="{figure_id}"' in page


def test_pages_link_each_other(study: StudyRun) -> None:
    for name in (FIGURES_PAGE, FINDINGS_PAGE):
        page = (study.out / name).read_text(encoding="utf-8")
        assert f'href="{FIGURES_PAGE}"' in page
        assert f'href="{FINDINGS_PAGE}"' in page


# --- reading only the marts -----------------------------------------------------------


def test_report_without_marts_asks_for_dbt_build(tmp_path: Path) -> None:
    warehouse = tmp_path / "raw_only.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema raw")
        con.execute("create table raw.notebooks (notebook_id varchar)")

    with pytest.raises(NbcensusError, match=r"has no mart\(s\) package_share, .*run `dbt build`"):
        build_report(warehouse, tmp_path / "report")


def test_report_without_warehouse_names_path(tmp_path: Path) -> None:
    missing = tmp_path / "missing.duckdb"

    with pytest.raises(NbcensusError, match=re.escape(str(missing))):
        build_report(missing, tmp_path / "report")


def test_report_sql_reads_only_marts() -> None:
    """Every table named in the report's string literals is in the marts schema (or DuckDB's catalog)."""
    tables_named = 0
    for module in sorted((REPO_ROOT / "reports").glob("*.py")):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        literals = [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)]
        for literal in literals:
            for schema, table in re.findall(r"\b(?:from|join)\s+([a-z_]+)\.([a-z_]+)", literal):
                tables_named += 1
                assert schema in ("marts", "information_schema"), f"{module.name} reads {schema}.{table}"

    assert tables_named >= 10
