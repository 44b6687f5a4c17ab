"""One episode's recording, without Django: the policy's camera frames, an overview camera, the
trajectory and the stages reached, written to files in a folder as the episode runs.

The rollout drives it (core.sim.episode.episode_rollout, or any loop):

    recorder.begin(cell=cell)                      # after cell.reset()
    for each step:                                  # obs = what the policy is about to see
        action = policy(obs)
        recorder.step(cell=cell, obs=obs, action=action, latency_s=...)   # before cell.step(action)
        obs = cell.step(action)
    recording = recorder.finish(cell=cell)         # or recorder.abort() to drop the files

Files: `policy-<camera>.mp4` (every frame the policy saw, one per step, at the control rate),
`overview.mp4` (the cell's overview camera at OverviewSettings' size and rate, ending on the final
state), `poster.jpg` (the last overview frame: the outcome), `trajectory.parquet` (row i = policy
frame i), `recording.json` (what is there, the stages reached and when, the outcome). The Django
side stores these through its storage API; nothing here knows about it.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from core.recording.trajectory import TrajectoryWriter
from core.recording.video import VideoInfo, VideoWriter, poster_encode
from core.sim.base import Cell, Observation
from core.sim.stages import StageResult, StageTracker

# Chosen by bench/bench_recording.py against the budget (recording <= 15 % of the episode
# rate) on factory-kitting with the reference policy, the cell where it costs most (10 Hz control,
# a ~3.3 ms step): the policy video and trajectory alone take 6-10 %, and each overview frame about
# as much as the policy camera's, so 96 px at 1 fps is what fits (14-15 % in all; 2 fps 18-19 %,
# 128 px at 5 fps 28 %). The policy camera's video is full rate anyway; a trial asks for more.
DEFAULT_OVERVIEW_PX = 96
DEFAULT_OVERVIEW_FPS = 1.0
MAX_OVERVIEW_PX = 720
MAX_OVERVIEW_FPS = 30.0
MANIFEST = "recording.json"
TRAJECTORY = "trajectory.parquet"
OVERVIEW = "overview.mp4"
POSTER = "poster.jpg"


@dataclass(frozen=True)
class OverviewSettings:
    """The overview camera a trial asks for: px x px at fps (0 fps: none). Raises ValueError outside
    16..MAX_OVERVIEW_PX px or 0..MAX_OVERVIEW_FPS fps."""

    px: int = DEFAULT_OVERVIEW_PX
    fps: float = DEFAULT_OVERVIEW_FPS

    def __post_init__(self) -> None:
        if not 16 <= self.px <= MAX_OVERVIEW_PX:
            raise ValueError(f"overview size must be 16..{MAX_OVERVIEW_PX} px")
        if not 0 <= self.fps <= MAX_OVERVIEW_FPS:
            raise ValueError(f"overview frame rate must be 0..{MAX_OVERVIEW_FPS:g} fps")


def policy_video_name(camera: str) -> str:
    """The file name of a policy camera's video; the name keeps only safe characters."""
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in camera)[:64]
    return f"policy-{safe}.mp4"


@dataclass(frozen=True)
class EpisodeRecording:
    """What finish() wrote: file name -> VideoInfo for each video, the trajectory's rows, the poster
    (None without an overview), total bytes, the stages result, the outcome and sim time."""

    folder: Path
    videos: dict[str, VideoInfo]
    trajectory_rows: int
    poster: str | None
    bytes: int
    stages: StageResult
    outcome: str
    sim_time_s: float
    manifest: dict[str, object] = field(default_factory=dict)


class EpisodeRecorder:
    """Records one episode into `folder` (created; must be empty or absent). Use once."""

    def __init__(self, folder: str | Path, *, overview: OverviewSettings | None = None) -> None:
        self.folder = Path(folder)
        self.overview = overview if overview is not None else OverviewSettings()
        self._policy_videos: dict[str, VideoWriter] = {}
        self._overview_video: VideoWriter | None = None
        self._trajectory: TrajectoryWriter | None = None
        self._tracker: StageTracker | None = None
        self._next_overview_s = 0.0
        self._last_overview: npt.NDArray[np.uint8] | None = None
        self._last_overview_t_s = -1.0
        self._control_fps = 0.0
        self._started = False
        self._finished = False
        self.render_s = 0.0  # wall seconds spent rendering the overview (for benchmarks)

    def begin(self, *, cell: Cell) -> None:
        """Open the files for an episode just reset. Raises RuntimeError when used twice, FileExistsError
        for a folder that already holds files."""
        if self._started:
            raise RuntimeError("an EpisodeRecorder records one episode")
        self._started = True
        if self.folder.exists() and any(self.folder.iterdir()):
            raise FileExistsError(f"{self.folder} is not empty")
        self.folder.mkdir(parents=True, exist_ok=True)
        info = cell.info
        self._control_fps = 1.0 / info.control_dt_s
        self._policy_videos = {
            camera: VideoWriter(self.folder / policy_video_name(camera), fps=self._control_fps)
            for camera in info.cameras
        }
        if self.overview.fps > 0:
            self._overview_video = VideoWriter(self.folder / OVERVIEW, fps=self.overview.fps)
        stages = tuple(cell.stages())
        self._trajectory = TrajectoryWriter(
            self.folder / TRAJECTORY, state_dim=info.state_dim, action_dim=info.action_dim, stages=stages
        )
        self._tracker = StageTracker(stages=stages)
        self._tracker.update(t_s=cell.sim_time_s, reached=cell.stage_reached())
        self._next_overview_s = 0.0

    def _overview_due(self, cell: Cell, *, final: bool) -> None:
        if self._overview_video is None:
            return
        t_s = cell.sim_time_s
        # Frames at multiples of 1/fps of simulated time; the final state always gets one (the outcome).
        if t_s + 1e-9 < self._next_overview_s and not (final and t_s > self._last_overview_t_s):
            return
        started = time.perf_counter()
        frame = cell.render_overview(px=self.overview.px)
        self.render_s += time.perf_counter() - started
        self._overview_video.add(frame)
        self._last_overview, self._last_overview_t_s = frame, t_s
        period = 1.0 / self.overview.fps
        self._next_overview_s = (math.floor(t_s / period + 1e-6) + 1) * period

    def step(self, *, cell: Cell, obs: Observation, action: npt.ArrayLike, latency_s: float | None = None) -> None:
        """Record the observation the policy acted on, its action and how long it took; call before
        cell.step(action). Raises RuntimeError before begin() or after finish()."""
        if self._trajectory is None or self._tracker is None or self._finished:
            raise RuntimeError("step() outside begin() .. finish()")
        for camera, writer in self._policy_videos.items():
            writer.add(obs.images[camera])
        reached = cell.stage_reached()
        self._tracker.update(t_s=cell.sim_time_s, reached=reached)
        self._trajectory.add(
            t_s=cell.sim_time_s, state=obs.state, action=action, policy_latency_s=latency_s, stage=reached
        )
        self._overview_due(cell, final=False)

    def finish(self, *, cell: Cell) -> EpisodeRecording:
        """Close every file at the episode's end (after its last step), write the poster and the
        manifest; returns the EpisodeRecording."""
        if self._trajectory is None or self._tracker is None or self._finished:
            raise RuntimeError("finish() outside begin() .. finish()")
        self._finished = True
        self._tracker.update(t_s=cell.sim_time_s, reached=cell.stage_reached())
        self._overview_due(cell, final=True)
        videos = {self.folder.joinpath(policy_video_name(c)).name: w.close() for c, w in self._policy_videos.items()}
        if self._overview_video is not None:
            videos[OVERVIEW] = self._overview_video.close()
        videos = {name: info for name, info in videos.items() if info.frames}
        rows = self._trajectory.close().rows
        poster = None
        if self._last_overview is not None:
            (self.folder / POSTER).write_bytes(poster_encode(self._last_overview))
            poster = POSTER
        stages = self._tracker.result()
        manifest: dict[str, object] = {
            "version": 1,
            "cell": cell.info.key,
            "outcome": str(cell.outcome()),
            "sim_time_s": float(cell.sim_time_s),
            "steps": rows,
            "control_fps": self._control_fps,
            "videos": {name: asdict(info) for name, info in videos.items()},
            "policy_cameras": {c: policy_video_name(c) for c in self._policy_videos},
            "overview": {
                "px": self.overview.px,
                "fps": self.overview.fps,
                "file": OVERVIEW if OVERVIEW in videos else None,
            },
            "trajectory": TRAJECTORY,
            "poster": poster,
            "stages": stages.as_dict(),
        }
        (self.folder / MANIFEST).write_text(json.dumps(manifest, indent=1))
        total = sum(p.stat().st_size for p in self.folder.iterdir() if p.is_file())
        return EpisodeRecording(
            folder=self.folder,
            videos=videos,
            trajectory_rows=rows,
            poster=poster,
            bytes=total,
            stages=stages,
            outcome=str(cell.outcome()),
            sim_time_s=float(cell.sim_time_s),
            manifest=manifest,
        )

    def abort(self) -> None:
        """Drop the episode's files (an episode lost to infrastructure is re-run); returns nothing."""
        self._finished = True
        for writer in self._policy_videos.values():
            writer.abort()
        if self._overview_video is not None:
            self._overview_video.abort()
        if self._trajectory is not None:
            self._trajectory.abort()
        shutil.rmtree(self.folder, ignore_errors=True)
