from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from core.recording.recorder import EpisodeRecorder, EpisodeRecording, OverviewSettings, policy_video_name
from core.recording.trajectory import trajectory_read
from core.recording.video import video_probe
from core.sim import CellOutcome, Observation, cell_make
from core.sim.episode import episode_rollout


def test_recorded_episode_folder_holds_videos_trajectory_poster_and_manifest(tmp_path: Path) -> None:
    cell = cell_make("tabletop-reach-2d")
    folder = tmp_path / "ep"
    overview = OverviewSettings(px=96, fps=5.0)
    result = episode_rollout(
        cell=cell, act=lambda _obs: cell.expert_action(), seed=4, recorder=EpisodeRecorder(folder, overview=overview)
    )
    recording = result.recording
    assert isinstance(recording, EpisodeRecording)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["policy-top.mp4", "overview.mp4", "poster.jpg", "trajectory.parquet", "recording.json"]
    )
    assert recording.bytes == sum(p.stat().st_size for p in folder.iterdir())
    assert recording.videos["policy-top.mp4"].frames == result.steps == recording.trajectory_rows
    # One overview frame per 1/fps simulated seconds from t = 0, and one of the final state.
    expected = math.floor(result.sim_time_s * overview.fps - 1e-6) + 2
    assert video_probe(folder / "overview.mp4").frames == expected
    manifest = json.loads((folder / "recording.json").read_text())
    assert manifest["outcome"] == "success" and manifest["steps"] == result.steps
    assert manifest["stages"]["progress"] == 1.0 and manifest["stages"]["last_stage"] == "released"
    assert manifest["policy_cameras"] == {"top": "policy-top.mp4"}
    assert manifest["overview"] == {"px": 96, "fps": 5.0, "file": "overview.mp4"}
    trajectory = trajectory_read(folder / "trajectory.parquet")
    assert trajectory.stages == cell.stages()
    np.testing.assert_allclose(trajectory.t_s, 0.1 * np.arange(result.steps), atol=1e-6)
    assert np.all(np.diff(trajectory.stage) >= 0)
    assert np.all(trajectory.policy_latency_s >= 0)


def test_rollout_is_the_same_with_and_without_a_recorder(tmp_path: Path) -> None:
    cell = cell_make("factory-kitting")
    try:
        bare = episode_rollout(cell=cell, act=lambda _obs: cell.expert_action(), seed=7)
        recorded = episode_rollout(
            cell=cell, act=lambda _obs: cell.expert_action(), seed=7, recorder=EpisodeRecorder(tmp_path / "ep")
        )
    finally:
        cell.close()
    assert bare.recording is None
    assert (bare.outcome, bare.steps, bare.sim_time_s) == (recorded.outcome, recorded.steps, recorded.sim_time_s)
    assert bare.stages == recorded.stages


def test_no_overview_at_zero_fps(tmp_path: Path) -> None:
    cell = cell_make("tabletop-reach-2d")
    result = episode_rollout(
        cell=cell,
        act=lambda _obs: cell.expert_action(),
        seed=2,
        recorder=EpisodeRecorder(tmp_path / "ep", overview=OverviewSettings(fps=0)),
    )
    recording = result.recording
    assert isinstance(recording, EpisodeRecording)
    assert recording.poster is None and list(recording.videos) == ["policy-top.mp4"]
    assert not (tmp_path / "ep" / "overview.mp4").exists()


def test_an_episode_that_raises_leaves_no_files(tmp_path: Path) -> None:
    cell = cell_make("tabletop-reach-2d")
    calls = 0

    def act(_obs: Observation) -> npt.NDArray[np.float32]:
        nonlocal calls
        calls += 1
        if calls == 5:
            raise ConnectionError("policy server went away")
        return cell.expert_action()

    with pytest.raises(ConnectionError):
        episode_rollout(cell=cell, act=act, seed=1, recorder=EpisodeRecorder(tmp_path / "ep"))
    assert not (tmp_path / "ep").exists()


def test_recorder_refuses_a_folder_with_files_and_a_second_episode(tmp_path: Path) -> None:
    cell = cell_make("tabletop-reach-2d")
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("")
    cell.reset(0)
    with pytest.raises(FileExistsError):
        EpisodeRecorder(tmp_path / "used").begin(cell=cell)
    recorder = EpisodeRecorder(tmp_path / "ep")
    recorder.begin(cell=cell)
    recorder.finish(cell=cell)
    with pytest.raises(RuntimeError):
        recorder.begin(cell=cell)


@pytest.mark.parametrize(("px", "fps"), [(8, 5.0), (2000, 5.0), (128, -1.0), (128, 120.0)])
def test_overview_settings_are_bounded(px: int, fps: float) -> None:
    with pytest.raises(ValueError):
        OverviewSettings(px=px, fps=fps)


@pytest.mark.parametrize("key", ["factory-kitting", "tabletop-reach-2d", "fetch-pick-and-place", "metaworld-reach-v3"])
def test_every_cell_renders_an_overview_at_the_size_asked(key: str) -> None:
    cell = cell_make(key)
    try:
        cell.reset(0)
        policy_view = cell._observe().images  # type: ignore[attr-defined]  # every built-in cell has it
        for px in (96, 192):
            image = cell.render_overview(px=px)
            assert image.shape == (px, px, 3) and image.dtype == np.uint8
            assert image.std() > 5, "an overview shows a scene, not a blank frame"
        # The overview (factory-kitting renders it in the policy camera's GL context) leaves the
        # policy's view of the same state pixel for pixel as it was.
        for name, image in cell._observe().images.items():  # type: ignore[attr-defined]
            np.testing.assert_array_equal(image, policy_view[name])
        cell.step(np.zeros(cell.info.action_dim, dtype=np.float32))
        assert cell.outcome() is CellOutcome.RUNNING
        assert policy_video_name(cell.info.cameras[0]).endswith(".mp4")
    finally:
        cell.close()
