"""What the ROI pages show, read and arranged for their templates: the dashboard's and the report page's
context (figures, charts, assumptions, break-even) and the cost model a form starts from."""

from __future__ import annotations

from typing import Any

from accounts.models import User
from core.roi import RoiInputError
from reports.models import COST_MODEL_EDITABLE_FIELDS, CostModel, CostScenario
from reports.roi import charts
from reports.roi.dashboard import (
    DASHBOARD_DRAWS,
    DASHBOARD_ORDERS,
    dashboard_sort,
    dashboard_traffic_light,
    task_roi_dashboard,
)
from reports.roi.evidence import task_trial_evidence
from reports.roi.forms import INPUT_SPECS
from reports.roi.report import (
    LIGHT_GREEN_MAX_P_LOSS,
    LIGHT_RED_MIN_P_LOSS,
    LIGHTS,
    TaskRoiReport,
    roi_traffic_light,
    task_roi_report,
)
from trials.models import Task
from trials.selectors import task_commercial_visible


def cost_models_by_scenario(*, task: Task) -> dict[str, CostModel]:
    """The task's cost models by scenario value (one query)."""
    return {cm.scenario: cm for cm in CostModel.objects.filter(task=task)}


def cost_model_draft(*, task: Task, scenario: str, existing: dict[str, CostModel]) -> CostModel:
    """The task's cost model for `scenario` from `existing` (cost_models_by_scenario), or an unsaved one: a
    new scenario starts from the base scenario's figures rather than from zero, when there is a base one."""
    instance = existing.get(scenario)
    if instance is not None:
        return instance
    instance = CostModel(task=task, scenario=scenario)
    base = existing.get(CostScenario.BASE)
    if base is not None:
        for name in COST_MODEL_EDITABLE_FIELDS:
            setattr(instance, name, getattr(base, name))
    return instance


def _evidence_page(*, task: Task, scenario: str, user: User) -> dict[str, Any]:
    """The ROI page of an engaged integrator: the trial evidence that exists, none of the customer's terms."""
    evidence_error = ""
    evidence = None
    sources: tuple[str, ...] = ()
    try:
        evidence, sources = task_trial_evidence(task=task, user=user)
    except RoiInputError as exc:
        evidence_error = str(exc)
    return {
        "task": task,
        "scenario": scenario,
        "commercial": False,
        "evidence": evidence,
        "evidence_error": evidence_error,
        "source_labels": ", ".join(s.replace("_", " ") for s in sources),
        "charts": {},
    }


def _report_charts(*, report: TaskRoiReport, currency: str) -> tuple[dict[str, Any], dict[str, str]]:
    """(figures by element id, notes by element id): a chart that would be empty or degenerate is left out
    and its reason said in words instead."""
    roi, mc = report.roi, report.monte_carlo
    figures: dict[str, Any] = {}
    notes: dict[str, str] = {}
    never = mc.p_never_pays_back
    payback = charts.histogram_figure(
        distribution=mc.payback_months,
        title="Payback over the Monte Carlo draws",
        # On the axis, not in the title: a long title runs past a half-width chart on the one-page report.
        x_title="months" + (f" ({never:.0%} of draws never pay back, not shown)" if 0 < never else ""),
        marker=mc.target_payback_months,
        marker_text="target",
    )
    npv = charts.histogram_figure(
        distribution=mc.npv,
        title="NPV over the Monte Carlo draws",
        x_title=f"NPV, {currency}",
        marker=0.0,
        marker_text="0",
    )
    for key, figure in (
        ("cash-flow-chart", charts.cash_flow_figure(roi=roi, currency=currency)),
        ("payback-histogram", payback),
        ("npv-histogram", npv),
    ):
        if figure is not None:
            figures[key] = figure
    if payback is None:
        notes["payback-histogram"] = (
            f"None of the {mc.draws:,} Monte Carlo draws pays back within the {roi.horizon_months}-month "
            "horizon, so there is no payback distribution to draw."
        )
    if report.tornado is not None:
        figures["tornado-chart"] = charts.tornado_figure(tornado=report.tornado, currency=currency)
    if report.heatmap is not None:
        heatmap = charts.heatmap_figure(
            heatmap=report.heatmap,
            target_months=roi.payback_target_months,
            horizon_months=roi.horizon_months,
            currency=currency,
        )
        if heatmap is None:
            notes["heatmap-chart"] = (
                f"At none of the utilisations and labour rates tried does the robot pay back within the "
                f"{roi.horizon_months}-month horizon, so the payback map is empty."
            )
        else:
            figures["heatmap-chart"] = heatmap
    return figures, notes


def _assumptions(*, cost_model: CostModel, task: Task) -> list[dict[str, Any]]:
    """One row per input of the form: its value (the task's labour rate when not overridden), range, note."""
    ranges = cost_model.input_ranges or {}
    notes = cost_model.input_notes or {}
    rows = []
    for spec in INPUT_SPECS:
        value = getattr(cost_model, spec.name)
        if spec.name == "labour_rate_override_per_hour" and value is None:
            value = task.labour_cost_per_hour
        rows.append(
            {"spec": spec, "value": value, "range": ranges.get(spec.range_key or ""), "note": notes.get(spec.name, "")}
        )
    return rows


def _break_even_rows(report: TaskRoiReport | None) -> list[dict[str, Any]]:
    if report is None or report.break_even is None:
        return []
    be = report.break_even
    return [
        {"label": "Success rate", "value": be.success_rate, "unit": "", "digits": 3},
        {"label": "Mean time between interventions", "value": be.mtbi_hours, "unit": " h", "digits": 2},
        {"label": "Utilisation", "value": be.utilisation, "unit": "", "digits": 3},
    ]


def task_roi_page(*, task: Task, scenario: str, user: User, can_edit: bool) -> dict[str, Any]:
    """The context of the task's ROI page and its one-page version: the report of `scenario` with its charts,
    assumptions and break-even, or the message why there is none; for a user who may read the task but not
    its commercial terms (an engaged integrator), only the trial evidence."""
    if not task_commercial_visible(user=user, task=task):
        return _evidence_page(task=task, scenario=scenario, user=user)
    report: TaskRoiReport | None = None
    error = ""
    try:
        report = task_roi_report(task=task, scenario=scenario, user=user)
    except RoiInputError as exc:
        error = str(exc)
    cost_models = cost_models_by_scenario(task=task)
    cost_model = cost_models.get(scenario)
    figures: dict[str, Any] = {}
    chart_notes: dict[str, str] = {}
    light = "none"
    if report is not None:
        light = roi_traffic_light(roi=report.roi, monte_carlo=report.monte_carlo)
        figures, chart_notes = _report_charts(report=report, currency=task.currency)
    return {
        "task": task,
        "scenario": scenario,
        "be_rows": _break_even_rows(report),
        "scenario_label": CostScenario(scenario).label,
        "scenarios": [(value, label, value in cost_models) for value, label in CostScenario.choices],
        "report": report,
        "error": error,
        "cost_model": cost_model,
        "assumptions": _assumptions(cost_model=cost_model, task=task) if cost_model is not None else [],
        "charts": figures,
        "chart_notes": chart_notes,
        "light": light,
        "can_edit": can_edit,
        "commercial": True,
        "currency": task.currency,
        "source_labels": ", ".join(s.replace("_", " ") for s in report.evidence_sources) if report else "",
    }


def dashboard_page(*, user: User, scenario: str, order: str) -> dict[str, Any]:
    """The context of the manager dashboard: every task `user` may read, ranked by `order` (an unknown
    order ranks by NPV), with its traffic light, the light counts and the chart of the table's rows."""
    order = order if order in DASHBOARD_ORDERS else "npv"
    rows = dashboard_sort(rows=task_roi_dashboard(user=user, scenario=scenario), order=order)
    table = [{"row": row, "light": dashboard_traffic_light(row=row)} for row in rows]
    # The chart is drawn from exactly the table's rows (same figure, same order); rows without a result
    # are in the table with their reason and left out of the chart.
    points = [
        charts.DashboardPoint(
            task_id=r.task_id, label=r.task_name, npv=r.roi.npv, p10=r.monte_carlo.npv.p10, p90=r.monte_carlo.npv.p90
        )
        for r in rows
        if r.roi is not None and r.monte_carlo is not None
    ]
    # one axis, one unit: named only when every plotted task shares it (a superuser may mix)
    currencies = {r.currency for r in rows if r.roi is not None and r.monte_carlo is not None}
    figure = (
        charts.dashboard_figure(points=points, currency=currencies.pop() if len(currencies) == 1 else "")
        if points
        else None
    )
    lights = [t["light"] for t in table]
    return {
        "table": table,
        "scenario": scenario,
        "scenarios": CostScenario.choices,
        "order": order,
        "draws": DASHBOARD_DRAWS,
        "charts": {"dashboard-chart": figure} if figure else {},
        "counts": {light: lights.count(light) for light in LIGHTS},
        "light_rule": {"green_max": LIGHT_GREEN_MAX_P_LOSS, "red_min": LIGHT_RED_MIN_P_LOSS},
    }
