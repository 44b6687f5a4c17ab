"""Writes and rules for trials and their episodes."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, F, Max, OuterRef
from django.utils import timezone

from accounts.models import MediaRetention, User
from accounts.permissions import acts_for_organization
from core import stats
from core.episode_rules import recorded_metrics_problems
from core.fit import FIT_DERIVED_KEYS, FitRatingError, fit_assess, fit_ratings_from_figures
from policies.models import PolicyVersion
from robots.models import AgentJob, AgentJobStatus, Robot
from trials import queue
from trials.models import (
    DEFAULT_OVERVIEW_FPS,
    DEFAULT_OVERVIEW_PX,
    MAX_EPISODES_PER_TRIAL,
    OVERVIEW_FPS_MAX,
    OVERVIEW_PX_MAX,
    OVERVIEW_PX_MIN,
    BlindComparison,
    Episode,
    EpisodeEvent,
    EpisodeOutcome,
    EventKind,
    ReviewState,
    Sweep,
    Task,
    TaskStatus,
    Trial,
    TrialSourceSummary,
    TrialStatus,
)
from trials.selectors import SummaryTotals, trial_progress, trial_source_totals


class TrialRuleError(ValueError):
    """A request that breaks a trial rule; `field` names the input at fault when there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class EventInput:
    kind: str
    category: str
    t_offset_s: float
    severity: str = "warning"
    message: str = ""


@dataclass(frozen=True)
class EpisodeInput:
    """One episode to record. `index` None means "next free index" (uploads without one)."""

    outcome: str
    cycle_time_s: float
    started_at: datetime
    ended_at: datetime
    source: str
    index: int | None = None
    external_id: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    events: Sequence[EventInput] = ()
    # How far it got (see Episode): stages reached, when each was reached, progress in [0, 1].
    stage_reached: int | None = None
    stage_times_s: Sequence[float] = ()
    progress: float | None = None


@dataclass(frozen=True)
class EpisodeConflict:
    position: int
    external_id: str | None
    index: int | None
    reason: str


class EpisodeConflictError(Exception):
    """Some episodes were already recorded with different content; nothing was written."""

    def __init__(self, conflicts: list[EpisodeConflict]) -> None:
        super().__init__("; ".join(f"#{c.position}: {c.reason}" for c in conflicts))
        self.conflicts = conflicts


@dataclass
class RecordResult:
    created: list[Episode]
    existing: list[Episode]  # identical re-sends, returned instead of duplicated

    @property
    def episodes(self) -> list[Episode]:
        return sorted([*self.created, *self.existing], key=lambda e: e.index)


def _event_key(kind: str, category: str, severity: str, t_offset_s: float, message: str) -> tuple[Any, ...]:
    return (kind, category, severity, round(float(t_offset_s), 6), message)


def _same_content(existing: Episode, new: EpisodeInput, existing_events: list[EpisodeEvent]) -> str | None:
    """None when `new` is the same episode as `existing`, else what differs."""
    differences = []
    if new.index is not None and new.index != existing.index:
        differences.append(f"index {existing.index} != {new.index}")
    if new.outcome != existing.outcome:
        differences.append(f"outcome {existing.outcome!r} != {new.outcome!r}")
    if abs(float(new.cycle_time_s) - existing.cycle_time_s) > 1e-6:
        differences.append(f"cycle_time_s {existing.cycle_time_s} != {new.cycle_time_s}")
    if new.started_at != existing.started_at or new.ended_at != existing.ended_at:
        differences.append("start/end times differ")
    if (new.metrics or {}) != (existing.metrics or {}):
        differences.append("metrics differ")
    old = sorted(_event_key(e.kind, e.category, e.severity, e.t_offset_s, e.message) for e in existing_events)
    fresh = sorted(_event_key(e.kind, e.category, e.severity, e.t_offset_s, e.message) for e in new.events)
    if old != fresh:
        differences.append("events differ")
    return ", ".join(differences) or None


def episode_index_problem(*, index: int, episodes_planned: int) -> str | None:
    """The index rule every writer shares (uploads check it up front, episodes_record again): None when
    `index` is one of the trial's 0..episodes_planned-1, else why not."""
    if 0 <= index < episodes_planned:
        return None
    return f"outside the trial's 0..{episodes_planned - 1}"


@transaction.atomic
def episodes_record(*, trial_id: int, episodes: Sequence[EpisodeInput]) -> RecordResult:
    """Record episodes and their events for a trial, all or nothing, idempotently.

    An episode already recorded (same external_id, or same index when it has no external_id) with the
    same content is returned, not duplicated: a retried upload or a redone Celery chunk is harmless.
    Returns created and existing episodes. Raises EpisodeConflictError when a re-sent episode differs
    from the recorded one, TrialRuleError when an index is out of range, repeated, the trial is closed,
    or metrics break core.episode_rules.
    """
    for position, item in enumerate(episodes):
        # The input serializers enforce the metrics rules on what clients send; this keeps every other
        # writer (runner, agent service, loaders) to them as well, before anything is locked or written.
        problems = recorded_metrics_problems(item.metrics or {})
        if problems:
            raise TrialRuleError(f"#{position}: metrics {problems}", field="metrics")
    # Row lock: concurrent batches for one trial must not pick the same next index.
    trial = Trial.objects.select_for_update().get(pk=trial_id)
    by_external = {
        e.external_id: e
        for e in Episode.objects.filter(
            trial=trial, external_id__in=[e.external_id for e in episodes if e.external_id is not None]
        )
    }
    # Only counted episodes hold their index: lost attempts sit beside the re-run of the same index.
    by_index = {
        e.index: e
        for e in Episode.objects.counted().filter(
            trial=trial, index__in=[e.index for e in episodes if e.index is not None]
        )
    }
    matches: dict[int, Episode] = {}
    for position, item in enumerate(episodes):
        if item.external_id is not None:
            found = by_external.get(item.external_id)
        elif item.outcome == EpisodeOutcome.LOST:
            found = None  # each lost attempt without an id is a new attempt, never "the same" as another
        else:
            found = by_index.get(item.index)  # type: ignore[arg-type]
        if found is not None:
            matches[position] = found
    existing_events: dict[int, list[EpisodeEvent]] = {}
    for event in EpisodeEvent.objects.filter(episode_id__in=[e.pk for e in matches.values()]):
        existing_events.setdefault(event.episode_id, []).append(event)

    conflicts = []
    for position, found in matches.items():
        reason = _same_content(found, episodes[position], existing_events.get(found.pk, []))
        if reason:
            item = episodes[position]
            conflicts.append(
                EpisodeConflict(
                    position, item.external_id, item.index, f"already recorded with different content: {reason}"
                )
            )
    if conflicts:
        raise EpisodeConflictError(conflicts)

    new_items = [(p, item) for p, item in enumerate(episodes) if p not in matches]
    if new_items and trial.status in (TrialStatus.CANCELLED, TrialStatus.FAILED):
        raise TrialRuleError(f"trial {trial.pk} is {trial.status}; it takes no new episodes", field="trial")
    taken = set(by_index)
    # Explicit indexes are placed first, so an upload without one never takes an index sent in the same batch.
    auto_free = _free_indexes(
        trial=trial,
        reserved={i.index for _, i in new_items if i.index is not None},
        wanted=any(i.index is None for _, i in new_items),
    )
    rows: list[Episode] = []
    for position, item in new_items:
        index = item.index
        if item.outcome == EpisodeOutcome.LOST:
            if index is None:
                raise TrialRuleError(
                    f"#{position}: a lost episode needs the index it was attempting (it is re-run there)",
                    field="index",
                )
            if index in taken:
                raise TrialRuleError(
                    f"#{position}: index {index} already has a counted episode; nothing is lost there",
                    field="index",
                )
            outside = episode_index_problem(index=index, episodes_planned=trial.episodes_planned)
            if outside:
                raise TrialRuleError(f"#{position}: index {index} is {outside}", field="index")
        elif index is None:
            index = next(auto_free, trial.episodes_planned)  # past the end: reported as outside the trial
        if index in taken and item.outcome != EpisodeOutcome.LOST:
            raise TrialRuleError(f"#{position}: index {index} is used twice or by another episode", field="index")
        outside = episode_index_problem(index=index, episodes_planned=trial.episodes_planned)
        if outside:
            raise TrialRuleError(f"#{position}: index {index} is {outside}", field="index")
        if item.outcome != EpisodeOutcome.LOST:
            taken.add(index)
        rows.append(
            Episode(
                trial=trial,
                index=index,
                outcome=item.outcome,
                cycle_time_s=item.cycle_time_s,
                started_at=item.started_at,
                ended_at=item.ended_at,
                source=item.source,
                external_id=item.external_id,
                metrics=item.metrics or {},
                stage_reached=item.stage_reached,
                stage_times_s=[float(t) for t in item.stage_times_s],
                progress=item.progress,
            )
        )
    created = Episode.objects.bulk_create(rows)
    events = [
        EpisodeEvent(
            episode=episode,
            kind=e.kind,
            category=e.category,
            severity=e.severity,
            t_offset_s=e.t_offset_s,
            message=e.message,
        )
        for episode, (_, item) in zip(created, new_items, strict=True)
        for e in item.events
    ]
    EpisodeEvent.objects.bulk_create(events)
    # Only the rows inserted here: identical re-sends (matches) were counted when they were first recorded.
    _summaries_add(episodes=created, events=events)
    if created:
        trial_refresh_status(trial_id=trial.pk)
    return RecordResult(created=created, existing=list(matches.values()))


def _free_indexes(*, trial: Trial, reserved: set[int], wanted: bool) -> Iterator[int]:
    """The trial's unused indexes in rising order (lowest first), skipping `reserved`. The caller holds the
    trial's row lock. One aggregate when the recorded indexes are 0..n-1 without gaps (every upload without
    an index keeps them so); the recorded indexes are read only when there are gaps."""
    if not wanted:
        return iter(())
    # Lost attempts leave their index to be filled: only counted episodes use one.
    recorded = Episode.objects.counted().filter(trial=trial).aggregate(n=Count("pk"), top=Max("index"))
    # Max of no rows is None, and a top index of 0 is one episode, not none.
    top = -1 if recorded["top"] is None else recorded["top"]
    used = (
        set()
        if recorded["n"] == top + 1
        else set(Episode.objects.counted().filter(trial=trial).values_list("index", flat=True))
    )
    start = top + 1 if not used else 0
    return (i for i in range(start, trial.episodes_planned) if i not in used and i not in reserved)


# --- Per-trial, per-source running totals (TrialSourceSummary) ----------------------------------


def _summaries_add(*, episodes: Sequence[Episode], events: Sequence[EpisodeEvent]) -> None:
    """Add just-inserted episodes and events to their (trial, source) summary rows.

    The caller holds the trials' row locks (select_for_update), which serialises every writer of a trial:
    the UPDATE-else-INSERT below cannot race another insert of the same row, and the F() increments keep
    each UPDATE atomic on its own. An event counts under its episode's trial and source.
    """
    deltas: dict[tuple[int, str], SummaryTotals] = {}

    def totals(trial_id: int, source: str) -> SummaryTotals:
        return deltas.setdefault((trial_id, source), SummaryTotals())

    for episode in episodes:
        row = totals(episode.trial_id, episode.source)
        if episode.outcome == EpisodeOutcome.LOST:
            row.lost += 1  # beside the figures, never in them
            continue
        cycle = float(episode.cycle_time_s)
        row.episodes += 1
        row.successes += int(episode.outcome == EpisodeOutcome.SUCCESS)
        row.reviewed += int(episode.review_state != ReviewState.UNREVIEWED)
        row.cycle_time_sum_s += cycle
        row.cycle_time_sq_sum_s2 += cycle * cycle
    for event in events:
        if event.kind == EventKind.INTERVENTION and event.episode.outcome != EpisodeOutcome.LOST:
            totals(event.episode.trial_id, event.episode.source).interventions += 1
    for (trial_id, source), delta in sorted(deltas.items()):
        updated = TrialSourceSummary.objects.filter(trial_id=trial_id, source=source).update(
            episodes=F("episodes") + delta.episodes,
            successes=F("successes") + delta.successes,
            cycle_time_sum_s=F("cycle_time_sum_s") + delta.cycle_time_sum_s,
            cycle_time_sq_sum_s2=F("cycle_time_sq_sum_s2") + delta.cycle_time_sq_sum_s2,
            interventions=F("interventions") + delta.interventions,
            lost=F("lost") + delta.lost,
            reviewed=F("reviewed") + delta.reviewed,
            revision=F("revision") + 1,
        )
        if not updated:
            TrialSourceSummary.objects.create(trial_id=trial_id, source=source, revision=1, **delta.as_fields())


def _lock_trials(trial_ids: Iterable[int]) -> list[int]:
    # In primary-key order, so two writers locking overlapping sets cannot deadlock.
    return list(
        Trial.objects.select_for_update()
        .filter(pk__in=sorted(set(trial_ids)))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


@transaction.atomic
def trial_summaries_add(*, episodes: Sequence[Episode], events: Sequence[EpisodeEvent] = ()) -> None:
    """Count episodes and events that were inserted outside episodes_record (bulk loaders, test factories)
    into their TrialSourceSummary rows, under the trials' row locks. Pass only rows just inserted, each
    once: this adds, it does not reconcile (trial_summaries_rebuild does). Returns None."""
    _lock_trials([e.trial_id for e in episodes] + [ev.episode.trial_id for ev in events])
    _summaries_add(episodes=episodes, events=events)


def trial_summaries_rebuild(*, trial_ids: Iterable[int] | None = None, batch_size: int = 200) -> int:
    """Recompute the TrialSourceSummary rows of `trial_ids` (every trial when None) from Episode and
    EpisodeEvent, e.g. after episodes were edited or deleted by hand. Each batch of `batch_size` trials is
    one transaction under those trials' row locks, so episodes_record waits rather than interleaves.
    Revisions keep rising, so cached reports keyed on them are recomputed; a row whose episodes are all gone
    stays, zeroed, so its revision never restarts (a cache key could otherwise repeat). Returns the rows
    written."""
    if trial_ids is None:
        ids = list(Trial.objects.order_by("pk").values_list("pk", flat=True))
    else:
        ids = sorted(set(trial_ids))
    written = 0
    for start in range(0, len(ids), batch_size):
        with transaction.atomic():
            batch = _lock_trials(ids[start : start + batch_size])
            summaries = TrialSourceSummary.objects.filter(trial_id__in=batch)
            revisions = {(t, s): r for t, s, r in summaries.values_list("trial_id", "source", "revision")}
            summaries.delete()
            totals = trial_source_totals(trial_ids=batch)
            for key in revisions.keys() - totals.keys():
                totals[key] = SummaryTotals()
            rows = TrialSourceSummary.objects.bulk_create(
                TrialSourceSummary(
                    trial_id=trial_id, source=source, revision=revisions.get((trial_id, source), 0) + 1, **t.as_fields()
                )
                for (trial_id, source), t in sorted(totals.items())
            )
            written += len(rows)
    return written


def _recording_settings_check(
    *, overview_px: int, overview_fps: float, media_retention: str, media_keep_successes: int | None
) -> None:
    """Raises TrialRuleError naming the field when a recording setting is out of range."""
    if isinstance(overview_px, bool) or not OVERVIEW_PX_MIN <= overview_px <= OVERVIEW_PX_MAX:
        raise TrialRuleError(f"the overview size must be {OVERVIEW_PX_MIN}..{OVERVIEW_PX_MAX} px", field="overview_px")
    if not math.isfinite(overview_fps) or not 0 <= overview_fps <= OVERVIEW_FPS_MAX:
        raise TrialRuleError(
            f"the overview frame rate must be 0..{OVERVIEW_FPS_MAX:g} fps (0: no overview)", field="overview_fps"
        )
    if media_retention and media_retention not in MediaRetention.values:
        raise TrialRuleError(
            f"media retention must be one of {', '.join(MediaRetention.values)} (blank: the organization's)",
            field="media_retention",
        )
    if media_keep_successes is not None and media_keep_successes < 0:
        raise TrialRuleError("the successes kept must be zero or more", field="media_keep_successes")


def trial_schedule(
    *,
    task: Task,
    policy_version: PolicyVersion,
    robot: Robot,
    episodes_planned: int,
    scheduled_by: User | None,
    seed: int = 0,
    instruction: str = "",
    episode_timeout_s: float = 60.0,
    start_runner: bool = True,
    overview_px: int = DEFAULT_OVERVIEW_PX,
    overview_fps: float = DEFAULT_OVERVIEW_FPS,
    media_retention: str = "",
    media_keep_successes: int | None = None,
    variation: Mapping[str, float | str] | None = None,
    sweep: Sweep | None = None,
    sweep_label: str = "",
    blind: BlindComparison | None = None,
    blind_arm: str = "",
) -> Trial:
    """Create a queued trial and, once committed, hand it to the runner. Returns the trial.
    `start_runner=False` is for trials whose episodes an integrator uploads (REST): nothing runs them.
    Recording: the overview camera's size (px, square) and rate (frames per simulated second, 0: none);
    media_retention "" / media_keep_successes None take the organization's setting.
    `variation`: factor levels (already checked against the cell, see trials.sweep_services), {} nominal.
    The robot must belong to the scheduler's organization (an integrator may trial a customer's task
    on its own rig); which tasks a user may see is the caller's check.
    Raises TrialRuleError when the robot belongs to another organization, or limits are off."""
    if scheduled_by is not None and not acts_for_organization(scheduled_by, robot.organization_id):
        raise TrialRuleError("you can only schedule trials on your organization's robots", field="robot")
    if not 1 <= episodes_planned <= MAX_EPISODES_PER_TRIAL:
        raise TrialRuleError(f"episodes must be between 1 and {MAX_EPISODES_PER_TRIAL}", field="episodes_planned")
    if episode_timeout_s <= 0:
        raise TrialRuleError("the episode timeout must be positive", field="episode_timeout_s")
    if seed < 0:
        raise TrialRuleError("the seed must be zero or positive", field="seed")
    _recording_settings_check(
        overview_px=overview_px,
        overview_fps=overview_fps,
        media_retention=media_retention,
        media_keep_successes=media_keep_successes,
    )
    with transaction.atomic():
        trial = Trial.objects.create(
            task=task,
            policy_version=policy_version,
            robot=robot,
            episodes_planned=episodes_planned,
            seed=seed,
            instruction=instruction or task.instruction,
            episode_timeout_s=episode_timeout_s,
            scheduled_by=scheduled_by,
            overview_px=overview_px,
            overview_fps=overview_fps,
            media_retention=media_retention,
            media_keep_successes=media_keep_successes,
            variation=dict(variation or {}),
            sweep=sweep,
            sweep_label=sweep_label,
            blind=blind,
            blind_arm=blind_arm,
        )
        if task.status == TaskStatus.CANDIDATE:
            task.status = TaskStatus.TRIALLING
            task.save(update_fields=["status", "updated_at"])
        if start_runner:
            transaction.on_commit(lambda: queue.trial_start_enqueue(trial_id=trial.pk))
    return trial


@transaction.atomic
def trial_cancel(*, trial_id: int, reason: str = "cancelled by user") -> Trial:
    """Cancel a queued or running trial; its remaining episodes are not run. Finished trials are
    returned unchanged. Returns the trial."""
    trial = Trial.objects.select_for_update().get(pk=trial_id)
    if trial.is_finished:
        return trial
    trial.status = TrialStatus.CANCELLED
    trial.status_message = reason
    trial.finished_at = timezone.now()
    trial.save(update_fields=["status", "status_message", "finished_at"])
    # A physical robot's agent must not start the remaining episodes.
    AgentJob.objects.filter(trial_id=trial.pk).open().update(
        status=AgentJobStatus.CANCELLED, lease_token="", lease_expires_at=None, finished_at=trial.finished_at
    )
    return trial


class StopEarlyRefused(Exception):
    """The trial cannot be stopped early honestly: no source has reached a sequential verdict yet."""


def trial_stop_early(
    *, trial_id: int, verdicts: Mapping[str, stats.SequentialVerdict], username: str
) -> tuple[Trial, str]:
    """Cancel a running trial whose sequential test (SPRT) has decided, with the verdict as the reason.

    `verdicts`: the SPRT verdict of each episode source present (reports.stats computes them at the levels
    the task's acceptance criteria set). Returns the trial and the reason written. Raises StopEarlyRefused
    while every source says "keep going" (stopping then would not be an honest early stop; the ordinary
    cancel remains available).
    """
    decided = [(source, v) for source, v in verdicts.items() if v.verdict != "keep going"]
    if not decided:
        raise StopEarlyRefused("The sequential test has not decided yet: keep going (or cancel the trial).")
    statements = "; ".join(f"{source.replace('_', ' ')}: {v.statement}" for source, v in decided)
    reason = f"Stopped early by {username} on the sequential verdict — {statements}"
    return trial_cancel(trial_id=trial_id, reason=reason[:2000]), reason


@transaction.atomic
def trial_fail(*, trial_id: int, reason: str) -> Trial:
    """Mark an unfinished trial failed with a reason (the runner's failure path). Returns the trial."""
    trial = Trial.objects.select_for_update().get(pk=trial_id)
    if trial.is_finished:
        return trial
    trial.status = TrialStatus.FAILED
    trial.status_message = reason[:2000]
    trial.finished_at = timezone.now()
    trial.save(update_fields=["status", "status_message", "finished_at"])
    return trial


@transaction.atomic
def trial_refresh_status(*, trial_id: int) -> Trial:
    """Move a trial forward from what its episodes say: queued -> running once an episode exists,
    running -> completed once every planned episode is recorded. Finished trials are left alone.
    Returns the trial; raises Trial.DoesNotExist."""
    # Row lock: workers finishing the last two episodes at once must not both finish the trial.
    trial = Trial.objects.select_for_update().get(pk=trial_id)
    if trial.is_finished:
        return trial
    progress = trial_progress(trial=trial)
    done = progress["done"]
    now = timezone.now()
    fields: set[str] = set()
    if (done > 0 or progress["lost"] > 0) and trial.status == TrialStatus.QUEUED:
        trial.status = TrialStatus.RUNNING
        trial.started_at = trial.started_at or now
        fields |= {"status", "started_at"}
    given_up = trial_indexes_given_up(trial_id=trial.pk) if done < trial.episodes_planned and progress["lost"] else []
    if done + len(given_up) >= trial.episodes_planned:
        if given_up:
            trial.status_message = (
                f"{done} of {trial.episodes_planned} episodes counted: {len(given_up)} lost to infrastructure "
                f"{episode_attempts_max()} times each (episodes {', '.join(map(str, given_up[:10]))}"
                f"{', ...' if len(given_up) > 10 else ''}), not counted"
            )
            fields.add("status_message")
        trial.status = TrialStatus.COMPLETED
        trial.started_at = trial.started_at or now
        trial.finished_at = now
        fields |= {"status", "started_at", "finished_at"}
    if fields:
        trial.save(update_fields=sorted(fields))
    return trial


def episode_attempts_max() -> int:
    """Attempts per episode index before a trial gives up on it: the first, plus
    settings.TRIAL_LOST_EPISODE_RETRIES re-runs of an attempt lost to infrastructure."""
    return 1 + max(0, int(settings.TRIAL_LOST_EPISODE_RETRIES))


def trial_indexes_given_up(*, trial_id: int) -> list[int]:
    """Indexes of the trial with no counted episode and episode_attempts_max() lost attempts: nothing
    re-runs them any more. Returns them sorted."""
    counted = Episode.objects.counted().filter(trial_id=trial_id, index=OuterRef("index"))
    return list(
        Episode.objects.lost()
        .filter(trial_id=trial_id)
        .exclude(Exists(counted))
        .order_by()
        .values("index")
        .annotate(n=Count("id"))
        .filter(n__gte=episode_attempts_max())
        .order_by("index")
        .values_list("index", flat=True)
    )


def episode_lost_attempts(*, trial_id: int, indexes: Iterable[int]) -> dict[int, int]:
    """{index: lost attempts recorded} for those of `indexes` that have any."""
    return dict(
        Episode.objects.lost()
        .filter(trial_id=trial_id, index__in=list(indexes))
        .order_by()
        .values("index")
        .annotate(n=Count("id"))
        .values_list("index", "n")
    )


def trial_mark_running(*, trial_id: int) -> Trial:
    """queued -> running when a runner picks the trial up (before any episode is recorded)."""
    with transaction.atomic():
        trial = Trial.objects.select_for_update().get(pk=trial_id)
        if trial.status == TrialStatus.QUEUED:
            trial.status = TrialStatus.RUNNING
            trial.started_at = timezone.now()
            trial.save(update_fields=["status", "started_at"])
    return trial


# Fields an engineer sets on a task (forms and API alike); the rest is derived or owned by the system.
TASK_WRITABLE_FIELDS = (
    "site",
    "integrator",
    "name",
    "station",
    "part",
    "instruction",
    "manual_cycle_time_s",
    "takt_time_s",
    "annual_volume",
    "shifts_per_day",
    "hours_per_shift",
    "operating_days_per_year",
    "operators_per_shift",
    "labour_cost_per_hour",
    "variation_notes",
    "safety_notes",
    "status",
)


def task_create(*, organization_id: int, created_by: User | None, fields: dict[str, Any]) -> Task:
    """Create a task for an organization from TASK_WRITABLE_FIELDS values. Returns the task.
    Raises django.core.exceptions.ValidationError (field -> messages) on invalid values or a duplicate name."""
    unknown = set(fields) - set(TASK_WRITABLE_FIELDS)
    if unknown:
        raise TrialRuleError(f"not writable: {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    task = Task(organization_id=organization_id, created_by=created_by, **fields)
    task.full_clean()
    task.save()
    return task


def task_update(*, task: Task, fields: dict[str, Any]) -> Task:
    """Change TASK_WRITABLE_FIELDS of a task. Returns the task.
    Raises django.core.exceptions.ValidationError (field -> messages) on invalid values."""
    unknown = set(fields) - set(TASK_WRITABLE_FIELDS)
    if unknown:
        raise TrialRuleError(f"not writable: {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    for name, value in fields.items():
        setattr(task, name, value)
    task.full_clean()
    update_fields = [*fields, "updated_at"]
    if task.fit_factors and set(task.fit_factors) >= set(FIT_DERIVED_KEYS):
        # Changed figures (the REST API patches them alone) would leave the derived factors stale.
        try:
            task.fit_factors = task_fit_ratings(task=task, ratings=task.fit_factors)
            task.fit_score = fit_assess(ratings=task.fit_factors).score
            update_fields += ["fit_factors", "fit_score"]
        except FitRatingError:
            pass  # an incomplete or legacy rating set keeps its stored score; the page shows it unrated
    task.save(update_fields=update_fields)
    return task


def task_fit_ratings(*, task: Task, ratings: dict[str, int]) -> dict[str, int]:
    """The engineer's ratings with the factors the task's figures determine (cycle time vs takt,
    volume) computed from those figures; a typed value for them is replaced, never trusted."""
    return {k: v for k, v in ratings.items() if k not in FIT_DERIVED_KEYS} | fit_ratings_from_figures(
        manual_cycle_time_s=task.manual_cycle_time_s,
        takt_time_s=task.takt_time_s,
        shifts_per_day=task.shifts_per_day,
        hours_per_shift=task.hours_per_shift,
        operating_days_per_year=task.operating_days_per_year,
    )


@transaction.atomic
def task_scope(
    *,
    task: Task | None,
    organization_id: int,
    user: User | None,
    fields: dict[str, Any],
    fit_ratings: dict[str, int],
) -> Task:
    """Create (task None) or update a task together with its fit assessment, in one transaction.
    The engineer's ratings, with the factors the figures determine computed (task_fit_ratings), are
    stored in `fit_factors` and the score from core.fit in `fit_score`.
    Returns the task. Raises ValidationError (field -> messages) like task_create/task_update, and
    core.fit.FitRatingError on a missing or out-of-range rating; nothing is saved on either."""
    fit_assess(ratings={**fit_ratings, **dict.fromkeys(FIT_DERIVED_KEYS, 3)})  # refuse bad ratings before writing
    if task is None:
        task = task_create(organization_id=organization_id, created_by=user, fields=fields)
    else:
        task = task_update(task=task, fields=fields)
    ratings = task_fit_ratings(task=task, ratings=fit_ratings)
    task.fit_factors = ratings
    task.fit_score = fit_assess(ratings=ratings).score
    task.save(update_fields=["fit_factors", "fit_score", "updated_at"])
    return task
