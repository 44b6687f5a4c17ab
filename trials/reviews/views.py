"""The review page (/trials/<pk>/review/) and its plain POST forms, which work without JavaScript
(static/js/review.js adds the keyboard: j/k or arrows, s / f / c). Thin: a selector or a service each.
Visibility from trials.selectors (another organization's trial: 404); who may review from
accounts.permissions (403)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import can_review_episodes
from accounts.requests import AuthenticatedHttpRequest
from trials.models import Episode, Trial
from trials.reviews.forms import BulkReviewForm, EpisodeReviewForm
from trials.reviews.selectors import QUEUE_LIMIT, episodes_unreviewed, review_queue
from trials.reviews.services import episode_review, episodes_review_bulk
from trials.selectors import trial_list_for_user
from trials.services import TrialRuleError

SHOWS = ("queue", "unreviewed")


def _reviewable_trial(request: AuthenticatedHttpRequest, pk: int) -> Trial:
    trial = get_object_or_404(trial_list_for_user(user=request.user), pk=pk)
    if not can_review_episodes(
        request.user, robot_organization_id=trial.robot.organization_id, task_organization_id=trial.task.organization_id
    ):
        raise PermissionDenied("Only engineers and reviewers of the trial's organizations review its episodes.")
    return trial


def _back(request: AuthenticatedHttpRequest, trial: Trial, anchor: str = "") -> HttpResponseRedirect:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False):
        target = ""
    if not target.startswith("/"):
        target = reverse("trial-review", args=[trial.pk])
    return HttpResponseRedirect(target.split("#")[0] + anchor)


@require_GET
@login_required
def trial_review(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The review queue (`?show=queue`, default) or the unreviewed episodes (`?show=unreviewed`)."""
    trial = _reviewable_trial(request, pk)
    show = request.GET.get("show", "queue")
    if show not in SHOWS:
        show = "queue"
    items = review_queue(trial=trial) if show == "queue" else episodes_unreviewed(trial=trial)
    return render(
        request,
        "trials/review.html",
        {
            "trial": trial,
            "items": items,
            "show": show,
            "limit": QUEUE_LIMIT,
            "outcomes": EpisodeReviewForm.base_fields["outcome"].choices,  # type: ignore[attr-defined]
            "here": request.get_full_path(),
        },
    )


@require_POST
@login_required
def episode_review_submit(request: AuthenticatedHttpRequest, pk: int, index: int) -> HttpResponse:
    """Confirm or override one episode's outcome; back to the page at the next episode."""
    trial = _reviewable_trial(request, pk)
    episode = Episode.objects.counted().filter(trial=trial, index=index).first()
    if episode is None:
        raise Http404("no reviewable episode at this index")
    form = EpisodeReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Episode {index}: {_form_errors(form)}")
        return _back(request, trial, f"#review-{index}")
    try:
        review = episode_review(
            episode=episode,
            reviewer=request.user,
            outcome=form.cleaned_data["outcome"],
            reason=form.cleaned_data["reason"],
        )
    except TrialRuleError as exc:
        messages.error(request, f"Episode {index}: {exc} ({exc.field}).")
        return _back(request, trial, f"#review-{index}")
    verb = "confirmed" if review.outcome_before == review.outcome_after else "overridden"
    messages.success(request, f"Episode {index} {verb}: {review.outcome_before} → {review.outcome_after}.")
    following = request.POST.get("following", "")
    return _back(request, trial, f"#review-{following}" if following.isdigit() else "")


@require_POST
@login_required
def episodes_review_bulk_submit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Give the selected episodes one outcome and reason, all or nothing."""
    trial = _reviewable_trial(request, pk)
    indexes = list(Episode.objects.counted().filter(trial=trial).values_list("index", flat=True))
    form = BulkReviewForm(request.POST, indexes=indexes)
    if not form.is_valid():
        messages.error(request, f"Bulk review: {_form_errors(form)} Nothing was changed.")
        return _back(request, trial)
    try:
        reviews = episodes_review_bulk(
            trial=trial,
            indexes=form.cleaned_data["indexes"],
            reviewer=request.user,
            outcome=form.cleaned_data["outcome"],
            reason=form.cleaned_data["reason"],
        )
    except TrialRuleError as exc:
        messages.error(request, f"Bulk review: {exc} ({exc.field}). Nothing was changed.")
        return _back(request, trial)
    messages.success(request, f"{len(reviews)} episodes reviewed as {form.cleaned_data['outcome']}.")
    return _back(request, trial)


def _form_errors(form: EpisodeReviewForm) -> str:
    return " ".join(f"{name}: {' '.join(str(e) for e in errors)}" for name, errors in form.errors.items())
