"""Reads of blind A/B comparisons: who may see one, its progress while sealed (nothing that tells the arms
apart), and once unblinded which arm was which, the kept order, the pairs and the figures (core.blind)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from accounts.models import User
from core import blind
from trials.models import (
    BlindComparison,
    BlindPreference,
    Episode,
    EpisodeOutcome,
    Trial,
    TrialStatus,
)


def blind_comparison_list_for_user(*, user: User) -> QuerySet[BlindComparison]:
    """Comparisons the user may read: of its tasks, of tasks it is engaged on as integrator, on its robots
    (the trials' rule)."""
    comparisons = BlindComparison.objects.select_related("task", "robot", "created_by")
    if user.is_superuser:
        return comparisons
    org = user.organization_id
    return comparisons.filter(Q(task__organization_id=org) | Q(task__integrator_id=org) | Q(robot__organization_id=org))


@dataclass(frozen=True)
class BlindProgress:
    """What may be said of a comparison while sealed: counts over both arms together."""

    pairs: int
    pairs_done: int  # both episodes counted
    episodes_done: int
    episodes_lost: int
    preferences: int
    status: str  # "running", or the arms' common end ("completed", "cancelled", ...)


def blind_comparison_progress(*, comparison: BlindComparison) -> BlindProgress:
    """Progress over both arms, with nothing per arm. Three queries."""
    episodes = Episode.objects.filter(trial__blind=comparison)
    totals = episodes.aggregate(
        done=Count("id", filter=~Q(outcome=EpisodeOutcome.LOST)),
        lost=Count("id", filter=Q(outcome=EpisodeOutcome.LOST)),
    )
    pairs_done = episodes.counted().order_by().values("index").annotate(n=Count("id")).filter(n=2).count()
    statuses = set(Trial.objects.filter(blind=comparison).values_list("status", flat=True))
    finished = statuses and statuses <= set(Trial.FINISHED_STATUSES)
    status = (
        "running"
        if not finished
        else (TrialStatus.CANCELLED if TrialStatus.CANCELLED in statuses else sorted(statuses)[0])
    )
    return BlindProgress(
        pairs=comparison.pairs,
        pairs_done=pairs_done,
        episodes_done=int(totals["done"] or 0),
        episodes_lost=int(totals["lost"] or 0),
        preferences=BlindPreference.objects.filter(comparison=comparison).count(),
        status=str(status),
    )


@dataclass(frozen=True)
class PairRow:
    pair: int
    seed: int
    first: str  # the version run first: "A" or "B"
    outcome_a: str | None
    outcome_b: str | None
    preference: str | None  # "A", "B", "tie", or None


@dataclass(frozen=True)
class BlindUnblinded:
    """An unblinded comparison: the arms, the kept order and each pair, and the figures."""

    comparison: BlindComparison
    trial_a: Trial
    trial_b: Trial
    rows: list[PairRow]
    result: blind.BlindResult


def blind_comparison_unblinded(*, comparison: BlindComparison) -> BlindUnblinded | None:
    """The unblinded view of the comparison, or None while it is sealed. Three queries."""
    if comparison.unblinded_at is None:
        return None
    trials = {
        t.policy_version_id: t for t in Trial.objects.filter(blind=comparison).select_related("policy_version__policy")
    }
    trial_a, trial_b = trials[comparison.version_a_id], trials[comparison.version_b_id]
    outcomes: dict[tuple[int, int], str] = dict(
        ((trial_id, index), outcome)
        for trial_id, index, outcome in Episode.objects.counted()
        .filter(trial__blind=comparison)
        .values_list("trial_id", "index", "outcome")
    )
    preferences = dict(BlindPreference.objects.filter(comparison=comparison).values_list("pair", "choice"))
    rows = [
        PairRow(
            pair=i,
            seed=int(trial_a.seed) + i,
            first=str(comparison.order[i]),
            outcome_a=outcomes.get((trial_a.pk, i)),
            outcome_b=outcomes.get((trial_b.pk, i)),
            preference=preferences.get(i),
        )
        for i in range(comparison.pairs)
    ]
    result = blind.blind_result(
        pairs=[
            blind.PairOutcome(
                None if r.outcome_a is None else r.outcome_a == EpisodeOutcome.SUCCESS,
                None if r.outcome_b is None else r.outcome_b == EpisodeOutcome.SUCCESS,
            )
            for r in rows
        ],
        choices=[r.preference for r in rows if r.preference is not None],
    )
    return BlindUnblinded(comparison=comparison, trial_a=trial_a, trial_b=trial_b, rows=rows, result=result)
