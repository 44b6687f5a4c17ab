"""`fetch-pick-and-place`: gymnasium-robotics' FetchPickAndPlace-v4 as a Cell, for comparison with
published numbers (50 steps of 40 ms = 2 s per episode, success = block within 5 cm of the goal).

Differences from the gym protocol, on purpose: the episode ends at the first step the block is at the
goal (the gym env keeps running to step 50), and the observation is a rendered camera image plus the
gripper state and the goal position, rather than the full privileged state vector.
gymnasium is imported when a cell is made, so listing cell keys stays cheap.

Variation factors: light intensity and colour (the model's one light points straight down, so turning
it changes nothing), camera position and orientation offset, action noise and actuation delay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from core.sim import episode
from core.sim.actuation import Actuation, actuation_factors
from core.sim.base import CellInfo, Observation
from core.sim.registry import cell_register
from core.sim.variation import Factor, Levels, levels_validate

if TYPE_CHECKING:  # imported when first drawn: mujoco loads with the env
    from core.sim.render import SceneRenderer
    from core.sim.scene_variation import FreeCameraRig, LightRig

KEY = "fetch-pick-and-place"
ENV_ID = "FetchPickAndPlace-v4"
CONTROL_DT_S = 0.04  # 20 substeps of 2 ms (gymnasium-robotics Fetch)
TIME_LIMIT_S = 2.0  # the gym spec's 50 steps
TABLE_DROP_Z_M = 0.40  # block centre; it rests at ~0.425 m on the table top (Fetch world frame)
INSTRUCTIONS = (
    "pick up the black block and place it at the red target",
    "move the block to the red marker",
    "put the block on the red dot",
)
# A closer view than the env's default (2.5 m away): at 96 px the block must still be visible.
CAMERA = {"distance": 1.1, "azimuth": 150.0, "elevation": -32.0, "lookat": np.array([1.3, 0.75, 0.5])}
# People watching see the robot and the whole table.
OVERVIEW_MAX_PX = 720
OVERVIEW_CAMERA = {"distance": 2.0, "azimuth": 145.0, "elevation": -25.0, "lookat": (1.2, 0.75, 0.55)}
STAGES = ("reached the block", "grasped", "at the goal")
STAGE_REACH_M = 0.03  # gripper centre this near the block's centre


class FetchPickAndPlace(episode.LoggedCell):
    """A Cell (see core.sim.base.Cell) wrapping FetchPickAndPlace-v4.

    Action: the env's own [dx, dy, dz, grip] in [-1, 1] (5 cm per unit per step; grip > 0 opens).
    State: [gripper x, y, z, finger l, finger r, goal x, y, z] in metres. Faults: block off the table
    (drop, fatal), timeout.
    """

    def __init__(self, *, time_limit_s: float = TIME_LIMIT_S, image_px: int = 96) -> None:
        import gymnasium as gym
        import gymnasium_robotics
        from gymnasium_robotics.envs.fetch.pick_and_place import MujocoFetchPickAndPlaceEnv

        gym.register_envs(gymnasium_robotics)
        self.info = CellInfo(
            key=KEY,
            title="Fetch pick and place (gymnasium-robotics FetchPickAndPlace-v4)",
            action_dim=4,
            state_dim=8,
            cameras=("external",),
            image_shape=(image_px, image_px, 3),
            control_dt_s=CONTROL_DT_S,
            default_instruction=INSTRUCTIONS[0],
            instructions=INSTRUCTIONS,
        )
        env = gym.make(
            ENV_ID, render_mode="rgb_array", width=image_px, height=image_px, default_camera_config=CAMERA
        ).unwrapped
        # The MuJoCo env itself (gymnasium's Env type has no `model`): its model is tuned below.
        if not isinstance(env, MujocoFetchPickAndPlaceEnv):
            raise TypeError(f"{ENV_ID} made a {type(env).__name__}, not the MuJoCo pick-and-place env")
        self._env = env
        # Shadows and offscreen multisampling make software rendering ~5x slower; set before the
        # renderer's GL context is made (on the first render).
        self._env.model.vis.quality.shadowsize = 0
        self._env.model.vis.quality.offsamples = 0
        # Room in the offscreen framebuffer for the overview camera, which shares the env's context.
        self._env.model.vis.global_.offwidth = max(image_px, OVERVIEW_MAX_PX)
        self._env.model.vis.global_.offheight = max(image_px, OVERVIEW_MAX_PX)
        self._log = episode.EpisodeLog(time_limit_s=time_limit_s, stage_total=len(STAGES))
        self._overview: SceneRenderer | None = None  # made when the overview is first drawn
        self._overview_camera: Any = None
        self._obs: dict[str, npt.NDArray[np.float64]] = {}
        self._instruction = INSTRUCTIONS[0]
        from core.sim import scene_variation  # imports mujoco, loaded with the env by now

        self._lights: LightRig = scene_variation.LightRig(self._env.model)
        self._camera_rig: FreeCameraRig = scene_variation.FreeCameraRig(CAMERA)
        # Fetch's grip command moves the fingers relative to where they are: 0 holds them.
        self._actuation = Actuation(low=[-1.0] * 4, high=[1.0] * 4, noisy=[True, True, True, False], idle=[0, 0, 0, 0])
        self._factors: tuple[Factor, ...] = (
            *(f for f in scene_variation.light_factors() if f.key != scene_variation.LIGHT_AZIMUTH),
            *scene_variation.camera_factors(),
            *actuation_factors(control_dt_s=CONTROL_DT_S),
        )

    def factors(self) -> tuple[Factor, ...]:
        """Light intensity and colour, camera offsets, action noise, actuation delay."""
        return self._factors

    def reset(self, seed: int, instruction: str | None = None, variation: Levels | None = None) -> Observation:
        """Reset the env with this seed (block and goal positions) at the factor levels in `variation`
        (None: nominal); returns the first observation. Raises VariationError for a bad level."""
        from core.sim.scene_variation import CAMERA_ROTATION, CAMERA_SHIFT

        levels = levels_validate(self._factors, variation)
        # Before the env's reset, whose mj_forward places the lights from the model.
        self._lights.restore()
        self._lights.apply(levels)
        self._obs, _ = self._env.reset(seed=seed)
        viewer = self._env.mujoco_renderer.viewer
        if viewer is None and (levels[CAMERA_SHIFT] or levels[CAMERA_ROTATION]):
            self._env.render()  # gymnasium makes its viewer (and camera) on the first frame
            viewer = self._env.mujoco_renderer.viewer
        if viewer is not None:  # else it is made at the first frame, posed as loaded
            self._camera_rig.apply(viewer.cam, seed=seed, levels=levels)
        self._actuation.reset(seed=seed, levels=levels)
        self._instruction = instruction or self.info.default_instruction
        self._log.reset()
        return self._observe()

    def step(self, action: npt.NDArray[np.float32]) -> Observation:
        """Apply the action for one 40 ms step; returns the new obs. Steps after the end change nothing."""
        if self._log.done:
            return self._observe()
        action = self._actuation.apply(action)
        act = np.clip(np.nan_to_num(np.asarray(action, dtype=np.float32).reshape(-1)[:4]), -1.0, 1.0)
        self._obs, _, _, _, info = self._env.step(act)
        self._log.advance(dt_s=CONTROL_DT_S)
        if self._obs["achieved_goal"][2] < TABLE_DROP_Z_M:
            self._log.fault(category=episode.DROP, message="the block fell off the table", fatal=True)
            return self._observe()
        o = self._obs["observation"]
        if np.linalg.norm(o[3:6] - o[0:3]) < STAGE_REACH_M:
            self._log.stage_reach(2 if self._held() else 1)
        if info.get("is_success"):
            self._log.succeed()
        self._log.timeout_check()
        return self._observe()

    def expert_action(self) -> npt.NDArray[np.float32]:
        """Scripted expert: above the block, descend, close, carry to the goal. Returns the action."""
        o = self._obs["observation"]
        grip, block = o[0:3], o[3:6]
        goal = self._obs["desired_goal"]
        rel = block - grip
        if self._held():
            target, gripper = goal, -1.0
        elif np.linalg.norm(rel[:2]) > 0.01:
            # Travel 5 cm above the block so the fingers do not sweep it away.
            target, gripper = block + np.array([0.0, 0.0, 0.05]), 1.0
            if grip[2] < block[2] + 0.03 and np.linalg.norm(rel[:2]) > 0.02:
                target = np.array([grip[0], grip[1], block[2] + 0.05])
        elif rel[2] < -0.01:
            target, gripper = block, 1.0
        else:
            target, gripper = block, -1.0
        move = np.clip((target - grip) * 10.0, -1.0, 1.0)
        return np.array([*move, gripper], dtype=np.float32)

    def _held(self) -> bool:
        """The block between the fingers and the fingers closed on it (not on nothing)."""
        o = self._obs["observation"]
        rel, fingers = o[3:6] - o[0:3], o[9:11]
        return bool(np.linalg.norm(rel) < 0.03 and float(fingers.sum()) < 0.06 and fingers.min() > 0.015)

    def stages(self) -> tuple[str, ...]:
        return STAGES

    def render_overview(self, *, px: int) -> npt.NDArray[np.uint8]:
        """Robot and table from further back than the policy's camera, px x px; one renderer, at any size."""
        from core.sim.render import free_camera, gym_overview_renderer

        if not self._obs:
            raise RuntimeError("render_overview() needs a reset() first")
        if self._overview is None:
            self._overview = gym_overview_renderer(self._env)
            self._overview_camera = free_camera(OVERVIEW_CAMERA)
        return self._overview.render(self._env.data, camera=self._overview_camera, width=px, height=px)

    def close(self) -> None:
        """Close the env and its renderers."""
        if self._overview is not None:
            self._overview.close()
            self._overview = None
        if self._env is not None:
            self._env.close()
            self._env = None

    def _observe(self) -> Observation:
        o = self._obs["observation"]
        state = np.concatenate([o[0:3], o[9:11], self._obs["desired_goal"]]).astype(np.float32)
        image = np.ascontiguousarray(self._env.render(), dtype=np.uint8)
        return Observation(images={"external": image}, state=state, instruction=self._instruction)


@cell_register(KEY)
def make(**kwargs: Any) -> FetchPickAndPlace:
    """A new fetch-pick-and-place cell; kwargs: time_limit_s, image_px."""
    return FetchPickAndPlace(**kwargs)
