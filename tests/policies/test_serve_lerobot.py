"""`python -m policies.serve_lerobot PATH`: a tiny ACT policy (LeRobot's ACTConfig, random weights,
saved with the processors a training run saves) served from the LeRobot environment, and TrialBench's
own openpi client (core.policy.remote) driving the factory cell with it."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from core.policy.remote import PolicyServerError, remote_policy
from core.recording.recorder import EpisodeRecorder
from core.sim import CellOutcome, cell_make
from core.sim.episode import episode_rollout
from tests.lerobot_env import act_policy_served


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with act_policy_served(tmp_path_factory.mktemp("act")) as url:
        yield url


def test_client_gets_act_chunks_of_the_policys_shape(served: str) -> None:
    with urllib.request.urlopen(served.replace("ws://", "http://") + "/healthz", timeout=5) as health:  # noqa: S310
        assert health.status == 200
    cell = cell_make("factory-kitting")
    try:
        obs = cell.reset(0)
        episode = remote_policy(kind="openpi", endpoint_url=served, remote_config={"execute_steps": 5}).episode(
            instruction=obs.instruction
        )
        meta = episode.server_metadata
        assert meta["policy"] == "act" and meta["action_dim"] == 4 and meta["action_horizon"] == 10
        assert meta["observation_keys"] == {
            "observation/image": "observation.images.front",
            "observation/state": "observation.state",
            "prompt": "task",
        }
        actions = [episode.act(obs) for _ in range(6)]
        assert all(a.shape == (4,) and a.dtype == np.float32 and np.all(np.isfinite(a)) for a in actions)
        # One chunk serves five steps; the same observation gives the same chunk again.
        assert not np.allclose(actions[0], actions[1])
        np.testing.assert_allclose(actions[5], actions[0], rtol=1e-5)
        assert episode.latency_summary()["inferences"] == 2
        episode.close()
    finally:
        cell.close()


def test_smaller_images_are_resized_to_the_policys_input(served: str) -> None:
    cell = cell_make("factory-kitting", image_px=64)
    try:
        obs = cell.reset(1)
        episode = remote_policy(kind="openpi", endpoint_url=served, remote_config={}).episode(
            instruction=obs.instruction
        )
        assert episode.act(obs).shape == (4,)
        episode.close()
    finally:
        cell.close()


def test_missing_input_is_a_server_error_naming_the_key(served: str) -> None:
    cell = cell_make("factory-kitting")
    try:
        obs = cell.reset(0)
        config = {"observation_keys": {"observation/image": "camera:front", "prompt": "prompt"}}
        episode = remote_policy(kind="openpi", endpoint_url=served, remote_config=config).episode(instruction="x")
        with pytest.raises(PolicyServerError, match="observation/state"):
            episode.act(obs)
        episode.close()
    finally:
        cell.close()


def test_factory_episode_runs_and_records_through_the_served_act_policy(served: str, tmp_path: Path) -> None:
    cell = cell_make("factory-kitting", time_limit_s=3.0)
    try:
        episode = remote_policy(kind="openpi", endpoint_url=served, remote_config={"execute_steps": 5}).episode(
            instruction="put the bolt in the tray"
        )
        result = episode_rollout(cell=cell, act=episode.act, seed=2, recorder=EpisodeRecorder(tmp_path / "ep"))
        summary = episode.latency_summary()
        episode.close()
    finally:
        cell.close()
    assert result.outcome in (CellOutcome.SUCCESS, CellOutcome.FAILURE) and result.steps > 0
    assert result.recording is not None and result.recording.trajectory_rows == result.steps
    assert summary["inferences"] == -(-result.steps // 5)
    assert summary["policy_latency_median_ms"] > 0


def test_default_keys_follow_openpi_libero_names() -> None:
    from policies.serve_lerobot import default_keys

    keys = default_keys(
        ["observation.images.top", "observation.images.wrist", "observation.images.side"], "observation.state"
    )
    assert keys == {
        "observation/image": "observation.images.top",
        "observation/wrist_image": "observation.images.wrist",
        "observation/image_2": "observation.images.side",
        "observation/state": "observation.state",
        "prompt": "task",
    }


def test_images_become_chw_in_unit_range_at_the_features_size() -> None:
    from policies.serve_lerobot import image_array

    hwc = np.full((64, 48, 3), 255, dtype=np.uint8)
    hwc[..., 1] = 0
    out = image_array(hwc, key="observation/image", shape=(3, 96, 96))
    assert out.shape == (3, 96, 96) and out.dtype == np.float32
    assert np.allclose(out[0], 1.0) and np.allclose(out[1], 0.0)
    chw = image_array(np.zeros((3, 96, 96), dtype=np.uint8), key="k", shape=(3, 96, 96))
    assert chw.shape == (3, 96, 96)
    with pytest.raises(ValueError, match="'k' must be a uint8"):
        image_array(np.zeros((96, 96, 3), dtype=np.float32), key="k", shape=(3, 96, 96))
