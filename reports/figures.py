"""Plotly figures drawn from query results, one function per figure.

Each function takes rows from `reports.queries` and only arranges them: no value
is derived here. A gap in the data (a month with no Python notebooks, a family
pair without a correlation) stays a gap in the figure, and an empty mart gives a
figure with a note instead of an empty frame.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from reports.queries import Row

# One colour per family, stable across figures; families added by a user get
# plotly's default colours after these.
FAMILY_COLOURS = {
    "aws": "#232f3e",
    "sagemaker": "#1a9c8c",
    "boto": "#ff9900",
    "mxnet": "#7b5ea7",
}
BAR_COLOUR = "#3b6ea5"
SECOND_BAR_COLOUR = "#ff9900"
LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 30, "t": 60, "b": 50}, "font": {"size": 13}}


def _families_in_order(rows: Sequence[Row]) -> list[str]:
    families: list[str] = []
    for row in rows:
        if row["family"] not in families:
            families.append(row["family"])
    known = [family for family in FAMILY_COLOURS if family in families]
    return known + [family for family in families if family not in FAMILY_COLOURS]


def _note_if_empty(figure: go.Figure, rows: Sequence[Row], source: str) -> go.Figure:
    if not rows:
        figure.add_annotation(
            text=f"no rows in {source}",
            showarrow=False,
            xref="paper",
            yref="paper",
            x=0.5,
            y=0.5,
            font={"size": 16, "color": "#7b8794"},
        )
    return figure


def adoption_over_time(trend: Sequence[Row]) -> go.Figure:
    """Figure 1: cumulative notebooks importing each family, the monthly share and the share to date."""
    figure = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.07,
        row_heights=[0.4, 0.3, 0.3],
        subplot_titles=(
            "Notebooks importing the family, cumulative",
            "Share of the month's Python notebooks importing the family",
            "Share of the Python notebooks up to the month importing the family",
        ),
    )
    for family in _families_in_order(trend):
        rows = [row for row in trend if row["family"] == family]
        months = [row["month"] for row in rows]
        colour = FAMILY_COLOURS.get(family)
        figure.add_trace(
            go.Scatter(
                x=months,
                y=[row["cumulative_notebooks"] for row in rows],
                name=family,
                legendgroup=family,
                mode="lines",
                line={"color": colour, "width": 2.5},
                hovertemplate="%{x|%Y-%m}: %{y:,} notebooks<extra>" + family + "</extra>",
            ),
            row=1,
            col=1,
        )
        figure.add_trace(
            go.Scatter(
                x=months,
                y=[_as_float(row["share"]) for row in rows],
                name=family,
                legendgroup=family,
                showlegend=False,
                mode="lines+markers",
                marker={"size": 3},
                line={"color": colour, "width": 1},
                opacity=0.8,
                connectgaps=False,
                customdata=[[row["notebooks"], row["python_notebooks"]] for row in rows],
                hovertemplate="%{x|%Y-%m}: %{y:.2%} (%{customdata[0]:,} of %{customdata[1]:,})<extra>" + family + "</extra>",
            ),
            row=2,
            col=1,
        )
        figure.add_trace(
            go.Scatter(
                x=months,
                y=[_as_float(row["cumulative_share"]) for row in rows],
                name=family,
                legendgroup=family,
                showlegend=False,
                mode="lines",
                line={"color": colour, "width": 2},
                connectgaps=False,
                hovertemplate="%{x|%Y-%m}: %{y:.2%} to date<extra>" + family + "</extra>",
            ),
            row=3,
            col=1,
        )
    figure.update_yaxes(title_text="notebooks", row=1, col=1)
    figure.update_yaxes(title_text="monthly share", tickformat=".0%", rangemode="tozero", row=2, col=1)
    figure.update_yaxes(title_text="share to date", tickformat=".0%", rangemode="tozero", row=3, col=1)
    figure.update_layout(height=900, legend={"title": {"text": "family"}}, **LAYOUT)
    return _note_if_empty(figure, trend, "marts.package_trend_monthly")


def _as_float(value: object) -> float | None:
    """Convert a DECIMAL from DuckDB for plotly, keeping a null as a gap."""
    return None if value is None else float(value)  # type: ignore[arg-type]


def _bar_trace(rows: Sequence[Row], label_column: str, colour: str, name: str) -> go.Bar:
    """Build a horizontal bar of notebooks per label, with the uses in the hover text, first row on top."""
    ordered = list(reversed(rows))
    return go.Bar(
        x=[row["notebooks"] for row in ordered],
        y=[str(row[label_column]) for row in ordered],
        orientation="h",
        name=name,
        marker={"color": colour},
        customdata=[[row["uses"]] for row in ordered],
        hovertemplate="%{y}: %{x:,} notebooks, %{customdata[0]:,} uses<extra></extra>",
        showlegend=False,
    )


def boto_members_and_services(
    boto_members: Sequence[Row],
    boto3_members: Sequence[Row],
    clients: Sequence[Row],
    resources: Sequence[Row],
) -> go.Figure:
    """Figure 2: top boto and boto3 members, and boto3 clients and resources by service."""
    panels = [
        ("boto: top members", boto_members, "member", BAR_COLOUR, "marts.member_uses"),
        ("boto3: top members", boto3_members, "member", BAR_COLOUR, "marts.member_uses"),
        ("boto3 clients by service", clients, "service", SECOND_BAR_COLOUR, "marts.boto_services"),
        ("boto3 resources by service", resources, "service", SECOND_BAR_COLOUR, "marts.boto_services"),
    ]
    figure = make_subplots(
        rows=2,
        cols=2,
        subplot_titles=[title for title, *_ in panels],
        horizontal_spacing=0.22,
        vertical_spacing=0.12,
    )
    for index, (title, rows, label_column, colour, source) in enumerate(panels):
        row, col = divmod(index, 2)
        if rows:
            figure.add_trace(_bar_trace(rows, label_column, colour, title), row=row + 1, col=col + 1)
        else:
            axis_suffix = "" if index == 0 else str(index + 1)
            figure.add_annotation(
                text=f"no rows in {source}",
                showarrow=False,
                xref=f"x{axis_suffix} domain",
                yref=f"y{axis_suffix} domain",
                x=0.5,
                y=0.5,
                font={"color": "#7b8794"},
            )
    figure.update_xaxes(title_text="notebooks", row=2)
    figure.update_layout(height=820, **LAYOUT)
    return figure


def top_members(package: str, members: Sequence[Row]) -> go.Figure:
    """Figures 3 and 4: the most used first-level members of one package."""
    figure = go.Figure()
    if members:
        figure.add_trace(_bar_trace(members, "member", BAR_COLOUR, package))
    figure.update_layout(
        height=max(320, 60 + 28 * len(members)),
        xaxis_title="notebooks",
        yaxis_title=f"{package} member",
        **LAYOUT,
    )
    return _note_if_empty(figure, members, f"marts.member_uses for {package}")


def correlation_heatmap(pairs: Sequence[Row]) -> go.Figure:
    """Draw the phi coefficient of each pair of families as stored in the mart.

    A pair missing from the mart in both orders, such as a family with itself,
    stays an empty cell; phi is never filled in here.
    """
    families: list[str] = []
    for pair in pairs:
        for family in (pair["family_a"], pair["family_b"]):
            if family not in families:
                families.append(family)
    families = _families_in_order([{"family": family} for family in families])

    phi: dict[tuple[str, str], float | None] = {}
    for pair in pairs:
        value = None if pair["phi"] is None else float(pair["phi"])
        phi[(pair["family_a"], pair["family_b"])] = value
        phi.setdefault((pair["family_b"], pair["family_a"]), value)

    matrix = [[phi.get((row, column)) for column in families] for row in families]
    labels = [["" if value is None else f"{value:.2f}" for value in row] for row in matrix]
    figure = go.Figure(
        go.Heatmap(
            z=matrix,
            x=families,
            y=families,
            text=labels,
            texttemplate="%{text}",
            colorscale="RdBu",
            zmid=0,
            zmin=-1,
            zmax=1,
            colorbar={"title": {"text": "phi"}},
            hovertemplate="%{y} and %{x}: phi = %{z:.3f}<extra></extra>",
            hoverongaps=False,
        )
    )
    figure.update_layout(height=520, width=640, yaxis={"autorange": "reversed"}, **LAYOUT)
    return _note_if_empty(figure, pairs, "marts.package_cooccurrence")


TRAINING_MEASURES = [
    ("create_training_job_share", "create_training_job"),
    ("fit_share", "fit or fit_generator"),
    ("both_share", "both"),
]


def training_style(populations: Sequence[Row], receiver_columns: Sequence[tuple[str, str]]) -> go.Figure:
    """Training-style shares per population, and `fit` split by its receiver.

    receiver_columns pairs a share column of the mart with its label, e.g.
    ("sagemaker_fit_share", "fit on a SageMaker estimator").
    """
    figure = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("Notebooks calling each training API", "Notebooks calling fit, by receiver"),
        horizontal_spacing=0.12,
    )
    colours = ["#1a9c8c", "#ff9900", "#7b5ea7", "#3b6ea5"]
    for index, row in enumerate(populations):
        population = str(row["population"])
        colour = colours[index % len(colours)]
        figure.add_trace(
            go.Bar(
                x=[label for _, label in TRAINING_MEASURES],
                y=[None if row[column] is None else float(row[column]) for column, _ in TRAINING_MEASURES],
                name=f"{population} ({row['notebooks']:,} notebooks)",
                legendgroup=population,
                marker={"color": colour},
                hovertemplate="%{x}: %{y:.1%}<extra>" + population + "</extra>",
            ),
            row=1,
            col=1,
        )
        figure.add_trace(
            go.Bar(
                x=[label for _, label in receiver_columns],
                y=[None if row[column] is None else float(row[column]) for column, _ in receiver_columns],
                name=population,
                legendgroup=population,
                showlegend=False,
                marker={"color": colour},
                hovertemplate="%{x}: %{y:.1%}<extra>" + population + "</extra>",
            ),
            row=1,
            col=2,
        )
    figure.update_yaxes(tickformat=".0%", rangemode="tozero", title_text="share of the population's notebooks", row=1, col=1)
    figure.update_yaxes(tickformat=".0%", rangemode="tozero", row=1, col=2)
    figure.update_layout(height=480, barmode="group", legend={"orientation": "h", "y": -0.15}, **LAYOUT)
    return _note_if_empty(figure, populations, "marts.training_style")


OUTCOME_COLOURS = {"ingested": "#1a9c8c", "failed": "#d64545", "skipped": "#9aa5b1"}
STATUS_COLOURS = {
    "parsed": "#1a9c8c",
    "fallback": "#f0b429",
    "failed": "#d64545",
    "not_python": "#9aa5b1",
    "not_code": "#cbd2d9",
    "empty": "#e4e7eb",
}


def coverage(files: Sequence[Row], cells: Sequence[Row]) -> go.Figure:
    """Input files by outcome and reason, and cells by parse status and cell type.

    Both take rows of the long coverage mart (item, detail, value); each row is
    one bar, labelled with its value. The axis is logarithmic so that a handful
    of failures stays visible next to thousands of successes.
    """
    figure = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("Input files by outcome and reason", "Cells of the counted Python notebooks by status and type"),
        horizontal_spacing=0.12,
    )
    panels = ((1, files, OUTCOME_COLOURS, "files"), (2, cells, STATUS_COLOURS, "cells"))
    for column, rows, colours, unit in panels:
        figure.add_trace(
            go.Bar(
                x=[f"{row['item']}<br>{row['detail']}" for row in rows],
                y=[row["value"] for row in rows],
                text=[f"{row['value']:,}" for row in rows],
                textposition="outside",
                cliponaxis=False,
                marker={"color": [colours.get(row["item"], BAR_COLOUR) for row in rows]},
                hovertemplate="%{x}: %{y:,} " + unit + "<extra></extra>",
                showlegend=False,
            ),
            row=1,
            col=column,
        )
    figure.update_yaxes(title_text="files", type="log", dtick=1, row=1, col=1)
    figure.update_yaxes(title_text="cells", type="log", dtick=1, row=1, col=2)
    figure.update_layout(height=480, **LAYOUT)
    return _note_if_empty(figure, [*files, *cells], "marts.ingest_coverage")
