"""Formats of the reports pages, ROI and statistics alike: money with thousands separators, shares as
percentages, months, intervals with their n, and the pages' plotly figures as JSON script elements."""

from __future__ import annotations

import json
import math
from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from core import stats

register = template.Library()


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@register.filter
def money(value: Any, currency: str = "") -> str:
    """12345.6 -> '12,346', with `currency` (an ISO 4217 code) 'EUR 12,346'; negatives with a minus sign;
    '—' for None. The code rather than a symbol: '$' alone does not say which dollar."""
    number = _number(value)
    if number is None:
        return "—"
    amount = f"{number:,.0f}".replace("-", "−")
    return f"{currency}\u00a0{amount}" if currency else amount


@register.filter
def pct(value: Any, digits: int = 0) -> str:
    """0.1234 -> '12%'."""
    number = _number(value)
    return "—" if number is None else f"{100 * number:.{int(digits)}f}%"


@register.filter
def months(value: Any) -> str:
    """Payback months with one decimal, or 'beyond horizon' for None (not paid back within it)."""
    number = _number(value)
    return "beyond horizon" if number is None else f"{number:.1f}"


@register.filter("nice")
@register.filter
def source_label(value: Any) -> str:
    """Episode sources ("robot_agent", or a list of them) or any snake_case key ("grasp_miss") as words:
    "robot agent"; `nice` in the statistics templates."""
    if isinstance(value, list | tuple):
        return ", ".join(str(v).replace("_", " ") for v in value)
    return str(value).replace("_", " ")


@register.filter
def num(value: Any, digits: int = 2) -> str:
    """A plain number with `digits` significant decimals, '—' for None."""
    number = _number(value)
    return "—" if number is None else f"{number:,.{int(digits)}f}"


def json_script_element(data: Any, *, element_id: str, css_class: str = "") -> SafeString:
    """`data` as a JSON <script> element that HTML cannot break out of (<, >, & escaped)."""
    text = json.dumps(data).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return format_html(
        '<script type="application/json" class="{}" id="{}">{}</script>', css_class, element_id, SafeString(text)
    )


@register.simple_tag
def chart_data(charts: dict[str, Any]) -> SafeString:
    """The page's plotly figures as one JSON script element (id "roi-charts"), for static/js/reports.js."""
    return json_script_element(charts, element_id="roi-charts")


@register.filter
def pct1(value: Any) -> str:
    """0.8612 -> '86.1%'; '—' for None."""
    number = _number(value)
    return "—" if number is None else f"{100 * number:.1f}%"


@register.filter
def pct_exact(value: Any) -> str:
    """0.999 -> '99.9%', 0.9 -> '90%' (as many decimals as the share needs, up to two); '—' for None."""
    number = _number(value)
    return "—" if number is None else stats.pct_exact(number)


@register.filter
def ci_pct(interval: Any) -> str:
    """An Interval of shares as '72.1–93.0%', '—' when absent."""
    if not interval or _number(interval.low) is None or _number(interval.high) is None:
        return "—"
    return f"{100 * interval.low:.1f}–{100 * interval.high:.1f}%"


@register.filter
def ci_num(interval: Any, digits: int = 2) -> str:
    """An Interval of numbers as '1.20–3.40', with '∞' for an open upper end, '—' when absent."""
    if not interval or _number(interval.low) is None:
        return "—"
    high = _number(interval.high)
    return f"{interval.low:.{int(digits)}f}–{'∞' if high is None else f'{high:.{int(digits)}f}'}"


@register.simple_tag
def stats_chart_data(charts: dict[str, Any], element_id: str) -> SafeString:
    """Plotly figures of a statistics panel as one JSON script element (drawn by static/js/stats.js)."""
    return json_script_element(charts, element_id=element_id, css_class="stats-charts")
