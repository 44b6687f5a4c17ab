"""The LeRobotDataset v3.0 export, checked by LeRobot itself (in .venv-lerobot) and by reading the
files: factory-cell episodes recorded by core.recording, written with core.lerobot.dataset_write."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow.parquet as pq
import pytest

from core.lerobot.dataset_write import DatasetWriter, FaultNote, dataset_write, dataset_zip, episode_from_recording
from core.recording.recorder import EpisodeRecorder
from core.recording.video import VideoWriter
from core.sim import Observation, cell_make
from core.sim.episode import episode_rollout
from tests.lerobot_env import lerobot_run

TASK = "put the bolt in the tray"
SPEC = {
    "fps": 10,
    "robot_type": "trialbench/factory-kitting",
    "state_names": ["x_m", "y_m", "z_m", "finger_gap"],
    "action_names": ["dx", "dy", "dz", "grip"],
    "cameras": ["front"],
}


def _record(folder: Path) -> tuple[list[Path], list[list[npt.NDArray[np.uint8]]], list[str], list[list[str]]]:
    """Three factory-kitting episodes: two by the expert, one driven up out of the workspace (fails)."""
    cell = cell_make("factory-kitting")
    folders, frames, outcomes, faults = [], [], [], []
    try:
        for seed in range(3):
            seen: list[npt.NDArray[np.uint8]] = []

            def act(
                obs: Observation, seed: int = seed, seen: list[npt.NDArray[np.uint8]] = seen
            ) -> npt.NDArray[np.float32]:
                seen.append(obs.images["front"].copy())
                return cell.expert_action() if seed != 1 else np.array([0.0, 0.0, 1.0, 0.0], dtype=np.float32)

            result = episode_rollout(
                cell=cell, act=act, seed=seed, instruction=TASK, recorder=EpisodeRecorder(folder / f"ep{seed}")
            )
            folders.append(folder / f"ep{seed}")
            frames.append(seen)
            outcomes.append(str(result.outcome))
            faults.append([f.category for f in result.faults])
    finally:
        cell.close()
    return folders, frames, outcomes, faults


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    base = tmp_path_factory.mktemp("export")
    folders, frames, outcomes, faults = _record(base)
    episodes = []
    for i, folder in enumerate(folders):
        intervention = np.zeros(len(frames[i]), dtype=bool)
        if i == 2:
            intervention[3:6] = True
        episodes.append(
            episode_from_recording(
                folder,
                task=TASK,
                faults=[FaultNote(category=c) for c in faults[i]],
                intervention=intervention,
                source=f"episode-{i}",
            )
        )
    info = dataset_write(base / "dataset", iter(episodes), **SPEC)
    return {"root": base / "dataset", "info": info, "frames": frames, "outcomes": outcomes, "faults": faults}


def test_recorded_episodes_export_in_lerobot_v3_layout(exported: dict[str, object]) -> None:
    root = exported["root"]
    assert isinstance(root, Path)
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == [
        "data/chunk-000/file-000.parquet",
        "meta/episodes/chunk-000/file-000.parquet",
        "meta/info.json",
        "meta/stats.json",
        "meta/tasks.parquet",
        "videos/observation.images.front/chunk-000/file-000.mp4",
    ]
    info = json.loads((root / "meta/info.json").read_text())
    frames = exported["frames"]
    assert isinstance(frames, list)
    assert info["codebase_version"] == "v3.0" and info["fps"] == 10
    assert info["total_episodes"] == 3 and info["total_frames"] == sum(len(f) for f in frames)
    assert info["splits"] == {"train": "0:3"} and info["chunks_size"] == 1000
    assert info["features"]["observation.images.front"]["shape"] == [96, 96, 3]
    assert info["features"]["observation.state"]["names"] == SPEC["state_names"]
    data = pq.read_table(root / "data/chunk-000/file-000.parquet")
    assert data.column("index").to_pylist() == list(range(info["total_frames"]))
    assert sum(data.column("next.success").to_pylist()) == exported["outcomes"].count("success")  # type: ignore[attr-defined]
    assert sum(data.column("intervention").to_pylist()) == 3
    episodes = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    assert [e["outcome"] for e in episodes] == exported["outcomes"]
    assert [e["faults"] for e in episodes] == exported["faults"]
    assert [e["interventions"] for e in episodes] == [0, 0, 3]
    assert episodes[1]["videos/observation.images.front/from_timestamp"] == pytest.approx(len(frames[0]) / 10)
    assert all(e["stage_total"] == 6 for e in episodes) and episodes[0]["stage_reached"] == 6
    stats = json.loads((root / "meta/stats.json").read_text())
    assert np.array(stats["observation.images.front"]["mean"]).shape == (3, 1, 1)
    assert stats["observation.state"]["count"] == [info["total_frames"]]


def test_lerobot_loads_the_export_with_labels_and_frames(exported: dict[str, object], tmp_path: Path) -> None:
    root, frames = exported["root"], exported["frames"]
    assert isinstance(root, Path) and isinstance(frames, list)
    starts = np.cumsum([0] + [len(f) for f in frames])
    # The first frame, one inside the second episode, the last frame of the dataset.
    picks = [(0, 0), (1, 5), (2, len(frames[2]) - 1)]
    indices = [int(starts[e] + i) for e, i in picks]
    lerobot_run("load", str(root), str(tmp_path / "report.json"), str(tmp_path / "frames.npz"), *map(str, indices))
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["codebase_version"] == "v3.0"
    assert report["num_episodes"] == 3 and report["num_frames"] == int(starts[-1])
    assert report["shapes"]["observation.images.front"] == [96, 96, 3]
    assert report["shapes"]["observation.state"] == [4] and report["shapes"]["action"] == [4]
    outcomes = exported["outcomes"]
    assert [e["length"] for e in report["episodes"]] == [len(f) for f in frames]
    assert [e["last_next_success"] for e in report["episodes"]] == [o == "success" for o in outcomes]  # type: ignore[attr-defined]
    assert all(e["last_next_done"] and e["task"] == TASK for e in report["episodes"])
    assert [e["outcome"] for e in report["episodes"]] == outcomes
    decoded = np.load(tmp_path / "frames.npz")
    for (episode, step), index in zip(picks, indices, strict=True):
        assert report["items"][str(index)]["episode_index"] == episode
        assert report["items"][str(index)]["frame_index"] == step
        frame = decoded[f"observation.images.front:{index}"].astype(np.int16)
        rendered = frames[episode][step].astype(np.int16)
        # H.264 is lossy: close to the frame the policy saw, and closer to it than to its neighbours.
        error = float(np.abs(frame - rendered).mean())
        assert error < 4.0
        for other in (step - 3, step + 3):
            if (
                0 <= other < len(frames[episode])
                and np.abs(frames[episode][other].astype(np.int16) - rendered).mean() > 2 * error
            ):
                assert np.abs(frame - frames[episode][other].astype(np.int16)).mean() > error


def test_files_split_at_the_size_limits_as_lerobot_splits_them(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    videos = []
    for i in range(4):
        with VideoWriter(tmp_path / f"v{i}.mp4", fps=10) as writer:
            for _ in range(20):
                writer.add(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))
        videos.append(tmp_path / f"v{i}.mp4")
    per_video_mb = videos[0].stat().st_size / 1024 / 1024
    from core.lerobot.dataset_write import EpisodeInput

    def episode(i: int) -> EpisodeInput:
        return EpisodeInput(
            state=rng.random((20, 4)).astype(np.float32),
            action=rng.random((20, 4)).astype(np.float32),
            videos={"front": videos[i]},
            task="t",
            outcome="success",
        )

    # Room for two episodes' videos per file, one episode's data per file, two files per chunk.
    with DatasetWriter(
        tmp_path / "ds",
        **{**SPEC, "cameras": ["front"]},
        chunks_size=2,
        data_files_size_in_mb=1e-4,
        video_files_size_in_mb=2.5 * per_video_mb,
    ) as writer:
        for i in range(4):
            writer.add(episode(i))
    root = tmp_path / "ds"
    rows = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    assert [(r["data/chunk_index"], r["data/file_index"]) for r in rows] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    key = "videos/observation.images.front"
    assert [(r[f"{key}/chunk_index"], r[f"{key}/file_index"]) for r in rows] == [(0, 0), (0, 0), (0, 1), (0, 1)]
    assert [r[f"{key}/from_timestamp"] for r in rows] == [0.0, 2.0, 0.0, 2.0]
    assert (root / "data/chunk-001/file-001.parquet").exists()
    assert (root / "videos/observation.images.front/chunk-000/file-001.mp4").exists()


def test_writer_refuses_an_episode_that_does_not_fit_and_removes_the_folder(tmp_path: Path) -> None:
    with VideoWriter(tmp_path / "v.mp4", fps=10) as writer:
        for _ in range(5):
            writer.add(np.zeros((16, 16, 3), dtype=np.uint8))
    from core.lerobot.dataset_write import EpisodeInput

    bad = EpisodeInput(
        state=np.zeros((5, 3), dtype=np.float32),
        action=np.zeros((5, 4), dtype=np.float32),
        videos={"front": tmp_path / "v.mp4"},
        task="t",
        outcome="success",
    )
    with pytest.raises(ValueError, match="state is"):
        dataset_write(tmp_path / "ds", [bad], **SPEC)
    assert not (tmp_path / "ds").exists()
    with pytest.raises(ValueError, match="whole number of frames"):
        DatasetWriter(tmp_path / "ds2", **{**SPEC, "fps": 12.5})


def test_zip_holds_the_folder(exported: dict[str, object], tmp_path: Path) -> None:
    root = exported["root"]
    assert isinstance(root, Path)
    size = dataset_zip(root, tmp_path / "ds.zip")
    with zipfile.ZipFile(tmp_path / "ds.zip") as archive:
        names = archive.namelist()
        assert "meta/info.json" in names and "data/chunk-000/file-000.parquet" in names
        assert json.loads(archive.read("meta/info.json"))["total_episodes"] == 3
    assert size == (tmp_path / "ds.zip").stat().st_size


def test_declared_episode_columns_are_written_per_episode_and_checked(tmp_path: Path) -> None:
    with VideoWriter(tmp_path / "v.mp4", fps=10) as writer:
        for _ in range(5):
            writer.add(np.zeros((16, 16, 3), dtype=np.uint8))
    from dataclasses import replace

    from core.lerobot.dataset_write import EpisodeInput

    base = EpisodeInput(
        state=np.zeros((5, 4), dtype=np.float32),
        action=np.zeros((5, 4), dtype=np.float32),
        videos={"front": tmp_path / "v.mp4"},
        task="t",
        outcome="success",
    )
    columns = {"condition": "string", "factor/light": "float64"}
    dataset_write(
        tmp_path / "ds",
        [
            replace(base, extra={"condition": "nominal", "factor/light": 1.0}),
            replace(base, extra={"condition": "dim", "factor/light": None}),
        ],
        **SPEC,
        episode_columns=columns,
    )
    table = pq.read_table(tmp_path / "ds/meta/episodes/chunk-000/file-000.parquet")
    assert str(table.schema.field("factor/light").type) == "double"
    assert table.column("condition").to_pylist() == ["nominal", "dim"]
    assert table.column("factor/light").to_pylist() == [1.0, None]
    with pytest.raises(ValueError, match="episode columns"):
        dataset_write(tmp_path / "ds2", [replace(base, extra={"condition": "x"})], **SPEC, episode_columns=columns)
    assert not (tmp_path / "ds2").exists()
    with pytest.raises(ValueError, match="dtype must be one of"):
        DatasetWriter(tmp_path / "ds3", **SPEC, episode_columns={"x": "uint8"})
    with pytest.raises(ValueError, match="already writes"):
        DatasetWriter(tmp_path / "ds4", **SPEC, episode_columns={"outcome": "string"})
    assert not (tmp_path / "ds3").exists() and not (tmp_path / "ds4").exists()
