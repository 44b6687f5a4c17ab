"""Writes of the episode review. `Episode.outcome` is the outcome every figure counts, so a review changes
it and the trial's TrialSourceSummary in the same transaction, under the trial's row lock (the lock every
episode writer of trials.services takes), and raises the summary's revision so cached reports recompute."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from accounts.permissions import can_review_episodes
from trials.models import (
    COUNTED_OUTCOMES,
    Episode,
    EpisodeOutcome,
    EpisodeReview,
    ReviewState,
    Trial,
    TrialSourceSummary,
)
from trials.services import TrialRuleError, trial_summaries_rebuild

REASON_MAX_CHARS = 2000
BULK_MAX_EPISODES = 1000
REVIEWABLE_OUTCOMES: tuple[str, ...] = tuple(str(o) for o in COUNTED_OUTCOMES)


def _check_input(*, outcome: str, reason: str, before: str | None = None) -> None:
    if outcome not in REVIEWABLE_OUTCOMES:
        raise TrialRuleError(f"outcome must be one of {', '.join(REVIEWABLE_OUTCOMES)}", field="outcome")
    if len(reason) > REASON_MAX_CHARS:
        raise TrialRuleError(f"the reason is at most {REASON_MAX_CHARS} characters", field="reason")
    if before is not None and outcome != before and not reason.strip():
        # The audit trail must say why a person disagreed with the detector; a confirmation needs no words.
        raise TrialRuleError("an override needs a reason", field="reason")


def _check_reviewer(*, reviewer: User, trial: Trial) -> None:
    if not can_review_episodes(
        reviewer, robot_organization_id=trial.robot.organization_id, task_organization_id=trial.task.organization_id
    ):
        raise PermissionDenied("Only engineers and reviewers of the trial's organizations may review its episodes.")


def _locked_trial(trial_id: int) -> Trial:
    # The trial's row lock serialises this with episodes_record and trial_summaries_rebuild.
    return Trial.objects.select_for_update(of=("self",)).select_related("robot", "task").get(pk=trial_id)


def _review_locked(*, episode: Episode, reviewer: User, outcome: str, reason: str, now: datetime) -> EpisodeReview:
    """Apply one review to an episode whose trial the caller has locked; returns the audit row. The summary
    deltas are the caller's (see _summaries_apply)."""
    before = episode.outcome
    if not episode.detected_outcome:
        episode.detected_outcome = before  # the first review keeps what was reported, once
    episode.outcome = outcome
    episode.review_state = ReviewState.CONFIRMED if outcome == episode.detected_outcome else ReviewState.OVERRIDDEN
    episode.reviewed_at = now
    episode.reviewed_by = reviewer
    episode.save(update_fields=["outcome", "detected_outcome", "review_state", "reviewed_at", "reviewed_by"])
    return EpisodeReview.objects.create(
        episode=episode, reviewer=reviewer, outcome_before=before, outcome_after=outcome, reason=reason
    )


@dataclass
class _Delta:
    successes: int = 0
    reviewed: int = 0


def _summaries_apply(*, trial_id: int, deltas: dict[str, _Delta]) -> None:
    """Add the reviews' deltas to the trial's summary rows (one per source), revision + 1 each."""
    for source, delta in sorted(deltas.items()):
        updated = TrialSourceSummary.objects.filter(trial_id=trial_id, source=source).update(
            successes=F("successes") + delta.successes,
            reviewed=F("reviewed") + delta.reviewed,
            revision=F("revision") + 1,
        )
        if not updated:
            # Episodes inserted around the summaries (a hand edit): recount rather than guess.
            trial_summaries_rebuild(trial_ids=[trial_id])
            return


def _delta_of(*, episode: Episode, before_outcome: str, was_reviewed: bool) -> _Delta:
    success = EpisodeOutcome.SUCCESS
    return _Delta(
        successes=int(episode.outcome == success) - int(before_outcome == success), reviewed=int(not was_reviewed)
    )


def _reviewable(episode: Episode) -> None:
    if episode.outcome == EpisodeOutcome.LOST:
        raise TrialRuleError(
            f"episode {episode.index} was lost to infrastructure: it says nothing about the policy and is not "
            "reviewed (its index is re-run)",
            field="episode",
        )


@transaction.atomic
def episode_review(*, episode: Episode, reviewer: User, outcome: str, reason: str = "") -> EpisodeReview:
    """Confirm (same outcome) or override (another of success/failure/aborted) an episode's outcome.

    Changes Episode.outcome (what every figure counts), keeps the reported outcome in detected_outcome
    (from the first review on), writes an EpisodeReview row and updates the trial's summary. Returns the
    review. Raises TrialRuleError (field "outcome", "reason" or "episode": a lost episode, an override
    without a reason) and PermissionDenied when `reviewer` may not review the trial's episodes.
    """
    reason = reason.strip()
    _check_input(outcome=outcome, reason=reason)
    trial = _locked_trial(episode.trial_id)
    _check_reviewer(reviewer=reviewer, trial=trial)
    fresh = Episode.objects.get(pk=episode.pk)  # read under the lock: another review may have just landed
    _reviewable(fresh)
    _check_input(outcome=outcome, reason=reason, before=fresh.outcome)
    before, was_reviewed = fresh.outcome, fresh.review_state != ReviewState.UNREVIEWED
    review = _review_locked(episode=fresh, reviewer=reviewer, outcome=outcome, reason=reason, now=timezone.now())
    _summaries_apply(
        trial_id=trial.pk,
        deltas={fresh.source: _delta_of(episode=fresh, before_outcome=before, was_reviewed=was_reviewed)},
    )
    return review


@transaction.atomic
def episodes_review_bulk(
    *, trial: Trial, indexes: Sequence[int], reviewer: User, outcome: str, reason: str = ""
) -> list[EpisodeReview]:
    """Give several episodes of one trial (by index) the same reviewed outcome and reason, all or nothing.

    Returns the reviews in index order. Raises TrialRuleError naming the field ("indexes": empty, too many,
    repeated, no such episode, a lost one; "outcome"; "reason": an override without one) before anything is
    written, and PermissionDenied like episode_review.
    """
    reason = reason.strip()
    _check_input(outcome=outcome, reason=reason)
    if not indexes:
        raise TrialRuleError("name at least one episode index", field="indexes")
    if len(indexes) > BULK_MAX_EPISODES:
        raise TrialRuleError(f"at most {BULK_MAX_EPISODES} episodes per bulk review", field="indexes")
    repeated = sorted(i for i, n in Counter(indexes).items() if n > 1)
    if repeated:
        raise TrialRuleError(f"indexes repeated: {', '.join(map(str, repeated))}", field="indexes")
    locked = _locked_trial(trial.pk)
    _check_reviewer(reviewer=reviewer, trial=locked)
    found = {e.index: e for e in Episode.objects.counted().filter(trial=locked, index__in=list(indexes))}
    missing = sorted(set(indexes) - set(found))
    if missing:
        # An index holding only lost attempts has no counted episode, hence nothing to review.
        raise TrialRuleError(
            f"no reviewable episode at index {', '.join(map(str, missing[:20]))} (none recorded, or only lost "
            "attempts)",
            field="indexes",
        )
    episodes = [found[i] for i in sorted(found)]
    for episode in episodes:
        try:
            _check_input(outcome=outcome, reason=reason, before=episode.outcome)
        except TrialRuleError as exc:
            raise TrialRuleError(f"episode {episode.index}: {exc}", field=exc.field) from exc
    now = timezone.now()
    deltas: dict[str, _Delta] = {}
    reviews = []
    for episode in episodes:
        before, was_reviewed = episode.outcome, episode.review_state != ReviewState.UNREVIEWED
        reviews.append(_review_locked(episode=episode, reviewer=reviewer, outcome=outcome, reason=reason, now=now))
        delta = _delta_of(episode=episode, before_outcome=before, was_reviewed=was_reviewed)
        total = deltas.setdefault(episode.source, _Delta())
        total.successes += delta.successes
        total.reviewed += delta.reviewed
    _summaries_apply(trial_id=locked.pk, deltas=deltas)
    return reviews
