"""Engineers' pages: tasks, their fit, trials and episodes. Thin: parse, call a selector or a
service, render. Visibility comes from the selectors (another organization's object is a 404);
what a user may do comes from accounts.permissions (a denied action is a 403)."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import acts_for_organization, can_review_episodes, can_scope_tasks, engineer_required
from accounts.requests import AuthenticatedHttpRequest
from core.fit import FIT_FACTOR_KEYS, FitRatingError, fit_assess
from core.recording.trajectory import TrajectoryRejected
from trials.blind.selectors import blind_comparison_list_for_user
from trials.forms import EpisodeFilterForm, TaskFilterForm, TaskForm, TrialScheduleForm
from trials.media import trial_media_bytes
from trials.models import Episode, Task, Trial, TrialStatus
from trials.rankings import task_payback_ranking
from trials.recording_selectors import (
    episode_recording_files,
    episode_timeline,
    episode_timeline_span_s,
    episode_trajectory_plot,
)
from trials.reviews.selectors import episode_review_history
from trials.selectors import (
    episode_at_index,
    episode_list_for_trial,
    task_commercial_visible,
    task_list_for_user,
    task_search,
    trial_first_indexes,
    trial_list_for_user,
    trial_list_with_progress,
    trial_list_writable_by_user,
    trial_live,
)
from trials.services import TrialRuleError, task_scope, trial_cancel, trial_schedule

EPISODES_PER_PAGE = 50
TRIALS_PER_PAGE = 50


def _fit_or_none(task: Task) -> object | None:
    """The task's fit assessment from its stored ratings, or None when it has not been rated."""
    ratings = task.fit_factors or {}
    if set(ratings) != set(FIT_FACTOR_KEYS):
        return None
    try:
        return fit_assess(ratings=ratings)
    except FitRatingError:
        return None


# --- Tasks ------------------------------------------------------------------------------------


@login_required
def task_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = TaskFilterForm(request.GET or None, user=request.user)
    filters = form.cleaned_data if form.is_valid() else {}
    site = filters.get("site")
    order = filters.get("order") or "fit"
    tasks = task_search(
        tasks=task_list_for_user(user=request.user),
        text=filters.get("q", ""),
        status=filters.get("status", ""),
        site_id=site.pk if site else None,
        order=order,
    )
    ranking = task_payback_ranking(user=request.user) if order == "payback" else None
    if ranking is not None:
        # The manager dashboard's cached per-task Monte Carlo and its payback ranking (same evidence and
        # rules as the ROI report): soonest base-case payback first (the figure shown, as on the dashboard),
        # tasks without a result last.
        rank = {task_id: position for position, task_id in enumerate(ranking.task_ids)}
        ordered = sorted(tasks, key=lambda t: rank.get(t.pk, len(rank)))
        for task in ordered:
            # Attributes for the template only, as a queryset's .annotate() would add them.
            vars(task).update(
                expected_payback=ranking.expected_months.get(task.pk), base_payback=ranking.base_months.get(task.pk)
            )
        shown: Iterable[Task] = ordered
    else:
        shown = tasks
    return render(
        request,
        "trials/task_list.html",
        {
            "tasks": shown,
            "filter_form": form,
            "can_edit": can_scope_tasks(request.user),
            "show_payback": ranking is not None,
        },
    )


@login_required
def task_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    task = get_object_or_404(task_list_for_user(user=request.user), pk=pk)
    trials = trial_list_with_progress(trials=trial_list_for_user(user=request.user).filter(task=task))
    return render(
        request,
        "trials/task_detail.html",
        {
            "task": task,
            "fit": _fit_or_none(task),
            "trials": trials,
            "blind_comparisons": blind_comparison_list_for_user(user=request.user).filter(task=task),
            "can_edit": can_scope_tasks(request.user),
            "commercial": task_commercial_visible(user=request.user, task=task),
        },
    )


def _task_form_view(request: AuthenticatedHttpRequest, task: Task | None, *, organization_id: int) -> HttpResponse:
    form = TaskForm(request.POST or None, instance=task, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            saved = task_scope(
                task=task,
                organization_id=organization_id,
                user=request.user,
                fields=form.task_fields,
                fit_ratings=form.fit_ratings,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        except FitRatingError as exc:
            form.add_error(f"fit_{exc.field}", str(exc))
        else:
            messages.success(request, f"Task “{saved.name}” saved. Fit score {saved.fit_score:.0f}/100.")
            return redirect("task-detail", pk=saved.pk)
    if request.method == "POST":
        messages.error(request, "The task was not saved: please correct the fields marked below.")
    return render(request, "trials/task_form.html", {"form": form, "task": task})


@engineer_required
def task_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    if request.user.organization_id is None:
        raise PermissionDenied("A task belongs to an organization; this account has none.")
    return _task_form_view(request, None, organization_id=request.user.organization_id)


@engineer_required
def task_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    # Only the owner organization edits a task; an engaged integrator reads it.
    task = get_object_or_404(task_list_for_user(user=request.user), pk=pk)
    if not acts_for_organization(request.user, task.organization_id):
        raise PermissionDenied("Only the task's own organization can edit it.")
    return _task_form_view(request, task, organization_id=task.organization_id)


# --- Trials -----------------------------------------------------------------------------------


@engineer_required
def trial_create(request: AuthenticatedHttpRequest, task_pk: int) -> HttpResponse:
    task = get_object_or_404(task_list_for_user(user=request.user), pk=task_pk)
    form = TrialScheduleForm(request.POST or None, user=request.user, task=task)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            trial = trial_schedule(
                task=task,
                policy_version=data["policy_version"],
                robot=data["robot"],
                episodes_planned=data["episodes_planned"],
                scheduled_by=request.user,
                seed=data["seed"],
                instruction=data["instruction"] or task.instruction,
                episode_timeout_s=data["episode_timeout_s"],
                **form.recording_settings,
            )
        except TrialRuleError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        else:
            messages.success(request, f"Trial {trial.pk} queued: {trial.episodes_planned} episodes on {trial.robot}.")
            return redirect("trial-detail", pk=trial.pk)
    if request.method == "POST":
        messages.error(request, "The trial was not scheduled: please correct the fields marked below.")
    context = {
        "form": form,
        "task": task,
        "no_versions": not form.versions.exists(),
        "no_robots": not form.robots.exists(),
    }
    return render(request, "trials/trial_form.html", context)


@login_required
def trial_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    trials = trial_list_for_user(user=request.user)
    if status in TrialStatus.values:
        trials = trials.filter(status=status)
    trials = trial_list_with_progress(trials=trials).order_by("-created_at", "-pk")
    page = Paginator(trials, TRIALS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "trials/trial_list.html", {"page": page, "status": status, "statuses": TrialStatus.choices})


def _visible_trial(request: AuthenticatedHttpRequest, pk: int) -> Trial:
    return get_object_or_404(trial_list_for_user(user=request.user).select_related("scheduled_by"), pk=pk)


def _episode_page(request: AuthenticatedHttpRequest, trial: Trial) -> dict[str, object]:
    form = EpisodeFilterForm(request.GET or None, stages=[str(name) for name in (trial.stages or [])])
    filters = form.cleaned_data if form.is_valid() else {}
    episodes = episode_list_for_trial(
        trial=trial,
        outcome=filters.get("outcome", ""),
        has_faults=form.has_faults,
        category=filters.get("category", ""),
        stage_reached=form.stage_reached,
        review_state=filters.get("review", ""),
    )
    page = Paginator(episodes, EPISODES_PER_PAGE).get_page(request.GET.get("page"))
    # Highlighted in the grid: the trial's first success and first failure by index, whatever the filters.
    first = trial_first_indexes(trial=trial)
    page.object_list = list(page.object_list)
    for episode in page.object_list:
        vars(episode)["first_of"] = first.get(episode.index) if first.get(episode.index) == episode.outcome else None
    query = request.GET.copy()
    query.pop("page", None)
    # The live refresh keeps the page the user is on; page links start from the filters alone.
    return {
        "episode_page": page,
        "episode_filter": form,
        "episode_query": query.urlencode(),
        "episode_poll_query": request.GET.urlencode(),
        "media_bytes": trial_media_bytes(trial_id=trial.pk),
    }


def _can_review(request: AuthenticatedHttpRequest, trial: Trial) -> bool:
    return can_review_episodes(
        request.user, robot_organization_id=trial.robot.organization_id, task_organization_id=trial.task.organization_id
    )


def _can_cancel(request: AuthenticatedHttpRequest, trial: Trial) -> bool:
    return (
        can_scope_tasks(request.user)
        and not trial.is_finished
        and trial_list_writable_by_user(user=request.user).filter(pk=trial.pk).exists()
    )


@login_required
def trial_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    trial = _visible_trial(request, pk)
    return render(
        request,
        "trials/trial_detail.html",
        {
            "trial": trial,
            "can_cancel": _can_cancel(request, trial),
            "can_review": _can_review(request, trial),
            **trial_live(trial=trial),
            **_episode_page(request, trial),
        },
    )


@require_GET
@login_required
def trial_progress_fragment(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The live part of the trial page alone. The trial page itself refreshes it together with the
    statistics panel (reports.stats.views.trial_stats_panel), from one read, so their counts agree."""
    trial = _visible_trial(request, pk)
    response = render(
        request,
        "trials/_trial_progress.html",
        {"trial": trial, "can_cancel": _can_cancel(request, trial), **trial_live(trial=trial)},
    )
    if trial.is_finished:
        # The episode table refreshes at once instead of on its next 2 s poll.
        response["HX-Trigger"] = "trial-finished"
    return response


@require_GET
@login_required
def trial_episodes_fragment(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The episode table (filters and pages swap it in place; refreshed while the trial runs)."""
    trial = _visible_trial(request, pk)
    response = render(request, "trials/_episode_table.html", {"trial": trial, **_episode_page(request, trial)})
    # Filters and page live in the trial page's URL, so a reload or a shared link keeps them.
    query = request.GET.urlencode()
    response["HX-Replace-Url"] = reverse("trial-detail", args=[trial.pk]) + (f"?{query}" if query else "")
    return response


@require_POST
@engineer_required
def trial_cancel_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    # Cancelling writes to the trial: only trials on the user's own robots (others' are a 404).
    trial = get_object_or_404(trial_list_writable_by_user(user=request.user), pk=pk)
    if trial.is_finished:
        messages.info(request, f"Trial {trial.pk} had already finished ({trial.get_status_display().lower()}).")
    else:
        trial_cancel(trial_id=trial.pk, reason=f"cancelled by {request.user.get_username()}")
        messages.success(request, f"Trial {trial.pk} cancelled; its remaining episodes will not run.")
    return redirect("trial-detail", pk=trial.pk)


def _visible_episode(request: AuthenticatedHttpRequest, pk: int, index: int) -> tuple[Trial, Episode]:
    trial = _visible_trial(request, pk)
    episode = episode_at_index(trial=trial, index=index)
    if episode is None:
        raise Http404("no such episode")
    return trial, episode


@login_required
def episode_detail(request: AuthenticatedHttpRequest, pk: int, index: int) -> HttpResponse:
    trial, episode = _visible_episode(request, pk, index)
    events = list(episode.events.all())
    files = episode_recording_files(episode=episode)
    span_s = episode_timeline_span_s(episode=episode, files=files, events=events)
    stage_names = [str(name) for name in (trial.stages or [])]
    return render(
        request,
        "trials/episode_detail.html",
        {
            "trial": trial,
            "episode": episode,
            "events": events,
            "recording": files,
            "timeline": episode_timeline(episode=episode, events=events, stage_names=stage_names, span_s=span_s),
            "timeline_span_s": span_s,
            "stage_names": stage_names,
            "reviews": episode_review_history(episode=episode),
            "can_review": _can_review(request, trial),
            "last_stage": stage_names[episode.stage_reached - 1]
            if episode.stage_reached and episode.stage_reached <= len(stage_names)
            else None,
        },
    )


@require_GET
@login_required
def episode_trajectory(request: AuthenticatedHttpRequest, pk: int, index: int) -> JsonResponse:
    """The episode's trajectory as plot series (JSON) for the episode page's charts."""
    trial, episode = _visible_episode(request, pk, index)
    media = episode_recording_files(episode=episode).trajectory
    if media is None or not media.file.name:
        raise Http404("no trajectory for this episode")
    try:
        data = episode_trajectory_plot(media=media, cell_key=trial.robot.sim_cell_key)
    except TrajectoryRejected as exc:
        return JsonResponse({"detail": f"the stored trajectory cannot be read: {exc}"}, status=422)
    except OSError:
        raise Http404("the trajectory file is gone (removed by the retention cleanup)") from None
    response = JsonResponse(data)
    response["Cache-Control"] = "private, max-age=3600"
    return response


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness and database reachability, for load balancers and `make demo`."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
