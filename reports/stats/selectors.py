"""Statistics read from recorded episodes: the figures behind trial and task pages and the /api/v1/ stats.

Counts and sums are aggregated in the database; the columns the maths needs row by row (cycle times for
percentiles, outcomes in order for runs) are streamed from a cursor into numpy arrays in chunks, never as
model instances. Each selector runs a fixed number of queries whatever the number of episodes.

Simulation, robot agent and integrator upload are never mixed: every figure block names its `source`,
and a task report shows the sim-to-real gap per policy version when both exist.

Visibility: pass `user` to scope by the trials/tasks the user may read (trials.selectors); another
organization's object then raises DoesNotExist, which views and the API turn into 404.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from django.db import connection
from django.db.models import Case, Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce

from accounts.models import User
from core import stats
from core.paired import PairedSuccessComparison
from core.results import JsonResult
from policies.models import PolicyVersion
from reports.models import AcceptanceCriteria, CostModel, CostScenario
from reports.sources import REAL_SOURCES
from reports.stats.pairing import Pairing, paired_compare
from trials.models import (
    COUNTED_OUTCOMES,
    Episode,
    EpisodeEvent,
    EpisodeOutcome,
    EpisodeQuerySet,
    EpisodeSource,
    EventCategory,
    EventKind,
    Task,
    Trial,
    TrialSourceSummary,
)
from trials.selectors import task_list_for_user, trial_list_for_user

SOURCES: tuple[str, ...] = tuple(EpisodeSource.values)
SOURCE_LABELS: dict[str, str] = dict(EpisodeSource.choices)
DEFAULT_RECOVERY_TIME_S = 60.0
STREAM_CHUNK_ROWS = 50_000


# --------------------------------------------------------------------------------------------------
# Result types
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceStatistics(JsonResult):
    """Every figure for the episodes of one source (simulation, robot agent or integrator upload)."""

    source: str
    source_label: str
    n_episodes: int
    success: stats.SuccessRate
    cycle_time: stats.CycleTimeSummary  # successful episodes only
    cycle_time_distribution: stats.CycleTimeDistribution  # histogram and box plot, successful episodes
    takt: stats.TaktVerdict
    takt_time_s: float
    manual_cycle_time_s: float
    mean_attempt_cycle_s: float | None  # all outcomes: the time a robot spends per attempt
    interventions: stats.InterventionRate
    longest_success_run: int
    longest_run_without_intervention: int
    events_by_category: dict[str, int]
    failures_by_category: tuple[stats.ParetoBar, ...]
    throughput: stats.Throughput
    oee: stats.OEEBreakdown | None
    # Of n_episodes, how many a person reviewed (their outcome above is the reviewed one): every figure says so.
    n_reviewed: int = 0


@dataclass(frozen=True)
class TrialStatistics(JsonResult):
    trial_id: int
    task_id: int
    policy_version_id: int
    episodes_planned: int
    status: str
    recovery_time_s: float
    recovery_time_source: str
    sources: tuple[SourceStatistics, ...]
    episodes_lost: int  # lost to infrastructure: in no figure above, said in `note`
    note: str | None
    stages: tuple[str, ...] = ()  # the trial's stage names (Trial.stages), for the stage funnel


@dataclass(frozen=True)
class SimToRealGap(JsonResult):
    policy_version_id: int
    policy_version_label: str
    real_source: str
    success: stats.SuccessComparison  # A = simulation, B = the real source
    cycle_time: stats.CycleTimeComparison
    success_gap: float | None  # real - simulation, in rate units
    median_cycle_gap_s: float | None  # real - simulation


@dataclass(frozen=True)
class PolicyVersionSummary(JsonResult):
    policy_version_id: int
    policy_version_label: str
    source: str
    success: stats.SuccessRate
    median_cycle_time_s: float | None
    n_cycles: int


@dataclass(frozen=True)
class TaskStatistics(JsonResult):
    task_id: int
    recovery_time_s: float
    recovery_time_source: str
    sources: tuple[SourceStatistics, ...]
    by_policy_version: tuple[PolicyVersionSummary, ...]
    sim_to_real: tuple[SimToRealGap, ...]
    episodes_lost: int  # lost to infrastructure: in no figure above, said in `note`
    note: str | None


@dataclass(frozen=True)
class TrialComparison(JsonResult):
    trial_a_id: int
    trial_b_id: int
    task_id: int
    source_a: str | None
    source_b: str | None
    success: stats.SuccessComparison  # unpaired, on every counted episode of each trial
    cycle_time: stats.CycleTimeComparison
    note: str | None
    pairing: Pairing | None = None  # whether episode i of A and of B ran the same scene, and why not
    paired: PairedSuccessComparison | None = None  # McNemar and Newcombe's paired interval, when pairable
    applies: str = "unpaired"  # "paired" or "unpaired": which success comparison answers the question


@dataclass(frozen=True)
class SourceVerdict(JsonResult):
    source: str
    verdict: stats.SequentialVerdict


@dataclass(frozen=True)
class TrialSequentialVerdict(JsonResult):
    trial_id: int
    episodes_planned: int
    sources: tuple[SourceVerdict, ...]
    note: str | None


@dataclass(frozen=True)
class SourceAcceptance(JsonResult):
    source: str
    result: stats.AcceptanceResult
    n_episodes: int = 0
    n_reviewed: int = 0  # of n_episodes: the evidence's reviewed share, shown beside the verdict


@dataclass(frozen=True)
class TrialAcceptance(JsonResult):
    trial_id: int
    criteria: stats.AcceptanceRule
    sources: tuple[SourceAcceptance, ...]
    note: str | None


# --------------------------------------------------------------------------------------------------
# Database reads
# --------------------------------------------------------------------------------------------------


def _check_source(source: str | None) -> None:
    if source is not None and source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}")


EVENT_CATEGORIES: tuple[str, ...] = tuple(EventCategory.values)
_NO_CODE = -1  # success, or events not streamed
_NO_EVENT = -2  # a failed episode without any event: "unattributed"
_COLUMNS = ("trial", "version", "source", "success", "cycle_s", "interventions", "failure_code", "index")


@dataclass
class _Columns:
    """Per-episode columns in (trial, index) order: `source` indexes SOURCES, `failure_code` indexes
    EVENT_CATEGORIES (the failed episode's first event) or is _NO_CODE / _NO_EVENT; `index` is the
    episode's index in its trial (what pairs two trials' episodes run on the same seeds)."""

    trial: np.ndarray
    version: np.ndarray
    source: np.ndarray
    success: np.ndarray
    cycle_s: np.ndarray
    interventions: np.ndarray
    failure_code: np.ndarray
    index: np.ndarray

    def where(self, mask: np.ndarray) -> _Columns:
        return _Columns(*(getattr(self, f)[mask] for f in _COLUMNS))


def _code_of(field: str, values: tuple[str, ...], *, default: int) -> Case:
    return Case(
        *[When(**{field: v}, then=Value(i)) for i, v in enumerate(values)],
        default=Value(default),
        output_field=IntegerField(),
    )


def _stream_columns(episodes: QuerySet[Episode], *, with_events: bool = True) -> _Columns:
    """One query, one row per episode, fetched in chunks straight into numpy (no model instances, no
    per-row dicts). With `with_events`, each row also carries its intervention count and, for a failed
    episode, the category code of its first event (correlated subqueries on the event's episode index;
    SQL CASE evaluates the second only for failures)."""
    annotations: dict[str, Any] = {
        "_src": _code_of("source", SOURCES, default=-1),
        "_ok": Case(When(outcome=EpisodeOutcome.SUCCESS, then=Value(1)), default=Value(0), output_field=IntegerField()),
    }
    if with_events:
        interventions = (
            EpisodeEvent.objects.filter(episode_id=OuterRef("pk"), kind=EventKind.INTERVENTION)
            .order_by()
            .values("episode_id")
            .annotate(c=Count("id"))
            .values("c")
        )
        first_event = (
            EpisodeEvent.objects.filter(episode_id=OuterRef("pk"))
            .order_by("t_offset_s", "id")
            .annotate(code=_code_of("category", EVENT_CATEGORIES, default=_NO_EVENT))
            .values("code")[:1]
        )
        annotations["_iv"] = Coalesce(Subquery(interventions, output_field=IntegerField()), Value(0))
        annotations["_fail"] = Case(
            When(outcome=EpisodeOutcome.SUCCESS, then=Value(_NO_CODE)),
            default=Coalesce(Subquery(first_event, output_field=IntegerField()), Value(_NO_EVENT)),
            output_field=IntegerField(),
        )
    else:
        annotations["_iv"] = Value(0, output_field=IntegerField())
        annotations["_fail"] = Value(_NO_CODE, output_field=IntegerField())
    # Any: the annotation names come from a dict, which django-stubs cannot follow into values_list.
    annotated: Any = episodes.annotate(**annotations)
    qs = annotated.order_by("trial_id", "index").values_list(
        "trial_id", "trial__policy_version_id", "_src", "_ok", "cycle_time_s", "_iv", "_fail", "index"
    )
    sql, params = qs.query.sql_with_params()
    chunks: list[np.ndarray] = []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(STREAM_CHUNK_ROWS):
            chunks.append(np.array(rows, dtype=np.float64))
    data = np.concatenate(chunks) if chunks else np.empty((0, len(_COLUMNS)))
    return _Columns(
        trial=data[:, 0].astype(np.int64),
        version=data[:, 1].astype(np.int64),
        source=data[:, 2].astype(np.int64),
        success=data[:, 3] > 0,
        cycle_s=data[:, 4],
        interventions=data[:, 5].astype(np.int64),
        failure_code=data[:, 6].astype(np.int64),
        index=data[:, 7].astype(np.int64),
    )


_LOST_CODE = -1  # marks the UNION ALL part that counts lost episodes instead of events
_REVIEWED_CODE = -2  # marks the part that sums the summaries' reviewed episodes


def _events_by_category(
    episodes: QuerySet[Episode],
    lost: QuerySet[Episode] | None = None,
    summaries: QuerySet[TrialSourceSummary] | None = None,
) -> tuple[dict[str, dict[str, int]], dict[str, int], dict[str, int]]:
    """({source: {category: events}}, {source: episodes lost to infrastructure}, {source: episodes reviewed})
    grouped in the database, in one query (the lost count and the reviewed count of the `summaries` rows
    ride along so the statistics stay a fixed number of queries).

    One grouped part per source, glued with UNION ALL: each part filters events by the ids of that
    source's episodes and reads only the (episode, category) index, where grouping by the episode's
    source would look every event's episode up (about twice the work at 300,000 events).
    """
    parts: list[QuerySet[Any, tuple[Any, str, int]]] = [
        EpisodeEvent.objects.filter(episode__in=episodes.filter(source=source).order_by().values("pk"))
        .order_by()
        .values("category")
        .annotate(n=Count("id"), source_code=Value(code, output_field=IntegerField()))
        .values_list("source_code", "category", "n")
        for code, source in enumerate(SOURCES)
    ]
    if lost is not None:
        parts.append(
            lost.order_by()
            .values("source")
            .annotate(n=Count("id"), source_code=Value(_LOST_CODE, output_field=IntegerField()))
            .values_list("source_code", "source", "n")
        )
    if summaries is not None:
        parts.append(
            summaries.order_by()
            .values("source")
            .annotate(n=Sum("reviewed"), source_code=Value(_REVIEWED_CODE, output_field=IntegerField()))
            .values_list("source_code", "source", "n")
        )
    out: dict[str, dict[str, int]] = defaultdict(dict)
    lost_by_source: dict[str, int] = {}
    reviewed_by_source: dict[str, int] = {}
    for code, category, n in parts[0].union(*parts[1:], all=True):
        if code == _LOST_CODE:
            lost_by_source[category] = n
        elif code == _REVIEWED_CODE:
            reviewed_by_source[category] = int(n or 0)
        else:
            out[SOURCES[code]][category] = n
    return out, lost_by_source, reviewed_by_source


def _recovery_time(task_id: int) -> tuple[float, str]:
    value = (
        CostModel.objects.filter(task_id=task_id, scenario=CostScenario.BASE)
        .values_list("recovery_time_s", flat=True)
        .first()
    )
    if value is None:
        return DEFAULT_RECOVERY_TIME_S, f"default {DEFAULT_RECOVERY_TIME_S:.0f} s (no base cost model for the task)"
    return float(value), "base cost model of the task"


# --------------------------------------------------------------------------------------------------
# Assembly (pure, from the aggregates above)
# --------------------------------------------------------------------------------------------------


def _source_statistics(
    *,
    source: str,
    columns: _Columns,
    events_by_category: dict[str, int],
    takt_time_s: float,
    manual_cycle_time_s: float,
    recovery_time_s: float,
) -> SourceStatistics:
    n = int(columns.success.size)
    successes = int(columns.success.sum())
    attempt_time_s = float(columns.cycle_s.sum())
    interventions = int(columns.interventions.sum())
    success = stats.success_rate(successes=successes, n=n)
    good_cycles = columns.cycle_s[columns.success]
    # A run never spans two trials; a clean cycle is a success with no operator intervention.
    longest_success = stats.longest_run(columns.success, groups=columns.trial)
    longest_clean = stats.longest_run(columns.success & (columns.interventions == 0), groups=columns.trial)
    codes, counts = np.unique(columns.failure_code[~columns.success], return_counts=True)
    # The Pareto names each failure's own event category (collision, timeout, safety stop…): the OEE
    # waterfall's coarser loss groups ("robot fault") would hide which one to fix first.
    failed_by_category: dict[str, int] = defaultdict(int)
    for code, count in zip(codes.tolist(), counts.tolist(), strict=True):
        category = EVENT_CATEGORIES[code] if 0 <= code < len(EVENT_CATEGORIES) else None
        failed_by_category[category or stats.UNATTRIBUTED] += count
    failed_loss: dict[str, int] = defaultdict(int)  # the OEE waterfall's loss groups
    for category, count in failed_by_category.items():
        failed_loss[stats.LOSS_CATEGORY_BY_EVENT.get(category, stats.UNATTRIBUTED)] += count
    mean_attempt = attempt_time_s / n if n else None
    return SourceStatistics(
        source=source,
        source_label=SOURCE_LABELS.get(source, source),
        n_episodes=n,
        success=success,
        cycle_time=stats.cycle_time_summary(good_cycles),
        cycle_time_distribution=stats.cycle_time_distribution(good_cycles),
        takt=stats.takt_verdict(good_cycles, takt_time_s=takt_time_s),
        takt_time_s=takt_time_s,
        manual_cycle_time_s=manual_cycle_time_s,
        mean_attempt_cycle_s=mean_attempt,
        interventions=stats.intervention_rate(interventions=interventions, operating_hours=attempt_time_s / 3600),
        longest_success_run=longest_success,
        longest_run_without_intervention=longest_clean,
        events_by_category=dict(sorted(events_by_category.items())),
        failures_by_category=stats.pareto(failed_by_category),
        throughput=stats.effective_throughput(
            mean_attempt_cycle_s=mean_attempt,
            interventions_per_attempt=interventions / n if n else None,
            recovery_time_s=recovery_time_s,
            success=success,
        ),
        oee=stats.oee_breakdown(
            attempt_time_s=attempt_time_s,
            attempts=n,
            good=successes,
            ideal_cycle_time_s=takt_time_s,
            downtime_s=interventions * recovery_time_s,
            failed_by_category=failed_loss,
        ),
    )


def _statistics_by_source(
    *,
    episodes: EpisodeQuerySet,
    task: Task,
    recovery_time_s: float,
    source: str | None,
    summaries: QuerySet[TrialSourceSummary] | None = None,
) -> tuple[tuple[SourceStatistics, ...], _Columns, int]:
    """Two queries: events grouped by category (with the lost episodes' count), and the streamed
    per-episode columns. `episodes` may include lost ones: they are counted apart, never in a figure.
    Returns (blocks, columns, episodes lost)."""
    if source is not None:
        episodes = episodes.filter(source=source)
        summaries = summaries.filter(source=source) if summaries is not None else None
    lost = episodes.lost()
    episodes = episodes.counted()
    events, lost_by_source, reviewed = _events_by_category(episodes, lost, summaries)
    columns = _stream_columns(episodes)
    present = [s for i, s in enumerate(SOURCES) if (columns.source == i).any()] or ([source] if source else [])
    blocks = tuple(
        replace(
            _source_statistics(
                source=s,
                columns=columns.where(columns.source == SOURCES.index(s)),
                events_by_category=events.get(s, {}),
                takt_time_s=task.takt_time_s,
                manual_cycle_time_s=task.manual_cycle_time_s,
                recovery_time_s=recovery_time_s,
            ),
            n_reviewed=reviewed.get(s, 0),
        )
        for s in present
    )
    return blocks, columns, sum(lost_by_source.values())


def _lost_note(lost: int) -> str:
    return f"{lost} episode{'s' if lost != 1 else ''} lost to infrastructure, not counted."


def _with_lost(note: str | None, lost: int) -> str | None:
    if not lost:
        return note
    return f"{note} {_lost_note(lost)}" if note else _lost_note(lost)


def _get_trial(trial_id: int, user: User | None) -> Trial:
    trials = trial_list_for_user(user=user) if user is not None else Trial.objects.select_related("task")
    return trials.select_related("task", "policy_version").get(pk=trial_id)


# --------------------------------------------------------------------------------------------------
# Public selectors
# --------------------------------------------------------------------------------------------------


def _trial_statistics(*, trial_id: int, source: str | None, user: User | None) -> tuple[TrialStatistics, _Columns]:
    _check_source(source)
    trial = _get_trial(trial_id, user)
    recovery_s, recovery_src = _recovery_time(trial.task_id)
    blocks, columns, lost = _statistics_by_source(
        episodes=Episode.objects.filter(trial_id=trial.pk),
        task=trial.task,
        recovery_time_s=recovery_s,
        source=source,
        summaries=TrialSourceSummary.objects.filter(trial_id=trial.pk),
    )
    note = None
    if not blocks or all(b.n_episodes == 0 for b in blocks):
        note = "No episode recorded yet: not enough data."
    elif len(blocks) > 1:
        note = "Episodes come from several sources; figures are given per source, never pooled."
    result = TrialStatistics(
        trial_id=trial.pk,
        task_id=trial.task_id,
        policy_version_id=trial.policy_version_id,
        episodes_planned=trial.episodes_planned,
        status=trial.status,
        recovery_time_s=recovery_s,
        recovery_time_source=recovery_src,
        sources=blocks,
        episodes_lost=lost,
        note=_with_lost(note, lost),
        stages=tuple(str(name) for name in trial.stages) if isinstance(trial.stages, list) else (),
    )
    return result, columns


def trial_statistics(*, trial_id: int, source: str | None = None, user: User | None = None) -> TrialStatistics:
    """Every figure for one trial, one block per episode source present (or only `source`).

    Four queries whatever the trial size. Raises Trial.DoesNotExist (absent or not visible to `user`) and
    ValueError on an unknown source.
    """
    return _trial_statistics(trial_id=trial_id, source=source, user=user)[0]


def task_statistics(*, task_id: int, source: str | None = None, user: User | None = None) -> TaskStatistics:
    """Every figure for all trials of one task, per source, plus a per-policy-version summary and the
    sim-to-real gap for each policy version that has both simulation and real episodes.

    Five queries whatever the number of trials and episodes. Raises Task.DoesNotExist (absent or not
    visible to `user`) and ValueError on an unknown source.
    """
    _check_source(source)
    tasks = task_list_for_user(user=user) if user is not None else Task.objects.all()
    return _task_statistics(task=tasks.get(pk=task_id), source=source)[0]


def _task_statistics(*, task: Task, source: str | None) -> tuple[TaskStatistics, _Columns]:
    recovery_s, recovery_src = _recovery_time(task.pk)
    # The sealed arms of a blind comparison are left out: per-version figures would unblind it.
    episodes = Episode.objects.unsealed().filter(trial__task_id=task.pk)
    blocks, columns, lost = _statistics_by_source(
        episodes=episodes,
        task=task,
        recovery_time_s=recovery_s,
        source=source,
        summaries=TrialSourceSummary.objects.filter(trial__task_id=task.pk).exclude(
            trial__blind__isnull=False, trial__blind__unblinded_at__isnull=True
        ),
    )
    versions = PolicyVersion.objects.filter(pk__in=np.unique(columns.version).tolist())
    labels = {pk: f"{name} {version}" for pk, version, name in versions.values_list("pk", "version", "policy__name")}
    summaries: list[PolicyVersionSummary] = []
    gaps: list[SimToRealGap] = []
    for version_id in sorted(labels):
        per_source: dict[str, _Columns] = {}
        for i, s in enumerate(SOURCES):
            cols = columns.where((columns.version == version_id) & (columns.source == i))
            if cols.success.size == 0:
                continue
            per_source[s] = cols
            good = cols.cycle_s[cols.success]
            summaries.append(
                PolicyVersionSummary(
                    policy_version_id=version_id,
                    policy_version_label=labels[version_id],
                    source=s,
                    success=stats.success_rate(successes=int(cols.success.sum()), n=int(cols.success.size)),
                    median_cycle_time_s=float(np.median(good)) if good.size else None,
                    n_cycles=int(good.size),
                )
            )
        sim = per_source.get(EpisodeSource.SIMULATION.value)
        for real_source in REAL_SOURCES:
            real = per_source.get(real_source)
            if sim is None or real is None:
                continue
            success_cmp = stats.compare_success(
                successes_a=int(sim.success.sum()),
                n_a=int(sim.success.size),
                successes_b=int(real.success.sum()),
                n_b=int(real.success.size),
                labels=("simulation", SOURCE_LABELS[real_source].lower()),
            )
            cycle_cmp = stats.compare_cycle_times(
                sim.cycle_s[sim.success],
                real.cycle_s[real.success],
                labels=("simulation", SOURCE_LABELS[real_source].lower()),
            )
            gaps.append(
                SimToRealGap(
                    policy_version_id=version_id,
                    policy_version_label=labels[version_id],
                    real_source=real_source,
                    success=success_cmp,
                    cycle_time=cycle_cmp,
                    success_gap=success_cmp.difference,
                    median_cycle_gap_s=(
                        cycle_cmp.median_b_s - cycle_cmp.median_a_s
                        if cycle_cmp.median_a_s is not None and cycle_cmp.median_b_s is not None
                        else None
                    ),
                )
            )
    note = None if blocks and any(b.n_episodes for b in blocks) else "No episode recorded yet: not enough data."
    result = TaskStatistics(
        task_id=task.pk,
        recovery_time_s=recovery_s,
        recovery_time_source=recovery_src,
        sources=blocks,
        by_policy_version=tuple(summaries),
        sim_to_real=tuple(gaps),
        episodes_lost=lost,
        note=_with_lost(note, lost),
    )
    return result, columns


def trials_compare(
    *, trial_a_id: int, trial_b_id: int, source: str | None = None, user: User | None = None
) -> TrialComparison:
    """Compare two trials of one task (two policy versions, or before/after): success rate (Barnard's exact
    test, Newcombe interval for B - A) and cycle time of successful episodes (Mann-Whitney). When the two
    trials ran the same simulated cell, seed, instruction and timeout (reports.stats.pairing), episode i of
    each is a pair and the paired comparison (McNemar's exact test, Newcombe's paired interval) applies;
    `pairing` says which and why, and the unpaired figures stay beside it.

    Two queries. Raises Trial.DoesNotExist, and ValueError when the trials are of different tasks or the
    source is unknown. When the trials' episodes come from different sources the result says so in `note`.
    """
    _check_source(source)
    trials = trial_list_for_user(user=user) if user is not None else Trial.objects.all()
    found = {t.pk: t for t in trials.filter(pk__in=[trial_a_id, trial_b_id]).select_related("robot")}
    if trial_a_id not in found or trial_b_id not in found:
        raise Trial.DoesNotExist(f"trial {trial_a_id if trial_a_id not in found else trial_b_id} not found")
    a, b = found[trial_a_id], found[trial_b_id]
    if a.task_id != b.task_id:
        raise ValueError("the two trials must be of the same task")
    episodes = Episode.objects.counted().filter(trial_id__in=[a.pk, b.pk])
    if source is not None:
        episodes = episodes.filter(source=source)
    columns = _stream_columns(episodes, with_events=False)
    col_a, col_b = columns.where(columns.trial == a.pk), columns.where(columns.trial == b.pk)

    def only_source(cols: _Columns) -> str | None:
        codes = np.unique(cols.source)
        return SOURCES[int(codes[0])] if codes.size == 1 else None

    src_a, src_b = only_source(col_a), only_source(col_b)
    note = None
    if src_a != src_b:
        note = f"Trial A's episodes come from {src_a or 'mixed sources'}, trial B's from {src_b or 'mixed sources'}."
    labels = (f"trial {a.pk}", f"trial {b.pk}")
    pairing, paired = paired_compare(a=a, b=b, col_a=col_a, col_b=col_b, source=source, labels=labels)
    return TrialComparison(
        trial_a_id=a.pk,
        trial_b_id=b.pk,
        task_id=a.task_id,
        source_a=src_a,
        source_b=src_b,
        success=stats.compare_success(
            successes_a=int(col_a.success.sum()),
            n_a=int(col_a.success.size),
            successes_b=int(col_b.success.sum()),
            n_b=int(col_b.success.size),
            labels=labels,
        ),
        cycle_time=stats.compare_cycle_times(col_a.cycle_s[col_a.success], col_b.cycle_s[col_b.success], labels=labels),
        note=note,
        pairing=pairing,
        paired=paired,
        applies="paired" if paired is not None else "unpaired",
    )


def trial_sequential_verdict(
    *,
    trial_id: int,
    acceptable_success: float,
    rejectable_success: float,
    alpha: float = 0.05,
    beta: float = 0.10,
    source: str | None = None,
    user: User | None = None,
) -> TrialSequentialVerdict:
    """Wald's SPRT over the trial's episodes in index order, per source: "pass", "fail" or "keep going",
    with the episode at which it was decided. Two queries. Raises Trial.DoesNotExist and ValueError
    (levels or source)."""
    _check_source(source)
    stats.sprt_binomial(
        successes=0, failures=0, acceptable_success=acceptable_success, rejectable_success=rejectable_success,
        alpha=alpha, beta=beta,
    )  # fmt: skip
    trial = _get_trial(trial_id, user)
    episodes = Episode.objects.counted().filter(trial_id=trial.pk)
    if source is not None:
        episodes = episodes.filter(source=source)
    columns = _stream_columns(episodes, with_events=False)
    verdicts = []
    for i, s in enumerate(SOURCES):
        mask = columns.source == i
        if mask.any() or s == source:
            verdicts.append(
                SourceVerdict(
                    source=s,
                    verdict=stats.sprt_sequence(
                        columns.success[mask],
                        acceptable_success=acceptable_success,
                        rejectable_success=rejectable_success,
                        alpha=alpha,
                        beta=beta,
                    ),
                )
            )
    return TrialSequentialVerdict(
        trial_id=trial.pk,
        episodes_planned=trial.episodes_planned,
        sources=tuple(verdicts),
        note=None if verdicts else "No episode recorded yet: keep going.",
    )


def trial_acceptance_evaluate(
    *, trial_id: int, criteria: stats.AcceptanceRule, source: str | None = None, user: User | None = None
) -> TrialAcceptance:
    """Evaluate FAT/SAT-style acceptance criteria on one trial, per source, each check with its evidence.

    Criteria are passed in (their storage per task is not modelled yet). Four queries. Raises
    Trial.DoesNotExist and ValueError on an unknown source.
    """
    stats_, columns = _trial_statistics(trial_id=trial_id, source=source, user=user)
    results = []
    for block in stats_.sources:
        cols = columns.where(columns.source == SOURCES.index(block.source))
        results.append(
            SourceAcceptance(
                source=block.source,
                result=stats.acceptance_evaluate(
                    criteria=criteria,
                    success=block.success,
                    interventions=block.interventions,
                    longest_clean_run=block.longest_run_without_intervention,
                    cycle_times_s=cols.cycle_s[cols.success],
                ),
                n_episodes=block.n_episodes,
                n_reviewed=block.n_reviewed,
            )
        )
    return TrialAcceptance(trial_id=trial_id, criteria=criteria, sources=tuple(results), note=stats_.note)


def task_trial_plan(
    *,
    task_id: int,
    target_success: float,
    confidence: float = stats.CONFIDENCE,
    failures_allowed: int = 0,
    source: str | None = None,
    user: User | None = None,
) -> stats.TrialPlan:
    """How many episodes (and robot-hours at the task's measured mean attempt cycle time) show success >= target
    at confidence with up to `failures_allowed` failures. The cycle time comes from `source`, or else from the
    first source with episodes in the order robot agent, integrator upload, simulation (real robots first;
    sources are never pooled); `cycle_time_source` says which, None when nothing was measured.

    Two queries. Raises Task.DoesNotExist and ValueError (bad target, confidence, failures or source).
    """
    _check_source(source)
    tasks = task_list_for_user(user=user) if user is not None else Task.objects.all()
    task = tasks.get(pk=task_id)
    rows = {
        r["source"]: r
        for r in Episode.objects.counted()
        .filter(trial__task_id=task.pk)
        .order_by()
        .values("source")
        .annotate(
            n=Count("id"),
            total=Sum("cycle_time_s"),
            successes=Count("id", filter=Q(outcome=EpisodeOutcome.SUCCESS)),
        )
    }
    order = [source] if source else [*REAL_SOURCES, EpisodeSource.SIMULATION.value]
    chosen = next((s for s in order if s in rows and rows[s]["n"]), None)
    mean = float(rows[chosen]["total"]) / rows[chosen]["n"] if chosen else None
    plan = stats.success_run_plan(
        target_success=target_success,
        confidence=confidence,
        failures_allowed=failures_allowed,
        mean_cycle_time_s=mean,
    )
    # The same source's success so far, so the page can warn when it is below the target (a plan that
    # assumes no further failure would then mislead).
    measured = (
        stats.success_rate(successes=int(rows[chosen]["successes"]), n=int(rows[chosen]["n"])) if chosen else None
    )
    return replace(plan, cycle_time_source=chosen, measured_success=measured)


# --------------------------------------------------------------------------------------------------
# Pages: the trial panel and the task page in a bounded number of queries
# --------------------------------------------------------------------------------------------------

DEFAULT_REJECTABLE_SUCCESS = 0.80
DEFAULT_PLAN_TARGET = 0.90
SEQUENTIAL_ALPHA = 0.05
SEQUENTIAL_BETA = 0.10
ACCEPTANCE_TRIALS_SHOWN = 20


@dataclass(frozen=True)
class SequentialLevels(JsonResult):
    """The SPRT's hypotheses: a policy at `rejectable_success` must not pass (error <= alpha), one at
    `acceptable_success` must not fail (error <= beta); `basis` says where the levels come from."""

    acceptable_success: float
    rejectable_success: float
    alpha: float
    beta: float
    basis: str


@dataclass(frozen=True)
class CriteriaAcceptance(JsonResult):
    """One stored criteria set (FAT, SAT, run-off) evaluated on one trial, per source."""

    criteria_id: int
    name: str
    label: str
    trial_id: int
    applies_to_source: str | None
    passed: bool | None  # None: no episode of the required source yet
    sources: tuple[SourceAcceptance, ...]
    statement: str


@dataclass(frozen=True)
class SourcePlan(JsonResult):
    """Per source: episodes needed to claim success >= the rejectable level at 95% confidence, allowing the
    failures already seen (None when the claim would need more than 10 million episodes)."""

    source: str
    episodes_so_far: int
    plan: stats.TrialPlan | None


@dataclass(frozen=True)
class SourceFunnel(JsonResult):
    """The stage funnel of one source's counted episodes (core.stats.stage_funnel)."""

    source: str
    funnel: stats.StageFunnel


@dataclass(frozen=True)
class TrialPanel(JsonResult):
    statistics: TrialStatistics
    levels: SequentialLevels
    sequential: TrialSequentialVerdict
    acceptance: tuple[CriteriaAcceptance, ...]
    plans: tuple[SourcePlan, ...] = ()
    funnel: tuple[SourceFunnel, ...] = ()


def trial_stage_funnel(
    *, trial_id: int, stage_names: tuple[str, ...] | None = None, source: str | None = None
) -> tuple[SourceFunnel, ...]:
    """Per source, how many of the trial's counted episodes reached each of its stages (`stage_names`, by
    default the trial's Trial.stages; a higher Episode.stage_reached than named adds "stage k") with Wilson
    intervals, and mean progress with a Student t interval. One aggregate query of the episodes grouped by
    source and stage reached (the progress sums ride along), plus one for the names when not given. Lost
    attempts are in no funnel. Raises Trial.DoesNotExist (names not given); the caller checks visibility."""
    _check_source(source)
    if stage_names is None:
        stored = Trial.objects.filter(pk=trial_id).values_list("stages", flat=True).get()
        stage_names = tuple(str(n) for n in stored) if isinstance(stored, list) else ()
    episodes = Episode.objects.filter(trial_id=trial_id, outcome__in=COUNTED_OUTCOMES)
    if source is not None:
        episodes = episodes.filter(source=source)
    rows = (
        episodes.order_by()
        .values("source", "stage_reached")
        .annotate(
            n=Count("id"),
            p_n=Count("progress"),
            p_sum=Sum("progress"),
            p_sq=Sum(F("progress") * F("progress")),
        )
    )
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[row["source"]].append(dict(row))
    out = []
    for s in SOURCES:
        if s not in grouped:
            continue
        counts = {r["stage_reached"]: r["n"] for r in grouped[s] if r["stage_reached"] is not None}
        out.append(
            SourceFunnel(
                source=s,
                funnel=stats.stage_funnel(
                    stage_counts=counts,
                    stage_names=stage_names,
                    unreported=sum(r["n"] for r in grouped[s] if r["stage_reached"] is None),
                    progress_n=sum(r["p_n"] for r in grouped[s]),
                    progress_sum=float(sum(r["p_sum"] or 0.0 for r in grouped[s])),
                    progress_sum_sq=float(sum(r["p_sq"] or 0.0 for r in grouped[s])),
                ),
            )
        )
    return tuple(out)


@dataclass(frozen=True)
class TaskPanel(JsonResult):
    statistics: TaskStatistics
    plan: stats.TrialPlan
    acceptance: tuple[CriteriaAcceptance, ...]  # criteria x the latest visible trials, newest first
    trials_evaluated: int


def sequential_levels(
    *, criteria: list[AcceptanceCriteria], acceptable: float | None = None, rejectable: float | None = None
) -> SequentialLevels:
    """The SPRT levels for a task: given ones, else the strictest stored success lower bound as the rejectable
    level and halfway to 100% as the acceptable one, else DEFAULT_REJECTABLE_SUCCESS. Raises ValueError
    unless 0 < rejectable < acceptable < 1."""
    if rejectable is None:
        bounds = [(c.min_success_lower_bound, c.get_name_display()) for c in criteria if c.min_success_lower_bound]
        if bounds:
            rejectable, name = max(bounds)
            # Read after "levels from" on the page.
            basis = f"the {name} criterion's success lower bound of {rejectable:.0%}"
        else:
            rejectable = DEFAULT_REJECTABLE_SUCCESS
            basis = f"the default {rejectable:.0%} (no acceptance criterion of the task sets a success level)"
    else:
        basis = "the levels given"
    if acceptable is None:
        acceptable = rejectable + (1 - rejectable) / 2
    if not 0 < rejectable < acceptable < 1:
        raise ValueError("need 0 < rejectable < acceptable < 1")
    return SequentialLevels(acceptable, rejectable, SEQUENTIAL_ALPHA, SEQUENTIAL_BETA, basis)


def _sequential_from_columns(*, trial: Trial, columns: _Columns, levels: SequentialLevels) -> TrialSequentialVerdict:
    verdicts = tuple(
        SourceVerdict(
            source=s,
            verdict=stats.sprt_sequence(
                columns.success[columns.source == i],
                acceptable_success=levels.acceptable_success,
                rejectable_success=levels.rejectable_success,
                alpha=levels.alpha,
                beta=levels.beta,
            ),
        )
        for i, s in enumerate(SOURCES)
        if (columns.source == i).any()
    )
    return TrialSequentialVerdict(
        trial_id=trial.pk,
        episodes_planned=trial.episodes_planned,
        sources=verdicts,
        note=None if verdicts else "No episode recorded yet: keep going.",
    )


def _acceptance_from_columns(
    *,
    record: AcceptanceCriteria,
    trial_id: int,
    columns: _Columns,
    takt_time_s: float,
    reviewed: dict[str, int] | None = None,
) -> CriteriaAcceptance:
    """Evaluate one stored criteria set on one trial's columns, per source present (or only its source)."""
    criteria = record.to_criteria(takt_time_s=takt_time_s)
    results = []
    for i, s in enumerate(SOURCES):
        if record.applies_to_source and s != record.applies_to_source:
            continue
        cols = columns.where(columns.source == i)
        if cols.success.size == 0:
            continue
        success = stats.success_rate(successes=int(cols.success.sum()), n=int(cols.success.size))
        hours = float(cols.cycle_s.sum()) / 3600
        results.append(
            SourceAcceptance(
                source=s,
                result=stats.acceptance_evaluate(
                    criteria=criteria,
                    success=success,
                    interventions=stats.intervention_rate(
                        interventions=int(cols.interventions.sum()),
                        operating_hours=hours,
                        confidence=criteria.confidence,
                    ),
                    longest_clean_run=stats.longest_run(cols.success & (cols.interventions == 0)),
                    cycle_times_s=cols.cycle_s[cols.success],
                ),
                n_episodes=int(cols.success.size),
                n_reviewed=(reviewed or {}).get(s, 0),
            )
        )
    label = record.get_name_display()
    if not results:
        which = SOURCE_LABELS.get(record.applies_to_source, "any source").lower()
        return CriteriaAcceptance(
            record.pk, record.name, label, trial_id, record.applies_to_source or None, None, (),
            f"{label}: no episode from {which} yet: not enough data.",
        )  # fmt: skip
    passed = all(r.result.passed for r in results)
    parts = "; ".join(f"{SOURCE_LABELS[r.source]}: {r.result.statement}" for r in results)
    return CriteriaAcceptance(
        record.pk, record.name, label, trial_id, record.applies_to_source or None, passed, tuple(results),
        f"{label} {'passed' if passed else 'not passed'} — {parts}",
    )  # fmt: skip


def plan_target_default(*, criteria: list[AcceptanceCriteria]) -> float:
    """The success rate a planner question starts from: the strictest success lower bound of the task's
    acceptance criteria, else DEFAULT_PLAN_TARGET."""
    return max((c.min_success_lower_bound for c in criteria if c.min_success_lower_bound), default=DEFAULT_PLAN_TARGET)


def acceptance_criteria_for_task(*, task_id: int) -> list[AcceptanceCriteria]:
    """The task's stored criteria sets, FAT, SAT, run-off order by name. One query."""
    return list(AcceptanceCriteria.objects.filter(task_id=task_id).order_by("name", "pk"))


def trial_panel(
    *,
    trial_id: int,
    user: User | None = None,
    acceptable: float | None = None,
    rejectable: float | None = None,
) -> TrialPanel:
    """Everything the trial's statistics panel shows: the per-source statistics, the sequential verdict
    (levels from the task's acceptance criteria unless given) and each stored acceptance criteria set
    evaluated on this trial (each source with how many of its episodes were reviewed), and the stage funnel.
    Six queries whatever the trial size.

    Raises Trial.DoesNotExist (absent or not visible to `user`) and ValueError on bad levels.
    """
    statistics, columns = _trial_statistics(trial_id=trial_id, source=None, user=user)
    criteria = acceptance_criteria_for_task(task_id=statistics.task_id)
    levels = sequential_levels(criteria=criteria, acceptable=acceptable, rejectable=rejectable)
    trial = Trial(pk=statistics.trial_id, episodes_planned=statistics.episodes_planned)
    takt = statistics.sources[0].takt_time_s if statistics.sources else None
    if takt is None:
        takt = Task.objects.filter(pk=statistics.task_id).values_list("takt_time_s", flat=True).get()
    plans = []
    for block in statistics.sources:
        try:
            plan: stats.TrialPlan | None = stats.success_run_plan(
                target_success=levels.rejectable_success,
                failures_allowed=block.success.failures,
                mean_cycle_time_s=block.mean_attempt_cycle_s,
            )
        except ValueError:  # beyond 10 million episodes
            plan = None
        plans.append(SourcePlan(source=block.source, episodes_so_far=block.n_episodes, plan=plan))
    reviewed = {b.source: b.n_reviewed for b in statistics.sources}
    return TrialPanel(
        statistics=statistics,
        levels=levels,
        sequential=_sequential_from_columns(trial=trial, columns=columns, levels=levels),
        acceptance=tuple(
            _acceptance_from_columns(record=c, trial_id=trial_id, columns=columns, takt_time_s=takt, reviewed=reviewed)
            for c in criteria
        ),
        plans=tuple(plans),
        funnel=trial_stage_funnel(trial_id=trial_id, stage_names=statistics.stages),
    )


def task_panel(
    *,
    task_id: int,
    user: User | None = None,
    target_success: float | None = None,
    confidence: float = stats.CONFIDENCE,
    failures_allowed: int = 0,
) -> TaskPanel:
    """Everything the task's statistics page shows: per-source statistics, per policy version, the
    sim-to-real gap, the planner (target from the strictest stored success bound unless given; robot-hours
    from the measured mean attempt cycle, real robots first) and each criteria set evaluated on the latest
    ACCEPTANCE_TRIALS_SHOWN visible trials (with their reviewed counts). Nine queries whatever the number of
    trials and episodes.

    Raises Task.DoesNotExist (absent or not visible to `user`) and ValueError on bad planner inputs.
    """
    tasks = task_list_for_user(user=user) if user is not None else Task.objects.all()
    task = tasks.get(pk=task_id)
    statistics, columns = _task_statistics(task=task, source=None)
    criteria = acceptance_criteria_for_task(task_id=task.pk)
    if target_success is None:
        target_success = plan_target_default(criteria=criteria)
    by_source = {b.source: b for b in statistics.sources}
    chosen = next((s for s in (*REAL_SOURCES, EpisodeSource.SIMULATION.value) if s in by_source), None)
    plan = stats.success_run_plan(
        target_success=target_success,
        confidence=confidence,
        failures_allowed=failures_allowed,
        mean_cycle_time_s=by_source[chosen].mean_attempt_cycle_s if chosen else None,
    )
    plan = replace(plan, cycle_time_source=chosen)
    visible = trial_list_for_user(user=user) if user is not None else Trial.objects.all()
    trial_ids = list(
        visible.filter(task_id=task.pk)
        .order_by("-created_at", "-pk")
        .values_list("pk", flat=True)[:ACCEPTANCE_TRIALS_SHOWN]
    )
    reviewed: dict[int, dict[str, int]] = defaultdict(dict)
    if criteria and trial_ids:
        for t, s, n in TrialSourceSummary.objects.filter(trial_id__in=trial_ids).values_list(
            "trial_id", "source", "reviewed"
        ):
            reviewed[t][s] = n
    acceptance = tuple(
        _acceptance_from_columns(
            record=c,
            trial_id=t,
            columns=columns.where(columns.trial == t),
            takt_time_s=task.takt_time_s,
            reviewed=reviewed[t],
        )
        for t in trial_ids
        for c in criteria
    )
    return TaskPanel(statistics=statistics, plan=plan, acceptance=acceptance, trials_evaluated=len(trial_ids))


def trial_sequential_verdicts(*, trial_id: int) -> dict[str, stats.SequentialVerdict]:
    """{source: SPRT verdict} of the trial at the trial panel's levels (from the task's acceptance criteria),
    for trials.services.trial_stop_early. Five queries (the panel's). Raises Trial.DoesNotExist."""
    panel = trial_panel(trial_id=trial_id)
    return {v.source: v.verdict for v in panel.sequential.sources}
