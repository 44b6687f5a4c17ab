"""Formats of the statistics panels: a rate with its interval and n, an interval in seconds or hours."""

from __future__ import annotations

import json
import math
from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@register.filter
def pct1(value: Any) -> str:
    """0.8612 -> '86.1%'; '—' for None."""
    number = _finite(value)
    return "—" if number is None else f"{100 * number:.1f}%"


@register.filter
def ci_pct(interval: Any) -> str:
    """An Interval of shares as '72.1–93.0%', '—' when absent."""
    if not interval or _finite(interval.low) is None or _finite(interval.high) is None:
        return "—"
    return f"{100 * interval.low:.1f}–{100 * interval.high:.1f}%"


@register.filter
def ci_num(interval: Any, digits: int = 2) -> str:
    """An Interval of numbers as '1.20–3.40', with '∞' for an open upper end, '—' when absent."""
    if not interval or _finite(interval.low) is None:
        return "—"
    high = _finite(interval.high)
    return f"{interval.low:.{int(digits)}f}–{'∞' if high is None else f'{high:.{int(digits)}f}'}"


@register.filter
def nice(value: Any) -> str:
    """A snake_case key as words: 'grasp_miss' -> 'grasp miss'."""
    return str(value).replace("_", " ")


@register.simple_tag
def stats_chart_data(charts: dict[str, Any], element_id: str) -> SafeString:
    """Plotly figures as one JSON script element (drawn by static/js/stats.js)."""
    text = json.dumps(charts).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return format_html(
        '<script type="application/json" class="stats-charts" id="{}">{}</script>', element_id, SafeString(text)
    )
