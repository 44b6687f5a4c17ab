"""A LeRobotDataset v3.0 recording of evaluation episodes (a zip) -> episodes of a trial, with videos.

Read and checked whole first (core.lerobot.dataset_read: a bad dataset is refused naming the file and
field before anything is written), then recorded in one transaction through trials.services
episodes_record, the same path as the episode upload API:
- outcome: the per-episode success label (episodes-metadata `success` / `outcome`, else `next.success`
  at the last frame); a dataset with neither needs `success_field`, an episodes-metadata column whose
  value (bool, 0/1, "success"/"failure") says it, and is refused asking for it otherwise;
- cycle time from the timestamps; one intervention event at the start of each run of intervention frames;
  fault events from `fault_details` where the dataset has it (TrialBench's own exports do);
- external_id `lerobot:<dataset digest>:<episode index>`, the digest of meta/info.json, tasks and the
  episodes metadata: importing the same dataset again adds nothing (already-imported episodes are skipped);
- videos: each episode's span of each camera's shared MP4 is cut into an MP4 of its own
  (core.lerobot.video_cut, all spans of one file in one pass over it) and stored as that episode's
  EpisodeMedia (camera = the key after `observation.images.`), so the episode page, downloads and the
  retention cleanup work per episode as for recorded episodes. Cut before the transaction; stored
  inside it (one storage write per file, the rows in bulk: the episodes are new, so there is nothing to
  look up or replace), and removed from storage again when anything fails, so a failed import leaves
  neither rows nor files."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.lerobot import layout
from core.lerobot.dataset_read import Dataset, DatasetRejected, ImportedEpisode, dataset_open
from core.lerobot.video_cut import Span, video_cuts
from trials.media import MediaFacts, NewMedia, episode_media_add
from trials.models import (
    Episode,
    EpisodeSource,
    EventCategory,
    EventKind,
    EventSeverity,
    MediaKind,
    Trial,
    episode_media_storage,
)
from trials.services import EpisodeInput, EventInput, episodes_record

EXTERNAL_PREFIX = "lerobot"
_CAMERA_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class ImportRejected(ValueError):
    """An import refused before anything is written: `file` and `field` say where (file blank for a
    request parameter), `status` the HTTP status it answers with."""

    def __init__(self, file: str, field: str, message: str, *, status: int = 400) -> None:
        super().__init__(f"{file}: {field}: {message}" if file else f"{field}: {message}")
        self.file, self.field, self.message, self.status = file, field, message, status


@dataclass
class ImportSummary:
    dataset: str  # the digest the external ids carry
    created: int = 0
    existing: int = 0
    frames: int = 0
    videos: int = 0
    episodes: list[dict[str, Any]] = field(default_factory=list)


def import_summary_data(summary: ImportSummary) -> dict[str, Any]:
    """The summary as plain data (the API's and the page's answer)."""
    return asdict(summary)


def dataset_digest(dataset: Dataset) -> str:
    """What identifies a dataset: its info.json, tasks and episodes metadata (not the zip's bytes, which
    change with the zip tool)."""
    digest = hashlib.sha256()
    files = [dataset.root / layout.INFO_PATH, dataset.root / layout.TASKS_PATH]
    files += sorted((dataset.root / layout.EPISODES_DIR).glob("chunk-*/file-*.parquet"))
    for path in files:
        digest.update(path.relative_to(dataset.root).as_posix().encode())
        with path.open("rb") as handle:
            while chunk := handle.read(1024 * 1024):
                digest.update(chunk)
    return digest.hexdigest()[:20]


def _label(value: Any) -> str | None:
    if isinstance(value, bool):
        return "success" if value else "failure"
    if isinstance(value, int | float) and value in (0, 1):
        return "success" if value else "failure"
    if isinstance(value, str) and value.lower() in ("success", "failure"):
        return value.lower()
    return None


def _outcome(episode: ImportedEpisode, success_field: str, episodes_file: str) -> str:
    if success_field:
        if success_field not in episode.metadata:
            raise ImportRejected(episodes_file, success_field, f"missing (episode {episode.index}): not a column")
        label = _label(episode.metadata[success_field])
        if label is None:
            raise ImportRejected(
                episodes_file,
                success_field,
                f"episode {episode.index} has {episode.metadata[success_field]!r}; expected a bool, 0/1, "
                "or 'success'/'failure'",
            )
        return label
    if episode.outcome is None:
        raise ImportRejected(
            "",
            "success_field",
            "the dataset has no per-episode success label (neither next.success nor an episodes `success` "
            "or `outcome` field): name the episodes-metadata column that says it, e.g. ?success_field=is_success",
        )
    return episode.outcome


def _faults(episode: ImportedEpisode) -> list[EventInput]:
    raw = episode.metadata.get("fault_details")
    try:
        notes = json.loads(raw) if isinstance(raw, str) and raw else []
    except json.JSONDecodeError:
        return []
    faults = []
    for note in notes if isinstance(notes, list) else []:
        if not isinstance(note, dict):
            continue
        t = float(note.get("t_s") or 0.0)
        category = str(note.get("category") or "")
        severity = str(note.get("severity") or "")
        faults.append(
            EventInput(
                kind=EventKind.FAULT,
                category=category if category in EventCategory.values else EventCategory.OTHER,
                severity=severity if severity in EventSeverity.values else EventSeverity.ERROR,
                t_offset_s=min(max(t, 0.0), episode.cycle_time_s),
                message=str(note.get("message") or "")[:2000],
            )
        )
    return faults


def _episode_input(episode: ImportedEpisode, *, outcome: str, external_id: str) -> EpisodeInput:
    interventions = [
        EventInput(
            kind=EventKind.INTERVENTION,
            category=EventCategory.OTHER,
            t_offset_s=t,
            severity=EventSeverity.WARNING,
            message="intervention flag (LeRobot import)",
        )
        for t in episode.intervention_starts_s
    ]
    events = sorted([*interventions, *_faults(episode)], key=lambda e: e.t_offset_s)
    started = timezone.now()
    return EpisodeInput(
        outcome=outcome,
        cycle_time_s=episode.cycle_time_s,
        started_at=started,
        ended_at=started + timedelta(seconds=episode.cycle_time_s),
        source=EpisodeSource.INTEGRATOR_UPLOAD,
        external_id=external_id,
        metrics={},
        events=events,
    )


def camera_name(video_key: str) -> str:
    """The camera an `observation.images.<camera>` key names, as a stored video's name."""
    name = video_key.removeprefix(layout.IMAGE_KEY_PREFIX)
    return (_CAMERA_UNSAFE.sub("_", name) or "camera")[:64]


@dataclass(frozen=True)
class _Cut:
    camera: str
    path: Path
    facts: MediaFacts


def _videos_cut(dataset: Dataset, episodes: list[ImportedEpisode], folder: Path) -> dict[int, list[_Cut]]:
    """Each episode's span of each camera's shared file as a file of its own in `folder`: episode index
    -> its cuts (a span without frames has none). All spans of one file are cut in one pass over it."""
    folder.mkdir(parents=True, exist_ok=True)
    by_file: dict[tuple[str, Path], list[tuple[ImportedEpisode, Span]]] = {}
    for episode in episodes:
        for number, (key, ref) in enumerate(episode.videos.items()):
            span = Span(ref.from_s, ref.to_s, folder / f"{episode.index}-{number}.mp4")
            by_file.setdefault((key, ref.path), []).append((episode, span))
    # By camera name: two keys that name the same camera keep the later one, as a re-sent video would.
    cuts: dict[int, dict[str, _Cut]] = {e.index: {} for e in episodes}
    for (key, path), spans in by_file.items():
        try:
            infos = video_cuts(path, spans=[span for _, span in spans], fps=dataset.fps)
        except (ValueError, OSError) as exc:
            raise ImportRejected(path.relative_to(dataset.root).as_posix(), key, f"not decodable ({exc})") from None
        camera = camera_name(key)
        for (episode, span), info in zip(spans, infos, strict=True):
            if info.frames:
                cuts[episode.index][camera] = _Cut(camera=camera, path=span.target, facts=MediaFacts.of_video(info))
    return {index: list(by_camera.values()) for index, by_camera in cuts.items()}


def lerobot_import(*, trial: Trial, archive: Path, workdir: Path, success_field: str = "") -> ImportSummary:
    """Import the dataset zip (or folder) `archive` into `trial`; `workdir` (empty, the caller removes
    it) takes the unpacked files and cut videos. Returns what was created and what existed already.
    Raises ImportRejected (4xx: the dataset, a missing label), and the services' TrialRuleError (the
    trial is closed or full) and EpisodeConflictError; nothing is written then."""
    try:
        dataset = dataset_open(archive, workdir=workdir / "dataset")
        episodes_file = next(iter(sorted((dataset.root / layout.EPISODES_DIR).glob("chunk-*/file-*.parquet"))))
        relative = episodes_file.relative_to(dataset.root).as_posix()
        episodes = list(dataset.episodes())
    except DatasetRejected as exc:
        raise ImportRejected(exc.file, exc.field or "file", exc.message) from None
    digest = dataset_digest(dataset)
    summary = ImportSummary(dataset=digest)
    external = {e.index: f"{EXTERNAL_PREFIX}:{digest}:{e.index}" for e in episodes}
    known = dict(
        Episode.objects.filter(trial=trial, external_id__in=list(external.values())).values_list("external_id", "pk")
    )
    fresh = [e for e in episodes if external[e.index] not in known]
    inputs = [
        _episode_input(e, outcome=_outcome(e, success_field, relative), external_id=external[e.index]) for e in fresh
    ]
    cuts = _videos_cut(dataset, fresh, workdir / "cut")
    summary.existing = len(episodes) - len(fresh)
    summary.episodes = [
        {
            "index": None,
            "dataset_episode": e.index,
            "external_id": external[e.index],
            "id": known[external[e.index]],
            "status": "existing",
        }
        for e in episodes
        if external[e.index] in known
    ]
    if not fresh:
        return summary
    stored: list[str] = []
    try:
        with transaction.atomic():
            result = episodes_record(trial_id=trial.pk, episodes=inputs)
            by_external = {e.external_id: e for e in result.created}
            media: list[NewMedia] = []
            for item in fresh:
                row = by_external[external[item.index]]
                media += [
                    NewMedia(episode=row, kind=MediaKind.VIDEO, name=cut.camera, path=cut.path, facts=cut.facts)
                    for cut in cuts[item.index]
                ]
                summary.episodes.append(
                    {
                        "index": row.index,
                        "dataset_episode": item.index,
                        "external_id": row.external_id,
                        "id": row.pk,
                        "status": "created",
                    }
                )
                summary.frames += item.length
            stored = [str(m.file.name) for m in episode_media_add(items=media)]
            summary.videos = len(stored)
    except BaseException:
        # The rows rolled back; the files stored for them must not stay behind.
        storage = episode_media_storage()
        for name in stored:
            storage.delete(name)
        raise
    summary.created = len(fresh)
    return summary
