"""What every chart of the reports pages shares: the palette, the layout and the figure-to-dict step.

The subjects' figures live beside their pages (reports.roi.charts, reports.stats.charts); they are built in
Python (plotly) and drawn in the browser by the vendored plotly.js cartesian bundle (static/vendor/plotly,
no CDN). Every builder returns a plain dict ({"data": [...], "layout": {...}}), ready for json_script.
"""

from __future__ import annotations

import json
from typing import Any

import plotly.graph_objects as go

INK = "#1f2a44"
BLUE = "#2563eb"
GREEN = "#157347"
RED = "#b42318"
AMBER = "#b54708"
GREY = "#98a2b3"
FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12, "color": INK}

# The ROI report's charts are full or half page width; the statistics panels' are small multiples, so
# they get a smaller title, tighter margins and a fixed height.
REPORT_STYLE: dict[str, Any] = {"title_size": 14, "margin": {"t": 40, "r": 15, "b": 45, "l": 70}}
PANEL_STYLE: dict[str, Any] = {"title_size": 13, "margin": {"t": 38, "r": 15, "b": 42, "l": 55}, "height": 280}


def figure_layout(style: dict[str, Any], title: str, **extra: Any) -> dict[str, Any]:
    """A plotly layout in the house font on white, sized by `style` (REPORT_STYLE or PANEL_STYLE); `extra`
    adds keys or overrides the style's."""
    settings = {**style, **extra}
    title_size = settings.pop("title_size")
    margin = settings.pop("margin")
    return {
        "title": {"text": title, "font": {"size": title_size}, "x": 0.01, "xanchor": "left"},
        "font": FONT,
        "margin": margin,
        "paper_bgcolor": "#fff",
        "plot_bgcolor": "#fff",
        "showlegend": False,
        **settings,
    }


def figure_dict(fig: go.Figure) -> dict[str, Any]:
    """The figure as plain JSON values."""
    # Through plotly's JSON encoder: numpy values and plotly's own types become plain JSON.
    result: dict[str, Any] = json.loads(fig.to_json())
    return result
