"""SQL over the `marts` schema: every number in the report comes from here.

The report computes nothing that the marts do not hold. Each query selects mart
columns as they are (filtering, ordering and limiting rows only), so a number on
a page can be traced to one mart and column. Results are plain dictionaries
keyed by column name; a SQL null stays `None`, so the pages can show it as
missing instead of zero.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import duckdb

from ingest.errors import NbcensusError

log = logging.getLogger(__name__)

Row = dict[str, Any]

MARTS = (
    "package_share",
    "package_trend_monthly",
    "package_cooccurrence",
    "member_uses",
    "boto_services",
    "training_style",
    "ingest_coverage",
)


def connect(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """Open the warehouse read-only, so a report never changes the marts it reads."""
    if not warehouse.is_file():
        raise NbcensusError(f"warehouse not found: {warehouse}; run `nbcensus run SOURCE` or `nbcensus ingest` and `dbt build` first")
    return duckdb.connect(str(warehouse), read_only=True)


def fetch(con: duckdb.DuckDBPyConnection, sql: str, parameters: list[Any] | None = None) -> list[Row]:
    cursor = con.execute(sql, parameters or [])
    columns = [description[0] for description in cursor.description]
    return [dict(zip(columns, values)) for values in cursor.fetchall()]


def missing_marts(con: duckdb.DuckDBPyConnection) -> list[str]:
    """List the marts the report needs that the warehouse does not have."""
    rows = fetch(con, "select table_name from information_schema.tables where table_schema = 'marts'")
    present = {row["table_name"] for row in rows}
    return [mart for mart in MARTS if mart not in present]


def mart_columns(con: duckdb.DuckDBPyConnection, mart: str) -> set[str]:
    rows = fetch(
        con,
        "select column_name from information_schema.columns where table_schema = 'marts' and table_name = ?",
        [mart],
    )
    return {row["column_name"] for row in rows}


# --- package_share -----------------------------------------------------------


def family_shares(con: duckdb.DuckDBPyConnection) -> list[Row]:
    """Select one row per package family: its packages, Python notebooks, notebooks importing it, share and interval."""
    return fetch(
        con,
        """
        select family, packages, python_notebooks, notebooks, share, share_ci_low, share_ci_high
        from marts.package_share
        where kind = 'family'
        order by notebooks desc, family
        """,
    )


def family_package_shares(con: duckdb.DuckDBPyConnection) -> list[Row]:
    """Select one row per top-level package that belongs to a family (boto, boto3 and botocore apart).

    On `kind = 'package'` rows of the mart the `family` column names the package.
    """
    return fetch(
        con,
        """
        with family_packages as (
            select distinct unnest(string_split(packages, ', ')) as package
            from marts.package_share
            where kind = 'family'
        )

        select
            package_share.family as package,
            package_share.python_notebooks,
            package_share.notebooks,
            package_share.share,
            package_share.share_ci_low,
            package_share.share_ci_high
        from marts.package_share
        inner join family_packages
            on package_share.family = family_packages.package
        where package_share.kind = 'package'
        order by package_share.notebooks desc, package_share.family
        """,
    )


# --- package_trend_monthly -----------------------------------------------------


def monthly_trend(con: duckdb.DuckDBPyConnection) -> list[Row]:
    return fetch(
        con,
        """
        select family, month, python_notebooks, notebooks, share, cumulative_notebooks, cumulative_share
        from marts.package_trend_monthly
        order by family, month
        """,
    )


def trend_growth(con: duckdb.DuckDBPyConnection) -> list[Row]:
    """Select per family the first month with a notebook importing it, and two rows of the trend.

    The rows are the last month and the month twelve months before it. The
    earlier one is null when the trend does not reach back that far.
    """
    return fetch(
        con,
        """
        with last_months as (
            select family, max(month) as month
            from marts.package_trend_monthly
            group by family
        ),

        first_months as (
            select family, min(month) as month
            from marts.package_trend_monthly
            where notebooks > 0
            group by family
        )

        select
            last_months.family,
            first_months.month as first_month,
            latest.month as last_month,
            latest.cumulative_notebooks,
            latest.cumulative_share,
            latest.share as last_month_share,
            latest.notebooks as last_month_notebooks,
            year_before.month as year_before_month,
            year_before.cumulative_notebooks as year_before_cumulative_notebooks
        from last_months
        inner join marts.package_trend_monthly as latest
            on latest.family = last_months.family
            and latest.month = last_months.month
        left join first_months
            on first_months.family = last_months.family
        left join marts.package_trend_monthly as year_before
            on year_before.family = last_months.family
            and year_before.month = cast(last_months.month - interval 12 month as date)
        order by latest.cumulative_notebooks desc, last_months.family
        """,
    )


# --- package_cooccurrence ------------------------------------------------------


def cooccurrence(con: duckdb.DuckDBPyConnection) -> list[Row]:
    """Select every ordered pair of families, both orders, as stored in the mart."""
    return fetch(
        con,
        """
        select
            family_a, family_b, python_notebooks, notebooks_a, notebooks_b,
            "both", only_a, only_b, neither, phi, p_a_given_b, p_b_given_a, lift, has_shared_packages
        from marts.package_cooccurrence
        order by family_a, family_b
        """,
    )


def distinct_pairs(con: duckdb.DuckDBPyConnection) -> list[Row]:
    """Select each unordered pair of families that share no package, once (family_a < family_b).

    A family built from other families' packages (aws) correlates with them by
    construction, so those pairs are left to the heatmap.
    """
    return fetch(
        con,
        """
        select family_a, family_b, "both", notebooks_a, notebooks_b, phi, p_a_given_b, p_b_given_a, lift
        from marts.package_cooccurrence
        where family_a < family_b
            and not has_shared_packages
        order by phi desc nulls last, family_a, family_b
        """,
    )


# --- member_uses and boto_services ---------------------------------------------


def member_packages(con: duckdb.DuckDBPyConnection) -> list[str]:
    """List the packages of the families that have member rows, most imported first."""
    rows = fetch(
        con,
        """
        with family_packages as (
            select distinct unnest(string_split(packages, ', ')) as package
            from marts.package_share
            where kind = 'family'
        )

        select distinct member_uses.package, member_uses.package_notebooks
        from marts.member_uses
        inner join family_packages
            on member_uses.package = family_packages.package
        order by member_uses.package_notebooks desc, member_uses.package
        """,
    )
    return [row["package"] for row in rows]


def top_members(con: duckdb.DuckDBPyConnection, package: str, limit: int) -> list[Row]:
    """Select the first-level members of a package in the mart's own rank (notebooks, then uses)."""
    return fetch(
        con,
        """
        select package, member, uses, imports, notebooks, package_notebooks, package_notebook_share, rank_in_package
        from marts.member_uses
        where package = ?
            and rank_in_package <= ?
        order by rank_in_package
        """,
        [package, limit],
    )


def top_services(con: duckdb.DuckDBPyConnection, api: str, limit: int) -> list[Row]:
    """Select the services of one boto3 API (`client` or `resource`) built in the most notebooks."""
    return fetch(
        con,
        """
        select api, service, uses, notebooks
        from marts.boto_services
        where api = ?
            and uses > 0
        order by notebooks desc, uses desc, service
        limit ?
        """,
        [api, limit],
    )


# --- training_style ------------------------------------------------------------


def training_style(con: duckdb.DuckDBPyConnection) -> list[Row]:
    return fetch(
        con,
        """
        select
            population,
            notebooks,
            create_training_job_notebooks,
            fit_notebooks,
            both_notebooks,
            create_training_job_share,
            create_training_job_share_ci_low,
            create_training_job_share_ci_high,
            fit_share,
            fit_share_ci_low,
            fit_share_ci_high,
            both_share,
            sagemaker_fit_notebooks,
            other_fit_notebooks,
            sagemaker_fit_share,
            other_fit_share
        from marts.training_style
        order by notebooks desc, population
        """,
    )


# --- ingest_coverage -----------------------------------------------------------


def coverage_rows(con: duckdb.DuckDBPyConnection, section: str) -> list[Row]:
    """Select the rows of one section of the long coverage table, largest first."""
    return fetch(
        con,
        """
        select section, item, detail, value, share
        from marts.ingest_coverage
        where section = ?
        order by value desc, item, detail
        """,
        [section],
    )


def coverage_total(con: duckdb.DuckDBPyConnection, section: str) -> int | None:
    """Sum the values of one coverage section over all its rows, or return None when it has none."""
    rows = fetch(con, "select sum(value) as value from marts.ingest_coverage where section = ?", [section])
    return rows[0]["value"]


def coverage_totals(con: duckdb.DuckDBPyConnection, section: str) -> list[Row]:
    """Sum the values of one coverage section over `detail`, one row per item."""
    return fetch(
        con,
        """
        select item, sum(value) as value
        from marts.ingest_coverage
        where section = ?
        group by item
        order by value desc, item
        """,
        [section],
    )
