"""Meta-World (v3) tasks as Cells, with Meta-World's own scripted policies as experts, for comparison
with published numbers: 500 steps of 12.5 ms (6.25 s), success = the env's `success` flag at any step
(the MT/ML evaluation protocol). Goal-observable variant; block and goal positions come from the seed.

Rendering: the "corner" camera, shadows and offscreen multisampling off (they make software rendering
several times slower), rotated 180 degrees because that camera is defined upside down (its up axis
points at the floor). metaworld is imported when a cell is made, so listing cell keys stays cheap.

Variation factors: light intensity, direction and colour (the model's three directional lights),
the "corner" camera's position and orientation offset, action noise and actuation delay.
"""

from __future__ import annotations

from collections.abc import Callable
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
    from core.sim.scene_variation import CameraRig, LightRig

CONTROL_DT_S = 0.0125  # timestep 2.5 ms x frame_skip 5
MAX_STEPS = 500  # Meta-World's max_path_length
CAMERA = "corner"
OBJECT_DROP_Z_M = -0.05  # the table top is z = 0 in Meta-World's frame
TABLE_CENTRE_XY = (0.0, 0.65)  # where light azimuth turns the lights about
# People watching see the arm and the whole table top.
OVERVIEW_MAX_PX = 720
OVERVIEW_CAMERA = {"distance": 1.7, "azimuth": 135.0, "elevation": -30.0, "lookat": (0.0, 0.65, 0.15)}

TASKS: dict[str, tuple[str, ...]] = {
    "reach-v3": ("reach the goal position", "move the gripper to the target", "reach to the goal"),
    "push-v3": ("push the puck to the goal", "slide the puck to the target", "push the block to the goal"),
    "pick-place-v3": (
        "pick up the puck and place it at the goal",
        "put the puck on the target",
        "pick and place the puck",
    ),
    "drawer-open-v3": ("open the drawer", "pull the drawer open", "slide the drawer out"),
    "button-press-topdown-v3": ("press the button from the top", "push the button down", "press the button"),
}


# Stages per task: (name, Meta-World step-info flag that marks it); each task's last is its success flag.
STAGES: dict[str, tuple[tuple[str, str], ...]] = {
    "reach-v3": (("at the goal", "success"),),
    "push-v3": (("reached the puck", "near_object"), ("at the goal", "success")),
    "pick-place-v3": (
        ("reached the puck", "near_object"),
        ("grasped and lifted", "grasp_success"),
        ("at the goal", "success"),
    ),
    "drawer-open-v3": (("reached the handle", "near_object"), ("drawer open", "success")),
    "button-press-topdown-v3": (("reached the button", "near_object"), ("pressed", "success")),
}


class MetaWorldCell(episode.LoggedCell):
    """A Cell (see core.sim.base.Cell) wrapping one Meta-World v3 task.

    Action: Meta-World's [dx, dy, dz, grip] in [-1, 1]. State: [hand x, y, z, gripper opening,
    goal x, y, z]. Faults: object off the table (drop, fatal), simulator instability (other, fatal),
    timeout.
    """

    def __init__(self, *, task: str, time_limit_s: float = MAX_STEPS * CONTROL_DT_S, image_px: int = 96) -> None:
        from metaworld.env_dict import ALL_V3_ENVIRONMENTS
        from metaworld.policies import ENV_POLICY_MAP
        from metaworld.policies.policy import Policy

        instructions = TASKS[task]
        self.info = CellInfo(
            key=f"metaworld-{task}",
            title=f"Meta-World {task} (Sawyer)",
            action_dim=4,
            state_dim=7,
            cameras=(CAMERA,),
            image_shape=(image_px, image_px, 3),
            control_dt_s=CONTROL_DT_S,
            default_instruction=instructions[0],
            instructions=instructions,
        )
        env = ALL_V3_ENVIRONMENTS[task](render_mode="rgb_array", camera_name=CAMERA, width=image_px, height=image_px)
        # What metaworld's goal-observable constructor does, but with per-reset randomisation drawn
        # from the env's own seeded generator instead of a frozen vector or numpy's global one.
        env._partially_observable = False
        env._freeze_rand_vec = False
        env.seeded_rand_vec = True
        env._set_task_called = True
        env.__dict__.pop("sawyer_observation_space", None)  # a cached_property that depends on the above
        env.max_path_length = max(MAX_STEPS, int(np.ceil(time_limit_s / CONTROL_DT_S)) + 1)
        env.model.vis.quality.shadowsize = 0
        env.model.vis.quality.offsamples = 0
        # Room in the offscreen framebuffer for the overview camera, which shares the env's context.
        env.model.vis.global_.offwidth = max(image_px, OVERVIEW_MAX_PX)
        env.model.vis.global_.offheight = max(image_px, OVERVIEW_MAX_PX)
        self._env: Any = env
        # The map's values are concrete policies; mypy sees their abstract base.
        expert: Callable[[], Policy] = ENV_POLICY_MAP[task]
        self._policy = expert()
        self._stages = STAGES[task]
        self._log = episode.EpisodeLog(time_limit_s=time_limit_s, stage_total=len(self._stages))
        self._overview: SceneRenderer | None = None  # made when the overview is first drawn
        self._overview_camera: Any = None
        self._obs = np.zeros(39)
        self._instruction = instructions[0]
        from core.sim import scene_variation  # imports mujoco, loaded with the env by now

        self._lights: LightRig = scene_variation.LightRig(env.model, centre=TABLE_CENTRE_XY)
        self._camera_rig: CameraRig = scene_variation.CameraRig(env.model, camera=CAMERA)
        # Sawyer's grip command is a finger position target: -1 keeps the gripper open, as it starts.
        self._actuation = Actuation(low=[-1.0] * 4, high=[1.0] * 4, noisy=[True, True, True, False], idle=[0, 0, 0, -1])
        self._factors: tuple[Factor, ...] = (
            *scene_variation.light_factors(),
            *scene_variation.camera_factors(),
            *actuation_factors(control_dt_s=CONTROL_DT_S),
        )

    def factors(self) -> tuple[Factor, ...]:
        """Light intensity, direction and colour, camera offsets, action noise, actuation delay."""
        return self._factors

    def _time_limit_changed(self, seconds: float) -> None:
        # Meta-World refuses steps past max_path_length: make room for the whole limit.
        self._env.max_path_length = max(MAX_STEPS, int(np.ceil(seconds / CONTROL_DT_S)) + 1)

    def reset(self, seed: int, instruction: str | None = None, variation: Levels | None = None) -> Observation:
        """Reset with object and goal positions drawn from the seed, at the factor levels in `variation`
        (None: nominal); returns the first observation. Raises VariationError for a bad level."""
        levels = levels_validate(self._factors, variation)
        # Before the env's reset, whose mj_forward places the lights and the camera from the model.
        self._lights.restore()
        self._lights.apply(levels)
        self._camera_rig.restore()
        self._camera_rig.apply(seed=seed, levels=levels)
        self._env.seed(seed)
        self._obs, _ = self._env.reset()
        self._actuation.reset(seed=seed, levels=levels)
        self._instruction = instruction or self.info.default_instruction
        self._log.reset()
        return self._observe()

    def step(self, action: npt.NDArray[np.float32]) -> Observation:
        """Apply the action for one 12.5 ms step; returns the new obs. Steps after the end change nothing."""
        if self._log.done:
            return self._observe()
        action = self._actuation.apply(action)
        act = np.clip(np.nan_to_num(np.asarray(action, dtype=np.float32).reshape(-1)[:4]), -1.0, 1.0)
        self._obs, _, _, _, info = self._env.step(act)
        self._log.advance(dt_s=CONTROL_DT_S)
        if self._env._did_see_sim_exception:
            self._log.fault(category=episode.OTHER, message="the simulation became unstable", fatal=True)
        elif self._obs[6] < OBJECT_DROP_Z_M:
            self._log.fault(category=episode.DROP, message="the object fell off the table", fatal=True)
        else:
            # Meta-World's reach task reports a distance as "near_object": only 0/1 flags are used here.
            flags = [float(info.get(flag, 0.0)) == 1.0 for _, flag in self._stages[:-1]]
            self._log.stage_reach(max((i + 1 for i, hit in enumerate(flags) if hit), default=0))
        if not self._log.done and info.get("success"):
            self._log.succeed()
        self._log.timeout_check()
        return self._observe()

    def expert_action(self) -> npt.NDArray[np.float32]:
        """Meta-World's scripted policy for this task on the current state; returns the action."""
        return np.clip(self._policy.get_action(self._obs), -1.0, 1.0).astype(np.float32)

    def stages(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self._stages)

    def render_overview(self, *, px: int) -> npt.NDArray[np.uint8]:
        """Arm and table from the front-right, px x px (upright, unlike the "corner" camera); one renderer, at any size."""
        from core.sim.render import free_camera, gym_overview_renderer

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
        o = self._obs
        state = np.concatenate([o[0:4], o[36:39]]).astype(np.float32)
        image = np.ascontiguousarray(self._env.render()[::-1, ::-1], dtype=np.uint8)
        return Observation(images={CAMERA: image}, state=state, instruction=self._instruction)


def _register(task: str) -> None:
    @cell_register(f"metaworld-{task}")
    def make(**kwargs: Any) -> MetaWorldCell:
        return MetaWorldCell(task=task, **kwargs)


for _task in TASKS:
    _register(_task)
