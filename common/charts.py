"""Plotly figure pieces both trials' and reports' charts use (trials may not import reports)."""

from __future__ import annotations

from typing import Any


def corner_note(text: str) -> dict[str, Any]:
    """A plain-text note above a plot's top right corner: heat maps state their colour scale this way, as a
    plotly colour bar is drawn with style attributes the Content-Security-Policy refuses."""
    return {
        "text": text,
        "xref": "paper",
        "yref": "paper",
        "x": 1,
        "y": 1,
        "xanchor": "right",
        "yanchor": "bottom",
        "showarrow": False,
    }
