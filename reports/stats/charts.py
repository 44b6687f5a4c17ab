"""Plotly figures of the statistics panels, built in Python from reports.stats.selectors results and drawn in the
browser by the vendored plotly.js cartesian bundle (bar, box, scatter; it has no waterfall trace, so the
OEE loss waterfall is drawn as floating bars). Every builder returns a plain dict ({"data", "layout"}),
ready for json_script, or None when there is nothing to draw.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.stats import OEEBreakdown, ParetoBar
from reports.charts import AMBER, BLUE, GREEN, GREY, INK, PANEL_STYLE, RED, figure_dict, figure_layout
from reports.stats.selectors import SourceStatistics


def cycle_time_figure(*, block: SourceStatistics) -> dict[str, Any] | None:
    """Box plot (Tukey, precomputed quartiles and whiskers) above a histogram of successful cycle times,
    with the manual cycle time and the takt time as vertical lines. None without a successful cycle."""
    dist = block.cycle_time_distribution
    if dist.n == 0 or dist.median_s is None:
        return None
    edges = dist.bin_edges_s
    centres = [(lo + hi) / 2 for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    widths = [hi - lo for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.22, 0.78], vertical_spacing=0.04)
    fig.add_trace(
        go.Box(
            q1=[dist.q1_s],
            median=[dist.median_s],
            q3=[dist.q3_s],
            lowerfence=[dist.whisker_low_s],
            upperfence=[dist.whisker_high_s],
            y=["cycles"],
            orientation="h",
            marker_color=BLUE,
            line_color=BLUE,
            hoverinfo="x",
            name="box plot",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Bar(
            x=centres,
            y=list(dist.counts),
            width=widths,
            marker_color=BLUE,
            marker_line_color="#fff",
            marker_line_width=1,
            opacity=0.85,
            name="successful cycles",
            hovertemplate="%{x:.1f} s: %{y} cycles<extra></extra>",
        ),
        row=2,
        col=1,
    )
    # The two labels sit on either side of their lines, so close values do not overprint.
    takt_left = block.takt_time_s < block.manual_cycle_time_s
    for value, label, colour, anchor in (
        (block.takt_time_s, "takt", RED, "right" if takt_left else "left"),
        (block.manual_cycle_time_s, "manual", GREY, "left" if takt_left else "right"),
    ):
        fig.add_vline(x=value, line_dash="dash", line_color=colour, line_width=2)
        fig.add_annotation(
            x=value, y=1.0, yref="paper", text=f" {label} {value:.1f} s ", showarrow=False, yanchor="bottom",
            xanchor=anchor, font={"color": colour, "size": 11},
        )  # fmt: skip
    fig.update_layout(
        figure_layout(
            PANEL_STYLE,
            f"Cycle time of successful episodes (n = {dist.n})",
            height=300,
            margin={"t": 55, "r": 15, "b": 42, "l": 55},
        )
    )
    fig.update_xaxes(title_text="cycle time (s)", row=2, col=1, gridcolor="#eef0f3")
    fig.update_yaxes(showticklabels=False, row=1, col=1)
    fig.update_yaxes(title_text="episodes", row=2, col=1, gridcolor="#eef0f3")
    return figure_dict(fig)


def pareto_figure(*, bars: tuple[ParetoBar, ...], n_failures: int) -> dict[str, Any] | None:
    """Failed episodes by loss category (bars, descending) with the cumulative share (line, right axis).
    None without a failure."""
    if not bars:
        return None
    labels = [b.category.replace("_", " ") for b in bars]
    fig = go.Figure()
    fig.add_bar(
        x=labels, y=[b.count for b in bars], marker_color=RED, name="failures",
        hovertemplate="%{x}: %{y} failures<extra></extra>",
    )  # fmt: skip
    fig.add_scatter(
        x=labels,
        y=[b.cumulative_share * 100 for b in bars],
        yaxis="y2",
        mode="lines+markers",
        line_color=INK,
        name="cumulative %",
        hovertemplate="%{y:.0f}% cumulative<extra></extra>",
    )
    fig.update_layout(
        figure_layout(
            PANEL_STYLE,
            f"Failures by category — Pareto (n = {n_failures} failed episodes)",
            yaxis={"title": {"text": "failed episodes"}, "gridcolor": "#eef0f3", "rangemode": "tozero"},
            yaxis2={"overlaying": "y", "side": "right", "range": [0, 105], "ticksuffix": "%", "showgrid": False},
            margin={"t": 38, "r": 45, "b": 60, "l": 55},
        )
    )
    return figure_dict(fig)


_FACTOR_COLOURS = {"planned": INK, "availability": AMBER, "performance": AMBER, "quality": RED, "result": GREEN}


def oee_waterfall_figure(*, oee: OEEBreakdown | None) -> dict[str, Any] | None:
    """Loss waterfall in minutes of planned time: planned time, then operator recovery (availability),
    speed (performance) and failed attempts by category (quality), down to the good output. Floating bars:
    a transparent base and a coloured step."""
    if oee is None:
        return None
    labels, bases, heights, colours, texts = [], [], [], [], []
    level = 0.0
    for step in oee.waterfall:
        minutes = step.seconds / 60
        labels.append(step.label.replace("_", " "))
        if step.factor in ("planned", "result"):
            bases.append(0.0)
            heights.append(minutes)
            level = minutes
        else:
            level += minutes  # a loss is negative: the bar hangs from the previous level
            bases.append(level)
            heights.append(-minutes)
        colours.append(_FACTOR_COLOURS[step.factor])
        loss = step.factor not in ("planned", "result")
        texts.append(("−" if minutes < -0.05 else "") + f"{abs(minutes):.1f} min" if loss else f"{minutes:.1f} min")
    fig = go.Figure()
    fig.add_bar(x=labels, y=bases, marker_color="rgba(0,0,0,0)", hoverinfo="skip", showlegend=False)
    fig.add_bar(
        x=labels, y=heights, marker_color=colours, text=texts, textposition="outside", cliponaxis=False,
        hovertemplate="%{x}: %{text}<extra></extra>",
    )  # fmt: skip
    fig.update_layout(
        figure_layout(
            PANEL_STYLE,
            f"OEE loss waterfall — A {oee.availability:.0%} × P {oee.performance:.0%} × Q {oee.quality:.0%} "
            f"= {oee.oee:.0%}",
            barmode="stack",
            yaxis={"title": {"text": "minutes"}, "gridcolor": "#eef0f3", "rangemode": "tozero"},
            margin={"t": 38, "r": 15, "b": 70, "l": 55},
        )
    )
    return figure_dict(fig)


def source_figures(*, block: SourceStatistics, prefix: str) -> dict[str, dict[str, Any]]:
    """The figures of one source block keyed by element id (`prefix`-cycle, -pareto, -oee); absent ones
    are left out."""
    figures = {
        f"{prefix}-cycle": cycle_time_figure(block=block),
        f"{prefix}-pareto": pareto_figure(bars=block.failures_by_category, n_failures=block.success.failures),
        f"{prefix}-oee": oee_waterfall_figure(oee=block.oee),
    }
    return {key: fig for key, fig in figures.items() if fig is not None}
