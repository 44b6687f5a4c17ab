"""A trial's recorded episodes -> a LeRobotDataset v3.0 zip in the episode media storage (a Celery job).

`dataset_export_request` records what to export (the trial page grid's filters) and enqueues the job;
`dataset_export_run` (trials.tasks.lerobot_export_task) materialises one episode's stored recording at a
time into a temporary folder (manifest, trajectory, the policy cameras' videos, read through the storage
API so S3 works as a local folder does), hands it to core.lerobot.dataset_write, removes it, and counts
progress; then zips the dataset into storage. Memory stays flat: one episode on disk and in memory.

What each episode carries: the outcome every figure counts (the reviewed one where a person reviewed it),
its fault events (category, time, message, severity), stages reached, and a per-frame intervention flag
set from the frame of each intervention event on. Episodes without a recording (uploaded figures only)
are not exported: `episodes_total` counts those that have one.

A sweep exports as one dataset: every condition trial's episodes (the same filters on each), nominal
first, each episode's condition in its episodes-metadata row: `condition` (the sweep label),
`condition_index` (0 = nominal), `condition_levels` (JSON of the levels that differ from nominal),
`trial` (the condition's trial id), `trial_episode_index` (the episode's index in its trial: equal
indices ran the same seed) and `factor/<key>` per swept factor (the level it ran at, nominal
included), so `episodes[episodes["factor/light_intensity"] < 0.5]` selects a condition in pandas.

Expiry: a finished export's zip is removed LEROBOT_EXPORT_KEEP_DAYS after it was built
(`dataset_exports_expire`, run hourly by Celery beat and by `manage.py lerobot_exports_expire`); the
row stays, `expired`, and its download answers 410 Gone. The same runs remove zips no export row names
(`export_orphans_sweep`: the trial or sweep was deleted, or a job died between storing its zip and
marking its row), once older than an hour."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.core.files import File
from django.db import models, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from accounts.models import User
from core.lerobot.dataset_write import DatasetWriter, EpisodeInput, FaultNote, dataset_zip, episode_from_recording
from core.recording.recorder import MANIFEST, TRAJECTORY
from core.recording.trajectory import trajectory_read
from core.sim.variation import Factor, FactorKind
from trials import queue
from trials.models import (
    DATASET_EXPORTS_FOLDER,
    DatasetExport,
    Episode,
    EpisodeMedia,
    EpisodeOutcome,
    EventKind,
    ExportStatus,
    MediaKind,
    ReviewState,
    Sweep,
    Trial,
)
from trials.retention import ORPHAN_MIN_AGE, RemovedFile, storage_walk
from trials.selectors import episode_list_for_trial
from trials.sweep_selectors import sweep_condition_trials, sweep_factor_keys
from trials.sweep_services import cell_factors

FILTER_FIELDS = ("outcome", "review_state", "stage_reached", "category")
PROGRESS_EVERY = 5  # episodes between progress writes: one UPDATE per episode would dominate small ones
_COPY_CHUNK = 1024 * 1024


class ExportRequestError(ValueError):
    """A filter value the export does not take: `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def export_filters_clean(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The filters as stored: outcome (success/failure), review_state, stage_reached (a count, or "none"),
    category (a fault category); blank values dropped. Raises ExportRequestError naming the field."""
    clean: dict[str, Any] = {}
    unknown = set(raw) - set(FILTER_FIELDS)
    if unknown:
        raise ExportRequestError(sorted(unknown)[0], f"not a filter; use {', '.join(FILTER_FIELDS)}")
    outcome = str(raw.get("outcome") or "")
    if outcome:
        if outcome not in (EpisodeOutcome.SUCCESS, EpisodeOutcome.FAILURE):
            raise ExportRequestError("outcome", "must be success or failure")
        clean["outcome"] = outcome
    review = str(raw.get("review_state") or "")
    if review:
        if review not in ReviewState.values:
            raise ExportRequestError("review_state", f"must be one of {', '.join(ReviewState.values)}")
        clean["review_state"] = review
    stage = raw.get("stage_reached")
    if stage not in (None, ""):
        if str(stage) == "none":
            clean["stage_reached"] = "none"
        else:
            try:
                value = int(str(stage))
            except ValueError:
                raise ExportRequestError("stage_reached", "must be a whole number of stages or 'none'") from None
            if value < 0:
                raise ExportRequestError("stage_reached", "must not be negative")
            clean["stage_reached"] = value
    category = str(raw.get("category") or "")
    if category:
        if len(category) > 30:
            raise ExportRequestError("category", "at most 30 characters")
        clean["category"] = category
    return clean


def export_episodes(*, trial: Trial, filters: Mapping[str, Any]) -> QuerySet[Episode]:
    """The counted episodes of `trial` the filters select that have a stored recording, by index."""
    stage = filters.get("stage_reached", "")
    episodes = episode_list_for_trial(
        trial=trial,
        outcome=str(filters.get("outcome", "")),
        category=str(filters.get("category", "")),
        stage_reached=None if stage == "none" else stage,
        review_state=str(filters.get("review_state", "")),
    )
    recorded = EpisodeMedia.objects.filter(episode_id=OuterRef("pk"), kind=MediaKind.MANIFEST)
    return episodes.exclude(outcome=EpisodeOutcome.LOST).filter(Exists(recorded))


def dataset_export_request(*, trial: Trial, user: User | None, filters: Mapping[str, Any]) -> DatasetExport:
    """Record an export of `trial`'s episodes the filters select and enqueue its job once committed.
    Raises ExportRequestError for a bad filter."""
    clean = export_filters_clean(filters)
    total = export_episodes(trial=trial, filters=clean).count()
    export = DatasetExport.objects.create(trial=trial, filters=clean, episodes_total=total, created_by=user)
    transaction.on_commit(lambda: queue.lerobot_export_enqueue(export_id=export.pk))
    return export


def sweep_export_request(*, sweep: Sweep, user: User | None, filters: Mapping[str, Any]) -> DatasetExport:
    """Record an export of the episodes the filters select in every condition trial of `sweep` (one
    dataset) and enqueue its job once committed. Raises ExportRequestError for a bad filter."""
    clean = export_filters_clean(filters)
    total = sum(export_episodes(trial=t, filters=clean).count() for t in sweep_condition_trials(sweep=sweep))
    export = DatasetExport.objects.create(sweep=sweep, filters=clean, episodes_total=total, created_by=user)
    transaction.on_commit(lambda: queue.lerobot_export_enqueue(export_id=export.pk))
    return export


def export_expires_at(export: DatasetExport) -> datetime | None:
    """When a finished export's zip will be removed (None: not finished, or LEROBOT_EXPORT_KEEP_DAYS 0)."""
    keep_days = float(settings.LEROBOT_EXPORT_KEEP_DAYS)
    if export.status != ExportStatus.DONE or export.finished_at is None or keep_days <= 0:
        return None
    return export.finished_at + timedelta(days=keep_days)


# --- The job ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    fps: float
    cameras: list[str]
    state_dim: int
    action_dim: int
    robot_type: str


def _copy_out(media: EpisodeMedia, target: Path) -> None:
    with media.file.storage.open(str(media.file.name), "rb") as source, target.open("wb") as out:
        shutil.copyfileobj(source, out, _COPY_CHUNK)


def _materialise(episode: Episode, folder: Path) -> None:
    """Copy the episode's manifest, trajectory and videos out of storage into `folder`, with the file
    names the manifest gives them."""
    rows = {(m.kind, m.name): m for m in EpisodeMedia.objects.filter(episode=episode)}
    manifest_row = rows.get((MediaKind.MANIFEST, ""))
    trajectory_row = rows.get((MediaKind.TRAJECTORY, ""))
    if manifest_row is None or trajectory_row is None:
        raise ValueError(f"episode {episode.index} has no stored manifest or trajectory")
    folder.mkdir(parents=True)
    _copy_out(manifest_row, folder / MANIFEST)
    manifest = json.loads((folder / MANIFEST).read_text())
    _copy_out(trajectory_row, folder / str(manifest.get("trajectory") or TRAJECTORY))
    for camera, file_name in dict(manifest.get("policy_cameras") or {}).items():
        video = rows.get((MediaKind.VIDEO, str(camera)))
        if video is None:
            raise ValueError(f"episode {episode.index} has no stored video of camera {camera!r}")
        _copy_out(video, folder / Path(str(file_name)).name)


def _intervention_flags(t_s: np.ndarray[Any, Any], starts_s: list[float]) -> np.ndarray[Any, Any] | None:
    """A per-frame flag: the frame at or after each intervention event's time."""
    if not starts_s:
        return None
    flags = np.zeros(t_s.shape[0], dtype=bool)
    for start in starts_s:
        flags[min(int(np.searchsorted(t_s, start)), t_s.shape[0] - 1)] = True
    return flags


def _episode_input(episode: Episode, folder: Path, task: str) -> EpisodeInput:
    events = list(episode.events.all())
    faults = [
        FaultNote(category=e.category, t_s=e.t_offset_s, message=e.message, severity=e.severity)
        for e in events
        if e.kind == EventKind.FAULT
    ]
    base = episode_from_recording(folder, task=task, outcome=episode.outcome, faults=faults, source=str(episode.pk))
    starts = [e.t_offset_s for e in events if e.kind == EventKind.INTERVENTION]
    flags = _intervention_flags(trajectory_read(folder / TRAJECTORY).t_s, starts) if starts else None
    if flags is None:
        return base
    return replace(base, intervention=flags)


def _spec(first: EpisodeInput, folder: Path, trial: Trial) -> _Spec:
    manifest = json.loads((folder / MANIFEST).read_text())
    fps = float(manifest.get("control_fps") or 10)
    return _Spec(
        fps=fps,
        cameras=list(first.videos),
        state_dim=int(first.state.shape[1]),
        action_dim=int(first.action.shape[1]),
        robot_type=f"trialbench/{manifest.get('cell') or trial.robot_id}",
    )


@dataclass(frozen=True)
class _Conditions:
    """A sweep's episodes-metadata columns and each condition trial's values for them."""

    columns: dict[str, str]
    values: dict[int, dict[str, Any]]  # trial id -> column -> value


def _sweep_conditions(sweep: Sweep, trials: list[Trial]) -> _Conditions:
    try:
        known: dict[str, Factor] = {f.key: f for f in cell_factors(sweep.robot.sim_cell_key)}
    except KeyError:  # a cell this worker does not know: levels as swept, nominal unknown (null)
        known = {}
    columns = {
        "condition": "string",
        "condition_index": "int64",
        "condition_levels": "string",
        "trial": "int64",
        "trial_episode_index": "int64",
    }
    numeric: dict[str, bool] = {}
    for key in sweep_factor_keys(sweep=sweep, factors=tuple(known.values())):
        levels, factor = sweep.factors[key], known.get(key)
        numeric[key] = (
            factor.kind is FactorKind.NUMBER
            if factor is not None
            else all(isinstance(v, int | float) and not isinstance(v, bool) for v in levels)
        )
        columns[f"factor/{key}"] = "float64" if numeric[key] else "string"
    values: dict[int, dict[str, Any]] = {}
    for position, trial in enumerate(trials):
        levels = dict(trial.variation or {})
        row: dict[str, Any] = {
            "condition": trial.sweep_label or f"trial {trial.pk}",
            "condition_index": position,
            "condition_levels": json.dumps(levels, sort_keys=True),
            "trial": trial.pk,
        }
        for key, is_number in numeric.items():
            factor = known.get(key)
            level = levels.get(key, factor.nominal if factor is not None else None)
            row[f"factor/{key}"] = None if level is None else (float(level) if is_number else str(level))
        values[trial.pk] = row
    return _Conditions(columns=columns, values=values)


def _progress(export_id: int, done: int, frames: int) -> None:
    DatasetExport.objects.filter(pk=export_id).update(episodes_done=done, frames=frames)


def _export_trials(export: DatasetExport) -> list[Trial]:
    """The trials an export reads: its trial, or its sweep's condition trials, nominal first."""
    if export.sweep is not None:
        return sweep_condition_trials(sweep=export.sweep)
    if export.trial is None:
        raise ValueError("the export names neither a trial nor a sweep")
    return [export.trial]


def _episodes_iter(export: DatasetExport, trials: list[Trial]) -> Iterator[tuple[Trial, Episode]]:
    # iterator(): the rows stream from the database, not one list of the whole trial.
    for trial in trials:
        episodes = export_episodes(trial=trial, filters=export.filters).prefetch_related("events")
        for episode in episodes.iterator(chunk_size=200):
            yield trial, episode


def dataset_export_run(*, export_id: int) -> DatasetExport:
    """Build the export's dataset and store its zip; returns the row (done, or failed with the error).
    A finished export run again is returned untouched (a redelivered message)."""
    export = DatasetExport.objects.select_related("trial", "sweep__robot").get(pk=export_id)
    if export.status in (ExportStatus.DONE, ExportStatus.FAILED, ExportStatus.EXPIRED):
        return export
    DatasetExport.objects.filter(pk=export_id).update(status=ExportStatus.RUNNING, episodes_done=0, frames=0)
    work = Path(tempfile.mkdtemp(prefix=f"trialbench-lerobot-{export_id}-"))
    try:
        total = _dataset_build(export, work)
        _store(export, work, total)
    except Exception as exc:  # the job's failure path: the row says why, the worker goes on
        DatasetExport.objects.filter(pk=export_id).update(
            status=ExportStatus.FAILED, error=f"{type(exc).__name__}: {exc}", finished_at=timezone.now()
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    export.refresh_from_db()
    return export


def _dataset_build(export: DatasetExport, work: Path) -> tuple[int, int]:
    """Write the dataset under work/dataset; returns (episodes, frames)."""
    trials = _export_trials(export)
    conditions = _sweep_conditions(export.sweep, trials) if export.sweep is not None else None
    writer: DatasetWriter | None = None
    done = frames = 0
    try:
        for trial, episode in _episodes_iter(export, trials):
            folder = work / f"episode-{episode.pk}"
            _materialise(episode, folder)
            item = _episode_input(episode, folder, trial.instruction)
            if conditions is not None:
                # The trial's own index: episode i of every condition ran the same seed, so rows with
                # equal trial_episode_index are pairs across conditions.
                item = replace(item, extra={**conditions.values[trial.pk], "trial_episode_index": episode.index})
            if writer is None:
                spec = _spec(item, folder, trial)
                writer = DatasetWriter(
                    work / "dataset",
                    fps=spec.fps,
                    robot_type=spec.robot_type,
                    state_names=[f"state_{i}" for i in range(spec.state_dim)],
                    action_names=[f"action_{i}" for i in range(spec.action_dim)],
                    cameras=spec.cameras,
                    episode_columns=conditions.columns if conditions is not None else None,
                )
            try:
                writer.add(item)
            except ValueError as exc:
                where = f"{trial.sweep_label or f'trial {trial.pk}'} " if conditions is not None else ""
                raise ValueError(f"{where}episode {episode.index}: {exc}") from None
            shutil.rmtree(folder)
            done += 1
            frames += item.frames
            if done % PROGRESS_EVERY == 0:
                _progress(export.pk, done, frames)
        if writer is None:
            raise ValueError("no recorded episode matches the filters")
        writer.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    _progress(export.pk, done, frames)
    return done, frames


def _store(export: DatasetExport, work: Path, totals: tuple[int, int]) -> None:
    archive = work / "dataset.zip"
    size = dataset_zip(work / "dataset", archive)
    shutil.rmtree(work / "dataset")
    with archive.open("rb") as handle:
        export.file.save(f"{export.subject}-lerobot.zip", File(handle), save=False)
    DatasetExport.objects.filter(pk=export.pk).update(
        file=export.file.name,
        size_bytes=size,
        status=ExportStatus.DONE,
        episodes_done=totals[0],
        frames=totals[1],
        finished_at=timezone.now(),
    )


def export_chunks(*, export: DatasetExport, start: int, length: int) -> Iterator[bytes]:
    """`length` bytes of an export's zip from byte `start`, in chunks (for range responses)."""
    with export.file.storage.open(str(export.file.name), "rb") as handle:
        handle.seek(start)
        left = length
        while left > 0:
            chunk = handle.read(min(_COPY_CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk


# --- Expiry ----------------------------------------------------------------------------------------


class ExportExpired(Exception):
    """The export's zip was removed by the expiry (a download answers 410 Gone)."""


@dataclass(frozen=True)
class ExpiredExport:
    """An export whose zip the expiry removed (in a dry run: would remove)."""

    export_id: int
    subject: str
    name: str
    size_bytes: int
    finished_at: datetime


def dataset_exports_expire(*, now: datetime | None = None, dry_run: bool = False) -> list[ExpiredExport]:
    """Remove the zips of exports finished more than LEROBOT_EXPORT_KEEP_DAYS ago from storage and mark
    them expired (the rows stay: who exported what, when). Returns them, oldest first; nothing when
    LEROBOT_EXPORT_KEEP_DAYS is 0. Safe to run concurrently: a row is marked by one runner only."""
    keep_days = float(settings.LEROBOT_EXPORT_KEEP_DAYS)
    if keep_days <= 0:
        return []
    cutoff = (now or timezone.now()) - timedelta(days=keep_days)
    due = DatasetExport.objects.filter(status=ExportStatus.DONE, finished_at__lt=cutoff).order_by("finished_at", "pk")
    expired: list[ExpiredExport] = []
    for export in due.iterator(chunk_size=200):
        name = str(export.file.name or "")
        item = ExpiredExport(
            export_id=export.pk,
            subject=export.subject,
            name=name,
            size_bytes=int(export.size_bytes),
            finished_at=export.finished_at or cutoff,
        )
        if dry_run:
            expired.append(item)
            continue
        # The file first: a failed delete leaves the row done, so the next run tries again instead of
        # leaving an orphan. Deleting a missing file is a no-op, so two concurrent runs are harmless;
        # the conditional update lets one of them report it.
        if name:
            export.file.storage.delete(name)
        marked = DatasetExport.objects.filter(pk=export.pk, status=ExportStatus.DONE).update(
            status=ExportStatus.EXPIRED, file="", expired_at=timezone.now()
        )
        if marked:
            expired.append(item)
    return expired


def export_orphans_sweep(*, min_age: timedelta = ORPHAN_MIN_AGE, dry_run: bool = False) -> list[RemovedFile]:
    """Remove files under the exports' folder that no DatasetExport names and that are older than
    `min_age` (a younger one may be a zip whose row is being marked done). Returns them (in a dry run:
    that would be removed)."""
    field = DatasetExport._meta.get_field("file")
    if not isinstance(field, models.FileField):
        raise TypeError("DatasetExport.file is not a FileField")
    storage = field.storage
    known = set(DatasetExport.objects.exclude(file="").values_list("file", flat=True))
    cutoff = timezone.now() - min_age
    removed: list[RemovedFile] = []
    for name in storage_walk(storage, DATASET_EXPORTS_FOLDER):
        if name in known or storage.get_modified_time(name) > cutoff:
            continue
        removed.append(RemovedFile(name=name, size_bytes=int(storage.size(name)), reason="no export names it"))
        if not dry_run:
            storage.delete(name)
    return removed
