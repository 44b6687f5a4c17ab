"""Recording files uploaded for a recorded episode, by a robot agent (trials.agents.api) or an integrator
(trials.media_api): read into a bounded spool, checked by what they claim to be (a video decoded frame by
frame, a trajectory's Parquet read under limits, a poster's JPEG header, a manifest parsed as JSON) and
stored through trials.media.episode_media_save. Nothing in a file is executed or followed.

Retry-safe: the same bytes again are the stored row, untouched (`created` False). A rejected file changes
nothing: the episode and the files stored before stay as they were."""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from PIL import Image, UnidentifiedImageError

from core.recording import trajectory as trajectory_rules
from core.recording.trajectory import TrajectoryRejected, trajectory_validate
from core.recording.video import VideoRejected, video_probe
from trials.media import MediaFacts, episode_media_save
from trials.models import Episode, EpisodeMedia, MediaKind

UPLOAD_KINDS = (MediaKind.VIDEO, MediaKind.TRAJECTORY, MediaKind.POSTER, MediaKind.MANIFEST)
# A camera name: what the episode page labels the player with and the stored file is named after.
CAMERA_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
POSTER_MAX_BYTES = 5 * 1024 * 1024
POSTER_MAX_PIXELS = 4096 * 4096
MANIFEST_MAX_BYTES = 256 * 1024
_SPOOL_IN_MEMORY = 4 * 1024 * 1024  # larger uploads go to a temporary file, not RAM
_CHUNK = 1024 * 1024


class MediaRejected(Exception):
    """An upload we do not store. `field` names what is wrong (`kind`, `name`, `file`); `too_large` makes it
    a 413 rather than a 400."""

    def __init__(self, field: str, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.too_large = too_large


@dataclass(frozen=True)
class MediaTarget:
    kind: MediaKind
    name: str


def media_target(*, kind: str, name: str) -> MediaTarget:
    """The (kind, name) an upload goes to: a video needs its camera's name, the other kinds take none.
    Raises MediaRejected naming `kind` or `name`."""
    if kind not in UPLOAD_KINDS:
        raise MediaRejected("kind", f"{kind!r} is not an uploadable kind; use one of {', '.join(UPLOAD_KINDS)}")
    target = MediaKind(kind)
    if target == MediaKind.VIDEO:
        if not CAMERA_NAME.match(name):
            raise MediaRejected(
                "name", "a video needs its camera's name: 1 to 64 letters, digits, '-' or '_' (e.g. front)"
            )
    elif name:
        raise MediaRejected("name", f"a {kind} has no name; upload it to .../media/{kind}/")
    return MediaTarget(target, name)


def media_max_bytes(kind: str) -> int:
    """The largest file of this kind accepted (EPISODE_MEDIA_MAX_BYTES, or the kind's own smaller bound)."""
    limit = int(settings.EPISODE_MEDIA_MAX_BYTES)
    own = {
        MediaKind.TRAJECTORY: trajectory_rules.MAX_UPLOAD_BYTES,
        MediaKind.POSTER: POSTER_MAX_BYTES,
        MediaKind.MANIFEST: MANIFEST_MAX_BYTES,
    }.get(MediaKind(kind))
    return min(limit, own) if own else limit


def media_spool(stream: IO[bytes] | None, *, declared_bytes: int | None, max_bytes: int) -> IO[bytes]:
    """The request body copied into a temporary spool (RAM up to a few MiB, then disk), at most
    `max_bytes`: a declared length above it is refused before a byte is read, and a body without one is
    cut off at the limit. Returns the spool at offset 0. Raises MediaRejected (`file`, 413 when too large)."""
    if declared_bytes is not None and declared_bytes > max_bytes:
        raise MediaRejected(
            "file", f"the file is {declared_bytes} bytes; the limit is {max_bytes} bytes", too_large=True
        )
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)
    size = 0
    while stream is not None and (chunk := stream.read(min(_CHUNK, max_bytes + 1 - size))):
        size += len(chunk)
        if size > max_bytes:
            spool.close()
            raise MediaRejected("file", f"the file is larger than the limit of {max_bytes} bytes", too_large=True)
        spool.write(chunk)
    if size == 0:
        spool.close()
        raise MediaRejected("file", "the request body is empty: send the file's bytes")
    spool.seek(0)
    return spool


def _video_facts(handle: IO[bytes], max_bytes: int) -> MediaFacts:
    try:
        info = video_probe(handle.read(max_bytes + 1), max_bytes=max_bytes)
    except VideoRejected as exc:
        raise MediaRejected("file", f"not an accepted video: {exc}") from None
    return MediaFacts.of_video(info)


def _trajectory_check(handle: IO[bytes], max_bytes: int) -> None:
    try:
        trajectory_validate(handle.read(max_bytes + 1), max_bytes=max_bytes)
    except TrajectoryRejected as exc:
        raise MediaRejected("file", f"not an accepted trajectory: {exc}") from None


def _poster_check(handle: IO[bytes]) -> None:
    try:
        with Image.open(handle, formats=["JPEG"]) as image:
            width, height = image.size
            if width * height > POSTER_MAX_PIXELS:
                raise MediaRejected("file", f"the poster is {width}x{height}; at most {POSTER_MAX_PIXELS} pixels")
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError):
        raise MediaRejected("file", "not a JPEG image (it does not decode as one)") from None


def _strict_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _manifest_check(handle: IO[bytes]) -> None:
    try:
        manifest = json.loads(handle.read().decode("utf-8"), parse_constant=_strict_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MediaRejected("file", f"not a JSON manifest: {exc}") from None
    if not isinstance(manifest, dict):
        raise MediaRejected("file", "the manifest must be a JSON object")


def media_content_check(*, kind: str, handle: IO[bytes]) -> MediaFacts:
    """Check an uploaded file by decoding it as its kind; returns what was learnt (a video's frames, size,
    rate). Raises MediaRejected naming `file`. The handle is left at offset 0."""
    max_bytes = media_max_bytes(kind)
    handle.seek(0)
    facts = MediaFacts()
    if kind == MediaKind.VIDEO:
        facts = _video_facts(handle, max_bytes)
    elif kind == MediaKind.TRAJECTORY:
        _trajectory_check(handle, max_bytes)
    elif kind == MediaKind.POSTER:
        _poster_check(handle)
    else:
        _manifest_check(handle)
    handle.seek(0)
    return facts


def episode_media_ingest(*, episode: Episode, target: MediaTarget, handle: IO[bytes]) -> tuple[EpisodeMedia, bool]:
    """Check and store one uploaded file of `episode`'s recording. Returns (row, created): created is False
    when the same bytes were stored already (a retried upload). Different bytes replace the file. Raises
    MediaRejected (nothing stored, nothing removed)."""
    facts = media_content_check(kind=target.kind, handle=handle)
    before = EpisodeMedia.objects.filter(episode=episode, kind=target.kind, name=target.name).first()
    media = episode_media_save(episode=episode, kind=target.kind, name=target.name, handle=handle, facts=facts)
    return media, before is None or before.sha256 != media.sha256
