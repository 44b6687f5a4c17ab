"""The manager's shortlist: per task, the policy versions ranked by a Bradley-Terry model (core.ranking) on
their paired results on that task, beside each version's ROI (reports.roi.report, the report's figures).

A paired result is one scene run by two versions. The runner resets episode i of a trial with seed
`trial.seed + i` on the trial's cell, instruction and timeout (trials.runner), so a scene is that tuple, and
two versions' simulated episodes of one scene are comparable whichever trials they came from. Per version
and scene the outcome is the share of its counted episodes that succeeded (1 or 0 unless a scene was run
twice); A scores 1/2 + (share_A - share_B)/2 against B: 1 for a win, 0 for a loss, 1/2 for a tie.

Visibility: the tasks whose commercial terms the user may read (trials.selectors, as the ROI dashboard) and
their trials the user may read. Queries: tasks, trials, episodes, then the ROI report per version (three
queries each).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Case, IntegerField, Value, When

from accounts.models import User
from core.paired import PairedPlan, paired_plan
from core.ranking import Ranking, bradley_terry
from core.results import JsonResult
from core.roi import RoiInputError
from reports.models import CostScenario
from reports.roi.report import roi_traffic_light, task_roi_report
from reports.stats.pairing import levels_key
from robots.models import RobotKind
from trials.models import Episode, EpisodeOutcome, EpisodeSource, Task, Trial
from trials.selectors import task_list_commercial_for_user, trial_list_for_user

SHORTLIST_RESAMPLES = 1000
SHORTLIST_SEED = 0
# When two versions tie on their shared scenes, the plan sizes the smallest difference worth telling apart.
TIE_DIFFERENCE = 0.05
TIE_POWER = 0.8

# cell, instruction, episode timeout, seed of the episode, factor levels (sorted (key, level) pairs; () nominal)
Scene = tuple[str, str, float, int, tuple[tuple[str, float | str], ...]]


@dataclass(frozen=True)
class VersionRoi(JsonResult):
    npv: float | None
    payback_months: float | None
    traffic_light: str  # green / amber / red / none
    episodes: int
    evidence_sources: tuple[str, ...]
    error: str | None  # why there is no ROI (no cost model, no episode, no success ...)


@dataclass(frozen=True)
class ShortlistEntry(JsonResult):
    policy_version_id: int
    label: str
    rank: int | None  # None: never run on a scene another version ran
    rank_low: int | None
    rank_high: int | None
    strength: float | None
    strength_low: float | None
    strength_high: float | None
    wins: float
    games: int
    roi: VersionRoi


@dataclass(frozen=True)
class TieBreak(JsonResult):
    """Two versions whose rank intervals overlap, and the paired seeds that would settle which is better."""

    label_a: str
    label_b: str
    shared_scenes: int
    rate_a: float
    rate_b: float
    plan: PairedPlan | None
    more_seeds: int | None  # beyond the shared scenes already run
    statement: str


@dataclass(frozen=True)
class TaskShortlist(JsonResult):
    task_id: int
    task_name: str
    currency: str
    entries: tuple[ShortlistEntry, ...]  # ranked first, then the versions without paired results
    ranking: Ranking | None
    ties: tuple[TieBreak, ...]
    statement: str


@dataclass(frozen=True)
class Shortlist(JsonResult):
    tasks: tuple[TaskShortlist, ...]
    method: str


def _version_roi(*, task: Task, version_id: int, user: User) -> VersionRoi:
    try:
        report = task_roi_report(
            task=task, scenario=CostScenario.BASE, user=user, policy_version_id=version_id, details=False
        )
    except RoiInputError as exc:
        return VersionRoi(None, None, "none", 0, (), str(exc))
    return VersionRoi(
        npv=report.roi.npv,
        payback_months=report.roi.payback_months,
        traffic_light=roi_traffic_light(roi=report.roi, monte_carlo=report.monte_carlo),
        episodes=report.episodes,
        evidence_sources=report.evidence_sources,
        error=None,
    )


def _scene_outcomes(trials: list[Trial]) -> dict[int, dict[Scene, float]]:
    """{version id: {scene: share of its counted simulated episodes of the scene that succeeded}}. One query."""
    by_trial = {t.pk: t for t in trials if t.robot.kind == RobotKind.SIMULATED}
    totals: dict[int, dict[Scene, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    rows = (
        Episode.objects.counted()
        .filter(trial_id__in=list(by_trial), source=EpisodeSource.SIMULATION)
        .annotate(
            _ok=Case(When(outcome=EpisodeOutcome.SUCCESS, then=Value(1)), default=Value(0), output_field=IntegerField())
        )
        .order_by()
        .values_list("trial_id", "index", "_ok")
    )
    for trial_id, index, ok in rows.iterator(chunk_size=10_000):
        trial = by_trial[trial_id]
        scene = (
            trial.robot.sim_cell_key,
            trial.instruction,
            float(trial.episode_timeout_s),
            int(trial.seed) + index,
            levels_key(trial.variation),
        )
        cell = totals[trial.policy_version_id][scene]
        cell[0] += ok
        cell[1] += 1
    return {v: {s: ok / n for s, (ok, n) in scenes.items()} for v, scenes in totals.items()}


def _pairwise(outcomes: dict[int, dict[Scene, float]], versions: list[int]) -> tuple[list[int], list[int], list[float]]:
    first, second, score = [], [], []
    for x, y in itertools.combinations(range(len(versions)), 2):
        a, b = outcomes.get(versions[x], {}), outcomes.get(versions[y], {})
        for scene in a.keys() & b.keys():
            first.append(x)
            second.append(y)
            score.append(0.5 + (a[scene] - b[scene]) / 2)
    return first, second, score


def _tie_break(label_a: str, label_b: str, a: dict[Scene, float], b: dict[Scene, float]) -> TieBreak:
    shared = a.keys() & b.keys()
    n = len(shared)
    rate_a = sum(a[s] for s in shared) / n if n else 0.0
    rate_b = sum(b[s] for s in shared) / n if n else 0.0
    discordant = sum(abs(a[s] - b[s]) for s in shared) / n if n else 0.0
    target_a, target_b = rate_a, rate_b
    if abs(rate_b - rate_a) < TIE_DIFFERENCE:  # no difference worth detecting seen: size the smallest that is
        target_a = min(max(rate_a, 0.01), 0.99 - TIE_DIFFERENCE)
        target_b = target_a + TIE_DIFFERENCE
    target_a, target_b = min(max(target_a, 0.0001), 0.9999), min(max(target_b, 0.0001), 0.9999)
    discordance = min(max(discordant, abs(target_b - target_a)), min(target_a + target_b, 2 - target_a - target_b))
    try:
        plan: PairedPlan | None = paired_plan(
            rate_a=target_a, rate_b=target_b, discordance=discordance or None, power=TIE_POWER
        )
    except ValueError:
        plan = None
    if plan is None:
        return TieBreak(label_a, label_b, n, rate_a, rate_b, None, None, f"{label_a} and {label_b}: no plan fits.")
    more = max(plan.pairs_needed - n, 0)
    statement = (
        f"{label_a} and {label_b} are not yet told apart ({rate_a:.0%} vs {rate_b:.0%} on {n} shared seeds). "
        f"Telling {target_a:.0%} from {target_b:.0%} with {TIE_POWER:.0%} power needs {plan.pairs_needed:,} "
        f"seeds run by both{f': {more:,} more' if more else ''} (paired, expecting {plan.discordance:.0%} of "
        "seeds decided differently)."
    )
    return TieBreak(label_a, label_b, n, rate_a, rate_b, plan, more, statement)


def _task_shortlist(*, task: Task, trials: list[Trial], labels: dict[int, str], user: User) -> TaskShortlist:
    outcomes = _scene_outcomes(trials)
    compared = sorted(v for v in outcomes if any(outcomes[v].keys() & outcomes[w].keys() for w in outcomes if w != v))
    ranking = None
    entries: list[ShortlistEntry] = []
    ties: list[TieBreak] = []
    if len(compared) >= 2:
        first, second, score = _pairwise(outcomes, compared)
        ranking = bradley_terry(
            labels=[str(v) for v in compared], first=first, second=second, score_first=score,
            resamples=SHORTLIST_RESAMPLES, seed=SHORTLIST_SEED,
        )  # fmt: skip
        for item in ranking.items:
            version = int(item.label)
            ci = item.strength_interval
            entries.append(
                ShortlistEntry(
                    version,
                    labels[version],
                    item.rank,
                    item.rank_low,
                    item.rank_high,
                    item.strength,
                    ci.low if ci else None,
                    ci.high if ci else None,
                    item.wins,
                    item.games,
                    _version_roi(task=task, version_id=version, user=user),
                )  # fmt: skip
            )
        for upper, lower in itertools.pairwise(ranking.items):
            if lower.rank_low <= upper.rank_high:  # their rank intervals overlap: a tie to settle
                va, vb = int(upper.label), int(lower.label)
                ties.append(_tie_break(labels[va], labels[vb], outcomes[va], outcomes[vb]))
    ranked = {e.policy_version_id for e in entries}
    for version in sorted({t.policy_version_id for t in trials} - ranked, key=lambda v: labels[v]):
        entries.append(
            ShortlistEntry(
                version,
                labels[version],
                None,
                None,
                None,
                None,
                None,
                None,
                0.0,
                0,
                _version_roi(task=task, version_id=version, user=user),
            )  # fmt: skip
        )
    if ranking is None:
        statement = (
            "No two policy versions ran the same simulated scenes on this task yet: schedule them with the same "
            "cell, seed, instruction and timeout to rank them."
        )
    else:
        top = entries[0]
        sure = top.rank_high == 1
        statement = f"{top.label} ranks first on {ranking.n_results:,} paired results" + (
            " and stays first in the bootstrap." if sure else f", but could rank as low as {top.rank_high}."
        )
    return TaskShortlist(task.pk, task.name, task.currency, tuple(entries), ranking, tuple(ties), statement)


def shortlist_for_user(*, user: User) -> Shortlist:
    """Every task whose commercial terms the user may read, with its versions ranked by Bradley-Terry on
    their paired results (bootstrap intervals), each version's ROI, and the seeds that would settle a tie.
    Tasks without any trial are left out."""
    tasks = list(task_list_commercial_for_user(user=user).order_by("name", "pk"))
    trials = list(trial_list_for_user(user=user).filter(task_id__in=[t.pk for t in tasks]).select_related("robot"))
    by_task: dict[int, list[Trial]] = defaultdict(list)
    labels: dict[int, str] = {}
    for trial in trials:
        by_task[trial.task_id].append(trial)
        version = trial.policy_version
        labels[version.pk] = f"{version.policy.name} {version.version}"
    shortlists = tuple(
        _task_shortlist(task=task, trials=by_task[task.pk], labels=labels, user=user)
        for task in tasks
        if by_task[task.pk]
    )
    method = (
        "Bradley-Terry on paired results (same cell, instruction, timeout and episode seed; ties half), Hunter's MM, "
        f"percentile bootstrap of {SHORTLIST_RESAMPLES} resamples (seed {SHORTLIST_SEED}); ROI: the base-case "
        "task report per version"
    )
    return Shortlist(shortlists, method)
