"""ROI pages: the manager dashboard (every visible task ranked by its ROI), the task ROI report (with a
printable one-page version and its PDF) and the cost-model form.

Thin: parse, call one selector or service, render. Figures come from reports.roi (the same functions as
the API), the pages' context from reports.roi.selectors. Visibility from the selectors (another
organization's task is a 404); editing the cost model is for the owner organization's engineers (else 403).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_GET

from accounts.models import User
from accounts.permissions import can_manage_for_organization, engineer_required
from accounts.requests import AuthenticatedHttpRequest
from reports.models import CostScenario
from reports.roi.forms import CostModelForm, ScenarioForm
from reports.roi.inputs import COMMERCIAL_TERMS_HIDDEN
from reports.roi.pdf import PdfUnavailable, html_to_pdf
from reports.roi.selectors import cost_model_draft, cost_models_by_scenario, dashboard_page, task_roi_page
from reports.roi.services import cost_model_save
from trials.models import Task
from trials.selectors import task_commercial_visible, task_list_for_user


def _scenario(request: HttpRequest) -> str:
    form = ScenarioForm(request.GET)
    return (form.cleaned_data.get("scenario") if form.is_valid() else "") or CostScenario.BASE


def _can_edit_costs(user: User, task: Task) -> bool:
    return can_manage_for_organization(user, task.organization_id)


# --- Dashboard --------------------------------------------------------------------------------


@login_required
def report_index(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The manager dashboard: every visible task, ranked (?order=npv|payback|name), for one ?scenario=."""
    context = dashboard_page(user=request.user, scenario=_scenario(request), order=request.GET.get("order", "npv"))
    return render(request, "reports/index.html", context)


# --- Task ROI report ----------------------------------------------------------------------------


def _report_context(request: AuthenticatedHttpRequest, task: Task, scenario: str) -> dict[str, Any]:
    return task_roi_page(task=task, scenario=scenario, user=request.user, can_edit=_can_edit_costs(request.user, task))


def _commercial_task_or_403(request: AuthenticatedHttpRequest, pk: int) -> Task:
    task = get_object_or_404(task_list_for_user(user=request.user), pk=pk)
    if not task_commercial_visible(user=request.user, task=task):
        raise PermissionDenied(COMMERCIAL_TERMS_HIDDEN)
    return task


@login_required
def task_roi(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    task = get_object_or_404(task_list_for_user(user=request.user), pk=pk)
    return render(request, "reports/task_roi.html", _report_context(request, task, _scenario(request)))


@login_required
def task_roi_print(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
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
def task_roi_pdf(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
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
            "reports_js": _file_url("js/reports.js"),
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
def cost_model_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Edit one scenario of the task's cost model (?scenario=). A new scenario starts from the base one."""
    task = get_object_or_404(task_list_for_user(user=request.user), pk=pk)
    if not _can_edit_costs(request.user, task):
        raise PermissionDenied("Only the task's own organization can edit its cost model.")
    scenario = _scenario(request)
    existing = cost_models_by_scenario(task=task)
    instance = cost_model_draft(task=task, scenario=scenario, existing=existing)
    form = CostModelForm(request.POST or None, instance=instance, task_labour_rate=task.labour_cost_per_hour)
    if request.method == "POST" and form.is_valid():
        try:
            cost_model_save(task=task, scenario=scenario, user=request.user, fields=form.cost_fields)
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
            "scenarios": [(value, label, value in existing) for value, label in CostScenario.choices],
            "is_new": instance.pk is None,
        },
    )
