"""Engineers' pages for blind A/B comparisons: schedule one from a task, follow it (sealed: progress
only), cancel it, and read it unblinded. Thin: parse, call a blind service or selector, render. Another
organization's comparison is a 404; scheduling needs an engineer (engineer_required)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.permissions import acts_for_organization, can_run_trials, engineer_required
from accounts.requests import AuthenticatedHttpRequest
from trials.blind.forms import BlindComparisonForm
from trials.blind.selectors import blind_comparison_list_for_user, blind_comparison_progress, blind_comparison_unblinded
from trials.blind.services import blind_comparison_cancel, blind_comparison_schedule
from trials.selectors import task_list_for_user
from trials.services import TrialRuleError


@engineer_required
def blind_comparison_create(request: AuthenticatedHttpRequest, task_pk: int) -> HttpResponse:
    task = get_object_or_404(task_list_for_user(user=request.user), pk=task_pk)
    form = BlindComparisonForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            comparison = blind_comparison_schedule(task=task, created_by=request.user, **data)
        except TrialRuleError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        else:
            messages.success(request, f"Blind comparison {comparison.pk} queued: {comparison.pairs} pairs.")
            return redirect("blind-detail", pk=comparison.pk)
    if request.method == "POST":
        messages.error(request, "The comparison was not scheduled: please correct the fields marked below.")
    context = {"form": form, "task": task, "no_robots": not form.robots.exists()}
    return render(request, "trials/blind_form.html", context)


@login_required
def blind_comparison_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    comparison = get_object_or_404(blind_comparison_list_for_user(user=request.user), pk=pk)
    context = {
        "comparison": comparison,
        "progress": blind_comparison_progress(comparison=comparison),
        "unblinded": blind_comparison_unblinded(comparison=comparison),
        "can_cancel": can_run_trials(request.user)
        and acts_for_organization(request.user, comparison.robot.organization_id),
    }
    return render(request, "trials/blind_detail.html", context)


@require_POST
@login_required
def blind_comparison_cancel_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    comparison = get_object_or_404(blind_comparison_list_for_user(user=request.user), pk=pk)
    if not (can_run_trials(request.user) and acts_for_organization(request.user, comparison.robot.organization_id)):
        raise PermissionDenied("Only the robot's organization may cancel its comparison.")
    blind_comparison_cancel(comparison=comparison)
    messages.success(request, f"Blind comparison {comparison.pk} cancelled and unblinded.")
    return redirect("blind-detail", pk=comparison.pk)
