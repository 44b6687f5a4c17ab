"""Writes of the agent-job protocol: a physical robot's trial as jobs, leases, streamed events, and the
episode each job reports (recorded through trials.services.episodes_record)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models.functions import Coalesce
from django.utils import timezone

from core import blind
from core.episode_rules import EVENT_END_TOLERANCE_S, MAX_EVENTS_PER_EPISODE, event_offset_problems
from robots.models import AgentJob, AgentJobStatus, Robot
from robots.services import agent_job_lease_extend, agent_jobs_requeue_expired
from trials.blind.services import BlindConflict, blind_preference_record, blind_trial_finished
from trials.models import BlindComparison, Episode, EpisodeOutcome, EpisodeSource, EventCategory, Trial, TrialStatus
from trials.services import (
    EpisodeInput,
    EventInput,
    episode_attempts_max,
    episode_lost_attempts,
    episodes_record,
    trial_mark_running,
)


class AgentJobError(Exception):
    """The agent asked for something the job's state does not allow (taken, lease lost, finished)."""


class AgentInputError(ValueError):
    """The agent's report contradicts what it sent earlier for the job (events out of time order across
    pushes, a cycle time shorter than its events). `errors` maps fields to messages, as a 400 names them."""

    def __init__(self, errors: dict[str, Any]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _event_key(event: EventInput) -> tuple[Any, ...]:
    return (event.kind, event.category, round(event.t_offset_s, 6), event.message)


@dataclass(frozen=True)
class AgentResult:
    outcome: str
    cycle_time_s: float
    started_at: datetime
    ended_at: datetime
    metrics: dict[str, Any]
    events: Sequence[EventInput]
    # How far it got: the stage names (only while the trial has none), stages reached, when, progress.
    stages: Sequence[str] = ()
    stage_reached: int | None = None
    stage_times_s: Sequence[float] = ()
    progress: float | None = None
    # A blind pair's second episode: the operator's preference over the pair ("first", "second", "tie").
    preference: str | None = None


@dataclass(frozen=True)
class StageReport:
    reached: int | None
    times_s: tuple[float, ...]
    progress: float | None


def agent_jobs_create(*, trial: Trial) -> int:
    """One job per planned episode of a physical-robot trial; existing jobs are kept (idempotent). An arm
    of a blind comparison makes the jobs of both arms at once, in the comparison's sealed order, so the
    agent never sees one arm's jobs without the other's. Returns how many jobs were created."""
    if trial.blind_id is not None:
        return _blind_jobs_create(comparison_id=trial.blind_id)
    existing = set(AgentJob.objects.filter(trial=trial).values_list("index", flat=True))
    jobs = [
        AgentJob(robot_id=trial.robot_id, trial=trial, index=i)
        for i in range(trial.episodes_planned)
        if i not in existing
    ]
    AgentJob.objects.bulk_create(jobs, ignore_conflicts=True)
    return len(jobs)


@transaction.atomic
def _blind_jobs_create(*, comparison_id: int) -> int:
    """Every job of a blind comparison's two arms, each with its place in the sealed order
    (core.blind.run_sequence); existing jobs are kept. Returns how many were created."""
    comparison = BlindComparison.objects.select_for_update().get(pk=comparison_id)
    existing = set(AgentJob.objects.filter(trial__blind=comparison).values_list("trial_id", "index"))
    jobs = []
    for arm in Trial.objects.filter(blind=comparison):
        version = "A" if arm.policy_version_id == comparison.version_a_id else "B"
        jobs += [
            AgentJob(
                robot_id=arm.robot_id,
                trial=arm,
                index=i,
                run_sequence=blind.run_sequence(order=comparison.order, pair=i, version=version),
            )
            for i in range(arm.episodes_planned)
            if (arm.pk, i) not in existing
        ]
    AgentJob.objects.bulk_create(jobs, ignore_conflicts=True)
    return len(jobs)


def agent_job_next(*, robot: Robot) -> AgentJob | None:
    """The next job this robot should run (expired leases requeued first), or None."""
    agent_jobs_requeue_expired(robot=robot)
    return (
        AgentJob.objects.select_related("trial", "trial__task", "trial__policy_version__policy", "trial__blind")
        .filter(robot=robot, status=AgentJobStatus.PENDING)
        .filter(trial__status__in=[TrialStatus.QUEUED, TrialStatus.RUNNING])
        # A blind comparison's two trials are one batch, run in its sealed order (AgentJob.run_sequence);
        # a lost episode goes back to pending with its place, so it is re-run before the next one.
        .order_by(
            Coalesce("trial__blind__created_at", "trial__created_at"),
            Coalesce("trial__blind_id", "trial_id"),
            "run_sequence",
            "trial_id",
            "index",
        )
        .first()
    )


@transaction.atomic
def agent_job_claim(*, robot: Robot, job_id: int) -> AgentJob:
    """Lease a pending job to this robot. Returns the job with a fresh lease_token.
    Raises AgentJob.DoesNotExist (not this robot's job) or AgentJobError (not pending)."""
    job = AgentJob.objects.select_for_update().get(pk=job_id, robot=robot)
    now = timezone.now()
    if job.status == AgentJobStatus.LEASED and job.lease_expires_at and job.lease_expires_at < now:
        job.status = AgentJobStatus.PENDING  # expired: free to take again
    if job.status != AgentJobStatus.PENDING:
        raise AgentJobError(f"job {job.pk} is {job.status}, not pending")
    trial = Trial.objects.get(pk=job.trial_id)
    if trial.is_finished:
        raise AgentJobError(f"trial {trial.pk} is {trial.status}")
    job.status = AgentJobStatus.LEASED
    job.lease_token = secrets.token_hex(16)
    job.leased_at = now
    job.attempts += 1
    agent_job_lease_extend(job=job, now=now)
    job.save(update_fields=["status", "lease_token", "leased_at", "attempts", "lease_expires_at"])
    trial_mark_running(trial_id=trial.pk)
    return job


def _leased_job(robot: Robot, job_id: int, lease_token: str) -> AgentJob:
    job = AgentJob.objects.select_for_update().get(pk=job_id, robot=robot)
    if job.status != AgentJobStatus.LEASED or not secrets.compare_digest(job.lease_token, lease_token):
        raise AgentJobError(f"job {job.pk} is not leased to this agent any more (status {job.status}); drop it")
    return job


@transaction.atomic
def agent_job_events_append(*, robot: Robot, job_id: int, lease_token: str, events: Sequence[EventInput]) -> AgentJob:
    """Keep events streamed while the episode runs and extend the lease; events already kept are skipped.
    Returns the job. Raises AgentJob.DoesNotExist, AgentJobError (lease lost) or AgentInputError (an event
    earlier than one already kept, too many events)."""
    job = _leased_job(robot, job_id, lease_token)
    streamed = [EventInput(**e) for e in job.streamed_events]
    kept = {_event_key(e) for e in streamed}
    # A push retried after a lost reply re-sends events already kept: they are skipped, not an error.
    fresh = [e for e in events if _event_key(e) not in kept]
    last = max((e.t_offset_s for e in streamed), default=0.0)
    problems = event_offset_problems((e.t_offset_s for e in fresh), duration_s=None, after_s=last)
    if problems:
        raise AgentInputError(
            {"events": {str(events.index(fresh[p])): {"t_offset_s": [m]} for p, m in problems.items()}}
        )
    if len(streamed) + len(fresh) > MAX_EVENTS_PER_EPISODE:
        raise AgentInputError({"events": [f"more than {MAX_EVENTS_PER_EPISODE} events for one episode"]})
    job.streamed_events = [*job.streamed_events, *[e.__dict__ for e in fresh]]
    agent_job_lease_extend(job=job, now=timezone.now())
    job.save(update_fields=["streamed_events", "lease_expires_at"])
    return job


def _merged_events(streamed: list[dict[str, Any]], final: Sequence[EventInput]) -> tuple[EventInput, ...]:
    """Streamed events plus the final report's, without the copies an agent sends in both."""
    seen: set[tuple[Any, ...]] = set()
    merged = []
    for event in [*(EventInput(**e) for e in streamed), *final]:
        key = _event_key(event)
        if key not in seen:
            seen.add(key)
            merged.append(event)
    return tuple(sorted(merged, key=lambda e: e.t_offset_s))


@transaction.atomic
def agent_job_complete(*, robot: Robot, job_id: int, lease_token: str, result: AgentResult) -> tuple[Episode, bool]:
    """Record the job's episode. A retried complete (same lease) returns the recorded episode.
    Returns (episode, created). Raises AgentJob.DoesNotExist, AgentJobError (lease lost) or AgentInputError
    (events after the episode's end, counting those streamed)."""
    job = AgentJob.objects.select_for_update().get(pk=job_id, robot=robot)
    if job.status == AgentJobStatus.DONE and job.episode_id and secrets.compare_digest(job.lease_token, lease_token):
        return Episode.objects.get(pk=job.episode_id), False
    if (
        job.status == AgentJobStatus.PENDING
        and job.lease_token
        and secrets.compare_digest(job.lease_token, lease_token)
    ):
        # A retried report of a lost attempt after which the job went back to the queue.
        lost = Episode.objects.filter(trial_id=job.trial_id, external_id=_lost_external_id(job)).first()
        if lost is not None:
            return lost, False
    job = _leased_job(robot, job_id, lease_token)
    if result.preference is not None and (job.run_sequence is None or job.run_sequence % 2 == 0):
        raise AgentInputError({"preference": ["only the second episode of a blind comparison's pair carries one"]})
    events = _merged_events(job.streamed_events, result.events)
    duration = (result.ended_at - result.started_at).total_seconds()
    late = [e.t_offset_s for e in events if e.t_offset_s > duration + EVENT_END_TOLERANCE_S]
    if late:
        field = "cycle_time_s" if late[-1] in {e["t_offset_s"] for e in job.streamed_events} else "events"
        raise AgentInputError({field: [f"the episode lasts {duration} s but an event is at {late[-1]} s"]})
    if len(events) > MAX_EVENTS_PER_EPISODE:
        raise AgentInputError(
            {"events": [f"{len(events)} events with those streamed; at most {MAX_EVENTS_PER_EPISODE}"]}
        )
    stages = _stage_report(trial_id=job.trial_id, result=result, duration_s=duration)
    is_lost = result.outcome == EpisodeOutcome.LOST
    recorded = episodes_record(
        trial_id=job.trial_id,
        episodes=[
            EpisodeInput(
                index=job.index,
                # Each lost attempt is its own row beside the index's eventual counted episode.
                external_id=_lost_external_id(job) if is_lost else f"agent-job-{job.pk}",
                outcome=result.outcome,
                cycle_time_s=result.cycle_time_s,
                started_at=result.started_at,
                ended_at=result.ended_at,
                source=EpisodeSource.ROBOT_AGENT,
                metrics={**result.metrics, "robot_id": robot.pk, "attempt": job.attempts},
                events=events,
                stage_reached=stages.reached,
                stage_times_s=stages.times_s,
                progress=stages.progress,
            )
        ],
    )
    episode = recorded.episodes[0]
    if is_lost:
        attempts = episode_lost_attempts(trial_id=job.trial_id, indexes=[job.index]).get(job.index, 0)
        if attempts < episode_attempts_max():
            # Run it again (same seed) when the agent or server is back; the token stays so a retried
            # report of this attempt is recognised.
            job.status = AgentJobStatus.PENDING
            job.lease_expires_at = None
            job.streamed_events = []
            job.save(update_fields=["status", "lease_expires_at", "streamed_events"])
            return episode, bool(recorded.created)
    job.status = AgentJobStatus.DONE
    job.episode = episode
    job.finished_at = timezone.now()
    job.lease_expires_at = None
    job.save(update_fields=["status", "episode", "finished_at", "lease_expires_at"])
    if result.preference is not None:
        _preference_record(job=job, robot=robot, preferred=result.preference)
    blind_trial_finished(trial_id=job.trial_id)
    return episode, bool(recorded.created)


def _preference_record(*, job: AgentJob, robot: Robot, preferred: str) -> None:
    """The preference a pair's second completion carries. A pair whose other episode was given up (lost
    every attempt) takes none: the preference is dropped rather than the episode."""
    comparison = BlindComparison.objects.get(arms__pk=job.trial_id)
    try:
        blind_preference_record(comparison=comparison, pair=job.index, preferred=preferred, robot=robot)
    except BlindConflict:
        return


def _stage_report(*, trial_id: int, result: AgentResult, duration_s: float) -> StageReport:
    """The stages part of a completion, checked against the trial's stage names; the first report that
    names stages sets them on a trial that has none. Raises AgentInputError naming the field."""
    trial = Trial.objects.select_for_update().get(pk=trial_id)
    stages = [str(s) for s in (trial.stages or [])]
    if result.stages:
        if stages and list(result.stages) != stages:
            raise AgentInputError({"stages": [f"the trial's stages are {stages}: report those, or leave stages out"]})
        if len(set(result.stages)) != len(result.stages):
            raise AgentInputError({"stages": ["each stage name once"]})
        if not stages:
            stages = list(result.stages)
            trial.stages = stages
            trial.save(update_fields=["stages"])
    reached, times = result.stage_reached, tuple(float(t) for t in result.stage_times_s)
    if reached is None:
        if times:
            raise AgentInputError({"stage_times_s": ["given without stage_reached"]})
        return StageReport(None, (), result.progress)
    if not stages:
        raise AgentInputError({"stage_reached": ["the trial has no stages yet: send `stages` (names, in order)"]})
    if reached > len(stages):
        raise AgentInputError({"stage_reached": [f"{reached} stages reached, but the trial has {len(stages)}"]})
    if len(times) != reached:
        raise AgentInputError({"stage_times_s": [f"one time per stage reached: {reached} expected, got {len(times)}"]})
    if any(later < earlier for earlier, later in zip(times, times[1:], strict=False)):
        raise AgentInputError({"stage_times_s": ["stages are reached in order: the times must not decrease"]})
    if times and times[-1] > duration_s + EVENT_END_TOLERANCE_S:
        raise AgentInputError({"stage_times_s": [f"the episode lasts {duration_s} s but a stage is at {times[-1]} s"]})
    progress = result.progress if result.progress is not None else reached / len(stages)
    return StageReport(reached, times, progress)


def agent_job_episode(*, robot: Robot, job_id: int, lease_token: str) -> Episode:
    """The episode a completed job recorded, for the agent that completed it (its lease token): what its
    recording files are uploaded to. Raises AgentJob.DoesNotExist (not this robot's job) or AgentJobError
    (not completed, or completed by another attempt)."""
    job = AgentJob.objects.get(pk=job_id, robot=robot)
    if not job.lease_token or not secrets.compare_digest(job.lease_token, lease_token):
        raise AgentJobError(f"job {job.pk} was not completed with this lease token; upload with the claim's token")
    if job.status != AgentJobStatus.DONE or job.episode_id is None:
        raise AgentJobError(f"job {job.pk} is {job.status}: complete it before uploading its recording")
    return Episode.objects.get(pk=job.episode_id)


def _lost_external_id(job: AgentJob) -> str:
    return f"agent-job-{job.pk}-lost-{job.attempts}"


# Abort categories that are the infrastructure's doing: the episode is lost (re-run), not aborted.
INFRASTRUCTURE_CATEGORIES = frozenset(
    {
        EventCategory.POLICY_UNREACHABLE,
        EventCategory.POLICY_SERVER_ERROR,
        EventCategory.SIMULATOR_ERROR,
        EventCategory.AGENT_CRASH,
    }
)


def agent_job_abort(
    *, robot: Robot, job_id: int, lease_token: str, reason: str, category: str = "other", elapsed_s: float = 0.0
) -> tuple[Episode, bool]:
    """The agent gave the episode up (e-stop, fault it cannot recover): recorded as an aborted
    episode with the reason as an event; with an infrastructure category (policy server unreachable or
    erroring, simulator error, agent crash) as a lost one, which is re-run. Returns (episode, created)."""
    now = timezone.now()
    elapsed = max(0.0, float(elapsed_s))
    return agent_job_complete(
        robot=robot,
        job_id=job_id,
        lease_token=lease_token,
        result=AgentResult(
            outcome=EpisodeOutcome.LOST if category in INFRASTRUCTURE_CATEGORIES else EpisodeOutcome.ABORTED,
            cycle_time_s=elapsed,
            started_at=now - timedelta(seconds=elapsed),
            ended_at=now,
            metrics={"abort_reason": reason[:500]},
            events=(
                EventInput(
                    kind="exception", category=category, t_offset_s=elapsed, severity="error", message=reason[:2000]
                ),
            ),
        ),
    )
