"""Formats of the statistics panels: a rate with its interval and n, an interval in seconds or hours."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString

from core import stats
from reports.templatetags.report_format import _number as _finite
from reports.templatetags.report_format import json_script_element, source_label

register = template.Library()


@register.filter
def pct1(value: Any) -> str:
    """0.8612 -> '86.1%'; '—' for None."""
    number = _finite(value)
    return "—" if number is None else f"{100 * number:.1f}%"


@register.filter
def pct_exact(value: Any) -> str:
    """0.999 -> '99.9%', 0.9 -> '90%' (as many decimals as the share needs, up to two); '—' for None."""
    number = _finite(value)
    return "—" if number is None else stats.pct_exact(number)


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


# A snake_case key as words: 'grasp_miss' -> 'grasp miss' (the same rule as the ROI pages' sources).
register.filter("nice", source_label)


@register.simple_tag
def stats_chart_data(charts: dict[str, Any], element_id: str) -> SafeString:
    """Plotly figures as one JSON script element (drawn by static/js/stats.js)."""
    return json_script_element(charts, element_id=element_id, css_class="stats-charts")
