"""The findings page: the study's headline sentences, written from the marts.

Each sentence quotes mart values through `reports.formatting` and carries the
marts and columns it quotes, so a reader can find every number again with one
query in the DuckDB shell. A null in a mart is written as `n/a`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import duckdb

from reports import formatting as fmt
from reports import queries
from reports.queries import Row

# How many services and members the sentences name.
TOP_SERVICES = 5
TOP_MEMBERS = 5

# The training-style populations of the mart, in words.
POPULATIONS = {
    "python": "Python notebooks",
    "sagemaker": "notebooks importing sagemaker",
    "boto": "notebooks importing boto, boto3 or botocore",
    "boto_sagemaker_client": "notebooks that create a boto3 SageMaker client",
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One sentence with its values formatted, and the mart columns it quotes."""

    html: str
    sources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FindingGroup:
    title: str
    anchor: str
    lead: str
    findings: list[Finding]
    table_html: str = ""


def _strong(value: str) -> str:
    return f"<strong>{value}</strong>"


def _name(value: object) -> str:
    return f"<code>{fmt.text(value)}</code>"


def _population(name: str) -> str:
    return POPULATIONS.get(name, f"notebooks of the population {name}")


# --- coverage ----------------------------------------------------------------


def coverage_findings(con: duckdb.DuckDBPyConnection) -> FindingGroup:
    findings: list[Finding] = []

    outcomes = {row["item"]: row["value"] for row in queries.coverage_totals(con, "input_files")}
    total = queries.coverage_total(con, "input_files")
    findings.append(
        Finding(
            f"nbcensus read {_strong(fmt.count(total))} input files: "
            f"{_strong(fmt.count(outcomes.get('ingested')))} ingested, "
            f"{_strong(fmt.count(outcomes.get('failed')))} failed and "
            f"{_strong(fmt.count(outcomes.get('skipped')))} skipped.",
            ("marts.ingest_coverage.value (section input_files, summed per outcome)",),
        )
    )

    reasons = [row for row in queries.coverage_rows(con, "input_files") if row["item"] != "ingested"]
    if reasons:
        listed = ", ".join(f"{row['item']} as {_name(row['detail'])}: {_strong(fmt.count(row['value']))}" for row in reasons)
        findings.append(Finding(f"Files not ingested, by reason: {listed}.", ("marts.ingest_coverage.value (section input_files)",)))

    cells = queries.coverage_totals(con, "cells")
    if cells:
        listed = ", ".join(f"{_name(row['item'])} {_strong(fmt.count(row['value']))}" for row in cells)
        findings.append(
            Finding(
                f"Cells of the counted Python notebooks, by parse status: {listed}. "
                "A fallback cell could not be parsed as Python 3 (usually Python 2 code); its imports still count.",
                ("marts.ingest_coverage.value (section cells, summed per status)",),
            )
        )

    duplicates = {row["item"]: row for row in queries.coverage_rows(con, "duplicates")}
    counted = duplicates.get("counted_python_notebooks")
    findings.append(
        Finding(
            f"{_strong(fmt.count(_value(duplicates, 'python_files')))} Python notebook files hold "
            f"{_strong(fmt.count(_value(duplicates, 'distinct_python_notebooks')))} distinct contents "
            f"({_strong(fmt.count(_value(duplicates, 'duplicate_python_files')))} duplicate files). "
            f"The marts count {_strong(fmt.count(_value(duplicates, 'counted_python_notebooks')))} Python notebooks "
            f"({fmt.text(counted['detail'].replace('_', ' ') if counted else None)}).",
            ("marts.ingest_coverage.value (section duplicates)",),
        )
    )

    dates = queries.coverage_rows(con, "trend_dates")
    if dates:
        listed = ", ".join(f"{_strong(fmt.count(row['value']))} {fmt.text(row['detail'])} ({_name(row['item'])})" for row in dates)
        findings.append(
            Finding(
                f"Dates that place the counted notebooks on the trend, by origin: {listed}. Undated notebooks count in the shares but not in the trends.",
                ("marts.ingest_coverage.value (section trend_dates)",),
            )
        )

    return FindingGroup(
        "What was read",
        "coverage",
        "Every other number on this page is read against this coverage.",
        findings,
    )


def _value(rows: dict[str, Row], item: str) -> object:
    row = rows.get(item)
    return None if row is None else row["value"]


# --- shares ------------------------------------------------------------------


def share_findings(con: duckdb.DuckDBPyConnection) -> FindingGroup:
    findings: list[Finding] = []
    for row in queries.family_shares(con):
        findings.append(
            Finding(
                f"{_strong(fmt.percent(row['share']))} of Python notebooks import {_name(row['family'])} "
                f"({fmt.text(row['packages'])}): {_strong(fmt.count(row['notebooks']))} of "
                f"{_strong(fmt.count(row['python_notebooks']))}, 95 % Wilson interval "
                f"{_strong(fmt.interval(row['share_ci_low'], row['share_ci_high']))}.",
                (
                    "marts.package_share.share, notebooks, python_notebooks, share_ci_low, share_ci_high (kind = 'family')",
                ),
            )
        )

    rows = queries.family_package_shares(con)
    table = [
        "<table><thead><tr><th>package</th><th>notebooks</th><th>share</th><th>95 % Wilson interval</th></tr></thead><tbody>"
    ]
    for row in rows:
        table.append(
            f"<tr><td>{_name(row['package'])}</td><td>{fmt.count(row['notebooks'])}</td>"
            f"<td>{fmt.percent(row['share'])}</td><td>{fmt.interval(row['share_ci_low'], row['share_ci_high'])}</td></tr>"
        )
    table.append("</tbody></table>")
    table.append(
        '<span class="source">source: marts.package_share.family (the package), notebooks, share, share_ci_low, share_ci_high (kind = \'package\')</span>'
    )

    return FindingGroup(
        "How many notebooks import each family",
        "shares",
        "A notebook counts once per family, however many of the family's packages it imports. The interval is the Wilson score interval at 95 %.",
        findings,
        "".join(table),
    )


# --- co-occurrence -----------------------------------------------------------


def correlation_findings(con: duckdb.DuckDBPyConnection) -> FindingGroup:
    findings: list[Finding] = []
    for row in queries.distinct_pairs(con):
        a, b = _name(row["family_a"]), _name(row["family_b"])
        findings.append(
            Finding(
                f"{a} and {b}: r = {_strong(fmt.correlation(row['phi']))} "
                f"({_strong(fmt.count(row['both']))} notebooks import both). "
                f"{_strong(fmt.percent(row['p_b_given_a']))} of the notebooks importing {a} also import {b}, and "
                f"{_strong(fmt.percent(row['p_a_given_b']))} of those importing {b} also import {a}; "
                f"lift {_strong(fmt.ratio(row['lift']))}.",
                ("marts.package_cooccurrence.phi, both, p_b_given_a, p_a_given_b, lift",),
            )
        )
    return FindingGroup(
        "How the families go together",
        "correlation",
        "r is the Pearson correlation of the two 0/1 indicators over Python notebooks (the phi coefficient). "
        "Pairs that share packages, such as aws with its parts, correlate by construction and are only in the heatmap.",
        findings,
    )


# --- growth ------------------------------------------------------------------


def growth_findings(con: duckdb.DuckDBPyConnection) -> FindingGroup:
    findings: list[Finding] = []
    for row in queries.trend_growth(con):
        findings.append(
            Finding(
                f"{_name(row['family'])}: first imported in {_strong(fmt.month(row['first_month']))}; "
                f"{_strong(fmt.count(row['cumulative_notebooks']))} notebooks import it by "
                f"{_strong(fmt.month(row['last_month']))}, up from "
                f"{_strong(fmt.count(row['year_before_cumulative_notebooks']))} in "
                f"{_strong(fmt.month(row['year_before_month']))}. That is "
                f"{_strong(fmt.percent(row['cumulative_share']))} of the dated Python notebooks up to "
                f"{fmt.month(row['last_month'])}; in {fmt.month(row['last_month'])} alone it is "
                f"{_strong(fmt.percent(row['last_month_share']))}.",
                ("marts.package_trend_monthly.month, cumulative_notebooks, cumulative_share, share",),
            )
        )
    return FindingGroup(
        "Growth",
        "growth",
        "Notebooks are placed in the month of their trend date (set by the dbt var trend_date). "
        "n/a marks a month the trend does not reach.",
        findings,
    )


# --- training style ----------------------------------------------------------


def training_findings(con: duckdb.DuckDBPyConnection) -> FindingGroup:
    findings: list[Finding] = []
    for row in queries.training_style(con):
        findings.append(
            Finding(
                f"Of the {_strong(fmt.count(row['notebooks']))} {fmt.text(_population(row['population']))}, "
                f"{_strong(fmt.percent(row['create_training_job_share']))} call {_name('create_training_job')} "
                f"(95 % interval {fmt.interval(row['create_training_job_share_ci_low'], row['create_training_job_share_ci_high'])}), "
                f"{_strong(fmt.percent(row['fit_share']))} call {_name('fit')} or {_name('fit_generator')} "
                f"(95 % interval {fmt.interval(row['fit_share_ci_low'], row['fit_share_ci_high'])}) and "
                f"{_strong(fmt.percent(row['both_share']))} call both. "
                f"{_strong(fmt.percent(row['sagemaker_fit_share']))} call {_name('fit')} on a SageMaker estimator, "
                f"which launches a training job, and {_strong(fmt.percent(row['other_fit_share']))} on another receiver.",
                (
                    "marts.training_style.notebooks, create_training_job_share, fit_share, both_share, "
                    "sagemaker_fit_share, other_fit_share and their _ci_low/_ci_high",
                ),
            )
        )
    return FindingGroup(
        "How notebooks train models",
        "training",
        "create_training_job is the low-level SageMaker API; fit and fit_generator are the high-level calls of the "
        "SageMaker SDK, Keras, scikit-learn, MXNet and others. A fit call whose receiver cannot be resolved still counts as fit.",
        findings,
    )


# --- services and members ----------------------------------------------------


def service_findings(con: duckdb.DuckDBPyConnection) -> FindingGroup:
    findings: list[Finding] = []
    for api in ("client", "resource"):
        rows = queries.top_services(con, api, TOP_SERVICES)
        if rows:
            listed = ", ".join(
                f"{_name(row['service'])} ({_strong(fmt.count(row['notebooks']))} notebooks, {fmt.count(row['uses'])} uses)"
                for row in rows
            )
        else:
            listed = fmt.MISSING
        findings.append(
            Finding(
                f"The boto3 {api}s built in the most notebooks: {listed}.",
                (f"marts.boto_services.service, notebooks, uses (api = '{api}')",),
            )
        )

    for package in queries.member_packages(con):
        rows = queries.top_members(con, package, TOP_MEMBERS)
        listed = ", ".join(
            f"{_name(row['member'])} ({_strong(fmt.count(row['notebooks']))} notebooks, {fmt.count(row['uses'])} uses)"
            for row in rows
        )
        findings.append(
            Finding(
                f"The most used members of {_name(package)}: {listed}.",
                (f"marts.member_uses.member, notebooks, uses (package = '{package}', rank_in_package)",),
            )
        )
    return FindingGroup(
        "Which services and members",
        "services",
        "A client counts for its service however it was built (boto3.client, a Session, botocore). "
        "A member is the first name after the package, used in code or imported.",
        findings,
    )


# --- the page and the console ------------------------------------------------


def all_findings(con: duckdb.DuckDBPyConnection) -> list[FindingGroup]:
    return [
        share_findings(con),
        correlation_findings(con),
        growth_findings(con),
        training_findings(con),
        service_findings(con),
        coverage_findings(con),
    ]


def render_group(group: FindingGroup) -> str:
    items = [
        f'<li>{finding.html}<span class="source">source: {html.escape("; ".join(finding.sources))}</span></li>'
        for finding in group.findings
    ]
    if not items:
        items.append(f"<li>{fmt.MISSING}: the mart has no rows.</li>")
    return f'<ul class="findings">{"".join(items)}</ul>{group.table_html}'


def headline_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Write a few plain-text lines for the console: family shares, correlations, training style."""
    lines: list[str] = []
    families = queries.family_shares(con)
    if families:
        lines.append(f"Python notebooks: {fmt.count(families[0]['python_notebooks'])}")
    for row in families:
        lines.append(
            f"  {row['family']:<10} {fmt.percent(row['share']):>9} import it "
            f"({fmt.count(row['notebooks'])} notebooks; 95 % interval {fmt.interval(row['share_ci_low'], row['share_ci_high'])})"
        )
    for row in queries.distinct_pairs(con):
        lines.append(f"  r({row['family_a']}, {row['family_b']}) = {fmt.correlation(row['phi'])}")
    for row in queries.training_style(con):
        if row["population"] in ("boto", "boto_sagemaker_client"):
            lines.append(
                f"  {_population(row['population'])} ({fmt.count(row['notebooks'])}): "
                f"create_training_job {fmt.percent(row['create_training_job_share'])}, "
                f"fit {fmt.percent(row['fit_share'])}, both {fmt.percent(row['both_share'])}"
            )
    return lines
