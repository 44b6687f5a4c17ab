"""Reports pages: the manager dashboard (every visible task ranked by its ROI), the task ROI report (with
a printable one-page version and its PDF), the cost-model form, and the CSV exports of a trial.

Thin: parse, call one selector or service, render. Figures come from reports.roi_inputs (the same
functions as the API); charts from reports.charts. Visibility from the selectors (another organization's
task or trial is a 404); editing the cost model is for the owner organization's engineers (else 403).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_GET

from accounts.permissions import can_scope_tasks, engineer_required
from core.roi import RoiInputError
from reports import charts
from reports.exports import PdfUnavailable, episodes_csv, events_csv, html_to_pdf
from reports.forms import INPUT_SPECS, CostModelForm, ScenarioForm
from reports.models import CostModel, CostScenario
from reports.roi_inputs import (
    COMMERCIAL_TERMS_HIDDEN,
    DASHBOARD_DRAWS,
    DASHBOARD_ORDERS,
    LIGHT_GREEN_MAX_P_LOSS,
    LIGHT_RED_MIN_P_LOSS,
    LIGHTS,
    TaskRoiReport,
    dashboard_sort,
    dashboard_traffic_light,
    roi_traffic_light,
    task_roi_dashboard,
    task_roi_report,
    task_trial_evidence,
)
from reports.services import cost_model_save
from trials.models import Task
from trials.selectors import task_commercial_visible, task_list_for_user, trial_list_for_user


def _scenario(request: HttpRequest) -> str:
    form = ScenarioForm(request.GET)
    return (form.cleaned_data.get("scenario") if form.is_valid() else "") or CostScenario.BASE


# --- Dashboard --------------------------------------------------------------------------------


@login_required
def report_index(request: HttpRequest) -> HttpResponse:
    """The manager dashboard: every visible task, ranked (?order=npv|payback|name), for one ?scenario=."""
    scenario = _scenario(request)
    order = request.GET.get("order", "npv")
    order = order if order in DASHBOARD_ORDERS else "npv"
    rows = dashboard_sort(rows=task_roi_dashboard(user=request.user, scenario=scenario), order=order)
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
    return render(
        request,
        "reports/index.html",
        {
            "table": table,
            "scenario": scenario,
            "scenarios": CostScenario.choices,
            "order": order,
            "draws": DASHBOARD_DRAWS,
            "charts": {"dashboard-chart": figure} if figure else {},
            "counts": {light: lights.count(light) for light in LIGHTS},
            "light_rule": {"green_max": LIGHT_GREEN_MAX_P_LOSS, "red_min": LIGHT_RED_MIN_P_LOSS},
        },
    )


# --- Task ROI report ----------------------------------------------------------------------------


def _evidence_context(request: HttpRequest, task: Task, scenario: str) -> dict[str, Any]:
    """The ROI page of an engaged integrator: the trial evidence that exists, none of the customer's terms."""
    evidence_error = ""
    evidence = None
    sources: tuple[str, ...] = ()
    try:
        evidence, sources = task_trial_evidence(task=task, user=request.user)  # type: ignore[arg-type]
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


def _report_context(request: HttpRequest, task: Task, scenario: str) -> dict[str, Any]:
    if not task_commercial_visible(user=request.user, task=task):  # type: ignore[arg-type]
        return _evidence_context(request, task, scenario)
    report: TaskRoiReport | None = None
    error = ""
    try:
        report = task_roi_report(task=task, scenario=scenario, user=request.user)
    except RoiInputError as exc:
        error = str(exc)
    cost_models = {cm.scenario: cm for cm in CostModel.objects.filter(task=task)}
    cost_model = cost_models.get(scenario)
    figures: dict[str, Any] = {}
    # A chart that would be empty or degenerate is left out and its reason said in words (chart_notes).
    chart_notes: dict[str, str] = {}
    light = "none"
    if report is not None:
        roi, mc = report.roi, report.monte_carlo
        light = roi_traffic_light(roi=roi, monte_carlo=mc)
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
            x_title=f"NPV, {task.currency}",
            marker=0.0,
            marker_text="0",
        )
        for key, figure in (
            ("cash-flow-chart", charts.cash_flow_figure(roi=roi, currency=task.currency)),
            ("payback-histogram", payback),
            ("npv-histogram", npv),
        ):
            if figure is not None:
                figures[key] = figure
        if payback is None:
            chart_notes["payback-histogram"] = (
                f"None of the {mc.draws:,} Monte Carlo draws pays back within the {roi.horizon_months}-month "
                "horizon, so there is no payback distribution to draw."
            )
        if report.tornado is not None:
            figures["tornado-chart"] = charts.tornado_figure(tornado=report.tornado, currency=task.currency)
        if report.heatmap is not None:
            heatmap = charts.heatmap_figure(
                heatmap=report.heatmap,
                target_months=roi.payback_target_months,
                horizon_months=roi.horizon_months,
                currency=task.currency,
            )
            if heatmap is None:
                chart_notes["heatmap-chart"] = (
                    f"At none of the utilisations and labour rates tried does the robot pay back within the "
                    f"{roi.horizon_months}-month horizon, so the payback map is empty."
                )
            else:
                figures["heatmap-chart"] = heatmap
    assumptions = []
    if cost_model is not None:
        ranges = cost_model.input_ranges or {}
        notes = cost_model.input_notes or {}
        for spec in INPUT_SPECS:
            value = getattr(cost_model, spec.name)
            if spec.name == "labour_rate_override_per_hour" and value is None:
                value = task.labour_cost_per_hour
            assumptions.append(
                {
                    "spec": spec,
                    "value": value,
                    "range": ranges.get(spec.range_key or ""),
                    "note": notes.get(spec.name, ""),
                }
            )
    be_rows = []
    if report is not None and report.break_even is not None:
        be = report.break_even
        be_rows = [
            {"label": "Success rate", "value": be.success_rate, "unit": "", "digits": 3},
            {"label": "Mean time between interventions", "value": be.mtbi_hours, "unit": " h", "digits": 2},
            {"label": "Utilisation", "value": be.utilisation, "unit": "", "digits": 3},
        ]
    return {
        "task": task,
        "scenario": scenario,
        "be_rows": be_rows,
        "scenario_label": CostScenario(scenario).label,
        "scenarios": [(value, label, value in cost_models) for value, label in CostScenario.choices],
        "report": report,
        "error": error,
        "cost_model": cost_model,
        "assumptions": assumptions,
        "charts": figures,
        "chart_notes": chart_notes,
        "light": light,
        "can_edit": _can_edit_costs(request, task),
        "commercial": True,
        "currency": task.currency,
        "source_labels": ", ".join(s.replace("_", " ") for s in report.evidence_sources) if report else "",
    }


def _can_edit_costs(request: HttpRequest, task: Task) -> bool:
    user = request.user
    return can_scope_tasks(user) and (user.is_superuser or task.organization_id == user.organization_id)  # type: ignore[arg-type,union-attr]


def _commercial_task_or_403(request: HttpRequest, pk: int) -> Task:
    task = get_object_or_404(task_list_for_user(user=request.user), pk=pk)
    if not task_commercial_visible(user=request.user, task=task):  # type: ignore[arg-type]
        raise PermissionDenied(COMMERCIAL_TERMS_HIDDEN)
    return task


@login_required
def task_roi(request: HttpRequest, pk: int) -> HttpResponse:
    task = get_object_or_404(task_list_for_user(user=request.user), pk=pk)
    return render(request, "reports/task_roi.html", _report_context(request, task, _scenario(request)))


@login_required
def task_roi_print(request: HttpRequest, pk: int) -> HttpResponse:
    """The one-page version (print CSS) a manager hands to a finance director."""
    task = _commercial_task_or_403(request, pk)
    return render(request, "reports/task_roi_print.html", _report_context(request, task, _scenario(request)))


def _file_url(static_path: str) -> str:
    found = finders.find(static_path)
    if not found:
        raise PdfUnavailable(f"Static file {static_path} not found.")
    return Path(str(found)).resolve().as_uri()


@require_GET
@login_required
def task_roi_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The one-page report as a PDF (Chromium prints the same page); 503 with a message if it cannot."""
    task = _commercial_task_or_403(request, pk)
    scenario = _scenario(request)
    try:
        context = _report_context(request, task, scenario)
        context["asset_urls"] = {
            "pico": _file_url("vendor/pico/pico.min.css"),
            "app": _file_url("css/app.css"),
            "reports_css": _file_url("css/reports.css"),
            "plotly": _file_url("vendor/plotly/plotly-cartesian.min.js"),
            "charts_js": _file_url("js/charts.js"),
        }
        html = render_to_string("reports/task_roi_print.html", context, request=request)
        pdf = html_to_pdf(html=html)
    except PdfUnavailable as exc:
        return HttpResponse(str(exc), status=503, content_type="text/plain; charset=utf-8")
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="roi-{slugify(task.name) or task.pk}-{scenario}.pdf"'
    return response


# --- Cost model ---------------------------------------------------------------------------------


@engineer_required
def cost_model_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit one scenario of the task's cost model (?scenario=). A new scenario starts from the base one."""
    task = get_object_or_404(task_list_for_user(user=request.user), pk=pk)
    if not _can_edit_costs(request, task):
        raise PermissionDenied("Only the task's own organization can edit its cost model.")
    scenario = _scenario(request)
    models = {cm.scenario: cm for cm in CostModel.objects.filter(task=task)}
    instance = models.get(scenario)
    if instance is None:
        instance = CostModel(task=task, scenario=scenario)
        base = models.get(CostScenario.BASE)
        if base is not None:  # start from the base scenario's figures rather than from zero
            for name in (f.name for f in CostModel._meta.concrete_fields):
                if name not in ("id", "task", "scenario", "updated_at"):
                    setattr(instance, name, getattr(base, name))
    form = CostModelForm(request.POST or None, instance=instance, task_labour_rate=task.labour_cost_per_hour)
    if request.method == "POST" and form.is_valid():
        try:
            cost_model_save(task=task, scenario=scenario, user=request.user, fields=form.cost_fields)  # type: ignore[arg-type]
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        else:
            messages.success(request, f"{CostScenario(scenario).label} cost model saved.")
            return redirect(f"{reverse('report-roi', args=[task.pk])}?scenario={scenario}")
    if request.method == "POST":
        messages.error(request, "The cost model was not saved: please correct the fields marked below.")
    return render(
        request,
        "reports/cost_model_form.html",
        {
            "task": task,
            "form": form,
            "scenario": scenario,
            "scenario_label": CostScenario(scenario).label,
            "scenarios": [(value, label, value in models) for value, label in CostScenario.choices],
            "is_new": instance.pk is None,
        },
    )


# --- CSV exports --------------------------------------------------------------------------------


def _csv_response(lines: Any, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
@login_required
def trial_episodes_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    trial = get_object_or_404(trial_list_for_user(user=request.user), pk=pk)
    return _csv_response(episodes_csv(trial=trial), f"trial-{trial.pk}-episodes.csv")


@require_GET
@login_required
def trial_events_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    trial = get_object_or_404(trial_list_for_user(user=request.user), pk=pk)
    return _csv_response(events_csv(trial=trial), f"trial-{trial.pk}-events.csv")
