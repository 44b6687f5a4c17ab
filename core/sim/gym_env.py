"""TrialBench cells as Gymnasium environments, with the observation keys LeRobot's evaluation reads.

    import core.sim.gym_env  # registers the ids
    env = gymnasium.make("TrialBench/FactoryKitting-v0")
    obs, info = env.reset(seed=0)   # {"pixels": {"front": HxWx3 uint8}, "agent_pos": float32 state}

As LeRobot's gym environments (gym_aloha's "pixels_agent_pos"): `pixels` maps each camera to its
image, `agent_pos` is the proprio state, `info["is_success"]` whether the task was done. LeRobot's
`preprocess_observation` turns them into `observation.images.<camera>` and `observation.state`, the
feature names of our LeRobotDataset export (core.lerobot), so a policy trained on an export runs here
unchanged; `task` / `task_description` give the instruction to a language-conditioned policy.

Reward: the share of the task's stages newly reached on the step, so an episode's return is its
progress (1.0 on success). An episode ended by the cell's time limit is truncated; any other end
(success, a fatal fault) terminates it.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
import numpy.typing as npt
from gymnasium import spaces

from core.sim.base import CellOutcome, Observation
from core.sim.episode import TIMEOUT
from core.sim.registry import cell_make

OBS_TYPES = ("pixels_agent_pos", "pixels")
OVERVIEW_PX = 256
# Proprio states are metres, radians and fractions: finite bounds (the env checker warns on infinite
# ones) far outside any cell's workspace.
STATE_BOUND = 1e3
ENV_IDS = {"TrialBench/FactoryKitting-v0": "factory-kitting"}


class CellEnv(gymnasium.Env[dict[str, Any], npt.NDArray[np.float32]]):
    """One TrialBench cell (by registry key) as a Gymnasium env; render() draws the overview camera."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(
        self,
        cell: str = "factory-kitting",
        *,
        obs_type: str = "pixels_agent_pos",
        render_mode: str | None = None,
        instruction: str | None = None,
        **cell_kwargs: Any,
    ) -> None:
        if obs_type not in OBS_TYPES:
            raise ValueError(f"obs_type must be one of {OBS_TYPES}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError("render_mode must be None or 'rgb_array'")
        self.cell = cell_make(cell, **cell_kwargs)
        info = self.cell.info
        self.obs_type, self.render_mode = obs_type, render_mode
        self.metadata = {**self.metadata, "render_fps": round(1.0 / info.control_dt_s)}
        self.task = instruction or info.default_instruction
        self._instruction = instruction
        image = spaces.Box(0, 255, shape=info.image_shape, dtype=np.uint8)
        observation: dict[str, spaces.Space[Any]] = {"pixels": spaces.Dict({c: image for c in info.cameras})}
        if obs_type == "pixels_agent_pos":
            observation["agent_pos"] = spaces.Box(-STATE_BOUND, STATE_BOUND, shape=(info.state_dim,), dtype=np.float32)
        self.observation_space = spaces.Dict(observation)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(info.action_dim,), dtype=np.float32)
        self._stages = max(len(self.cell.stages()), 1)
        self._reached = 0

    @property
    def task_description(self) -> str:
        return self.task

    def _observation(self, obs: Observation) -> dict[str, Any]:
        out: dict[str, Any] = {"pixels": {c: obs.images[c] for c in self.cell.info.cameras}}
        if self.obs_type == "pixels_agent_pos":
            out["agent_pos"] = np.asarray(obs.state, dtype=np.float32)
        return out

    def _info(self) -> dict[str, Any]:
        return {
            "is_success": self.cell.outcome() is CellOutcome.SUCCESS,
            "stage_reached": self._reached,
            "sim_time_s": float(self.cell.sim_time_s),
            "faults": [f.category for f in self.cell.faults()],
        }

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """A new episode: the cell's seed is `seed`, else drawn from the env's seeded generator;
        options may carry an "instruction"."""
        super().reset(seed=seed)
        cell_seed = seed if seed is not None else int(self.np_random.integers(2**31 - 1))
        instruction = (options or {}).get("instruction", self._instruction)
        obs = self.cell.reset(cell_seed, instruction=instruction)
        self.task = obs.instruction
        self._reached = self.cell.stage_reached()
        return self._observation(obs), self._info()

    def step(self, action: npt.NDArray[np.float32]) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        obs = self.cell.step(np.asarray(action, dtype=np.float32))
        reached = self.cell.stage_reached()
        reward = (reached - self._reached) / self._stages
        self._reached = reached
        ended = self.cell.outcome() is not CellOutcome.RUNNING
        timed_out = ended and any(f.category == TIMEOUT for f in self.cell.faults())
        return self._observation(obs), float(reward), ended and not timed_out, timed_out, self._info()

    def render(self) -> npt.NDArray[np.uint8] | None:
        if self.render_mode != "rgb_array":
            return None
        return self.cell.render_overview(px=OVERVIEW_PX)

    def close(self) -> None:
        self.cell.close()


def register() -> None:
    """Register the TrialBench ids with Gymnasium (done on import; again is a no-op)."""
    for env_id, cell in ENV_IDS.items():
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, entry_point="core.sim.gym_env:CellEnv", kwargs={"cell": cell})


register()
