"""The dbt project, built once on the hand-written warehouse of tests/dbt_fixtures.py.

Expected values are worked out by hand from the rows in dbt_fixtures; its
module docstring has the table of notebooks they come from.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from dbt_fixtures import write_raw_warehouse
from ingest import cli
from ingest import dbt as dbt_runner
from ingest.errors import NbcensusError

MARTS = (
    "package_share",
    "package_trend_monthly",
    "package_cooccurrence",
    "member_uses",
    "boto_services",
    "training_style",
    "ingest_coverage",
)


@dataclass(frozen=True)
class BuiltWarehouse:
    warehouse: Path
    target_path: Path
    log_path: Path


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuiltWarehouse:
    """Write the raw tables by hand and run `dbt build` on them once for the session."""
    folder = tmp_path_factory.mktemp("dbt")
    warehouse = folder / "fixture.duckdb"
    write_raw_warehouse(warehouse)
    built = BuiltWarehouse(warehouse, folder / "target", folder / "logs")
    dbt_runner.build(warehouse, target_path=built.target_path, log_path=built.log_path)
    return built


@pytest.fixture()
def marts(built: BuiltWarehouse) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(built.warehouse), read_only=True)
    yield connection
    connection.close()


def rows(connection: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = connection.execute(sql)
    columns = [description[0] for description in cursor.description]
    return [dict(zip(columns, values)) for values in cursor.fetchall()]


def run_results(built: BuiltWarehouse) -> list[dict[str, Any]]:
    return json.loads((built.target_path / "run_results.json").read_text(encoding="utf-8"))["results"]


def test_build_passes_all_tests(built: BuiltWarehouse) -> None:
    results = run_results(built)
    statuses = {result["unique_id"]: result["status"] for result in results}
    unit_tests = [node for node in statuses if node.startswith("unit_test.")]
    data_tests = [node for node in statuses if node.startswith("test.")]
    models = [node for node in statuses if node.startswith("model.")]

    assert len(unit_tests) >= 7
    assert len(data_tests) >= 100
    assert {f"model.nbcensus.{mart}" for mart in MARTS} <= set(models)
    assert {status for status in statuses.values()} <= {"success", "pass"}


def test_marts_live_in_marts_schema(marts: duckdb.DuckDBPyConnection) -> None:
    tables = rows(marts, "select schema_name, table_name from duckdb_tables() where schema_name = 'marts'")
    assert {row["table_name"] for row in tables} == set(MARTS)

    views = rows(marts, "select schema_name from duckdb_views() where view_name like 'stg_ingest__%'")
    assert {row["schema_name"] for row in views} == {"staging"}


def test_package_share_families(marts: duckdb.DuckDBPyConnection) -> None:
    shares = {
        row["family"]: row
        for row in rows(marts, "select * from marts.package_share where kind = 'family'")
    }

    # Six Python contents (A, B, C, E, F, G): f3 copies A, f5 is R.
    assert {row["python_notebooks"] for row in shares.values()} == {6}
    assert {family: row["notebooks"] for family, row in shares.items()} == {
        "sagemaker": 2,
        "boto": 4,
        "mxnet": 1,
        "aws": 5,
    }
    assert shares["boto"]["share"] == pytest.approx(4 / 6)
    assert shares["boto"]["packages"] == "boto, boto3, botocore"
    # Wilson 95 % for 2 of 6: centre 0.39843, half-width 0.30162.
    assert shares["sagemaker"]["share_ci_low"] == pytest.approx(0.0967693326)
    assert shares["sagemaker"]["share_ci_high"] == pytest.approx(0.7000116787)


def test_package_share_packages(marts: duckdb.DuckDBPyConnection) -> None:
    notebooks = {
        row["family"]: row["notebooks"]
        for row in rows(marts, "select family, notebooks from marts.package_share where kind = 'package'")
    }

    assert notebooks == {
        "boto3": 3,
        "boto": 1,
        "botocore": 0,
        "sagemaker": 2,
        "mxnet": 1,
        "numpy": 1,
        "tensorflow": 1,
    }


def test_cooccurrence_sagemaker_boto(marts: duckdb.DuckDBPyConnection) -> None:
    [pair] = rows(
        marts,
        """
        select *
        from marts.package_cooccurrence
        where family_a = 'sagemaker' and family_b = 'boto'
        """,
    )

    # A imports both, F only sagemaker, B, E and G only boto, C neither.
    assert (pair["both"], pair["only_a"], pair["only_b"], pair["neither"]) == (1, 1, 3, 1)
    assert pair["phi"] == pytest.approx((1 * 1 - 1 * 3) / (2 * 4 * 4 * 2) ** 0.5)
    assert pair["p_a_given_b"] == pytest.approx(1 / 4)
    assert pair["p_b_given_a"] == pytest.approx(1 / 2)
    assert pair["lift"] == pytest.approx(1 * 6 / (2 * 4))
    assert pair["has_shared_packages"] is False


def test_cooccurrence_pairs_are_ordered(marts: duckdb.DuckDBPyConnection) -> None:
    pairs = rows(marts, "select family_a, family_b, phi from marts.package_cooccurrence")
    phi = {(row["family_a"], row["family_b"]): row["phi"] for row in pairs}

    assert len(pairs) == 4 * 3
    assert phi[("boto", "mxnet")] == phi[("mxnet", "boto")]
    assert phi[("boto", "mxnet")] == pytest.approx(2 / 40**0.5)


def test_mxnet_independence_analysis(built: BuiltWarehouse, docs_page: Path, marts: duckdb.DuckDBPyConnection) -> None:
    # `dbt docs generate` compiles the analyses as well.
    compiled = built.target_path / "compiled" / "nbcensus" / "analyses" / "mxnet_independence.sql"
    [result] = rows(marts, compiled.read_text(encoding="utf-8"))

    # r(sagemaker, boto) = -1/4, r(sagemaker, mxnet) = -2/sqrt(40), r(boto, mxnet) = 2/sqrt(40), so
    # det3 = 1 + 2 (-1/4)(-1/10) - 1/16 - 1/10 - 1/10 = 0.7875 and det2 = 1 - 1/16 = 0.9375.
    assert result["determinant_3x3"] == pytest.approx(0.7875)
    assert result["determinant_2x2"] == pytest.approx(0.9375)
    assert result["determinant_ratio"] == pytest.approx(0.84)


def test_trend_fills_empty_months(marts: duckdb.DuckDBPyConnection) -> None:
    trend = rows(
        marts,
        """
        select strftime(month, '%Y-%m') as month, python_notebooks, notebooks, share, cumulative_notebooks
        from marts.package_trend_monthly
        where family = 'sagemaker'
        order by month
        """,
    )

    # A (2020-01) imports sagemaker; F imports it too but has no dates.
    assert [row["month"] for row in trend] == ["2020-01", "2020-02", "2020-03"]
    assert [row["python_notebooks"] for row in trend] == [1, 1, 3]
    assert [row["notebooks"] for row in trend] == [1, 0, 0]
    assert [row["cumulative_notebooks"] for row in trend] == [1, 1, 1]
    assert trend[1]["share"] == 0


def test_member_uses(marts: duckdb.DuckDBPyConnection) -> None:
    members = {
        (row["package"], row["member"]): row
        for row in rows(marts, "select * from marts.member_uses")
    }

    # G builds its client through boto3.Session, which counts as member Session.
    assert members[("boto3", "client")]["uses"] == 4
    assert members[("boto3", "client")]["notebooks"] == 2
    assert members[("boto3", "Session")]["notebooks"] == 1
    assert members[("boto3", "client")]["rank_in_package"] == 1
    # `from boto import regioninfo` is an import of member regioninfo.
    assert members[("boto", "regioninfo")]["imports"] == 1
    assert members[("boto", "regioninfo")]["uses"] == 1
    assert members[("sagemaker", "get_execution_role")]["notebooks"] == 2
    assert members[("sagemaker", "estimator")]["package_notebook_share"] == pytest.approx(0.5)
    # Method calls on a client are not member uses.
    assert ("boto3", "create_training_job") not in members


def test_boto_services(marts: duckdb.DuckDBPyConnection) -> None:
    services = {
        (row["api"], row["service"]): (row["uses"], row["notebooks"], row["method_calls"])
        for row in rows(marts, "select * from marts.boto_services")
    }

    assert services == {
        # A through boto3.client, G through a boto3 Session.
        ("client", "sagemaker"): (2, 2, 2),
        ("client", "s3"): (2, 1, 0),
        ("client", "(non-literal)"): (1, 1, 0),
        ("resource", "s3"): (1, 1, 1),
    }


def test_training_style(marts: duckdb.DuckDBPyConnection) -> None:
    styles = {row["population"]: row for row in rows(marts, "select * from marts.training_style")}

    boto = styles["boto"]
    assert (boto["notebooks"], boto["create_training_job_notebooks"], boto["fit_notebooks"], boto["both_notebooks"]) == (4, 1, 3, 1)
    assert (boto["create_training_job_share"], boto["fit_share"], boto["both_share"]) == (0.25, 0.75, 0.25)
    assert (boto["sagemaker_fit_notebooks"], boto["other_fit_notebooks"]) == (1, 2)

    client = styles["boto_sagemaker_client"]
    assert (client["notebooks"], client["create_training_job_share"], client["fit_share"], client["both_share"]) == (2, 0.5, 1.0, 0.5)


def test_ingest_coverage(marts: duckdb.DuckDBPyConnection) -> None:
    coverage = {
        (row["section"], row["item"], row["detail"]): row["value"]
        for row in rows(marts, "select * from marts.ingest_coverage")
    }

    assert coverage[("input_files", "failed", "invalid_json")] == 1
    assert coverage[("input_files", "skipped", "not_python")] == 1
    assert sum(value for (section, _, _), value in coverage.items() if section == "input_files") == 10
    assert coverage[("duplicates", "python_files", "(all)")] == 7
    assert coverage[("duplicates", "distinct_python_notebooks", "(all)")] == 6
    assert coverage[("duplicates", "counted_python_notebooks", "distinct_content")] == 6
    assert coverage[("cells", "fallback", "code")] == 1
    assert coverage[("trend_dates", "none", "undated")] == 1


def test_every_mart_column_documented(built: BuiltWarehouse, marts: duckdb.DuckDBPyConnection) -> None:
    manifest = json.loads((built.target_path / "manifest.json").read_text(encoding="utf-8"))
    nodes = {node["name"]: node for node in manifest["nodes"].values() if node["resource_type"] == "model"}
    built_columns = rows(marts, "select table_name, column_name from duckdb_columns() where schema_name = 'marts'")

    for mart in MARTS:
        assert nodes[mart]["description"].startswith("One row per"), f"{mart}: description must start with its grain"
    for column in built_columns:
        documented = nodes[column["table_name"]]["columns"].get(column["column_name"], {})
        assert documented.get("description", "").strip(), f"{column['table_name']}.{column['column_name']} has no description"


def test_descriptions_in_duckdb_comments(marts: duckdb.DuckDBPyConnection) -> None:
    tables = rows(marts, "select table_name, comment from duckdb_tables() where schema_name = 'marts'")
    columns = rows(marts, "select table_name, column_name, comment from duckdb_columns() where schema_name = 'marts'")

    for table in tables:
        assert (table["comment"] or "").startswith("One row per"), table["table_name"]
    for column in columns:
        assert column["comment"], f"{column['table_name']}.{column['column_name']} has no comment"


@pytest.fixture(scope="module")
def docs_page(built: BuiltWarehouse, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run `nbcensus docs` once and return the page path it printed."""
    output = tmp_path_factory.mktemp("docs") / "stdout.txt"
    with output.open("w", encoding="utf-8") as stdout:
        with contextlib.redirect_stdout(stdout):
            status = cli.main(["docs", "--warehouse", str(built.warehouse), "--target-path", str(built.target_path)])
    assert status == 0
    return Path(output.read_text(encoding="utf-8").strip())


def test_docs_writes_one_static_page(built: BuiltWarehouse, docs_page: Path) -> None:
    page = docs_page.read_text(encoding="utf-8")

    assert docs_page == built.target_path / "static_index.html"
    # The manifest and catalog are inlined, so the page needs no other file.
    assert "Wilson score 95 % interval" in page
    assert "package_cooccurrence" in page
    # The page loads a tracking script only when the manifest allows usage statistics.
    assert '"send_anonymous_usage_stats": false' in page


@pytest.mark.slow
def test_vars_change_what_counts(built: BuiltWarehouse, tmp_path: Path) -> None:
    warehouse = tmp_path / "every_file.duckdb"
    shutil.copy(built.warehouse, warehouse)

    process = dbt_runner.run_dbt(
        ["run", "--select", "int_python_notebooks+"],
        warehouse,
        target_path=tmp_path / "target",
        log_path=tmp_path / "logs",
        variables={"count_duplicates": True, "trend_date": "repo_last_commit_at"},
    )
    assert process.returncode == 0, process.stdout

    connection = duckdb.connect(str(warehouse), read_only=True)
    try:
        [sagemaker] = rows(connection, "select * from marts.package_share where kind = 'family' and family = 'sagemaker'")
        months = rows(connection, "select month from marts.package_trend_monthly where family = 'boto' order by month")
    finally:
        connection.close()

    # f3, the copy of A, now counts: seven Python files, three import sagemaker.
    assert (sagemaker["python_notebooks"], sagemaker["notebooks"]) == (7, 3)
    # Repository dates run from 2020-12-31 (org/three) to 2022-02-01 (org/two).
    assert len(months) == 15
    assert str(months[0]["month"]) == "2020-12-01"


@pytest.mark.slow
def test_invalid_trend_date_is_rejected(built: BuiltWarehouse, tmp_path: Path) -> None:
    process = dbt_runner.run_dbt(
        ["compile", "--select", "int_python_notebooks"],
        built.warehouse,
        target_path=tmp_path / "target",
        log_path=tmp_path / "logs",
        variables={"trend_date": "created_at"},
    )

    assert process.returncode != 0
    assert "Invalid var trend_date 'created_at'" in process.stdout


@pytest.mark.slow
def test_failing_test_is_named(built: BuiltWarehouse, tmp_path: Path) -> None:
    warehouse = tmp_path / "broken.duckdb"
    shutil.copy(built.warehouse, warehouse)
    connection = duckdb.connect(str(warehouse))
    connection.execute("update raw.outcomes set outcome = 'exploded' where file_id = 'f9'")
    connection.close()

    target = tmp_path / "target"
    process = dbt_runner.run_dbt(
        ["build", "--select", "stg_ingest__outcomes"],
        warehouse,
        target_path=target,
        log_path=tmp_path / "logs",
    )
    with pytest.raises(NbcensusError, match="accepted_values_stg_ingest__outcomes_outcome"):
        dbt_runner.check_dbt("dbt build", process, target)


@pytest.mark.slow
def test_memory_limit_from_environment(built: BuiltWarehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    warehouse = tmp_path / "limited.duckdb"
    shutil.copy(built.warehouse, warehouse)
    monkeypatch.setenv("NBCENSUS_MEMORY_LIMIT", "300MB")

    process = dbt_runner.run_dbt(
        ["run", "--select", "stg_ingest__outcomes"],
        warehouse,
        target_path=tmp_path / "target",
        log_path=tmp_path / "logs",
    )

    assert process.returncode == 0, process.stdout
    log_text = (tmp_path / "logs" / "dbt.log").read_text(encoding="utf-8")
    assert "set memory_limit = '300MB'" in log_text
    assert "set preserve_insertion_order = false" in log_text


@pytest.mark.slow
def test_invalid_memory_limit_fails(built: BuiltWarehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    warehouse = tmp_path / "unlimited.duckdb"
    shutil.copy(built.warehouse, warehouse)
    monkeypatch.setenv("NBCENSUS_MEMORY_LIMIT", "plenty")

    process = dbt_runner.run_dbt(
        ["run", "--select", "stg_ingest__outcomes"],
        warehouse,
        target_path=tmp_path / "target",
        log_path=tmp_path / "logs",
    )

    assert process.returncode != 0
    assert "Invalid NBCENSUS_MEMORY_LIMIT 'plenty'" in process.stdout
    # The run stops before any model is built without the limit.
    assert "OK created" not in process.stdout


def test_build_rejects_missing_warehouse(tmp_path: Path) -> None:
    with pytest.raises(NbcensusError, match="warehouse not found"):
        dbt_runner.build(tmp_path / "absent.duckdb")
