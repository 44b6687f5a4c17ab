"""Plotly figures of the ROI pages, built in Python (plotly) and drawn in the browser by the vendored
plotly.js (static/vendor/plotly, cartesian bundle: bar, scatter, heatmap; no CDN).

Every builder takes a result of reports.roi / reports.montecarlo and returns the figure as a plain dict
({"data": [...], "layout": {...}}), ready for json_script.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from reports.montecarlo import Distribution
from reports.roi import Heatmap, RoiResult, Tornado

INK = "#1f2a44"
BLUE = "#2563eb"
GREEN = "#157347"
RED = "#b42318"
GREY = "#98a2b3"
FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12, "color": INK}

# Labels of the inputs the tornado swings (reports.roi.TORNADO_PARAMS).
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


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": title, "font": {"size": 14}, "x": 0.01, "xanchor": "left"},
        "font": FONT,
        "margin": {"t": 40, "r": 15, "b": 45, "l": 70},
        "paper_bgcolor": "#fff",
        "plot_bgcolor": "#fff",
        "showlegend": False,
        **extra,
    }


def _as_dict(fig: go.Figure) -> dict[str, Any]:
    # Through plotly's JSON encoder: numpy values and plotly's own types become plain JSON.
    return json.loads(fig.to_json())  # type: ignore[no-any-return]


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
        _layout(
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
    return _as_dict(fig)


def histogram_figure(
    *, distribution: Distribution, title: str, x_title: str, marker: float | None = None, marker_text: str = ""
) -> dict[str, Any]:
    """The Monte Carlo histogram of one output (bars from the pre-binned counts), P10/P50/P90 marked, and an
    optional reference line (target payback, zero NPV)."""
    edges = distribution.histogram_edges
    counts = distribution.histogram_counts
    centres = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:], strict=True)]
    widths = [b - a for a, b in zip(edges[:-1], edges[1:], strict=True)]
    fig = go.Figure()
    fig.add_bar(x=centres, y=list(counts), width=widths, marker_color=BLUE, opacity=0.75, name="draws")
    shapes: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
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
                "y": 1,
                "yref": "paper",
                "text": label,
                "showarrow": False,
                "yanchor": "bottom",
                "font": {"size": 10},
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
                "y": 0.9,
                "yref": "paper",
                "text": marker_text,
                "showarrow": False,
                "xanchor": "left",
                "font": {"color": RED, "size": 10},
            }
        )
    fig.update_layout(
        _layout(
            title,
            xaxis={"title": {"text": x_title}},
            yaxis={"title": {"text": "draws"}, "gridcolor": "#eef2f6"},
            shapes=shapes,
            annotations=annotations,
            bargap=0.02,
        )
    )
    return _as_dict(fig)


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
        _layout(
            "Sensitivity of NPV (tornado)",
            barmode="overlay",
            xaxis={"title": {"text": _in("NPV", currency)}, "gridcolor": "#eef2f6"},
            yaxis={"automargin": True},
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
    return _as_dict(fig)


def heatmap_figure(*, heatmap: Heatmap, target_months: float, currency: str = "") -> dict[str, Any]:
    """Payback months over utilisation x labour rate; cells beyond the horizon left blank; the target as the
    colour scale's midpoint so green pays back in time and red does not."""
    z = [[v if v is not None and v == v and v != float("inf") else None for v in row] for row in heatmap.payback_months]
    finite = [v for row in z for v in row if v is not None]
    top = max([*finite, target_months * 2]) if finite else target_months * 2
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[f"{r:,.2f}" for r in heatmap.labour_cost_per_hour],
            y=[f"{u:.0%}" for u in heatmap.utilisation],
            zmin=0,
            zmax=top,
            colorscale=[[0, GREEN], [min(target_months / top, 1.0), "#fef0c7"], [1, RED]],
            colorbar={"title": {"text": "months"}},
            hovertemplate="utilisation %{y}, labour %{x}/h: payback %{z:.1f} months<extra></extra>",
            texttemplate="%{z:.0f}",
        )
    )
    fig.update_layout(
        _layout(
            "Payback (months) by utilisation and labour rate",
            xaxis={"title": {"text": _in("loaded labour rate per hour", currency)}, "type": "category"},
            yaxis={"title": {"text": "utilisation"}, "type": "category"},
        )
    )
    return _as_dict(fig)


def dashboard_figure(
    *,
    names: Sequence[str],
    p10: Sequence[float | None],
    p50: Sequence[float | None],
    p90: Sequence[float | None],
    currency: str = "",
) -> dict[str, Any]:
    """NPV P50 per task with its P10-P90 band as error bars, one row per task (the dashboard's order)."""
    rows = [(n, a, b, c) for n, a, b, c in zip(names, p10, p50, p90, strict=True) if b is not None][::-1]
    fig = go.Figure()
    fig.add_scatter(
        y=[r[0] for r in rows],
        x=[r[2] for r in rows],
        mode="markers",
        marker={"color": [GREEN if (r[2] or 0) >= 0 else RED for r in rows], "size": 10},
        error_x={
            "type": "data",
            "symmetric": False,
            "array": [(r[3] - r[2]) if r[3] is not None else 0 for r in rows],
            "arrayminus": [(r[2] - r[1]) if r[1] is not None else 0 for r in rows],
            "color": GREY,
            "thickness": 2,
        },
        hovertemplate="%{y}: NPV P50 %{x:,.0f}<extra></extra>",
    )
    fig.update_layout(
        _layout(
            "Expected NPV per task, P10-P90",
            height=max(220, 60 + 32 * len(rows)),
            xaxis={
                "title": {"text": _in("NPV over the horizon", currency)},
                "zeroline": True,
                "zerolinecolor": INK,
                "gridcolor": "#eef2f6",
            },
            yaxis={"automargin": True},
            margin={"t": 40, "r": 20, "b": 45, "l": 160},
        )
    )
    return _as_dict(fig)
