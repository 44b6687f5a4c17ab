"""Engineers' pages for robustness sweeps: schedule one on a task, read its results. Thin: parse, call
sweep_schedule or sweep_results, render. Visibility from the selectors (another organization's sweep is
a 404), who may schedule from accounts.permissions (engineer_required)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from accounts.permissions import engineer_required
from accounts.requests import AuthenticatedHttpRequest
from common.charts import corner_note
from core.sim.variation import Factor
from core.stats import Interval
from core.sweep import ConditionFigures, FactorSensitivity
from trials.forms import SweepScheduleForm
from trials.models import Trial
from trials.selectors import task_list_for_user
from trials.services import TrialRuleError
from trials.sweep_selectors import Heatmap, sweep_list_for_user, sweep_results
from trials.sweep_services import cell_factors, sweep_schedule


def _cells_factors(cell_keys: set[str]) -> dict[str, tuple[Factor, ...]]:
    known = {}
    for key in sorted(cell_keys):
        try:
            known[key] = cell_factors(key)
        except KeyError:
            continue  # a robot naming a cell this process does not know: nothing to list for it
    return known


@engineer_required
def sweep_create(request: AuthenticatedHttpRequest, task_pk: int) -> HttpResponse:
    task = get_object_or_404(task_list_for_user(user=request.user), pk=task_pk)
    form = SweepScheduleForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            sweep = sweep_schedule(
                task=task,
                policy_version=data["policy_version"],
                robot=data["robot"],
                name=data["name"],
                design=data["design"],
                factors=data["factors"],
                episodes_per_condition=data["episodes_per_condition"],
                seed=data["seed"],
                created_by=request.user,
            )
        except TrialRuleError as exc:
            field = (exc.field or "").split(".")[0]
            form.add_error(field if field in form.fields else None, f"{exc.field}: {exc}" if exc.field else str(exc))
        else:
            count = sweep.conditions.count()
            messages.success(request, f"Sweep {sweep.pk} queued: {count} conditions x {sweep.episodes_per_condition}.")
            return redirect("sweep-detail", pk=sweep.pk)
    if request.method == "POST":
        messages.error(request, "The sweep was not scheduled: please correct the fields marked below.")
    keys = set(form.robots.values_list("sim_cell_key", flat=True))
    context = {"form": form, "task": task, "cells": _cells_factors(keys), "no_robots": not form.robots.exists()}
    return render(request, "trials/sweep_form.html", context)


# The heat map's scale, red (0 % success) through amber to green (100 %): an explicit list in the reports'
# palette (reports.charts, a layer above this one), not a named plotly scale.
HEATMAP_COLORSCALE = [[0.0, "#b42318"], [0.5, "#fef0c7"], [1.0, "#157347"]]
HEATMAP_SCALE_NOTE = "Colour: red 0 %, amber 50 %, green 100 % success"


def _heatmap_figure(heatmap: Heatmap) -> dict[str, Any]:
    """A plotly heat map of success rate (drawn by static/js/charts.js), each cell labelled with its rate.

    Drawn without plotly's colour bar: the bar's fill rectangles get a style attribute, which the page's
    Content-Security-Policy (no 'unsafe-inline' styles) refuses; the scale is an annotation instead. The
    gaps between cells keep plotly off its "fast" pixelated-image path, which sets a style attribute too."""
    return {
        "data": [
            {
                "type": "heatmap",
                "x": heatmap.x,
                "y": heatmap.y,
                "z": heatmap.z,
                "zmin": 0,
                "zmax": 1,
                "colorscale": HEATMAP_COLORSCALE,
                "showscale": False,
                "texttemplate": "%{z:.0%}",
                "hovertemplate": f"{heatmap.x_key}=%{{x}}<br>{heatmap.y_key}=%{{y}}<br>success %{{z:.0%}}<extra></extra>",
                "xgap": 2,
                "ygap": 2,
            }
        ],
        "layout": {
            "title": {"text": "Success rate by condition"},
            "xaxis": {"title": {"text": heatmap.x_key}, "type": "category"},
            "yaxis": {"title": {"text": heatmap.y_key}, "type": "category"},
            "annotations": [corner_note(HEATMAP_SCALE_NOTE)],
            "height": 360,
            "margin": {"t": 40, "r": 20, "b": 50, "l": 70},
        },
    }


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _interval(interval: Interval | None, *, signed: bool = False) -> str:
    if interval is None or interval.low is None or interval.high is None:
        return "—"
    fmt = "+.0%" if signed else ".0%"
    return f"{interval.low:{fmt}} to {interval.high:{fmt}}"


def _row(condition: ConditionFigures, trial: Trial) -> dict[str, Any]:
    """A results-table row as text: rate and Wilson interval, the paired change from nominal."""
    cmp = condition.vs_nominal
    return {
        "condition": condition,
        "trial": trial,
        "rate": _pct(condition.rate),
        "rate_ci": _interval(condition.rate_ci),
        "change": "—" if cmp is None or cmp.difference is None else f"{cmp.difference:+.0%}",
        "change_ci": _interval(cmp.difference_ci if cmp else None, signed=True),
        "pairs": f"{cmp.n_pairs} ({cmp.only_a} lost, {cmp.only_b} gained)" if cmp else "—",
        "p_value": "—" if cmp is None or cmp.p_value is None else f"{cmp.p_value:.3g}",
    }


def _sensitivity_row(item: FactorSensitivity) -> dict[str, Any]:
    return {
        "item": item,
        "drop": "—" if item.drop is None else f"{item.drop:+.0%}",
        "drop_ci": _interval(item.drop_ci, signed=True),
        "p_value": "—" if item.p_value is None else f"{item.p_value:.3g}",
    }


@login_required
def sweep_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    sweep = get_object_or_404(sweep_list_for_user(user=request.user), pk=pk)
    factors = _cells_factors({sweep.robot.sim_cell_key}).get(sweep.robot.sim_cell_key)
    results = sweep_results(sweep=sweep, factors=factors)
    rows = [_row(c, t) for c, t in zip(results.figures.conditions, results.trials, strict=True)]
    charts = {"sweep-heatmap": _heatmap_figure(results.heatmap)} if results.heatmap else None
    sensitivities = [_sensitivity_row(item) for item in results.figures.sensitivities]
    context = {"sweep": sweep, "results": results, "rows": rows, "sensitivities": sensitivities, "charts": charts}
    return render(request, "trials/sweep_detail.html", context)
