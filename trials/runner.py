"""Runs simulated trials on Celery workers, in chunks, and recovers chunks whose worker died.

Design (the simplest we found that survives `kill -9` on both brokers):
- `trial_start` splits a trial's episodes into TrialChunk rows of settings.TRIAL_CHUNK_EPISODES and
  enqueues one `trial_run_chunk_task` per chunk, so several workers share a trial.
- `chunk_run` claims its chunk with a compare-and-set on the row (state, claim token, heartbeat_at), then
  for each index: stop if the trial was cancelled or failed; skip if the episode exists; run the episode
  (cell.reset(seed=trial.seed + index, the trial's variation levels) -> {policy -> action -> cell.step} until an outcome or
  trial.episode_timeout_s simulated seconds); record it with episodes_record (idempotent per
  (trial, index)); renew the lease. An episode lost to infrastructure (policy server unreachable or
  erroring, simulator exception) is recorded as `lost` and re-run at the same index with the same seed
  after a growing pause, up to episode_attempts_max() attempts per index across workers. A chunk that loses its lease (the reaper gave it to another worker)
  stops; an episode recorded meanwhile by the other worker is kept, never duplicated.
- `chunks_reap` (run by every worker on start and every TRIAL_REAPER_INTERVAL_S, and as a Celery task
  for beat) re-enqueues running chunks whose lease is older than TRIAL_CHUNK_LEASE_S (worker killed),
  queued chunks nobody took within TRIAL_CHUNK_QUEUED_LEASE_S (a message lost with its worker on the
  filesystem broker), queued chunks whose retry was due (`retry_at`) more than a lease ago (the retry
  message waited out its countdown in a worker that died), and starts trials left queued without chunks. Each re-enqueue is a conditional
  UPDATE, so two reapers never both re-enqueue the same chunk.
Redis may also redeliver a killed worker's message after its visibility timeout; that duplicate finds
the chunk claimed or its episodes recorded, and does nothing.

Recording: every attempt is recorded (core.recording.EpisodeRecorder: the policy's camera videos, the
trajectory, the overview camera at the trial's overview_px / overview_fps) into a temporary folder under
the worker's temp dir; once episodes_record has stored the row, trials.media.episode_recording_store
stores the files and the folder is removed. An attempt lost to infrastructure drops its files. A worker
dying between the row and its media leaves that episode without a recording: the redelivered chunk
skips it like any recorded index and does not re-run it to record it (a re-run of a remote or
non-deterministic policy could show another episode than the one counted; a missing recording is
honest, a mismatched one is not).
"""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from core.policy.base import EpisodeController, Policy
from core.policy.remote import PolicyInfrastructureError, PolicyReplyError
from core.recording.recorder import EpisodeRecorder, EpisodeRecording, OverviewSettings
from core.sim import Cell, CellOutcome, cell_make
from core.sim.episode import cell_reset
from core.sim.stages import StageResult, StageTracker
from core.sim.variation import Levels
from policies.models import PolicyVersion
from robots.models import RobotKind
from trials import preflight, queue
from trials.agents.services import agent_jobs_create
from trials.media import episode_recording_store
from trials.models import (
    ChunkState,
    Episode,
    EpisodeOutcome,
    EpisodeSource,
    EventCategory,
    Trial,
    TrialChunk,
    TrialStatus,
)
from trials.services import (
    EpisodeConflictError,
    EpisodeInput,
    EventInput,
    TrialRuleError,
    episode_attempts_max,
    episode_lost_attempts,
    episodes_record,
    trial_fail,
    trial_mark_running,
    trial_refresh_status,
)

logger = logging.getLogger(__name__)


class ChunkLeaseLost(Exception):
    """Another worker holds this chunk now (the reaper judged this one dead)."""


# ---------------------------------------------------------------- per-process caches

_CELLS: dict[str, Cell] = {}


def cell_for(key: str) -> Cell:
    """This process's cell for `key`, made once: a MuJoCo model and renderer are costly to build, and a
    worker process runs one episode at a time."""
    cell = _CELLS.get(key)
    if cell is None:
        cell = _CELLS[key] = cell_make(key)
    return cell


def policy_for(version: PolicyVersion) -> Policy:
    """The loaded ONNX policy of a version (cached per process by sha256), or a remote policy server's
    client (trials.preflight.version_policy). Raises PolicySpecError for a model not matching its spec,
    RemoteConfigError for a bad remote_config."""
    return preflight.version_policy(version)


# ---------------------------------------------------------------- one episode (ORM-free)


@dataclass
class EpisodeRun:
    """What one simulated episode produced, ready to record: `stages` how far it got, `recording` the
    recorder's files (None without a recorder, or when the episode was lost and its files dropped)."""

    index: int
    outcome: str
    sim_time_s: float
    steps: int
    wall_time_s: float
    latency: dict[str, float]
    faults: list[EventInput]
    stages: StageResult | None = None
    recording: EpisodeRecording | None = None


_CATEGORIES = set(EventCategory.values)


def episode_run(
    *,
    cell: Cell,
    policy: Policy,
    seed: int,
    index: int,
    instruction: str,
    timeout_s: float,
    recorder: EpisodeRecorder | None = None,
    heartbeat: Any = None,
    variation: Levels | None = None,
) -> EpisodeRun:
    """Run one closed-loop episode: reset(seed), then policy -> action -> step until the cell decides or
    timeout_s simulated seconds pass (a timeout fault, failure). With a `recorder`, every step is
    recorded (core.recording) and an episode lost to infrastructure drops its files (abort). Returns an
    EpisodeRun; `heartbeat`, when given, is called now and then with no argument (to renew a lease
    during a long episode)."""
    started = time.perf_counter()
    cell.time_limit_s = timeout_s  # the trial's timeout, not the cell's default, ends an episode
    try:
        obs = cell_reset(cell, seed=seed, instruction=instruction, variation=variation)
    except Exception as exc:  # the simulator's own failure says nothing about the policy
        return _lost_run(index, started, EventCategory.SIMULATOR_ERROR, f"simulator failed at reset: {exc!r}")
    max_steps = math.ceil(timeout_s / cell.info.control_dt_s) + 1
    tracker = StageTracker(stages=tuple(cell.stages()))
    tracker.update(t_s=cell.sim_time_s, reached=cell.stage_reached())
    steps = 0
    last_beat = started
    controller: EpisodeController | None = None
    lost: tuple[str, str] | None = None  # (event category, message): infrastructure ended the episode
    reply_error: PolicyReplyError | None = None
    recording: EpisodeRecording | None = None
    try:
        if recorder is not None:
            recorder.begin(cell=cell)
        # The reset's instruction, not the trial's: an instruction_set level rephrases it.
        controller = policy.episode(instruction=obs.instruction or instruction)
        while cell.outcome() is CellOutcome.RUNNING and cell.sim_time_s < timeout_s - 1e-9 and steps < max_steps:
            asked = time.perf_counter()
            action = controller.act(obs)
            if recorder is not None:
                recorder.step(cell=cell, obs=obs, action=action, latency_s=time.perf_counter() - asked)
            try:
                obs = cell.step(action)
            except Exception as exc:
                lost = (EventCategory.SIMULATOR_ERROR, f"simulator failed at step {steps}: {exc!r}")
                break
            steps += 1
            tracker.update(t_s=cell.sim_time_s, reached=cell.stage_reached())
            if heartbeat is not None and time.perf_counter() - last_beat > 5.0:
                heartbeat()
                last_beat = time.perf_counter()
    except PolicyInfrastructureError as exc:
        # A policy server that is down or erroring loses this episode (re-run later), never fails it.
        category = getattr(exc, "category", EventCategory.POLICY_UNREACHABLE)
        lost = (category if category in _CATEGORIES else EventCategory.POLICY_UNREACHABLE, str(exc))
    except PolicyReplyError as exc:
        # The server answered with something that is not an action: the policy failed this episode.
        reply_error = exc
    except BaseException:
        if recorder is not None:
            recorder.abort()
        raise
    finally:
        if controller is not None:
            controller.close()
    if lost is not None:
        # A lost attempt is re-run with the same seed: its half-written files are not evidence.
        if recorder is not None:
            recorder.abort()
        run = _lost_run(index, started, lost[0], lost[1], sim_time_s=float(cell.sim_time_s), steps=steps)
        run.latency = controller.latency_summary() if controller is not None else {}
        return run
    if recorder is not None:
        try:
            recording = recorder.finish(cell=cell)
        except BaseException:
            recorder.abort()
            raise
    result = cell.outcome()
    events = [
        EventInput(
            kind=f.kind,
            category=f.category if f.category in _CATEGORIES else EventCategory.OTHER,
            t_offset_s=max(0.0, float(f.t_s)),
            severity=f.severity,
            message=f.message[:2000],
        )
        for f in cell.faults()
    ]
    if reply_error is not None:
        events.append(
            EventInput(
                kind="fault",
                category=EventCategory.POLICY_ERROR,
                t_offset_s=float(cell.sim_time_s),
                severity="error",
                message=str(reply_error)[:2000],
            )
        )
    elif result is CellOutcome.RUNNING:
        # The trial's limit is shorter than the cell's own: the runner ends the episode.
        events.append(
            EventInput(
                kind="fault",
                category=EventCategory.TIMEOUT,
                t_offset_s=float(cell.sim_time_s),
                severity="error",
                message=f"no success within the trial's episode timeout of {timeout_s:g} s",
            )
        )
    outcome = "success" if result is CellOutcome.SUCCESS and reply_error is None else "failure"
    return EpisodeRun(
        index=index,
        outcome=outcome,
        sim_time_s=round(float(cell.sim_time_s), 6),
        steps=steps,
        wall_time_s=time.perf_counter() - started,
        latency=controller.latency_summary() if controller is not None else {},
        faults=events,
        stages=recording.stages if recording is not None else tracker.result(),
        recording=recording,
    )


def _lost_run(
    index: int, started: float, category: str, message: str, *, sim_time_s: float = 0.0, steps: int = 0
) -> EpisodeRun:
    return EpisodeRun(
        index=index,
        outcome=EpisodeOutcome.LOST,
        sim_time_s=round(max(0.0, sim_time_s), 6),
        steps=steps,
        wall_time_s=time.perf_counter() - started,
        latency={},
        faults=[
            EventInput(
                kind="exception",
                category=category,
                t_offset_s=max(0.0, sim_time_s),
                severity="error",
                message=f"lost to infrastructure, not counted: {message}"[:2000],
            )
        ],
    )


def recording_folder(*, trial_id: int, index: int) -> Path:
    """A fresh folder for one attempt's recording under this worker's temp dir (removed once stored)."""
    root = Path(tempfile.gettempdir()) / "trialbench-recordings"
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"trial{trial_id}-ep{index:05d}-", dir=root))


def recorder_for(trial: Trial, *, index: int) -> EpisodeRecorder:
    """The recorder of one attempt, at the trial's overview settings."""
    overview = OverviewSettings(px=int(trial.overview_px), fps=float(trial.overview_fps))
    return EpisodeRecorder(recording_folder(trial_id=trial.pk, index=index), overview=overview)


# ---------------------------------------------------------------- trial start and chunks


def trial_start(*, trial_id: int) -> list[int]:
    """Split a queued simulated trial into chunks and enqueue one task per chunk (once the rows are
    committed). Idempotent: a trial that already has chunks is left to them and the reaper.
    Runs the preflight first (trials.preflight): a failed one fails the trial with the reason and
    creates no chunk. Returns the ids of the chunks enqueued. A physical robot's trial becomes jobs for
    its agent instead (trials.agents.services.agent_jobs_create); nothing is enqueued."""
    trial = Trial.objects.select_related("robot", "policy_version").get(pk=trial_id)
    if trial.robot.kind != RobotKind.SIMULATED:
        # A physical robot's episodes become jobs that its agent takes over the REST API.
        agent_jobs_create(trial=trial)
        return []
    if trial.is_finished or TrialChunk.objects.filter(trial_id=trial_id).exists():
        return []
    # Before any chunk exists: a policy that cannot run in this cell ends the trial now, with no episodes.
    report = preflight.trial_preflight(trial=trial, cell=lambda: cell_for(trial.robot.sim_cell_key))
    if not report.passed:
        trial_fail(trial_id=trial_id, reason=f"preflight failed: {report.reason}")
        return []
    size = max(1, int(settings.TRIAL_CHUNK_EPISODES))
    with transaction.atomic():
        Trial.objects.select_for_update().get(pk=trial_id)  # one starter at a time per trial
        if TrialChunk.objects.filter(trial_id=trial_id).exists():
            return []
        now = timezone.now()
        chunks = TrialChunk.objects.bulk_create(
            [
                TrialChunk(
                    trial_id=trial_id,
                    first_index=first,
                    stop_index=min(first + size, trial.episodes_planned),
                    enqueued_at=now,
                )
                for first in range(0, trial.episodes_planned, size)
            ]
        )
        ids = [c.pk for c in chunks] or list(TrialChunk.objects.filter(trial_id=trial_id).values_list("pk", flat=True))
        transaction.on_commit(lambda: queue.chunks_enqueue(chunk_ids=ids))
    return ids


def _claim(chunk: TrialChunk, lease_s: float) -> str | None:
    """Take the chunk's lease if it is free (queued, or running with an expired lease). Returns the
    claim token, or None when a live worker holds it or it is done."""
    token = uuid.uuid4().hex
    now = timezone.now()
    free = Q(state=ChunkState.QUEUED) | Q(state=ChunkState.RUNNING, heartbeat_at__lt=now - timedelta(seconds=lease_s))
    taken = (
        TrialChunk.objects.filter(free, pk=chunk.pk)
        .exclude(state=ChunkState.DONE)
        .update(state=ChunkState.RUNNING, claim=token, heartbeat_at=now, retry_at=None, attempts=F("attempts") + 1)
    )
    return token if taken else None


def _renew(chunk_id: int, token: str) -> None:
    if not TrialChunk.objects.filter(pk=chunk_id, claim=token).update(heartbeat_at=timezone.now()):
        raise ChunkLeaseLost(f"chunk {chunk_id} was given to another worker")


@dataclass
class ChunkResult:
    ran: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)  # one entry per lost attempt
    stopped: str = ""


def _record(trial: Trial, run: EpisodeRun, *, started_at: Any) -> Episode:
    """Record the episode's row (idempotent per index); returns it. Raises EpisodeConflictError."""
    metrics: dict[str, Any] = {
        "steps": run.steps,
        "sim_time_s": run.sim_time_s,
        "wall_time_s": round(run.wall_time_s, 4),
        **run.latency,
    }
    ended_at = max(timezone.now(), started_at)
    stages = run.stages
    result = episodes_record(
        trial_id=trial.pk,
        episodes=[
            EpisodeInput(
                outcome=run.outcome,
                cycle_time_s=run.sim_time_s,
                started_at=started_at,
                ended_at=ended_at,
                source=EpisodeSource.SIMULATION,
                index=run.index,
                metrics=metrics,
                events=run.faults,
                stage_reached=stages.reached if stages is not None else None,
                stage_times_s=stages.reached_at_s if stages is not None else (),
                progress=round(stages.progress, 6) if stages is not None and stages.stages else None,
            )
        ],
    )
    return result.episodes[0]


def _record_with_media(trial: Trial, run: EpisodeRun, *, started_at: Any) -> None:
    """Row first, then its media: a crash between keeps the episode (and its figures) without a
    recording, never a recording without its episode. A redelivered chunk skips the recorded index and
    does not re-record it (module docstring). The temporary folder is removed whatever happens.
    Raises EpisodeConflictError, and whatever the storage raises (the task retries the chunk)."""
    try:
        episode = _record(trial, run, started_at=started_at)
        if run.recording is not None:
            episode_recording_store(episode=episode, recording=run.recording)
    finally:
        if run.recording is not None:
            shutil.rmtree(run.recording.folder, ignore_errors=True)


def _pause(seconds: float, chunk_id: int, token: str) -> str | None:
    """Wait before re-running a lost episode, keeping the lease; returns the trial's status when it
    finished meanwhile (stop), else None. Raises ChunkLeaseLost."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(1.0, left))
        _renew(chunk_id, token)
        status = Trial.objects.filter(chunks__pk=chunk_id).values_list("status", flat=True).first()
        if status in Trial.FINISHED_STATUSES:
            return str(status)
    return None


def chunk_run(*, chunk_id: int) -> ChunkResult:
    """Run the missing episodes of a chunk (see the module docstring). An episode lost to infrastructure
    is recorded as `lost` and re-run with the same seed after a growing pause, up to
    episode_attempts_max() attempts per index (counting those of earlier workers). Returns what it ran
    and skipped, and why it stopped early ("" when it finished). Raises PolicySpecError/NotImplementedError
    when the trial cannot run at all, and whatever the cell or policy raise (the task retries, then fails
    the trial)."""
    result = ChunkResult()
    lease_s = float(settings.TRIAL_CHUNK_LEASE_S)
    chunk = TrialChunk.objects.select_related("trial__robot", "trial__policy_version").get(pk=chunk_id)
    trial = chunk.trial
    if trial.is_finished:
        result.stopped = f"trial is {trial.status}"
        TrialChunk.objects.filter(pk=chunk_id).update(state=ChunkState.DONE)
        return result
    token = _claim(chunk, lease_s)
    if token is None:
        result.stopped = "another worker holds this chunk"
        return result
    policy = policy_for(trial.policy_version)
    cell = cell_for(trial.robot.sim_cell_key)
    trial_mark_running(trial_id=trial.pk)
    # Read once per chunk, not per episode: a redelivered chunk skips what is already recorded (a
    # worker that took over meanwhile is caught by episodes_record's conflict check).
    indexes = range(chunk.first_index, chunk.stop_index)
    recorded = set(
        Episode.objects.counted()
        .filter(trial_id=trial.pk, index__gte=chunk.first_index, index__lt=chunk.stop_index)
        .values_list("index", flat=True)
    )
    lost_before = episode_lost_attempts(trial_id=trial.pk, indexes=indexes)
    attempts_max = episode_attempts_max()
    last_renewal = time.monotonic()
    try:
        for index in indexes:
            # One read per episode both sees a cancel and notices a lost lease; the lease itself is
            # renewed (a write) only every lease_s / 10.
            claim, status = TrialChunk.objects.values_list("claim", "trial__status").get(pk=chunk_id)
            if claim != token:
                raise ChunkLeaseLost(f"chunk {chunk_id} was given to another worker")
            if status in Trial.FINISHED_STATUSES:
                result.stopped = f"trial is {status}"
                break
            if index in recorded:
                result.skipped.append(index)
                continue
            attempts = lost_before.get(index, 0)
            while attempts < attempts_max:
                started_at = timezone.now()
                run = episode_run(
                    cell=cell,
                    policy=policy,
                    seed=int(trial.seed) + index,
                    index=index,
                    instruction=trial.instruction,
                    timeout_s=float(trial.episode_timeout_s),
                    recorder=recorder_for(trial, index=index),
                    heartbeat=lambda: _renew(chunk_id, token),
                    variation=trial.variation or None,
                )
                try:
                    _record_with_media(trial, run, started_at=started_at)
                except EpisodeConflictError:
                    # Another worker recorded this index while we ran it (it took over our lease): keep theirs.
                    result.skipped.append(index)
                    break
                if run.outcome != EpisodeOutcome.LOST:
                    result.ran.append(index)
                    break
                attempts += 1
                result.lost.append(index)
                logger.warning("trial %s episode %s lost (%s/%s): %s", trial.pk, index, attempts, attempts_max,
                               run.faults[0].message if run.faults else "")  # fmt: skip
                if attempts >= attempts_max:
                    break
                delay = min(
                    float(settings.TRIAL_LOST_RETRY_MAX_DELAY_S),
                    float(settings.TRIAL_LOST_RETRY_DELAY_S) * 2 ** (attempts - 1),
                )
                finished = _pause(delay, chunk_id, token)
                last_renewal = time.monotonic()
                if finished:
                    result.stopped = f"trial is {finished}"
                    break
            if result.stopped:
                break
            if time.monotonic() - last_renewal > lease_s / 10:
                _renew(chunk_id, token)
                last_renewal = time.monotonic()
        else:
            TrialChunk.objects.filter(pk=chunk_id, claim=token).update(state=ChunkState.DONE)
    except ChunkLeaseLost as exc:
        result.stopped = str(exc)
    except TrialRuleError as exc:
        result.stopped = str(exc)
    trial_refresh_status(trial_id=trial.pk)
    return result


def chunk_release(*, chunk_id: int, retry_in_s: float = 0.0) -> None:
    """Give a chunk back to the queue after a failed attempt; its task retries in `retry_in_s`. The retry
    message waits out its countdown inside a worker: `retry_at` lets the reaper re-enqueue the chunk a
    lease after it was due if that worker died. Returns nothing."""
    now = timezone.now()
    TrialChunk.objects.filter(pk=chunk_id).exclude(state=ChunkState.DONE).update(
        state=ChunkState.QUEUED, enqueued_at=now, claim="", retry_at=now + timedelta(seconds=max(0.0, retry_in_s))
    )


def chunks_reap(*, now: Any = None) -> list[int]:
    """Re-enqueue chunks of unfinished trials whose worker died (running, lease expired) or whose message
    was lost (queued for longer than TRIAL_CHUNK_QUEUED_LEASE_S), and start trials left queued with no
    chunks for that long. Returns the ids of the chunks re-enqueued (and of chunks of trials started)."""
    now = now or timezone.now()
    lease = timedelta(seconds=float(settings.TRIAL_CHUNK_LEASE_S))
    queued_lease = timedelta(seconds=float(settings.TRIAL_CHUNK_QUEUED_LEASE_S))
    active = [TrialStatus.QUEUED, TrialStatus.RUNNING]
    stale = TrialChunk.objects.filter(trial__status__in=active).filter(
        Q(state=ChunkState.RUNNING, heartbeat_at__lt=now - lease)
        | Q(state=ChunkState.QUEUED, enqueued_at__lt=now - queued_lease)
        # A retry due more than a lease ago that no worker claimed: its message died with its worker.
        | Q(state=ChunkState.QUEUED, retry_at__lt=now - lease)
    )
    reaped: list[int] = []
    for chunk in stale.only("pk", "state", "heartbeat_at", "enqueued_at", "retry_at"):
        # Compare-and-set on what we read: of several reapers, one wins each chunk.
        won = (
            TrialChunk.objects.filter(
                pk=chunk.pk, state=chunk.state, heartbeat_at=chunk.heartbeat_at, enqueued_at=chunk.enqueued_at
            ).update(state=ChunkState.QUEUED, enqueued_at=now, heartbeat_at=None, claim="", retry_at=None)
            == 1
        )
        if won:
            logger.warning("re-enqueuing chunk %s (its worker stopped renewing its lease)", chunk.pk)
            reaped.append(chunk.pk)
    if reaped:
        queue.chunks_enqueue(chunk_ids=reaped)
    orphans = Trial.objects.filter(
        status=TrialStatus.QUEUED, robot__kind=RobotKind.SIMULATED, created_at__lt=now - queued_lease
    ).exclude(chunks__isnull=False)
    for trial_id in orphans.values_list("pk", flat=True):
        reaped += trial_start(trial_id=trial_id)
    return reaped
