"""Reads for the episode page: an episode's recorded files, its timeline (events and stages placed by time)
and its trajectory as plot series. Visibility is the caller's: these take an episode already found
through trials.selectors (another organization's is a 404 before we get here)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from core.recording.plots import trajectory_plot_data
from core.recording.trajectory import MAX_UPLOAD_BYTES, MAX_UPLOAD_ROWS, trajectory_validate
from trials.media import OVERVIEW_CAMERA
from trials.models import Episode, EpisodeEvent, EpisodeMedia, EventKind, MediaKind

# A stored trajectory was checked on the way in (ours by the writer, uploads by trajectory_validate), but
# it is read again here from storage: bound what one page view may decode.
_READ_BYTES_LIMIT = 4 * MAX_UPLOAD_BYTES
_READ_ROWS_LIMIT = 4 * MAX_UPLOAD_ROWS


@dataclass(frozen=True)
class EpisodeRecordingFiles:
    """An episode's stored recording: `videos` (the policy's cameras by name, then the overview), the
    `poster` frame, the `trajectory` and the `manifest` (None where absent)."""

    videos: list[EpisodeMedia] = field(default_factory=list)
    poster: EpisodeMedia | None = None
    trajectory: EpisodeMedia | None = None
    manifest: EpisodeMedia | None = None

    @property
    def empty(self) -> bool:
        return not (self.videos or self.poster or self.trajectory)

    @property
    def duration_s(self) -> float | None:
        """The longest video's duration in seconds, None without a video whose duration is known."""
        known = [float(v.duration_s) for v in self.videos if v.duration_s]
        return max(known) if known else None


def episode_recording_files(*, episode: Episode) -> EpisodeRecordingFiles:
    """The episode's recording files, from one query."""
    videos: list[EpisodeMedia] = []
    singles: dict[str, EpisodeMedia] = {}
    for media in EpisodeMedia.objects.filter(episode=episode).order_by("kind", "name"):
        if media.kind == MediaKind.VIDEO:
            videos.append(media)
        else:
            singles[media.kind] = media
    # The policy's own view first (what it acted on), the overview of the cell after it.
    videos.sort(key=lambda m: (m.name == OVERVIEW_CAMERA, m.name))
    return EpisodeRecordingFiles(
        videos=videos,
        poster=singles.get(MediaKind.POSTER),
        trajectory=singles.get(MediaKind.TRAJECTORY),
        manifest=singles.get(MediaKind.MANIFEST),
    )


@dataclass(frozen=True)
class TimelineMarker:
    """One point on the episode's timeline: `kind` is an event kind or "stage", `percent` its position
    along the timeline (0-100)."""

    t_s: float
    kind: str
    label: str
    detail: str
    percent: float


def episode_timeline_span_s(*, episode: Episode, files: EpisodeRecordingFiles, events: Iterable[EpisodeEvent]) -> float:
    """Seconds the timeline covers: the longest video (what the player seeks in), else the cycle time, and
    at least up to the last event or stage."""
    times = [float(e.t_offset_s) for e in events] + [float(t) for t in (episode.stage_times_s or [])]
    base = files.duration_s or float(episode.cycle_time_s)
    return max([base, *times, 1e-3])


def episode_timeline(
    *, episode: Episode, events: Iterable[EpisodeEvent], stage_names: list[str], span_s: float
) -> list[TimelineMarker]:
    """The episode's events (interventions, faults, exceptions) and the stages it reached, as markers in
    time order (a stage before an event at the same second: the stage is what led to it)."""
    markers: list[TimelineMarker] = []
    for number, t_s in enumerate(episode.stage_times_s or [], start=1):
        name = stage_names[number - 1] if number <= len(stage_names) else f"stage {number}"
        markers.append(
            TimelineMarker(
                t_s=float(t_s), kind="stage", label=name, detail=f"stage {number}", percent=_percent(t_s, span_s)
            )
        )
    for event in events:
        markers.append(
            TimelineMarker(
                t_s=float(event.t_offset_s),
                kind=str(event.kind),
                label=event.get_category_display(),
                detail=event.message or EventKind(event.kind).label,
                percent=_percent(event.t_offset_s, span_s),
            )
        )
    return sorted(markers, key=lambda m: (m.t_s, m.kind != "stage"))


def _percent(t_s: float, span_s: float) -> float:
    return round(min(100.0, max(0.0, 100.0 * float(t_s) / span_s)), 3)


def episode_trajectory_plot(*, media: EpisodeMedia, cell_key: str) -> dict[str, object]:
    """A stored trajectory as plot series (core.recording.plots.trajectory_plot_data). Raises
    core.recording.trajectory.TrajectoryRejected when the stored file is not a readable trajectory, and
    OSError when storage cannot give it."""
    with media.file.storage.open(str(media.file.name), "rb") as handle:
        data = handle.read(_READ_BYTES_LIMIT + 1)
    trajectory = trajectory_validate(data, max_bytes=_READ_BYTES_LIMIT, max_rows=_READ_ROWS_LIMIT)
    return trajectory_plot_data(trajectory, cell_key=cell_key)
