"""A LeRobotDataset v3.0 folder or zip -> episodes to import, checked first.

    dataset = dataset_open("upload.zip", workdir=tmp)     # raises DatasetRejected naming file and field
    for episode in dataset.episodes():
        episode.outcome, episode.cycle_time_s, episode.intervention_frames, episode.videos

Outcome per episode: an episodes-metadata field (`success` bool, or `outcome` "success"/"failure",
as our exports and LeRobot rollout tooling write), else `next.success` at the episode's last frame;
None when the dataset has neither (the caller asks the uploader for a mapping). Cycle time from the
timestamps (last - first + one frame period); interventions from a per-frame `intervention` (or
`is_intervention`, `complementary_info.is_intervention`) flag.

Data files are read column by column in record batches, one pass, so memory grows with the number of
episodes (a few numbers each), not with frames. A zip is unpacked into `workdir` after its member
names and sizes are checked (no absolute paths, no `..`, bounded total size).
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from core.lerobot import layout

MAX_ZIP_BYTES = 20 * 1024**3
MAX_ZIP_MEMBERS = 100_000
INTERVENTION_KEYS = ("intervention", "is_intervention", "complementary_info.is_intervention")
_EPISODE_COLUMNS = (
    "episode_index",
    "length",
    "data/chunk_index",
    "data/file_index",
    "dataset_from_index",
    "dataset_to_index",
)
_INFO_FIELDS = ("codebase_version", "fps", "features", "total_episodes", "total_frames", "data_path")


class DatasetRejected(ValueError):
    """The dataset is not one we import: `file` (relative to the dataset root) and `field` say where."""

    def __init__(self, file: str, field: str, message: str) -> None:
        super().__init__(f"{file}: {field}: {message}" if field else f"{file}: {message}")
        self.file, self.field, self.message = file, field, message


@dataclass(frozen=True)
class VideoRef:
    """Where an episode's frames of one camera are: a file of the dataset, from..to seconds in it."""

    path: Path
    from_s: float
    to_s: float


@dataclass(frozen=True)
class ImportedEpisode:
    index: int
    tasks: tuple[str, ...]
    length: int
    outcome: str | None  # "success" / "failure", None when the dataset does not say
    outcome_source: str | None  # "episodes:success", "episodes:outcome", "next.success" or None
    cycle_time_s: float
    intervention_frames: int
    interventions: int  # runs of consecutive intervention frames (take-overs)
    videos: dict[str, VideoRef]
    metadata: dict[str, Any] = field(default_factory=dict)
    intervention_starts_s: tuple[float, ...] = ()  # seconds into the episode each take-over began


@dataclass
class _FrameTotals:
    first_t: float | None = None
    last_t: float = 0.0
    frames: int = 0
    last_success: bool | None = None
    intervention_frames: int = 0
    takeovers: int = 0
    previous_flag: bool = False
    takeover_t: list[float] = field(default_factory=list)


def _zip_extract(path: Path, workdir: Path) -> Path:
    name = path.name
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DatasetRejected(name, "", f"not a readable zip file ({exc})") from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_ZIP_MEMBERS:
            raise DatasetRejected(name, "", f"more than {MAX_ZIP_MEMBERS} files")
        if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
            raise DatasetRejected(name, "", f"unpacks to more than {MAX_ZIP_BYTES} bytes")
        for member in members:
            parts = PurePosixPath(member.filename).parts
            if member.filename.startswith(("/", "\\")) or ".." in parts or ":" in member.filename:
                raise DatasetRejected(name, member.filename, "unsafe path in the zip")
        # A zip of the folder itself (dataset/meta/info.json) is accepted as well as of its content.
        infos = [m.filename for m in members if PurePosixPath(m.filename).as_posix().endswith(layout.INFO_PATH)]
        if not infos:
            raise DatasetRejected(name, layout.INFO_PATH, "missing from the zip")
        prefix = min(infos, key=len)[: -len(layout.INFO_PATH)]
        archive.extractall(workdir)
    return workdir / prefix if prefix else workdir


def _json(root: Path, relative: str) -> Any:
    path = root / relative
    if not path.is_file():
        raise DatasetRejected(relative, "", "missing")
    try:
        return json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetRejected(relative, "", f"not valid JSON ({exc})") from None


def _parquet(root: Path, path: Path) -> pq.ParquetFile:
    relative = path.relative_to(root).as_posix()
    if not path.is_file():
        raise DatasetRejected(relative, "", "missing")
    try:
        return pq.ParquetFile(path, arrow_extensions_enabled=False)
    except (pa.ArrowException, OSError) as exc:
        raise DatasetRejected(relative, "", f"not a readable Parquet file ({exc})") from None


class Dataset:
    """A checked dataset: `info` (meta/info.json), `tasks` (index -> text), `episodes()`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.info = self._info()
        self.fps = int(self.info["fps"])
        self.features: dict[str, dict[str, Any]] = self.info["features"]
        self.video_keys = [k for k, f in self.features.items() if f.get("dtype") == "video"]
        self.intervention_key = next((k for k in INTERVENTION_KEYS if k in self.features), None)
        self.tasks = self._tasks()
        self._episode_files = sorted((root / layout.EPISODES_DIR).glob("chunk-*/file-*.parquet"))
        if not self._episode_files:
            raise DatasetRejected(layout.EPISODES_DIR, "", "no chunk-*/file-*.parquet episodes file")

    def _info(self) -> dict[str, Any]:
        info = _json(self.root, layout.INFO_PATH)
        if not isinstance(info, dict):
            raise DatasetRejected(layout.INFO_PATH, "", "must be a JSON object")
        for name in _INFO_FIELDS:
            if name not in info:
                raise DatasetRejected(layout.INFO_PATH, name, "missing")
        if info["codebase_version"] != layout.CODEBASE_VERSION:
            raise DatasetRejected(
                layout.INFO_PATH,
                "codebase_version",
                f"{info['codebase_version']!r}, only {layout.CODEBASE_VERSION!r} is read",
            )
        fps = info["fps"]
        if isinstance(fps, bool) or not isinstance(fps, int | float) or not fps > 0:
            raise DatasetRejected(layout.INFO_PATH, "fps", f"must be a positive number, not {fps!r}")
        features = info["features"]
        if not isinstance(features, dict):
            raise DatasetRejected(layout.INFO_PATH, "features", "must be an object")
        for key, feature in features.items():
            if not isinstance(feature, dict) or "dtype" not in feature or not isinstance(feature.get("shape"), list):
                raise DatasetRejected(layout.INFO_PATH, f"features.{key}", "needs dtype and a shape list")
        for key in ("timestamp", "episode_index", "index"):
            if key not in features:
                raise DatasetRejected(layout.INFO_PATH, f"features.{key}", "missing")
        if any(f.get("dtype") == "video" for f in features.values()) and not isinstance(info.get("video_path"), str):
            raise DatasetRejected(layout.INFO_PATH, "video_path", "missing for a dataset with videos")
        return info

    def _tasks(self) -> dict[int, str]:
        table = _parquet(self.root, self.root / layout.TASKS_PATH).read()
        if "task_index" not in table.column_names:
            raise DatasetRejected(layout.TASKS_PATH, "task_index", "missing")
        # LeRobot writes the task text as the pandas index (`__index_level_0__`), some tools as `task`.
        text = "task" if "task" in table.column_names else "__index_level_0__"
        if text not in table.column_names:
            raise DatasetRejected(layout.TASKS_PATH, "task", "missing (neither a task column nor an index)")
        return {
            int(i): str(t)
            for i, t in zip(table.column("task_index").to_pylist(), table.column(text).to_pylist(), strict=True)
        }

    def _frame_totals(self) -> dict[int, _FrameTotals]:
        """One pass over the data files: per episode, first/last timestamp, frames, the last frame's
        next.success, intervention frames and take-overs."""
        totals: dict[int, _FrameTotals] = {}
        files = sorted((self.root / "data").glob("chunk-*/file-*.parquet"))
        if not files:
            raise DatasetRejected("data", "", "no chunk-*/file-*.parquet data file")
        for path in files:
            parquet = _parquet(self.root, path)
            relative = path.relative_to(self.root).as_posix()
            names = parquet.schema_arrow.names
            wanted = ["episode_index", "timestamp"]
            for optional in ("next.success", self.intervention_key):
                if optional and optional in names:
                    wanted.append(optional)
            for column in ("episode_index", "timestamp"):
                if column not in names:
                    raise DatasetRejected(relative, column, "missing")
            try:
                for batch in parquet.iter_batches(columns=wanted, batch_size=65_536, use_threads=False):
                    self._add_batch(totals, batch)
            except (pa.ArrowException, OSError, TypeError, ValueError) as exc:
                raise DatasetRejected(relative, "", f"could not be read ({exc})") from None
        return totals

    def _add_batch(self, totals: dict[int, _FrameTotals], batch: pa.RecordBatch) -> None:
        episodes = batch.column("episode_index").to_pylist()
        times = batch.column("timestamp").to_pylist()
        success = batch.column("next.success").to_pylist() if "next.success" in batch.schema.names else None
        key = self.intervention_key
        flags = batch.column(key).to_pylist() if key and key in batch.schema.names else None
        for i, episode in enumerate(episodes):
            t = totals.setdefault(int(episode), _FrameTotals())
            ts = float(times[i])
            t.first_t = ts if t.first_t is None else min(t.first_t, ts)
            t.last_t = max(t.last_t, ts)
            t.frames += 1
            if success is not None:
                t.last_success = bool(success[i])
            if flags is not None:
                flag = bool(flags[i])
                t.intervention_frames += flag
                if flag and not t.previous_flag:
                    t.takeovers += 1
                    t.takeover_t.append(ts)
                t.previous_flag = flag

    def _episode_rows(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for path in self._episode_files:
            parquet = _parquet(self.root, path)
            relative = path.relative_to(self.root).as_posix()
            names = parquet.schema_arrow.names
            for column in _EPISODE_COLUMNS:
                if column not in names:
                    raise DatasetRejected(relative, column, "missing")
            columns = [n for n in names if not n.startswith("stats/")]
            for batch in parquet.iter_batches(columns=columns, batch_size=1024, use_threads=False):
                for row in batch.to_pylist():
                    yield relative, row

    def _outcome(self, row: dict[str, Any], totals: _FrameTotals) -> tuple[str | None, str | None]:
        if isinstance(row.get("success"), bool):
            return ("success" if row["success"] else "failure"), "episodes:success"
        if row.get("outcome") in ("success", "failure"):
            return str(row["outcome"]), "episodes:outcome"
        if totals.last_success is not None:
            return ("success" if totals.last_success else "failure"), "next.success"
        return None, None

    def _videos(self, relative: str, row: dict[str, Any]) -> dict[str, VideoRef]:
        videos = {}
        for key in self.video_keys:
            names = [f"videos/{key}/{n}" for n in ("chunk_index", "file_index", "from_timestamp", "to_timestamp")]
            for name in names:
                if row.get(name) is None:
                    raise DatasetRejected(relative, name, f"missing for episode {row['episode_index']}")
            try:
                path = self.root / str(self.info["video_path"]).format(
                    video_key=key, chunk_index=int(row[names[0]]), file_index=int(row[names[1]])
                )
            except (KeyError, IndexError, ValueError) as exc:
                raise DatasetRejected(layout.INFO_PATH, "video_path", f"not a usable template ({exc})") from None
            if not path.is_file():
                raise DatasetRejected(
                    path.relative_to(self.root).as_posix(), "", f"missing (episode {row['episode_index']})"
                )
            videos[key] = VideoRef(path=path, from_s=float(row[names[2]]), to_s=float(row[names[3]]))
        return videos

    def episodes(self) -> Iterator[ImportedEpisode]:
        """Every episode in index order of the episodes files; raises DatasetRejected on the first
        inconsistency (an episode whose frames are not in the data files, a missing video file)."""
        totals = self._frame_totals()
        period = 1.0 / self.fps
        for relative, row in self._episode_rows():
            index = int(row["episode_index"])
            frames = totals.get(index)
            if frames is None or frames.frames != int(row["length"]):
                found = frames.frames if frames else 0
                raise DatasetRejected(
                    relative, "length", f"episode {index} says {row['length']} frames, the data has {found}"
                )
            outcome, source = self._outcome(row, frames)
            tasks = row.get("tasks") or []
            skip = {"tasks", "outcome", "success"} | set(_EPISODE_COLUMNS)
            yield ImportedEpisode(
                index=index,
                tasks=tuple(str(t) for t in tasks),
                length=int(row["length"]),
                outcome=outcome,
                outcome_source=source,
                cycle_time_s=round((frames.last_t - (frames.first_t or 0.0)) + period, 9),
                intervention_frames=frames.intervention_frames,
                interventions=frames.takeovers,
                videos=self._videos(relative, row),
                metadata={k: v for k, v in row.items() if k not in skip and not k.startswith(("videos/", "meta/"))},
                intervention_starts_s=tuple(round(t - (frames.first_t or 0.0), 9) for t in frames.takeover_t),
            )


def dataset_open(source: str | os.PathLike[str], *, workdir: str | os.PathLike[str] | None = None) -> Dataset:
    """Open and check a dataset folder, or a zip of one (unpacked into workdir, which is then
    required). Raises DatasetRejected naming the file and field at fault."""
    path = Path(source)
    if path.is_file():
        if workdir is None:
            raise ValueError("a zipped dataset needs a workdir to unpack into")
        root = _zip_extract(path, Path(workdir))
    elif path.is_dir():
        root = path
    else:
        raise DatasetRejected(path.name, "", "no such file or folder")
    return Dataset(root)
