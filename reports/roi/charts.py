"""Plotly figures of the ROI pages (bar, scatter, heatmap), from the results of core.roi / core.montecarlo;
palette, layout and the dict step are reports.charts'."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

from common.charts import corner_note
from core.montecarlo import Distribution
from core.roi import Heatmap, RoiResult, Tornado
from reports.charts import BLUE, GREEN, GREY, INK, RED, REPORT_STYLE, figure_dict, figure_layout

# Labels of the inputs the tornado swings (core.roi.TORNADO_PARAMS).
INPUT_LABELS = {
    "success_rate": "Success rate",
    "attempt_cycle_time_s": "Cycle time",
    "interventions_per_hour": "Interventions / h",
    "recovery_time_s": "Recovery time",
    "labour_cost_per_hour": "Labour rate",
    "utilisation": "Utilisation",
    "robot_capex": "Robot",
    "tooling_capex": "Tooling",
    "vision_capex": "Vision",
    "safety_capex": "Safety",
    "integration_cost": "Integration",
    "fat_sat_cost": "FAT / SAT",
    "training_cost": "Training",
    "annual_maintenance": "Maintenance",
    "annual_software": "Software",
    "annual_consumables": "Consumables",
    "energy_price_per_kwh": "Energy price",
    "ramp_up_months": "Ramp-up",
    "discount_rate": "Discount rate",
    "salvage_value": "Salvage",
    "annual_volume": "Annual volume",
}


def _in(title: str, currency: str) -> str:
    """An axis title with the money's ISO 4217 code: "NPV, EUR"."""
    return f"{title}, {currency}" if currency else title


def cash_flow_figure(*, roi: RoiResult, currency: str = "") -> dict[str, Any]:
    """Monthly net cash flow (bars) and the cumulative position (line) over the horizon; the payback month
    and the target marked. Month 0 is the investment."""
    months = list(range(len(roi.monthly_cash_flows)))
    fig = go.Figure()
    # Month 0 (the investment) is left out of the bars: it would dwarf the monthly flows; the line shows it.
    monthly = list(roi.monthly_cash_flows[1:])
    fig.add_bar(
        x=months[1:],
        y=monthly,
        name="Net cash flow in the month",
        marker_color=[RED if v < 0 else GREEN for v in monthly],
        opacity=0.55,
        yaxis="y2",
    )
    fig.add_scatter(
        x=months, y=list(roi.cumulative_cash_flows), name="Cumulative", mode="lines", line={"color": BLUE, "width": 3}
    )
    shapes = [
        {
            "type": "line",
            "xref": "x",
            "yref": "paper",
            "x0": roi.payback_target_months,
            "x1": roi.payback_target_months,
            "y0": 0,
            "y1": 1,
            "line": {"color": GREY, "dash": "dash"},
        },
    ]
    annotations = [
        {
            "x": roi.payback_target_months,
            "y": 0.02,
            "yref": "paper",
            "text": "target ",
            "showarrow": False,
            "xanchor": "right",
            "font": {"color": GREY},
        },
    ]
    if roi.payback_months is not None:
        shapes.append(
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": roi.payback_months,
                "x1": roi.payback_months,
                "y0": 0,
                "y1": 1,
                "line": {"color": GREEN},
            }
        )
        annotations.append(
            {
                "x": roi.payback_months,
                "y": 0.02,
                "yref": "paper",
                "text": "payback",
                "showarrow": False,
                "xanchor": "left",
                "font": {"color": GREEN},
            }
        )
    fig.update_layout(
        figure_layout(
            REPORT_STYLE,
            "Cash flow over the horizon",
            xaxis={"title": {"text": "month"}, "zeroline": False},
            yaxis={
                "title": {"text": _in("cumulative", currency)},
                "zeroline": True,
                "zerolinecolor": INK,
                "gridcolor": "#eef2f6",
            },
            yaxis2={"overlaying": "y", "side": "right", "showgrid": False, "title": {"text": _in("monthly", currency)}},
            shapes=shapes,
            annotations=annotations,
            showlegend=True,
            legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 1, "xanchor": "right"},
            margin={"t": 40, "r": 70, "b": 45, "l": 70},
        )
    )
    return figure_dict(fig)


def histogram_figure(
    *, distribution: Distribution, title: str, x_title: str, marker: float | None = None, marker_text: str = ""
) -> dict[str, Any] | None:
    """The Monte Carlo histogram of one output (bars from the pre-binned counts), P10/P50/P90 marked, and an
    optional reference line (target payback, zero NPV). None when no draw is finite (nothing pays back within
    the horizon): the page says so in words instead of drawing empty axes.

    Label layout (why): P50 sits above the plot, P10 and P90 on a second row inside its top edge, P10's
    text ending at its line and P90's starting at its line, so the three never overlap however close they
    are; the marker's label sits lower still.
    """
    edges = distribution.histogram_edges
    counts = distribution.histogram_counts
    if not counts or sum(counts) == 0:
        return None
    centres = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:], strict=True)]
    widths = [b - a for a, b in zip(edges[:-1], edges[1:], strict=True)]
    fig = go.Figure()
    fig.add_bar(x=centres, y=list(counts), width=widths, marker_color=BLUE, opacity=0.75, name="draws")
    shapes: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    placement = {
        "P10": {"y": 1, "yanchor": "top", "xanchor": "right"},
        "P50": {"y": 1, "yanchor": "bottom", "xanchor": "center"},
        "P90": {"y": 1, "yanchor": "top", "xanchor": "left"},
    }
    for label, value in (("P10", distribution.p10), ("P50", distribution.p50), ("P90", distribution.p90)):
        if value is None:
            continue
        shapes.append(
            {
                "type": "line",
                "x0": value,
                "x1": value,
                "yref": "paper",
                "y0": 0,
                "y1": 1,
                "line": {"color": INK, "width": 1, "dash": "dot"},
            }
        )
        annotations.append(
            {
                "x": value,
                "yref": "paper",
                "text": label,
                "showarrow": False,
                "font": {"size": 10},
                "bgcolor": "rgba(255,255,255,0.85)",
                "name": f"quantile-{label}",
                **placement[label],
            }
        )
    if marker is not None:
        shapes.append(
            {
                "type": "line",
                "x0": marker,
                "x1": marker,
                "yref": "paper",
                "y0": 0,
                "y1": 1,
                "line": {"color": RED, "width": 2},
            }
        )
        annotations.append(
            {
                "x": marker,
                "y": 0.72,
                "yref": "paper",
                "text": marker_text,
                "showarrow": False,
                "xanchor": "left",
                "font": {"color": RED, "size": 10},
                "bgcolor": "rgba(255,255,255,0.85)",
                "name": "marker",
            }
        )
    fig.update_layout(
        figure_layout(
            REPORT_STYLE,
            title,
            xaxis={"title": {"text": x_title}},
            yaxis={"title": {"text": "draws"}, "gridcolor": "#eef2f6"},
            shapes=shapes,
            annotations=annotations,
            bargap=0.02,
            # Room on the right for a P90 label that starts at its line near the last bin (reports.js keeps
            # a right margin above 40 px on the one-page report).
            margin={"t": 52, "r": 45, "b": 45, "l": 70},
        )
    )
    return figure_dict(fig)


def tornado_figure(*, tornado: Tornado, top: int = 10, currency: str = "") -> dict[str, Any]:
    """Change in NPV with each input at its low and at its high (the others at base), widest swing on top."""
    bars = list(tornado.bars[:top])[::-1]  # plotly draws the first category at the bottom
    labels = [INPUT_LABELS.get(b.name, b.name) for b in bars]
    base = tornado.base_npv
    fig = go.Figure()
    fig.add_bar(
        y=labels,
        x=[b.npv_low - base for b in bars],
        base=base,
        orientation="h",
        name="input at its low",
        marker_color="#f79009",
        customdata=[f"{b.low:,.4g}" for b in bars],
        hovertemplate="%{y} at %{customdata}: NPV %{x:,.0f}<extra>low</extra>",
    )
    fig.add_bar(
        y=labels,
        x=[b.npv_high - base for b in bars],
        base=base,
        orientation="h",
        name="input at its high",
        marker_color=BLUE,
        customdata=[f"{b.high:,.4g}" for b in bars],
        hovertemplate="%{y} at %{customdata}: NPV %{x:,.0f}<extra>high</extra>",
    )
    fig.update_layout(
        figure_layout(
            REPORT_STYLE,
            "Sensitivity of NPV (tornado)",
            barmode="overlay",
            xaxis={"title": {"text": _in("NPV", currency)}, "gridcolor": "#eef2f6"},
            # Every bar named: plotly thins category ticks when rows are tight (the one-page report).
            yaxis={"automargin": True, "tickmode": "array", "tickvals": labels, "ticktext": labels},
            height=max(220, 90 + 24 * len(bars)),
            shapes=[
                {
                    "type": "line",
                    "x0": base,
                    "x1": base,
                    "yref": "paper",
                    "y0": 0,
                    "y1": 1,
                    "line": {"color": INK, "width": 1},
                }
            ],
            showlegend=True,
            legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 1, "xanchor": "right"},
            margin={"t": 40, "r": 15, "b": 45, "l": 120},
        )
    )
    return figure_dict(fig)


NEVER_GREY = "#eaecf0"


def heatmap_figure(
    *, heatmap: Heatmap, target_months: float, horizon_months: int, currency: str = ""
) -> dict[str, Any] | None:
    """Payback months over utilisation x labour rate, the target as the colour scale's midpoint so green pays
    back in time and red does not; cells that do not pay back within the horizon grey and marked "never".
    None when no cell pays back: the page says so in words instead of a blank grid.

    Each cell is labelled with its months and the scale is an annotation, not plotly's colour bar: the bar's
    fill rectangles get a style attribute, which the page's Content-Security-Policy (no 'unsafe-inline'
    styles) refuses. The gaps between cells keep plotly off its "fast" pixelated-image path (category axes
    without gaps), which sets a style attribute too."""
    z = [[v if v is not None and v == v and v != float("inf") else None for v in row] for row in heatmap.payback_months]
    finite = [v for row in z for v in row if v is not None]
    if not finite:
        return None
    top = max([*finite, target_months * 2])
    x = [f"{r:,.2f}" for r in heatmap.labour_cost_per_hour]
    y = [f"{u:.0%}" for u in heatmap.utilisation]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=x,
            y=y,
            zmin=0,
            zmax=top,
            colorscale=[[0, GREEN], [min(target_months / top, 1.0), "#fef0c7"], [1, RED]],
            showscale=False,
            xgap=1,
            ygap=1,
            hovertemplate="utilisation %{y}, labour %{x}/h: payback %{z:.1f} months<extra></extra>",
            texttemplate="%{z:.0f}",
            name="payback",
        )
    )
    never = [[0 if v is None else None for v in row] for row in z]
    if any(v is not None for row in never for v in row):
        fig.add_trace(
            go.Heatmap(
                z=never,
                x=x,
                y=y,
                colorscale=[[0, NEVER_GREY], [1, NEVER_GREY]],
                showscale=False,
                xgap=1,
                ygap=1,
                text=[["never" if v is not None else "" for v in row] for row in never],
                texttemplate="%{text}",
                hovertemplate=f"utilisation %{{y}}, labour %{{x}}/h: no payback within {horizon_months} months"
                "<extra></extra>",
                name="never",
            )
        )
    fig.update_layout(
        figure_layout(
            REPORT_STYLE,
            f"Payback (months) by utilisation and labour rate; grey: not within {horizon_months} months",
            xaxis={"title": {"text": _in("loaded labour rate per hour", currency)}, "type": "category"},
            yaxis={"title": {"text": "utilisation"}, "type": "category"},
            annotations=[corner_note(f"Colour: green 0, amber {target_months:g} (the target), red {top:.0f}+ months")],
        )
    )
    return figure_dict(fig)


@dataclass(frozen=True, kw_only=True)
class DashboardPoint:
    """One row of the dashboard table as the chart draws it: the headline NPV the table shows (the base
    case) and the Monte Carlo's P10-P90 band, in the table's order."""

    task_id: int
    label: str
    npv: float
    p10: float | None
    p90: float | None


def dashboard_figure(*, points: Sequence[DashboardPoint], currency: str = "") -> dict[str, Any]:
    """The table's NPV per task (marker, green when >= 0, red below, as the table colours it) with the
    Monte Carlo P10-P90 band as error bars, one row per table row, top to bottom in the table's order.

    Rows are positions 0..n-1 with the task names as tick labels, so two tasks of the same name stay two
    rows (a category axis would merge them)."""
    n = len(points)
    fig = go.Figure()
    fig.add_scatter(
        y=list(range(n)),
        x=[p.npv for p in points],
        customdata=[[p.task_id, p.label] for p in points],
        mode="markers",
        marker={"color": [GREEN if p.npv >= 0 else RED for p in points], "size": 10},
        error_x={
            "type": "data",
            "symmetric": False,
            "array": [max(p.p90 - p.npv, 0.0) if p.p90 is not None else 0 for p in points],
            "arrayminus": [max(p.npv - p.p10, 0.0) if p.p10 is not None else 0 for p in points],
            "color": GREY,
            "thickness": 2,
        },
        hovertemplate="%{customdata[1]}: NPV %{x:,.0f}<extra></extra>",
    )
    fig.update_layout(
        figure_layout(
            REPORT_STYLE,
            "NPV per task (base case), Monte Carlo P10-P90",
            height=max(220, 60 + 32 * n),
            xaxis={
                "title": {"text": _in("NPV over the horizon", currency)},
                "zeroline": True,
                "zerolinecolor": INK,
                "gridcolor": "#eef2f6",
            },
            yaxis={
                "automargin": True,
                "tickmode": "array",
                "tickvals": list(range(n)),
                "ticktext": [p.label for p in points],
                "autorange": "reversed",
            },
            margin={"t": 40, "r": 20, "b": 45, "l": 160},
        )
    )
    return figure_dict(fig)
