"""Write the HTML report from the marts of a warehouse.

`nbcensus report` reads only the `marts` schema, after `dbt build`, and writes
two self-contained pages that open offline:

- `index.html`: the figures (adoption over time, boto and boto3 members and
  services, sagemaker and mxnet members, the correlation heatmap, training
  style, coverage), with plotly.js embedded once;
- `findings.html`: the headline sentences, each with the mart columns it quotes.

Example:

    nbcensus report --warehouse warehouse/nbcensus.duckdb --out reports/
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import duckdb

from ingest.dbt import WAREHOUSE_ENV, default_warehouse
from ingest.errors import NbcensusError
from reports import figures, findings, queries
from reports.page import NavLink, Section, render_page, write_page

log = logging.getLogger(__name__)

DEFAULT_OUT = Path("reports")
FIGURES_PAGE = "index.html"
FINDINGS_PAGE = "findings.html"

# Bars per panel in the member and service figures.
TOP_BARS = 15

NAV = [NavLink("Figures", FIGURES_PAGE), NavLink("Findings", FINDINGS_PAGE)]


def add_output_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"folder for the HTML pages (default: {DEFAULT_OUT}/)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_output_argument(parser)
    parser.add_argument(
        "--warehouse",
        type=Path,
        default=default_warehouse(),
        help=f"DuckDB warehouse whose marts are read (default: ${WAREHOUSE_ENV}, else warehouse/nbcensus.duckdb)",
    )


def figure_sections(con: duckdb.DuckDBPyConnection) -> list[Section]:
    services = (queries.top_services(con, "client", TOP_BARS), queries.top_services(con, "resource", TOP_BARS))
    return [
        Section(
            "Figure 1. Notebooks importing each family over time",
            "adoption",
            "Top: notebooks importing the family up to each month. Middle: the share of that month's Python notebooks; "
            "a gap is a month without dated Python notebooks. Bottom: the share of all Python notebooks dated up to "
            "that month. Source: marts.package_trend_monthly.",
            figures.adoption_over_time(queries.monthly_trend(con)),
        ),
        Section(
            "Figure 2. boto and boto3: members, clients and resources",
            "boto",
            "Bars are notebooks using each first-level member or service; the hover text adds the uses. "
            "Source: marts.member_uses and marts.boto_services.",
            figures.boto_members_and_services(
                queries.top_members(con, "boto", TOP_BARS),
                queries.top_members(con, "boto3", TOP_BARS),
                *services,
            ),
        ),
        Section(
            "Figure 3. sagemaker: top members",
            "sagemaker",
            "Source: marts.member_uses (package = 'sagemaker').",
            figures.top_members("sagemaker", queries.top_members(con, "sagemaker", TOP_BARS)),
        ),
        Section(
            "Figure 4. mxnet: top members",
            "mxnet",
            "Source: marts.member_uses (package = 'mxnet').",
            figures.top_members("mxnet", queries.top_members(con, "mxnet", TOP_BARS)),
        ),
        Section(
            "Correlation of the families",
            "correlation",
            "Pearson r of the 0/1 indicators over Python notebooks (phi). aws contains the other families, "
            "so its correlations are high by construction. Source: marts.package_cooccurrence.phi.",
            figures.correlation_heatmap(queries.cooccurrence(con)),
        ),
        Section(
            "Training style",
            "training",
            "Share of each population's notebooks that call create_training_job, fit or fit_generator, or both; "
            "right: fit on a SageMaker estimator versus any other receiver. Source: marts.training_style.",
            figures.training_style(
                queries.training_style(con),
                [("sagemaker_fit_share", "fit on a SageMaker estimator"), ("other_fit_share", "fit on another receiver")],
            ),
        ),
        Section(
            "Coverage",
            "coverage",
            "Input files by outcome and reason, and cells of the counted Python notebooks by parse status and cell type; "
            "log scale. Source: marts.ingest_coverage.",
            figures.coverage(queries.coverage_rows(con, "input_files"), queries.coverage_rows(con, "cells")),
        ),
    ]


def findings_sections(con: duckdb.DuckDBPyConnection) -> list[Section]:
    return [
        Section(group.title, group.anchor, group.lead, body_html=findings.render_group(group))
        for group in findings.all_findings(con)
    ]


def build_report(warehouse: Path, out: Path) -> list[Path]:
    """Write both pages into `out` and return their paths."""
    with queries.connect(warehouse) as con:
        missing = queries.missing_marts(con)
        if missing:
            raise NbcensusError(
                f"warehouse {warehouse} has no mart(s) {', '.join(missing)}: run `dbt build` (or `nbcensus run`) first"
            )

        subtitle = f"Package use in Jupyter notebooks, from the marts of {warehouse.name}"
        figures_page = render_page("nbcensus: figures", subtitle, NAV, figure_sections(con))
        findings_page = render_page("nbcensus: findings", subtitle, NAV, findings_sections(con))

    return [
        write_page(out / FIGURES_PAGE, figures_page),
        write_page(out / FINDINGS_PAGE, findings_page),
    ]


def main(args: argparse.Namespace) -> int:
    for page in build_report(Path(args.warehouse), Path(args.out)):
        print(page)
    return 0
