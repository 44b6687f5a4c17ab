"""Episode recordings in storage: writes (`episode_media_save`, `episode_recording_store`) and the reads the
media views and pages need. Files go through Django's storage API (STORAGES["episode_media"]: a local
folder by default, an S3-compatible store in production), never served by URL.

A save is retry-safe: the same bytes for the same (episode, kind, name) again is a no-op; different bytes
replace the file (an agent re-sending a corrected video)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.core.files import File
from django.db import transaction
from django.db.models import Sum

from core.recording.recorder import MANIFEST, OVERVIEW, POSTER, TRAJECTORY, EpisodeRecording
from core.recording.video import VideoInfo
from trials.models import Episode, EpisodeMedia, MediaKind

OVERVIEW_CAMERA = "overview"
CONTENT_TYPES = {
    MediaKind.VIDEO: "video/mp4",
    MediaKind.POSTER: "image/jpeg",
    MediaKind.TRAJECTORY: "application/vnd.apache.parquet",
    MediaKind.MANIFEST: "application/json",
}
FILE_NAMES = {
    MediaKind.POSTER: POSTER,
    MediaKind.TRAJECTORY: TRAJECTORY,
    MediaKind.MANIFEST: MANIFEST,
}
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class MediaFacts:
    """What is known of a video (from its writer or from probing it); None for other kinds."""

    frames: int | None = None
    fps: float | None = None
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None

    @classmethod
    def of_video(cls, info: VideoInfo) -> MediaFacts:
        return cls(info.frames, info.fps, info.width, info.height, info.duration_s)


def _digest(handle: IO[bytes]) -> tuple[str, int]:
    sha, size = hashlib.sha256(), 0
    handle.seek(0)
    while chunk := handle.read(_CHUNK):
        sha.update(chunk)
        size += len(chunk)
    handle.seek(0)
    return sha.hexdigest(), size


def media_file_name(*, kind: str, name: str) -> str:
    """The stored file's base name: `<camera>.mp4` for a video, the recording's own names otherwise."""
    if kind == MediaKind.VIDEO:
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:64] or "camera"
        return f"{safe}.mp4"
    return FILE_NAMES[MediaKind(kind)]


def episode_media_save(
    *, episode: Episode, kind: str, name: str, handle: IO[bytes], facts: MediaFacts | None = None
) -> EpisodeMedia:
    """Store one file of an episode's recording; returns its row. Same bytes again: the existing row,
    untouched. Different bytes for the same (kind, name): the file is replaced. The caller has checked
    the file (size, container probed by decoding)."""
    sha256, size = _digest(handle)
    facts = facts or MediaFacts()
    existing = EpisodeMedia.objects.filter(episode=episode, kind=kind, name=name).first()
    if existing is not None and existing.sha256 == sha256:
        return existing
    media = existing or EpisodeMedia(episode=episode, kind=kind, name=name)
    old_file = existing.file.name if existing is not None else None
    media.content_type = CONTENT_TYPES[MediaKind(kind)]
    media.size_bytes = size
    media.sha256 = sha256
    media.frames, media.fps, media.width = facts.frames, facts.fps, facts.width
    media.height, media.duration_s = facts.height, facts.duration_s
    # Storage first, row second: a crash between leaves an orphan file (cleanup removes it), never a row
    # pointing at nothing.
    media.file.save(media_file_name(kind=kind, name=name), File(handle), save=False)
    media.save()
    if old_file and old_file != media.file.name:
        media.file.storage.delete(old_file)
    return media


@dataclass(frozen=True)
class NewMedia:
    """A file to store for an episode that has no file of this (kind, name) yet."""

    episode: Episode
    kind: str
    name: str
    path: Path
    facts: MediaFacts | None = None


def episode_media_add(*, items: Sequence[NewMedia]) -> list[EpisodeMedia]:
    """Store files of episodes that have none of these (kind, name) yet, such as episodes the caller
    has just created in its transaction: one storage write per file, the rows in bulk inserts. Returns
    the rows. A (kind, name) an episode has already is an IntegrityError (the unique constraint); on any
    failure the files stored so far are removed again before it is raised. The caller has checked the
    files (size, container probed by decoding)."""
    rows: list[EpisodeMedia] = []
    try:
        for item in items:
            facts = item.facts or MediaFacts()
            media = EpisodeMedia(
                episode=item.episode,
                kind=item.kind,
                name=item.name,
                content_type=CONTENT_TYPES[MediaKind(item.kind)],
                frames=facts.frames,
                fps=facts.fps,
                width=facts.width,
                height=facts.height,
                duration_s=facts.duration_s,
            )
            with item.path.open("rb") as handle:
                media.sha256, media.size_bytes = _digest(handle)
                # Storage first, rows second, as in episode_media_save.
                media.file.save(media_file_name(kind=item.kind, name=item.name), File(handle), save=False)
            rows.append(media)
        EpisodeMedia.objects.bulk_create(rows, batch_size=500)
    except BaseException:
        for media in rows:
            media.file.storage.delete(str(media.file.name))
        raise
    return rows


def _video_camera(file_name: str, recording: EpisodeRecording) -> str:
    if file_name == OVERVIEW:
        return OVERVIEW_CAMERA
    cameras = recording.manifest.get("policy_cameras")
    for camera, name in (cameras if isinstance(cameras, dict) else {}).items():
        if name == file_name:
            return str(camera)
    return Path(file_name).stem


def episode_recording_store(*, episode: Episode, recording: EpisodeRecording) -> list[EpisodeMedia]:
    """Store every file of a finished recording (core.recording.recorder) for `episode`; returns the rows.
    The recording's folder is left for the caller to remove."""
    folder = recording.folder
    stored: list[EpisodeMedia] = []
    for file_name, info in recording.videos.items():
        with (folder / file_name).open("rb") as handle:
            stored.append(
                episode_media_save(
                    episode=episode,
                    kind=MediaKind.VIDEO,
                    name=_video_camera(file_name, recording),
                    handle=handle,
                    facts=MediaFacts.of_video(info),
                )
            )
    others: tuple[tuple[MediaKind, str | None], ...] = (
        (MediaKind.POSTER, recording.poster),
        (MediaKind.TRAJECTORY, TRAJECTORY),
        (MediaKind.MANIFEST, MANIFEST),
    )
    for kind, other in others:
        if other and (folder / other).is_file():
            with (folder / other).open("rb") as handle:
                stored.append(episode_media_save(episode=episode, kind=kind, name="", handle=handle))
    return stored


def episode_media_delete(*, media: EpisodeMedia) -> None:
    """Delete a stored file and its row (the episode and its figures stay)."""
    name, storage = media.file.name, media.file.storage
    with transaction.atomic():
        media.delete()
    if name:
        storage.delete(name)


# --- Reads ------------------------------------------------------------------------------------------


def trial_media_bytes(*, trial_id: int) -> int:
    """Bytes of recordings stored for a trial's episodes."""
    total = EpisodeMedia.objects.filter(episode__trial_id=trial_id).aggregate(n=Sum("size_bytes"))["n"]
    return int(total or 0)


def media_chunks(*, media: EpisodeMedia, start: int, length: int) -> Iterator[bytes]:
    """`length` bytes of a stored file from byte `start`, in chunks (for range responses)."""
    with media.file.storage.open(str(media.file.name), "rb") as handle:
        handle.seek(start)
        left = length
        while left > 0:
            chunk = handle.read(min(_CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk
