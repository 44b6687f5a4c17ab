"""Episodes -> a LeRobotDataset v3.0 folder, laid out as LeRobot 0.4.x lays it out, streamed.

    with DatasetWriter(root, fps=10, robot_type="cartesian_gripper", state_names=..., action_names=...) as w:
        for folder in recordings:
            w.add(episode_from_recording(folder, task=..., outcome=..., faults=...))
    dataset_zip(root, "dataset.zip")

What LeRobot does and this does the same way (lerobot/datasets/lerobot_dataset.py, utils.py,
compute_stats.py, video_utils.py):
- Many episodes share one file: `data/chunk-000/file-000.parquet` takes episodes until the next one
  would take it past `data_files_size_in_mb` (its size on disk, the average bytes per frame so far
  times the episode's frames), then file-001 follows; a chunk folder holds `chunks_size` files. Videos
  go the same way at `video_files_size_in_mb`, episodes concatenated in one MP4 with their place in it
  as `videos/<key>/from_timestamp` / `to_timestamp` in the episodes metadata.
- The MP4s are joined by copying packets (no decoding and re-encoding, as LeRobot's concatenation
  with PyAV does): episode k's frames play from the sum of the earlier episodes' durations.
- Stats: per episode min, max, mean, std, count and the q01..q99 quantiles of each feature (images
  per channel over frames sampled as LeRobot samples them, scaled to [0, 1], shape (3, 1, 1)), stored
  in the episode's row as `stats/<key>/<stat>`; meta/stats.json aggregates them weighted by count.

Memory stays flat in the number of episodes: one episode's arrays and a sample of its frames at a
time; Parquet rows go out as a row group per episode, episode rows every EPISODE_ROWS_FLUSH episodes.

Labels added for evaluation rollouts: `next.done` (last frame), `next.success` (last frame of a
successful episode), `next.reward` (1.0 there, else 0), `intervention` (a person took over on that
frame), `stage_reached` (stages reached by that frame); per episode `outcome`, `success`, `faults`
(categories), `fault_details` (JSON), `stage_reached`, `stage_total`, `last_stage`, `interventions`
(frames), `cycle_time_s` and `source` (our episode id), so a team can select failures,
interventions or successes for fine-tuning. A dataset may declare more per-episode columns
(`episode_columns`, e.g. a sweep's condition and factor levels) that every episode fills (`extra`).
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import av
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from core.lerobot import layout
from core.recording.recorder import MANIFEST, TRAJECTORY
from core.recording.trajectory import trajectory_read

EPISODE_ROWS_FLUSH = 100
MAX_STAT_SAMPLES = 10_000
_OUTCOMES = ("success", "failure")
# The dtypes an extra episodes-metadata column may have (DatasetWriter's episode_columns).
EPISODE_COLUMN_TYPES = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64(), "bool": pa.bool_()}


@dataclass(frozen=True)
class FaultNote:
    """A fault as the episodes metadata carries it."""

    category: str
    t_s: float = 0.0
    message: str = ""
    severity: str = "error"


@dataclass(frozen=True)
class EpisodeInput:
    """One episode to export: row i of state/action is video frame i of each camera's MP4.
    intervention (n,) bool and stage (n,) int default to none; cycle_time_s to frames / fps."""

    state: npt.NDArray[np.float32]
    action: npt.NDArray[np.float32]
    videos: Mapping[str, Path]
    task: str
    outcome: str
    intervention: npt.NDArray[np.bool_] | None = None
    stage: npt.NDArray[np.int64] | None = None
    stage_reached: int = 0
    stage_total: int = 0
    last_stage: str = ""
    faults: Sequence[FaultNote] = ()
    cycle_time_s: float | None = None
    source: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)  # the dataset's episode_columns, by name

    @property
    def frames(self) -> int:
        return int(self.state.shape[0])


def episode_from_recording(
    folder: str | os.PathLike[str],
    *,
    task: str,
    outcome: str | None = None,
    faults: Sequence[FaultNote] = (),
    intervention: npt.NDArray[np.bool_] | None = None,
    source: str = "",
) -> EpisodeInput:
    """An EpisodeInput from a folder core.recording.EpisodeRecorder wrote (its manifest, trajectory
    and policy-camera videos); outcome defaults to the recorded one (pass the reviewed one where a
    person reviewed it). Raises FileNotFoundError, ValueError for a manifest that is not one."""
    root = Path(folder)
    manifest = json.loads((root / MANIFEST).read_text())
    if not isinstance(manifest, dict) or "policy_cameras" not in manifest:
        raise ValueError(f"{root / MANIFEST} is not a recording manifest")
    trajectory = trajectory_read(root / manifest.get("trajectory", TRAJECTORY))
    stages = manifest.get("stages") or {}
    return EpisodeInput(
        state=trajectory.state,
        action=trajectory.action,
        videos={camera: root / name for camera, name in manifest["policy_cameras"].items()},
        task=task,
        outcome=outcome or str(manifest.get("outcome", "")),
        intervention=intervention,
        stage=trajectory.stage,
        stage_reached=int(stages.get("reached", 0)),
        stage_total=len(stages.get("stages", ())),
        last_stage=str(stages.get("last_stage") or ""),
        faults=faults,
        cycle_time_s=float(manifest["sim_time_s"]) if "sim_time_s" in manifest else None,
        source=source,
    )


# ---------------------------------------------------------------- stats


def _vector_stats(values: npt.NDArray[np.float64]) -> dict[str, npt.NDArray[Any]]:
    """LeRobot's per-feature stats over axis 0 of an (n, d) array."""
    stats: dict[str, npt.NDArray[Any]] = {
        "min": values.min(axis=0),
        "max": values.max(axis=0),
        "mean": values.mean(axis=0),
        "std": values.std(axis=0),
        "count": np.array([values.shape[0]]),
    }
    quantiles = np.quantile(values, layout.QUANTILES, axis=0)
    for key, q in zip(layout.QUANTILE_KEYS, quantiles, strict=True):
        stats[key] = q
    return stats


def _image_stats(frames: npt.NDArray[np.uint8]) -> dict[str, npt.NDArray[Any]]:
    """Per-channel stats of sampled (n, h, w, 3) uint8 frames, in [0, 1], shaped (3, 1, 1) as LeRobot's.
    Everything comes from each channel's exact 256-level histogram: a pass of bincount instead of
    float copies of every pixel (the export's costliest step otherwise)."""
    pixels = frames.reshape(-1, frames.shape[-1])
    levels = np.arange(256, dtype=np.float64) / 255.0
    counts = np.stack([np.bincount(pixels[:, c], minlength=256) for c in range(pixels.shape[1])]).astype(np.float64)
    total = pixels.shape[0]
    mean = counts @ levels / total
    variance = np.maximum(counts @ levels**2 / total - mean**2, 0.0)
    present = counts > 0
    stats: dict[str, npt.NDArray[Any]] = {
        "min": levels[present.argmax(axis=1)],
        "max": levels[255 - present[:, ::-1].argmax(axis=1)],
        "mean": mean,
        "std": np.sqrt(variance),
    }
    cumulative = np.cumsum(counts, axis=1)
    for key, q in zip(layout.QUANTILE_KEYS, layout.QUANTILES, strict=True):
        stats[key] = levels[[int(np.searchsorted(row, q * total)) for row in cumulative]]
    shaped = {k: v.reshape(-1, 1, 1) for k, v in stats.items()}
    shaped["count"] = np.array([frames.shape[0]])
    return shaped


def sample_indices(length: int) -> list[int]:
    """The frames LeRobot samples for an episode's image stats (compute_stats.sample_indices)."""
    samples = max(min(length, 100), min(int(length**0.75), MAX_STAT_SAMPLES))
    return [int(i) for i in np.round(np.linspace(0, length - 1, samples))]


@dataclass
class _StatsTotal:
    """Count-weighted aggregation of per-episode stats, as LeRobot's aggregate_stats."""

    count: int = 0
    sums: dict[str, npt.NDArray[np.float64]] = field(default_factory=dict)
    low: npt.NDArray[Any] | None = None
    high: npt.NDArray[Any] | None = None

    def add(self, stats: Mapping[str, npt.NDArray[Any]]) -> None:
        n = int(stats["count"][0])
        self.count += n
        mean, std = np.asarray(stats["mean"], dtype=np.float64), np.asarray(stats["std"], dtype=np.float64)
        weighted = {"mean": mean * n, "square": (std**2 + mean**2) * n}
        weighted.update({k: np.asarray(stats[k], dtype=np.float64) * n for k in layout.QUANTILE_KEYS})
        for key, value in weighted.items():
            self.sums[key] = self.sums[key] + value if key in self.sums else value
        self.low = stats["min"] if self.low is None else np.minimum(self.low, stats["min"])
        self.high = stats["max"] if self.high is None else np.maximum(self.high, stats["max"])

    def result(self) -> dict[str, Any]:
        mean = self.sums["mean"] / self.count
        variance = np.maximum(self.sums["square"] / self.count - mean**2, 0.0)
        out: dict[str, Any] = {
            "min": np.asarray(self.low).tolist(),
            "max": np.asarray(self.high).tolist(),
            "mean": mean.tolist(),
            "std": np.sqrt(variance).tolist(),
            "count": [self.count],
        }
        out.update({k: (self.sums[k] / self.count).tolist() for k in layout.QUANTILE_KEYS})
        return out


# ---------------------------------------------------------------- videos


@dataclass
class _VideoPart:
    chunk_index: int
    file_index: int
    from_s: float
    to_s: float
    frames: int


class _VideoConcat:
    """One video key's MP4 files: episodes appended by packet copy, a new file at the size limit."""

    def __init__(self, root: Path, key: str, *, fps: int, limit_mb: float, chunks_size: int) -> None:
        self.root, self.key, self.fps = root, key, fps
        self.limit_bytes = limit_mb * 1024 * 1024
        self.chunks_size = chunks_size
        self.chunk_index, self.file_index = 0, 0
        self._out: av.container.OutputContainer | None = None
        self._stream: av.VideoStream | None = None
        self._bytes = 0
        self._frames = 0  # frames in the current file
        self.size: tuple[int, int] | None = None  # (height, width) of every episode's frames

    def _path(self) -> Path:
        return self.root / layout.VIDEO_PATH.format(
            video_key=self.key, chunk_index=self.chunk_index, file_index=self.file_index
        )

    def append(self, source: Path) -> _VideoPart:
        """Copy one episode's MP4 packets after the current file's. Raises ValueError for a file
        with no video stream, or frames of another size than the first episode's."""
        episode_bytes = source.stat().st_size
        if self._out is not None and self._bytes + episode_bytes >= self.limit_bytes:
            self.close()
            self.chunk_index, self.file_index = layout.chunk_file_next(
                self.chunk_index, self.file_index, chunks_size=self.chunks_size
            )
        with av.open(str(source), mode="r") as container:
            if not container.streams.video:
                raise ValueError(f"{source} has no video stream")
            stream = container.streams.video[0]
            size = (stream.codec_context.height, stream.codec_context.width)
            if self.size is None:
                self.size = size
            elif size != self.size:
                raise ValueError(f"{source}: frames are {size[0]}x{size[1]}, the first episode's {self.size}")
            if self._out is None:
                path = self._path()
                path.parent.mkdir(parents=True, exist_ok=True)
                self._out = av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"})
                self._stream = self._out.add_stream_from_template(stream, opaque=True)
                self._stream.time_base = stream.time_base
                self._bytes, self._frames = 0, 0
            time_base = stream.time_base or Fraction(1, self.fps)
            offset = round(Fraction(self._frames, self.fps) / time_base)
            start = self._frames
            for packet in container.demux(stream):
                if packet.dts is None:  # the demuxer's flush packet
                    continue
                if packet.pts is not None:
                    packet.pts += offset
                packet.dts += offset
                if self._stream is not None:
                    packet.stream = self._stream
                self._out.mux(packet)
                self._frames += 1
        self._bytes += episode_bytes
        return _VideoPart(
            chunk_index=self.chunk_index,
            file_index=self.file_index,
            from_s=start / self.fps,
            to_s=self._frames / self.fps,
            frames=self._frames - start,
        )

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out, self._stream = None, None


def video_sample(path: Path, indices: Sequence[int]) -> npt.NDArray[np.uint8]:
    """The frames at `indices` of an MP4, as (len, h, w, 3) uint8, downsampled as LeRobot's stats do
    above 300 px."""
    wanted = set(indices)
    picked: list[npt.NDArray[np.uint8]] = []
    with av.open(str(path), mode="r") as container:
        stream = container.streams.video[0]
        stream.thread_count = 1
        for i, frame in enumerate(container.decode(stream)):
            if i in wanted:
                image = np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
                height, width = image.shape[:2]
                if max(height, width) >= 300:
                    step = int(max(height, width) / 150)
                    image = image[::step, ::step]
                picked.append(image)
            if i >= max(indices):
                break
    return np.stack(picked).astype(np.uint8)


# ---------------------------------------------------------------- writer


class DatasetWriter:
    """Writes a LeRobotDataset v3.0 under `root` (created; must not exist): `add()` per episode,
    `close()` at the end writes meta/info.json, stats.json and tasks.parquet and returns info.json's
    dict. All episodes have the same state/action sizes and cameras (the first one's). A context
    manager; leaving it on an exception removes the folder. `episode_columns` (name -> one of
    EPISODE_COLUMN_TYPES) adds episodes-metadata columns that each episode's `extra` fills."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        fps: float,
        robot_type: str,
        state_names: Sequence[str],
        action_names: Sequence[str],
        cameras: Sequence[str],
        chunks_size: int = layout.DEFAULT_CHUNK_SIZE,
        data_files_size_in_mb: float = layout.DEFAULT_DATA_FILE_SIZE_IN_MB,
        video_files_size_in_mb: float = layout.DEFAULT_VIDEO_FILE_SIZE_IN_MB,
        episode_columns: Mapping[str, str] | None = None,
    ) -> None:
        for name, dtype in (episode_columns or {}).items():
            if dtype not in EPISODE_COLUMN_TYPES:
                raise ValueError(f"episode column {name!r}: dtype must be one of {sorted(EPISODE_COLUMN_TYPES)}")
        self.episode_columns = dict(episode_columns or {})
        if not fps > 0 or abs(fps - round(fps)) > 1e-6:
            raise ValueError(f"LeRobot datasets have a whole number of frames per second, not {fps}")
        if not cameras:
            raise ValueError("a LeRobot export needs at least one camera")
        self.root = Path(root)
        self._episodes_schema_extra = [pa.field(n, EPISODE_COLUMN_TYPES[t]) for n, t in self.episode_columns.items()]
        self.fps = round(fps)
        self.robot_type = robot_type
        self.state_names, self.action_names = list(state_names), list(action_names)
        self.cameras = list(cameras)
        self.chunks_size = chunks_size
        self.data_limit_bytes = data_files_size_in_mb * 1024 * 1024
        self.data_files_size_in_mb, self.video_files_size_in_mb = data_files_size_in_mb, video_files_size_in_mb
        self.features = self._features()
        self.video_keys = [layout.IMAGE_KEY_PREFIX + c for c in self.cameras]
        self._videos = {
            key: _VideoConcat(self.root, key, fps=self.fps, limit_mb=video_files_size_in_mb, chunks_size=chunks_size)
            for key in self.video_keys
        }
        data_features = {k: f for k, f in self.features.items() if f["dtype"] != "video"}
        self._data_schema = pa.schema(
            [pa.field(k, layout.arrow_type(f)) for k, f in data_features.items()],
            metadata={b"huggingface": layout.hf_features_metadata(data_features)},
        )
        self._episodes_schema = self._episode_schema()
        self.root.mkdir(parents=True, exist_ok=False)
        self._data_writer: pq.ParquetWriter | None = None
        self._data_at = (0, 0)
        self._data_file_frames = 0
        self._episodes_writer: pq.ParquetWriter | None = None
        self._episode_rows: list[dict[str, Any]] = []
        self._tasks: dict[str, int] = {}
        self._stats: dict[str, _StatsTotal] = {}
        self.total_episodes = 0
        self.total_frames = 0
        self._closed = False

    # --- schema -----------------------------------------------------------------------------
    def _features(self) -> dict[str, dict[str, Any]]:
        features: dict[str, dict[str, Any]] = {
            "observation.state": {"dtype": "float32", "shape": [len(self.state_names)], "names": self.state_names},
            "action": {"dtype": "float32", "shape": [len(self.action_names)], "names": self.action_names},
        }
        for camera in self.cameras:
            features[layout.IMAGE_KEY_PREFIX + camera] = {
                "dtype": "video",
                "shape": [0, 0, 3],  # set from the first episode's frames
                "names": ["height", "width", "channels"],
            }
        for key, dtype in (
            ("next.done", "bool"),
            ("next.success", "bool"),
            ("next.reward", "float32"),
            ("intervention", "bool"),
            ("stage_reached", "int64"),
        ):
            features[key] = {"dtype": dtype, "shape": [1], "names": None}
        features.update(json.loads(json.dumps(layout.DEFAULT_FEATURES)))
        return features

    def _stat_keys(self) -> list[str]:
        return list(self.features)

    def _episode_schema(self) -> pa.Schema:
        fields = [
            pa.field("episode_index", pa.int64()),
            pa.field("tasks", pa.list_(pa.string())),
            pa.field("length", pa.int64()),
            pa.field("data/chunk_index", pa.int64()),
            pa.field("data/file_index", pa.int64()),
            pa.field("dataset_from_index", pa.int64()),
            pa.field("dataset_to_index", pa.int64()),
        ]
        for key in self.video_keys:
            fields += [
                pa.field(f"videos/{key}/chunk_index", pa.int64()),
                pa.field(f"videos/{key}/file_index", pa.int64()),
                pa.field(f"videos/{key}/from_timestamp", pa.float64()),
                pa.field(f"videos/{key}/to_timestamp", pa.float64()),
            ]
        for key in self._stat_keys():
            image = self.features[key]["dtype"] == "video"
            value = pa.list_(pa.list_(pa.list_(pa.float64()))) if image else pa.list_(pa.float64())
            for stat in ("min", "max", "mean", "std", "count", *layout.QUANTILE_KEYS):
                fields.append(pa.field(f"stats/{key}/{stat}", pa.list_(pa.int64()) if stat == "count" else value))
        fields += [
            pa.field("meta/episodes/chunk_index", pa.int64()),
            pa.field("meta/episodes/file_index", pa.int64()),
            pa.field("outcome", pa.string()),
            pa.field("success", pa.bool_()),
            pa.field("faults", pa.list_(pa.string())),
            pa.field("fault_details", pa.string()),
            pa.field("stage_reached", pa.int64()),
            pa.field("stage_total", pa.int64()),
            pa.field("last_stage", pa.string()),
            pa.field("interventions", pa.int64()),
            pa.field("cycle_time_s", pa.float64()),
            pa.field("source", pa.string()),
        ]
        taken = {f.name for f in fields}
        for extra in self._episodes_schema_extra:
            if extra.name in taken:
                raise ValueError(f"episode column {extra.name!r} is one LeRobot or this writer already writes")
        return pa.schema(fields + self._episodes_schema_extra)

    # --- episodes ---------------------------------------------------------------------------
    def _check(self, episode: EpisodeInput) -> None:
        n = episode.frames
        if n == 0:
            raise ValueError("an episode with no frames cannot be exported")
        if episode.state.shape != (n, len(self.state_names)):
            raise ValueError(f"state is {episode.state.shape}, expected ({n}, {len(self.state_names)})")
        if episode.action.shape != (n, len(self.action_names)):
            raise ValueError(f"action is {episode.action.shape}, expected ({n}, {len(self.action_names)})")
        if set(episode.videos) != set(self.cameras):
            raise ValueError(f"episode cameras {sorted(episode.videos)} differ from {sorted(self.cameras)}")
        if episode.outcome not in _OUTCOMES:
            raise ValueError(f"outcome must be one of {_OUTCOMES}, not {episode.outcome!r}")
        for name, array in (("intervention", episode.intervention), ("stage", episode.stage)):
            if array is not None and array.shape != (n,):
                raise ValueError(f"{name} has {array.shape[0]} rows, the episode {n}")
        if set(episode.extra) != set(self.episode_columns):
            raise ValueError(f"episode columns {sorted(episode.extra)} differ from {sorted(self.episode_columns)}")

    def _frame_columns(self, episode: EpisodeInput, index: int, task_index: int) -> dict[str, Any]:
        n = episode.frames
        last = np.zeros(n, dtype=bool)
        last[-1] = True
        success = last & (episode.outcome == "success")
        frame_index = np.arange(n, dtype=np.int64)
        return {
            "observation.state": episode.state.astype(np.float32),
            "action": episode.action.astype(np.float32),
            "next.done": last,
            "next.success": success,
            "next.reward": success.astype(np.float32),
            "intervention": np.zeros(n, dtype=bool)
            if episode.intervention is None
            else episode.intervention.astype(bool),
            "stage_reached": np.zeros(n, dtype=np.int64) if episode.stage is None else episode.stage.astype(np.int64),
            "timestamp": (frame_index / self.fps).astype(np.float32),
            "frame_index": frame_index,
            "episode_index": np.full(n, self.total_episodes, dtype=np.int64),
            "index": np.arange(index, index + n, dtype=np.int64),
            "task_index": np.full(n, task_index, dtype=np.int64),
        }

    def _data_table(self, columns: Mapping[str, npt.NDArray[Any]]) -> pa.Table:
        arrays = []
        for f in self._data_schema:
            values = columns[f.name]
            if pa.types.is_fixed_size_list(f.type):
                flat = pa.array(np.ascontiguousarray(values).reshape(-1), type=f.type.value_type)
                arrays.append(pa.FixedSizeListArray.from_arrays(flat, f.type.list_size))
            else:  # shape (1,) is a scalar column in LeRobot, a one-component action included
                arrays.append(pa.array(np.asarray(values).reshape(-1), type=f.type))
        return pa.Table.from_arrays(arrays, schema=self._data_schema)

    def _data_write(self, table: pa.Table) -> tuple[int, int]:
        frames = table.num_rows
        if self._data_writer is not None:
            path = self.root / layout.DATA_PATH.format(chunk_index=self._data_at[0], file_index=self._data_at[1])
            size = path.stat().st_size
            per_frame = size / self._data_file_frames if self._data_file_frames else 0.0
            if size + per_frame * frames >= self.data_limit_bytes:
                self._data_writer.close()
                self._data_writer = None
                self._data_at = layout.chunk_file_next(*self._data_at, chunks_size=self.chunks_size)
        if self._data_writer is None:
            path = self.root / layout.DATA_PATH.format(chunk_index=self._data_at[0], file_index=self._data_at[1])
            path.parent.mkdir(parents=True, exist_ok=True)
            self._data_writer = pq.ParquetWriter(str(path), self._data_schema, compression="snappy")
            self._data_file_frames = 0
        self._data_writer.write_table(table)
        self._data_file_frames += frames
        return self._data_at

    def add(self, episode: EpisodeInput) -> int:
        """Append one episode; returns its episode_index. Raises ValueError for an episode that does
        not fit the dataset (sizes, cameras, outcome), RuntimeError once closed."""
        if self._closed:
            raise RuntimeError("the dataset writer is closed")
        self._check(episode)
        n = episode.frames
        task_index = self._tasks.setdefault(episode.task, len(self._tasks))
        columns = self._frame_columns(episode, self.total_frames, task_index)
        data_at = self._data_write(self._data_table(columns))
        row: dict[str, Any] = {
            "episode_index": self.total_episodes,
            "tasks": [episode.task],
            "length": n,
            "data/chunk_index": data_at[0],
            "data/file_index": data_at[1],
            "dataset_from_index": self.total_frames,
            "dataset_to_index": self.total_frames + n,
        }
        episode_stats = {
            key: _vector_stats(np.asarray(values, dtype=np.float64).reshape(n, -1)) for key, values in columns.items()
        }
        for camera, key in zip(self.cameras, self.video_keys, strict=True):
            part = self._videos[key].append(Path(episode.videos[camera]))
            if part.frames != n:
                raise ValueError(f"{episode.videos[camera]} has {part.frames} frames, the trajectory {n} rows")
            row.update(
                {
                    f"videos/{key}/chunk_index": part.chunk_index,
                    f"videos/{key}/file_index": part.file_index,
                    f"videos/{key}/from_timestamp": part.from_s,
                    f"videos/{key}/to_timestamp": part.to_s,
                }
            )
            episode_stats[key] = _image_stats(video_sample(Path(episode.videos[camera]), sample_indices(n)))
        for key, stats in episode_stats.items():
            self._stats.setdefault(key, _StatsTotal()).add(stats)
            row.update({f"stats/{key}/{stat}": np.asarray(value).tolist() for stat, value in stats.items()})
        faults = list(episode.faults)
        row.update(
            {
                "meta/episodes/chunk_index": 0,
                "meta/episodes/file_index": 0,
                "outcome": episode.outcome,
                "success": episode.outcome == "success",
                "faults": [f.category for f in faults],
                "fault_details": json.dumps(
                    [
                        {"category": f.category, "t_s": f.t_s, "message": f.message, "severity": f.severity}
                        for f in faults
                    ]
                ),
                "stage_reached": episode.stage_reached,
                "stage_total": episode.stage_total,
                "last_stage": episode.last_stage,
                "interventions": int(columns["intervention"].sum()),
                "cycle_time_s": float(episode.cycle_time_s if episode.cycle_time_s is not None else n / self.fps),
                "source": episode.source,
                **{name: episode.extra[name] for name in self.episode_columns},
            }
        )
        self._episode_rows.append(row)
        if len(self._episode_rows) >= EPISODE_ROWS_FLUSH:
            self._episodes_flush()
        self.total_episodes += 1
        self.total_frames += n
        return self.total_episodes - 1

    def _episodes_flush(self) -> None:
        if not self._episode_rows:
            return
        if self._episodes_writer is None:
            # Episode rows are a few kB each: one file holds any trial (LeRobot splits it at the data
            # file size, which a million episodes would not reach).
            path = self.root / layout.EPISODES_PATH.format(chunk_index=0, file_index=0)
            path.parent.mkdir(parents=True, exist_ok=True)
            self._episodes_writer = pq.ParquetWriter(str(path), self._episodes_schema, compression="snappy")
        self._episodes_writer.write_table(pa.Table.from_pylist(self._episode_rows, schema=self._episodes_schema))
        self._episode_rows.clear()

    def _info(self) -> dict[str, Any]:
        features = json.loads(json.dumps(self.features))
        for key in self.video_keys:
            size = self._videos[key].size or (0, 0)
            features[key]["shape"] = [size[0], size[1], 3]
            features[key]["info"] = {
                "video.height": size[0],
                "video.width": size[1],
                "video.codec": "h264",
                "video.pix_fmt": "yuv420p",
                "video.is_depth_map": False,
                "video.fps": self.fps,
                "video.channels": 3,
                "has_audio": False,
            }
        return {
            "codebase_version": layout.CODEBASE_VERSION,
            "robot_type": self.robot_type,
            "total_episodes": self.total_episodes,
            "total_frames": self.total_frames,
            "total_tasks": len(self._tasks),
            "chunks_size": self.chunks_size,
            "data_files_size_in_mb": self.data_files_size_in_mb,
            "video_files_size_in_mb": self.video_files_size_in_mb,
            "fps": self.fps,
            "splits": {"train": f"0:{self.total_episodes}"},
            "data_path": layout.DATA_PATH,
            "video_path": layout.VIDEO_PATH,
            "features": features,
        }

    def close(self) -> dict[str, Any]:
        """Finish every file and write the metadata; returns info.json's content. Raises ValueError
        for a dataset given no episode (LeRobot cannot load one)."""
        if self._closed:
            raise RuntimeError("the dataset writer is closed")
        if self.total_episodes == 0:
            raise ValueError("a LeRobot dataset needs at least one episode")
        self._closed = True
        self._episodes_flush()
        for writer in (self._data_writer, self._episodes_writer):
            if writer is not None:
                writer.close()
        for video in self._videos.values():
            video.close()
        tasks = sorted(self._tasks.items(), key=lambda item: item[1])
        # pandas' index metadata: LeRobot reads this file with pandas and looks tasks up by index.
        frame = pd.DataFrame({"task_index": [i for _, i in tasks]}, index=[t for t, _ in tasks])
        frame.to_parquet(self.root / layout.TASKS_PATH)
        stats = {key: total.result() for key, total in self._stats.items()}
        (self.root / layout.STATS_PATH).write_text(json.dumps(stats, indent=1))
        info = self._info()
        (self.root / layout.INFO_PATH).write_text(json.dumps(info, indent=4))
        return info

    def abort(self) -> None:
        """Stop and remove the folder; returns nothing."""
        self._closed = True
        for writer in (self._data_writer, self._episodes_writer):
            if writer is not None:
                writer.close()
        for video in self._videos.values():
            video.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self.abort()
        elif not self._closed:
            self.close()


def dataset_write(root: str | os.PathLike[str], episodes: Iterable[EpisodeInput], **spec: Any) -> dict[str, Any]:
    """Write every episode (an iterable, consumed once) as a dataset under root; spec: DatasetWriter's
    keyword arguments. Returns info.json's content; the folder is removed on an error."""
    with DatasetWriter(root, **spec) as writer:
        for episode in episodes:
            writer.add(episode)
        return writer.close()


def dataset_zip(root: str | os.PathLike[str], target: str | os.PathLike[str]) -> int:
    """Zip a dataset folder (members relative to it; MP4 and Parquet stored, being compressed
    already). Returns the zip's size in bytes."""
    base = Path(root)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in base.rglob("*") if p.is_file()):
            packed = path.suffix in (".mp4", ".parquet")
            archive.write(path, path.relative_to(base).as_posix(), compress_type=zipfile.ZIP_STORED if packed else None)
    return Path(target).stat().st_size
