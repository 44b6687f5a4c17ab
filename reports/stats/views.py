"""Statistics pages: the trial panel (loaded by htmx into the trial page), the task statistics page (and
its partial on the task page), the planner partial of the schedule form (with the paired planner), trial
comparison (paired by seed when the trials ran the same scenes), acceptance
criteria editing and stopping a trial early on its sequential verdict.

Thin: each view calls one selector of reports.stats.selectors (visibility: another organization's trial or
task is a 404) or one service of reports.stats.services or trials.services; role checks from accounts.permissions (403).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import acts_for_organization, can_review_episodes, can_scope_tasks, engineer_required
from accounts.requests import AuthenticatedHttpRequest
from common.ids import number_from_text
from core import paired as paired_stats
from core import stats
from reports.models import AcceptanceCriteria
from reports.stats.charts import source_figures
from reports.stats.forms import AcceptanceCriteriaForm, CompareForm, PairedPlannerForm, PlannerForm
from reports.stats.selectors import (
    TaskPanel,
    TrialComparison,
    TrialPanel,
    acceptance_criteria_for_task,
    plan_target_default,
    task_panel,
    task_trial_plan,
    trial_panel,
    trial_sequential_verdicts,
    trials_compare,
)
from reports.stats.services import acceptance_criteria_delete, acceptance_criteria_save
from reports.stats.sweep_acceptance import sweep_acceptance_evaluate
from trials.models import MAX_EPISODES_PER_TRIAL, Episode, EpisodeOutcome, ReviewState, Sweep, Task, Trial
from trials.selectors import (
    consistent_read,
    task_list_for_user,
    trial_list_for_user,
    trial_list_writable_by_user,
    trial_live,
)
from trials.services import StopEarlyRefused, trial_stop_early

# The panel's refresh is also the trial page's live header and progress bar (one read for all three);
# an unchanged trial answers 204, so a short interval costs one count query.
PANEL_POLL_SECONDS = 1


def _charts(blocks: Any, prefix: str) -> dict[str, Any]:
    charts: dict[str, Any] = {}
    for block in blocks:
        charts.update(source_figures(block=block, prefix=f"{prefix}-{block.source}"))
    return charts


def _trial_panel_or_404(request: AuthenticatedHttpRequest, pk: int) -> TrialPanel:
    try:
        return trial_panel(trial_id=pk, user=request.user)
    except Trial.DoesNotExist as exc:
        raise Http404("No such trial.") from exc


@require_GET
@login_required
def trial_stats_panel(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The trial's statistics panel (htmx partial); polls itself while the trial runs. A poll that names the
    episode count and status it already shows (?seen=&status=) gets 204 when neither changed, so htmx keeps
    the panel (and its charts) as they are."""
    seen, shown_status = request.GET.get("seen"), request.GET.get("status")
    shown_reviewed = request.GET.get("reviewed")  # a review changes figures without adding an episode
    # One snapshot for the 204 check, the panel and the trial's header and progress bar (swapped in out
    # of band): figures read by separate queries would disagree while episodes arrive.
    with consistent_read():
        if seen is not None and shown_status is not None:
            trial = get_object_or_404(trial_list_for_user(user=request.user), pk=pk)
            now = Episode.objects.filter(trial_id=trial.pk).aggregate(
                n=Count("pk"),
                reviewed=Count("pk", filter=~Q(review_state=ReviewState.UNREVIEWED) & ~Q(outcome=EpisodeOutcome.LOST)),
            )
            same_reviews = shown_reviewed is None or str(now["reviewed"]) == shown_reviewed
            if trial.status == shown_status and str(now["n"]) == seen and same_reviews:
                return HttpResponse(status=204)
        panel = _trial_panel_or_404(request, pk)
        trial = get_object_or_404(
            trial_list_for_user(user=request.user).select_related("task", "robot"),
            pk=pk,
        )
        can_write = can_scope_tasks(request.user) and (
            trial_list_writable_by_user(user=request.user).filter(pk=pk).exists()
        )
        live = {"trial": trial, "can_cancel": can_write and not trial.is_finished, **trial_live(trial=trial)}
    running = panel.statistics.status in ("queued", "running")
    context = {
        "panel": panel,
        "stats": panel.statistics,
        "charts": _charts(panel.statistics.sources, f"trial{pk}"),
        "chart_prefix": f"trial{pk}",
        "running": running,
        "poll_seconds": PANEL_POLL_SECONDS,
        "can_stop": running and can_write,
        "decided": any(v.verdict.verdict != "keep going" for v in panel.sequential.sources),
        "episodes_shown": sum(b.n_episodes for b in panel.statistics.sources),
        "reviewed_shown": sum(b.n_reviewed for b in panel.statistics.sources),
        "can_review": can_review_episodes(
            request.user,
            robot_organization_id=trial.robot.organization_id,
            task_organization_id=trial.task.organization_id,
        ),
        "live": live if request.GET.get("live") else None,
    }
    response = render(request, "reports/stats/_trial_panel.html", context)
    if live["trial"].is_finished and request.GET.get("live"):
        # The episode table refreshes at once instead of on its next poll.
        response["HX-Trigger"] = "trial-finished"
    return response


@require_POST
@engineer_required
def trial_stop_early_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Cancel the trial with the sequential verdict as the reason (engineers, own robots' trials)."""
    trial = get_object_or_404(trial_list_writable_by_user(user=request.user), pk=pk)
    if trial.is_finished:
        messages.info(request, f"Trial {trial.pk} had already finished.")
        return redirect("trial-detail", pk=trial.pk)
    try:
        _, reason = trial_stop_early(
            trial_id=trial.pk,
            verdicts=trial_sequential_verdicts(trial_id=trial.pk),
            username=request.user.get_username(),
        )
    except StopEarlyRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, reason)
    return redirect("trial-detail", pk=trial.pk)


def _visible_task(request: AuthenticatedHttpRequest, pk: int) -> Task:
    return get_object_or_404(task_list_for_user(user=request.user), pk=pk)


def _task_context(request: AuthenticatedHttpRequest, pk: int) -> dict[str, Any]:
    form = PlannerForm(request.GET or None)
    params: dict[str, Any] = {}
    if request.GET and form.is_valid():
        params = {
            "target_success": form.cleaned_data["target"],
            "confidence": form.cleaned_data["confidence"],
            "failures_allowed": form.cleaned_data["failures"],
        }
    try:
        panel: TaskPanel = task_panel(task_id=pk, user=request.user, **params)
    except Task.DoesNotExist as exc:
        raise Http404("No such task.") from exc
    except ValueError as exc:  # a planner question beyond 10 million episodes
        form.add_error(None, str(exc))
        panel = task_panel(task_id=pk, user=request.user)
    if not request.GET:
        form = PlannerForm(
            initial={"target": panel.plan.target_success, "confidence": panel.plan.confidence, "failures": 0}
        )
    return {
        "panel": panel,
        "stats": panel.statistics,
        "plan": panel.plan,
        "planner_form": form,
        "charts": _charts(panel.statistics.sources, f"task{pk}"),
        "chart_prefix": f"task{pk}",
        "can_edit": can_scope_tasks(request.user),
    }


@require_GET
@login_required
def task_stats(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The task statistics page: per source, per policy version, sim-to-real gap, planner, acceptance."""
    context = _task_context(request, pk)
    task = _visible_task(request, pk)
    criteria = acceptance_criteria_for_task(task_id=pk)
    trials = trial_list_for_user(user=request.user).filter(task_id=pk).order_by("-created_at", "-pk")[:50]
    return render(
        request,
        "reports/stats/task_stats.html",
        {
            **context,
            "task": task,
            "criteria": criteria,
            "trials": trials,
            "compare_form": CompareForm(trials=trial_list_for_user(user=request.user).filter(task_id=pk)),
        },
    )


@require_GET
@login_required
def task_stats_panel(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The task statistics partial the task page loads with htmx."""
    context = _task_context(request, pk)
    return render(request, "reports/stats/_task_panel.html", {**context, "partial": True})


@require_GET
@login_required
def planner_fragment(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The planner's answer for the schedule form: episodes and robot-hours for target/confidence/failures
    (default target: the strictest success bound of the task's acceptance criteria, else 90%)."""
    task = _visible_task(request, pk)
    if request.GET:
        form = PlannerForm(request.GET)
        data = form.cleaned_data if form.is_valid() else None
    else:
        target = plan_target_default(criteria=acceptance_criteria_for_task(task_id=task.pk))
        data = {"target": target, "confidence": stats.CONFIDENCE, "failures": 0}
        form = PlannerForm(initial=data)
    plan = None
    if data is not None:
        try:
            plan = task_trial_plan(
                task_id=task.pk,
                target_success=data["target"],
                confidence=data["confidence"],
                failures_allowed=data["failures"],
                user=request.user,
            )
        except ValueError as exc:  # a claim beyond 10 million episodes
            form.add_error(None, str(exc))
    context = {
        **_paired_planner_context(None),
        "task": task,
        "planner_form": form,
        "plan": plan,
        "max_per_trial": MAX_EPISODES_PER_TRIAL,
        "trials_needed": -(-plan.episodes_needed // MAX_EPISODES_PER_TRIAL) if plan else None,
        "below_target": bool(
            plan
            and plan.measured_success is not None
            and plan.measured_success.rate is not None
            and plan.measured_success.rate < plan.target_success
        ),
    }
    # The schedule page swaps only the answer (hx-target), so fields being typed are never replaced;
    # bad input is a 400 naming the field (htmx is told to show it, base.html).
    template = (
        "reports/stats/_plan_result.html"
        if request.headers.get("HX-Target") == "plan-result"
        else "reports/stats/_planner.html"
    )
    return render(request, template, context, status=400 if form.errors else 200)


def _paired_planner_context(
    query: QueryDict | None, *, initial: dict[str, float | None] | None = None
) -> dict[str, Any]:
    """The paired planner's form and answer: bound to `query` (a GET) when given, else unbound with
    `initial` values (the form's defaults when None) and the answer for them."""
    if query is not None:
        form = PairedPlannerForm(query)
        data = form.cleaned_data if form.is_valid() else None
    else:
        form = PairedPlannerForm(initial=initial) if initial else PairedPlannerForm()
        data = {name: form[name].initial for name in form.fields}
    plan = None
    if data is not None:
        try:
            plan = paired_stats.paired_plan(
                rate_a=data["rate_a"], rate_b=data["rate_b"], discordance=data["discordance"], power=data["power"]
            )
        except ValueError as exc:  # a discordance the two rates cannot have, or beyond 10 million seeds
            form.add_error("discordance" if "discordance" in str(exc) else None, str(exc))
    return {"paired_form": form, "paired_plan": plan}


@require_GET
@login_required
def paired_planner_fragment(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The paired planner's answer: seeds both versions must run (Connor 1987) beside the episodes two
    independent samples would need. Reads no stored data, so any signed-in user may ask; bad input is a
    400 naming the field."""
    context = _paired_planner_context(request.GET or None)
    template = (
        "reports/stats/_paired_plan_result.html"
        if request.headers.get("HX-Target") == "paired-plan-result"
        else "reports/stats/_paired_planner.html"
    )
    return render(request, template, context, status=400 if context["paired_form"].errors else 200)


@require_GET
@login_required
def trial_compare(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Compare two trials of one task: Barnard's exact test, Newcombe interval, Mann-Whitney."""
    visible = trial_list_for_user(user=request.user)
    # Ids as the form will read them (ASCII digits within the id range); the form names anything else.
    named = [n for v in (request.GET.get("a", ""), request.GET.get("b", "")) if (n := number_from_text(v))]
    if named and visible.filter(pk__in=named).count() < len(set(named)):
        raise Http404("No such trial.")  # another organization's trial, as everywhere else
    form = CompareForm(request.GET or None, trials=visible)
    comparison = None
    trials: dict[int, Trial] = {}
    if request.GET and form.is_valid():
        a, b = form.cleaned_data["a"], form.cleaned_data["b"]
        try:
            comparison = trials_compare(trial_a_id=a, trial_b_id=b, user=request.user)
        except Trial.DoesNotExist as exc:
            raise Http404("No such trial.") from exc
        except ValueError as exc:
            form.add_error(None, str(exc))
        else:
            trials = {
                t.pk: t
                for t in trial_list_for_user(user=request.user)
                .filter(pk__in=[a, b])
                .select_related("task", "policy_version__policy", "robot")
            }
    status = 400 if request.GET and not form.is_valid() else 200
    return render(
        request,
        "reports/stats/compare.html",
        {
            "form": form,
            "comparison": comparison,
            "trials": trials,
            **_paired_planner_context(None, initial=_measured(comparison)),
        },
        status=status,
    )


def _measured(comparison: TrialComparison | None) -> dict[str, float | None] | None:
    """The paired planner's starting values from a paired comparison: its rates and discordant share, when
    they make a question (two different rates strictly between 0 and 1)."""
    paired = comparison.paired if comparison is not None else None
    if paired is None or paired.rate_a is None or paired.rate_b is None:
        return None
    rates = (round(paired.rate_a, 4), round(paired.rate_b, 4))
    if rates[0] == rates[1] or not all(0 < r < 1 for r in rates):
        return None
    share = (paired.only_a + paired.only_b) / paired.n_pairs
    # Rounded rates may no longer admit the rounded share: keep it within what they allow.
    low, high = abs(rates[1] - rates[0]), min(sum(rates), 2 - sum(rates))
    share = round(min(max(share, low), high), 4)
    return {"rate_a": rates[0], "rate_b": rates[1], "discordance": share or None, "power": 0.8}


def _editable_task(request: AuthenticatedHttpRequest, pk: int) -> Task:
    task = _visible_task(request, pk)
    if not acts_for_organization(request.user, task.organization_id):
        raise PermissionDenied("Only the task's own organization sets its acceptance criteria.")
    return task


@engineer_required
def acceptance_edit(request: AuthenticatedHttpRequest, task_pk: int, pk: int | None = None) -> HttpResponse:
    """Create or edit one acceptance criteria set of a task (engineers of the owning organization)."""
    task = _editable_task(request, task_pk)
    record = get_object_or_404(AcceptanceCriteria, task=task, pk=pk) if pk is not None else None
    form = AcceptanceCriteriaForm(request.POST or None, instance=record, task=task)
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
        saved = acceptance_criteria_save(task=task, criteria=record, fields=fields)
        messages.success(request, f"{saved.get_name_display()} criteria saved; every trial is evaluated against them.")
        return redirect("stats-task", pk=task.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "reports/stats/acceptance_form.html", {"form": form, "task": task, "record": record}, status=status
    )


@require_POST
@engineer_required
def acceptance_delete(request: AuthenticatedHttpRequest, task_pk: int, pk: int) -> HttpResponse:
    """Delete one acceptance criteria set (engineers of the owning organization)."""
    task = _editable_task(request, task_pk)
    record = get_object_or_404(AcceptanceCriteria, task=task, pk=pk)
    acceptance_criteria_delete(criteria=record)
    messages.success(request, f"{record.get_name_display()} criteria deleted.")
    return redirect("stats-task", pk=task.pk)


@require_GET
@login_required
def sweep_acceptance_panel(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The sweep page's acceptance panel (htmx partial): each criteria set under every condition."""
    try:
        result = sweep_acceptance_evaluate(sweep_id=pk, user=request.user)
    except Sweep.DoesNotExist as exc:
        raise Http404("No such sweep.") from exc
    return render(request, "reports/stats/_sweep_acceptance.html", {"result": result, "sweep_id": pk})
