"""The factory cell as a Gymnasium environment with LeRobot's observation keys."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import core.sim.gym_env  # noqa: F401  (registers the ids)
from core.sim.gym_env import CellEnv
from tests.lerobot_env import lerobot_run


@pytest.fixture
def env() -> gymnasium.Env:  # type: ignore[type-arg]
    made = gymnasium.make("TrialBench/FactoryKitting-v0", render_mode="rgb_array")
    yield made
    made.close()


def test_factory_env_passes_gymnasiums_env_checker(env: gymnasium.Env) -> None:  # type: ignore[type-arg]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the checker reports problems as warnings
        check_env(env.unwrapped, skip_render_check=False)


def test_observation_has_pixels_and_agent_pos_as_lerobot_gym_envs(env: gymnasium.Env) -> None:  # type: ignore[type-arg]
    obs, info = env.reset(seed=3)
    assert set(obs) == {"pixels", "agent_pos"}
    assert set(obs["pixels"]) == {"front"}
    assert obs["pixels"]["front"].shape == (96, 96, 3) and obs["pixels"]["front"].dtype == np.uint8
    assert obs["agent_pos"].shape == (4,) and obs["agent_pos"].dtype == np.float32
    assert info["is_success"] is False
    assert "bolt" in env.unwrapped.task or "bracket" in env.unwrapped.task or "box" in env.unwrapped.task  # type: ignore[attr-defined]
    again, _ = env.reset(seed=3)
    assert np.array_equal(obs["pixels"]["front"], again["pixels"]["front"])
    assert env.render().shape == (256, 256, 3)


def test_expert_run_succeeds_with_return_one_and_is_success() -> None:
    env = CellEnv("factory-kitting")
    try:
        env.reset(seed=0)
        total, steps = 0.0, 0
        terminated = truncated = False
        while not (terminated or truncated):
            _, reward, terminated, truncated, info = env.step(env.cell.expert_action())
            total += reward
            steps += 1
        assert terminated and not truncated
        assert info["is_success"] is True and total == pytest.approx(1.0)
        assert steps < 150
    finally:
        env.close()


def test_time_limit_truncates_a_failed_episode() -> None:
    env = CellEnv("factory-kitting", time_limit_s=0.5)
    try:
        env.reset(seed=1)
        for _ in range(5):
            _, _, terminated, truncated, info = env.step(np.zeros(4, dtype=np.float32))
        assert truncated and not terminated and info["is_success"] is False and "timeout" in info["faults"]
    finally:
        env.close()


def test_lerobot_env_preprocessing_maps_observations_to_the_export_feature_names(
    env: gymnasium.Env, tmp_path: Path
) -> None:  # type: ignore[type-arg]
    obs, _ = env.reset(seed=0)
    np.savez(tmp_path / "obs.npz", **{"pixels/front": obs["pixels"]["front"], "agent_pos": obs["agent_pos"]})
    lerobot_run("preprocess", str(tmp_path / "obs.npz"), str(tmp_path / "out.json"))
    shapes = json.loads((tmp_path / "out.json").read_text())
    # The names a policy trained on our LeRobotDataset export (core.lerobot) takes as inputs.
    assert shapes == {"observation.images.front": [1, 3, 96, 96], "observation.state": [1, 4]}
