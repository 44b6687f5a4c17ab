"""`tabletop-reach-2d`: a kinematic planar gripper moves a block into a tray, seen from above.

Pure numpy, no physics engine: thousands of steps per second, so the runner, the policy runtime and
the reference policy can be exercised end to end in tests. Geometry in metres on a 0.6 m x 0.6 m
table; the camera is a 64x64 top-down view drawn with numpy.

Variation factors: light intensity (the drawn image's brightness), action noise and actuation delay.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from core.sim import episode
from core.sim.actuation import Actuation, actuation_factors
from core.sim.base import CellInfo, Observation
from core.sim.registry import cell_register
from core.sim.variation import Factor, Levels, levels_validate

KEY = "tabletop-reach-2d"
TABLE_M = 0.6
IMAGE_PX = 64
CONTROL_DT_S = 0.1
MAX_SPEED_M_S = 0.3  # |dx|, |dy| <= 1 maps to 0.03 m per control step
TIME_LIMIT_S = 10.0
GRASP_RADIUS_M = 0.03
PART_HALF_M = 0.02
TRAY_HALF_M = 0.06
# The part's centre must lie this deep inside the tray, so the whole block rests on the tray floor.
TRAY_INNER_HALF_M = TRAY_HALF_M - PART_HALF_M
EXPERT_REACHED_M = 0.015
STAGES = ("reached the block", "grasped", "over the tray", "released")
# Finger opening reported in the proprio state: open, closed on nothing, closed on the block.
FINGER_OPEN, FINGER_CLOSED, FINGER_ON_PART = 1.0, 0.0, 0.4

INSTRUCTIONS = (
    "move the part to the tray",
    "put the part in the tray",
    "place the block into the tray",
    "pick up the block and drop it in the tray",
)
PART_COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (200, 40, 40),
    "blue": (40, 70, 200),
    "green": (40, 160, 60),
    "orange": (230, 140, 30),
}
TABLE_RGB = (150, 130, 105)
TRAY_RIM_RGB = (60, 60, 60)
TRAY_FLOOR_RGB = (185, 185, 175)
GRIPPER_RGB = (20, 20, 20)
LIGHT_INTENSITY = "light_intensity"  # the same key as the MuJoCo cells' (core.sim.scene_variation)
FACTORS: tuple[Factor, ...] = (
    Factor(
        key=LIGHT_INTENSITY,
        title="Light intensity",
        unit="x nominal",
        nominal=1.0,
        low=0.2,
        high=2.5,
        description="Every pixel of the drawn image scaled by this factor (clipped at white).",
    ),
    *actuation_factors(control_dt_s=CONTROL_DT_S),
)


def _px(value_m: float, size_px: int = IMAGE_PX) -> int:
    return int(round(value_m / TABLE_M * size_px))


class TabletopReach2D(episode.LoggedCell):
    """A Cell (see core.sim.base.Cell). Action: [dx, dy, grip] in [-1, 1]; grip > 0 closes the fingers.

    State: [x_m, y_m, finger_opening]. Faults: leaving the table (safety_stop, fatal), closing on
    nothing (grasp_miss), releasing the block outside the tray (drop), timeout after 10 s.
    """

    def __init__(self, *, time_limit_s: float = TIME_LIMIT_S) -> None:
        self.info = CellInfo(
            key=KEY,
            title="Tabletop reach 2D (kinematic, numpy)",
            action_dim=3,
            state_dim=3,
            cameras=("top",),
            image_shape=(IMAGE_PX, IMAGE_PX, 3),
            control_dt_s=CONTROL_DT_S,
            default_instruction=INSTRUCTIONS[0],
            instructions=INSTRUCTIONS,
        )
        self._log = episode.EpisodeLog(time_limit_s=time_limit_s, stage_total=len(STAGES))
        self._gripper = np.zeros(2)
        self._part = np.zeros(2)
        self._tray = np.zeros(2)
        self._closed = False
        self._holding = False
        self._colour = "red"
        self._instruction = INSTRUCTIONS[0]
        self._brightness = 1.0
        self._actuation = Actuation(low=[-1.0] * 3, high=[1.0] * 3, noisy=[True, True, False], idle=[0, 0, -1])

    def factors(self) -> tuple[Factor, ...]:
        """Light intensity, action noise and actuation delay."""
        return FACTORS

    # --- Cell interface -------------------------------------------------------------------------
    def reset(self, seed: int, instruction: str | None = None, variation: Levels | None = None) -> Observation:
        """Start an episode; block, tray, gripper positions and block colour come from the seed, the factor
        levels from `variation` (None: nominal). Returns the obs; raises VariationError for a bad level."""
        levels = levels_validate(FACTORS, variation)
        self._brightness = float(levels[LIGHT_INTENSITY])
        self._actuation.reset(seed=seed, levels=levels)
        rng = np.random.default_rng(seed)
        self._tray = rng.uniform(0.12, TABLE_M - 0.12, size=2)
        while True:
            part = rng.uniform(0.06, TABLE_M - 0.06, size=2)
            # Start the block clearly outside the tray so every episode needs a carry.
            if np.max(np.abs(part - self._tray)) > TRAY_HALF_M + 0.08:
                break
        self._part = part
        self._gripper = rng.uniform(0.1, TABLE_M - 0.1, size=2)
        self._colour = str(rng.choice(list(PART_COLOURS)))
        self._closed = False
        self._holding = False
        self._instruction = instruction or self.info.default_instruction
        self._log.reset()
        return self._observe()

    def step(self, action: npt.NDArray[np.float32]) -> Observation:
        """Apply [dx, dy, grip] for one control period; returns the new obs. Steps after the end change nothing."""
        if self._log.done:
            return self._observe()
        action = self._actuation.apply(action)
        act = np.clip(np.nan_to_num(np.asarray(action, dtype=np.float64).reshape(-1)[:3]), -1.0, 1.0)
        target = self._gripper + act[:2] * MAX_SPEED_M_S * CONTROL_DT_S
        self._log.advance(dt_s=CONTROL_DT_S)
        if np.any(target < 0.0) or np.any(target > TABLE_M):
            self._log.fault(
                category=episode.SAFETY_STOP,
                message=f"workspace limit: commanded ({target[0]:.3f}, {target[1]:.3f}) m is off the table",
                fatal=True,
            )
            return self._observe()
        self._gripper = target
        if self._holding:
            self._part = self._gripper.copy()
        close = bool(act[2] > 0.0)
        if close and not self._closed:
            if np.linalg.norm(self._part - self._gripper) <= GRASP_RADIUS_M:
                self._holding = True
                self._part = self._gripper.copy()
            else:
                self._log.fault(category=episode.GRASP_MISS, message="fingers closed on nothing", fatal=False)
        elif not close and self._closed and self._holding:
            self._holding = False
            if not self._in_tray():
                self._log.fault(category=episode.DROP, message="block released outside the tray", fatal=False)
        self._closed = close
        if self._holding:
            self._log.stage_reach(3 if self._in_tray() else 2)
        elif np.linalg.norm(self._part - self._gripper) <= GRASP_RADIUS_M:
            self._log.stage_reach(1)
        if not self._holding and self._in_tray():
            self._log.succeed()
        self._log.timeout_check()
        return self._observe()

    def expert_action(self) -> npt.NDArray[np.float32]:
        """Scripted expert: reach the block, close, carry to the tray centre, open. Returns the action.

        It closes (and opens) within EXPERT_REACHED_M of its goal, half the grasp radius and well inside
        the tray, not at the last millimetre: a policy cloned from it then closes once its own estimate
        of the block's position says "near enough", rather than hovering until it is exact."""
        if self._holding:
            goal, grip_when_there = self._tray, -1.0
        else:
            goal, grip_when_there = self._part, 1.0
        delta = goal - self._gripper
        move = np.clip(delta / (MAX_SPEED_M_S * CONTROL_DT_S), -1.0, 1.0)
        there = float(np.linalg.norm(delta)) < EXPERT_REACHED_M
        if there:
            grip = grip_when_there
        else:
            # Keep the fingers as they are while travelling: open when reaching, closed when carrying.
            grip = 1.0 if self._holding else -1.0
        return np.array([move[0], move[1], grip], dtype=np.float32)

    def training_keypoints(self) -> npt.NDArray[np.float32]:
        """The block and the tray centre in the top camera's image, (2, 2) in [-1, 1], x right, y down:
        labels for an attention loss when training policies."""
        points = np.stack([self._part, self._tray]) / TABLE_M * 2.0 - 1.0
        points[:, 1] = -points[:, 1]  # image rows grow downwards
        return points.astype(np.float32)

    def stages(self) -> tuple[str, ...]:
        return STAGES

    def render_overview(self, *, px: int) -> npt.NDArray[np.uint8]:
        """The policy's top-down view drawn at px x px."""
        return self._render(px)

    def close(self) -> None:
        """Nothing to free: no simulator or renderer."""

    # --- internals ------------------------------------------------------------------------------
    def _in_tray(self) -> bool:
        return bool(np.all(np.abs(self._part - self._tray) <= TRAY_INNER_HALF_M))

    def _finger_opening(self) -> float:
        if not self._closed:
            return FINGER_OPEN
        return FINGER_ON_PART if self._holding else FINGER_CLOSED

    def _observe(self) -> Observation:
        state = np.array([self._gripper[0], self._gripper[1], self._finger_opening()], dtype=np.float32)
        image = self._render()
        if self._brightness != 1.0:
            image = np.clip(image * self._brightness, 0, 255).astype(np.uint8)
        return Observation(images={"top": image}, state=state, instruction=self._instruction)

    def _render(self, size_px: int = IMAGE_PX) -> npt.NDArray[np.uint8]:
        img = np.empty((size_px, size_px, 3), dtype=np.uint8)
        img[:] = TABLE_RGB
        # Image rows grow downwards; world y grows upwards, so row = size_px - y.
        self._rect(img, self._tray, TRAY_HALF_M, TRAY_RIM_RGB)
        self._rect(img, self._tray, TRAY_HALF_M - 0.01, TRAY_FLOOR_RGB)
        self._rect(img, self._part, PART_HALF_M, PART_COLOURS[self._colour])
        gx, gy = _px(self._gripper[0], size_px), size_px - _px(self._gripper[1], size_px)
        # The gripper's pixel sizes were drawn for 64 px; scale them (integer steps) for larger views.
        k = max(1, round(size_px / IMAGE_PX))
        gap = (1 if self._closed else 3) * k
        for side in (-1, 1):
            col = gx + side * gap
            img[max(gy - 3 * k, 0) : max(gy + 4 * k, 0), max(col, 0) : max(col + k, 0)] = GRIPPER_RGB
        img[max(gy - 4 * k, 0) : max(gy - 3 * k, 0), max(gx - gap, 0) : max(gx + gap + k, 0)] = GRIPPER_RGB
        return img

    @staticmethod
    def _rect(
        img: npt.NDArray[np.uint8], centre: npt.NDArray[np.float64], half_m: float, rgb: tuple[int, int, int]
    ) -> None:
        size_px = img.shape[0]
        x0, x1 = _px(centre[0] - half_m, size_px), _px(centre[0] + half_m, size_px)
        y0, y1 = size_px - _px(centre[1] + half_m, size_px), size_px - _px(centre[1] - half_m, size_px)
        img[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = rgb


@cell_register(KEY)
def make(**kwargs: float) -> TabletopReach2D:
    """A new tabletop-reach-2d cell; kwargs: time_limit_s."""
    return TabletopReach2D(**kwargs)
