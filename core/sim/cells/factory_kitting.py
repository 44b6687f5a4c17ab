"""`factory-kitting`: a Cartesian two-finger gripper picks the named part from a bin into a kitting tray.

MuJoCo model in core/sim/assets/factory_kitting.xml (written for TrialBench). The seed sets the target
part (bracket, bolt or box, unless the instruction names one), every part's pose in the bin, the
distractor parts, the tray position and the lighting. Control at 10 Hz with 50 physics substeps of
2 ms, so `sim_time_s` is a realistic cycle time (the scripted expert takes about 4-7 s).

Variation factors (`factors()`, docs/variation-factors.md): light intensity, direction and colour,
camera position and orientation offset, the number of distractor parts, the target part's colour and
size, the table texture, action noise, actuation delay and the instruction phrasing set. Their levels
are applied on top of the seeded scene, with their own random streams, so a level changes only what
it names and all-nominal levels give today's episodes exactly.
"""

from __future__ import annotations

import os

# Set before mujoco loads libGL: EGL with Mesa's software rasteriser works on CPU-only workers, and
# one llvmpipe thread per process keeps several workers from fighting over cores.
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("LP_NUM_THREADS", "1")

import re  # noqa: E402
from dataclasses import dataclass, replace  # noqa: E402
from pathlib import Path  # noqa: E402

import mujoco  # noqa: E402
import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402

from core.sim import episode  # noqa: E402
from core.sim.actuation import Actuation, actuation_factors  # noqa: E402
from core.sim.base import CellInfo, Observation  # noqa: E402
from core.sim.parts import PartSpec, Upright, part_upright  # noqa: E402
from core.sim.registry import cell_register  # noqa: E402
from core.sim.render import SceneRenderer, close_at_exit, free_camera  # noqa: E402
from core.sim.scene_variation import CameraRig, LightRig, camera_factors, light_factors  # noqa: E402
from core.sim.variation import Factor, FactorKind, Level, Levels, factor_rng, levels_validate  # noqa: E402

KEY = "factory-kitting"
MODEL_PATH = Path(__file__).resolve().parent.parent / "assets" / "factory_kitting.xml"

CONTROL_DT_S = 0.1
PHYSICS_DT_S = 0.002
SUBSTEPS = round(CONTROL_DT_S / PHYSICS_DT_S)
SETTLE_STEPS = 150  # 0.3 s of physics after placing parts, before t = 0
MAX_SPEED_M_S = 0.25  # |action| <= 1 maps to 2.5 cm of tool travel per control step
TIME_LIMIT_S = 15.0
FORCE_LIMIT_N = 40.0  # pads squeeze with at most 12 N each (actuator forcerange), so 40 N means a crash
# Tool-centre-point workspace: reaches a little past the table edges (0.4 x 0.3 m half sizes), so a
# part can be dropped off the table, and 2 cm below the top, far enough to crash into it.
WORKSPACE_LO = np.array([-0.45, -0.34, -0.02])
WORKSPACE_HI = np.array([0.45, 0.34, 0.35])
FINGER_OPEN_M = 0.04  # per finger, so the pads open to an 8 cm gap
FINGER_CLOSE_CMD_M = -0.02  # beyond the joint limit: grip force is set by the actuator's force range
FINGER_MISS_M = 0.0015  # both fingers this near fully closed: the grip closed on nothing
TABLE_DROP_Z_M = -0.05
TRAY_FLOOR_Z_M = 0.005
TRAY_INNER_HALF_M = 0.07
TRAY_CENTRE_MARGIN_M = 0.012
UPRIGHT_TOLERANCE_RAD = float(np.deg2rad(25.0))
SETTLED_SPEED_M_S = 0.05
HOVER_Z_M = 0.10
# Scripted expert: tool heights on a cone of this slope above the grasp / place point (3 cm higher per
# cm of x-y error), flat within the first few mm; it closes or opens within these tolerances. The
# fingers open to 8 cm and the tray's inner floor is 14 cm across, so both are well inside what works.
EXPERT_FUNNEL_SLOPE = 3.0
EXPERT_FUNNEL_FLAT_M = 0.004
EXPERT_GRASP_XY_M = 0.008
EXPERT_PLACE_XY_M = 0.012
EXPERT_Z_TOL_M = 0.006
BIN_CENTRE = np.array([-0.2, 0.0])
TRAY_NOMINAL = np.array([0.2, 0.0])
DEFAULT_IMAGE_PX = 96
STAGES = ("reached the part", "grasped", "lifted", "over the tray", "placed", "released")
STAGE_REACH_XY_M = 0.02  # the tool this near the grasp point, in x-y and in z: "reached the part"
STAGE_REACH_Z_M = 0.015
STAGE_LIFT_M = 0.03  # held part's underside this far above where it rested: "lifted"
STAGE_PLACE_Z_M = 0.015  # part's underside this near the tray floor, inside the tray: "placed"
# Overview camera: the whole table from the front-left, above the operator's eye line.
OVERVIEW_MAX_PX = 720
OVERVIEW_CAMERA = {"lookat": (0.0, 0.0, 0.04), "distance": 1.15, "azimuth": 120.0, "elevation": -42.0}


PARTS: tuple[PartSpec, ...] = (
    PartSpec("bracket", 0.002, (0.0, -0.016, 0.015), Upright.Z_UP),  # grasped by its upright flange
    PartSpec("bolt", 0.0105, (0.008, 0.0, 0.0), Upright.X_LEVEL),  # across the middle of the shaft
    PartSpec("box", 0.02, (0.0, 0.0, 0.0), Upright.ANY),
)
PART_NAMES = tuple(p.name for p in PARTS)
# Parts go to distinct slots of a 2x2 grid in the bin, jittered: clear of the walls, and far enough
# apart that the open fingers fit beside a neighbour.
BIN_SLOTS = np.array([[-0.045, -0.06], [-0.045, 0.06], [0.045, -0.06], [0.045, 0.06]])
BIN_SLOT_JITTER_M = np.array([0.015, 0.015])
# Parts not in play this episode rest on the floor under the table, hidden by its base.
PARKED_XY = ((-0.15, 0.0), (0.0, 0.0), (0.15, 0.0))
PHRASINGS = (
    "place the {part} in the tray",
    "put the {part} into the tray",
    "pick up the {part} and put it in the tray",
    "move the {part} from the bin to the tray",
    "kit the {part} into the tray",
)
INSTRUCTIONS = tuple(p.format(part=name) for name in PART_NAMES for p in PHRASINGS)
_PART_WORD = re.compile(r"\b(" + "|".join(PART_NAMES) + r")s?\b", re.IGNORECASE)

# --- variation factors (see factors(); levels are checked by core.sim.variation.levels_validate)
DISTRACTORS = "distractors"
PART_COLOUR = "part_colour"
PART_SCALE = "part_scale"
TABLE_TEXTURE = "table_texture"
INSTRUCTION_SET = "instruction_set"
DISTRACTOR_LEVELS = ("seeded", "0", "1", "2")  # at most the two other part types
# Flat colours for the whole target part (every geom of it), in place of its own.
PART_COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.8, 0.12, 0.1),
    "blue": (0.12, 0.25, 0.8),
    "yellow": (0.9, 0.8, 0.12),
    "black": (0.06, 0.06, 0.07),
    "white": (0.92, 0.92, 0.9),
}
TABLE_MATERIALS = {"wood": "table_wood", "checker": "table_checker", "noise": "table_noise"}
# Phrasings the reference policy never saw in training (none contains another part's name).
UNSEEN_PHRASINGS = (
    "transfer the {part} over to the tray",
    "grab the {part} and drop it into the tray",
    "the {part} goes in the tray",
    "take the {part} out of the bin and set it in the tray",
    "fetch the {part} and leave it in the tray",
)
# Other names a shop floor uses for the parts; none contains a part key, so instruction_part() finds no part.
PART_SYNONYMS: dict[str, tuple[str, ...]] = {
    "bracket": ("angle plate", "mounting bracket piece", "L-plate"),
    "bolt": ("fastener", "screw", "hex screw"),
    "box": ("orange cube", "cube", "block"),
}
INSTRUCTION_SETS = ("trained", "paraphrase", "synonym", "paraphrase+synonym")


def instruction_part(instruction: str) -> str | None:
    """Returns the part type an instruction names ('bracket', 'bolt', 'box'), or None if it names none."""
    match = _PART_WORD.search(instruction)
    return match.group(1).lower() if match else None


def _funnel_goal(*, tool: npt.NDArray[np.float64], target: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Where the expert aims on its way down to `target` (x, y, z): above it, at a height on a cone
    (EXPERT_FUNNEL_SLOPE) over the target, capped at the hover height. A tool well below the cone for its
    x-y error (just after a grasp, or after a miss) first climbs straight up, so it never drags a held
    part or the open fingers sideways through the bin."""
    xy_err = float(np.linalg.norm(tool[:2] - target[:2]))
    cone_z = target[2] + EXPERT_FUNNEL_SLOPE * max(0.0, xy_err - EXPERT_FUNNEL_FLAT_M)
    goal_z = float(min(cone_z, max(HOVER_Z_M, target[2])))
    if tool[2] < goal_z - 0.015:
        return np.array([tool[0], tool[1], goal_z])
    return np.array([target[0], target[1], goal_z])


class FactoryKitting(episode.LoggedCell):
    """A Cell (see core.sim.base.Cell).

    Action: [dx, dy, dz, grip] in [-1, 1]; dx..dz move the tool centre point by up to 2.5 cm per step,
    grip > 0 closes the fingers. State: [x_m, y_m, z_m, finger_gap (0 closed .. 1 open)].
    Faults: a part off the table (drop), gripper contact force above the limit (collision), a move
    outside the workspace (safety_stop), all fatal; fingers closing on nothing (grasp_miss, warning);
    timeout.
    """

    def __init__(
        self,
        *,
        time_limit_s: float = TIME_LIMIT_S,
        image_px: int = DEFAULT_IMAGE_PX,
        force_limit_n: float = FORCE_LIMIT_N,
    ) -> None:
        self.info = CellInfo(
            key=KEY,
            title="Factory kitting: bin to tray (MuJoCo, Cartesian gripper)",
            action_dim=4,
            state_dim=4,
            cameras=("front",),
            image_shape=(image_px, image_px, 3),
            control_dt_s=CONTROL_DT_S,
            default_instruction=INSTRUCTIONS[0],
            instructions=INSTRUCTIONS,
        )
        self._force_limit_n = force_limit_n
        self._model = mujoco.MjModel.from_xml_path(str(MODEL_PATH))
        _wood_grain_fill(self._model, "table_wood_tex")  # before the renderer uploads the textures
        self._data = mujoco.MjData(self._model)
        self._image_px = image_px
        # One GL context for the policy camera and the overview (see core/sim/render.py); its
        # framebuffer fits the largest overview a trial may ask for.
        self._renderer: SceneRenderer | None = SceneRenderer(
            self._model, max_width=max(image_px, OVERVIEW_MAX_PX), max_height=max(image_px, OVERVIEW_MAX_PX)
        )
        close_at_exit(self)
        self._log = episode.EpisodeLog(time_limit_s=time_limit_s, stage_total=len(STAGES))
        self._overview_camera = free_camera(OVERVIEW_CAMERA)
        m = self._model
        self._qadr_tool = np.array([m.joint(j).qposadr[0] for j in ("gx", "gy", "gz")])
        self._qadr_fingers = np.array([m.joint(j).qposadr[0] for j in ("finger_l", "finger_r")])
        self._part_body = {p.name: m.body(p.name).id for p in PARTS}
        self._part_qadr = {p.name: m.joint(p.name).qposadr[0] for p in PARTS}
        self._part_dadr = {p.name: m.joint(p.name).dofadr[0] for p in PARTS}
        self._part_geoms = {p.name: np.flatnonzero(m.geom_bodyid == m.body(p.name).id) for p in PARTS}
        self._pad_l, self._pad_r = m.geom("pad_l").id, m.geom("pad_r").id
        self._touch_adr = np.array([m.sensor(n).adr[0] for n in ("palm_touch", "pad_l_touch", "pad_r_touch")])
        self._tray_body = m.body("tray").id
        self._light = m.light("main").id
        self._camera = m.camera("front").id
        self._light_pos0 = m.light_pos[self._light].copy()
        self._table = m.geom("table").id
        self._table_rgba0 = m.geom_rgba[self._table].copy()
        self._table_matid0 = int(m.geom_matid[self._table])
        self._lights = LightRig(m, centre=(0.0, 0.0))
        self._camera_rig = CameraRig(m, camera="front")
        self._part_geometry0 = {p.name: _GeometrySnapshot.of(m, p.name, self._part_geoms[p.name]) for p in PARTS}
        self._actuation = Actuation(low=[-1.0] * 4, high=[1.0] * 4, noisy=[True, True, True, False], idle=[0, 0, 0, -1])
        self._factors = _factors(CONTROL_DT_S)
        self._cmd = np.zeros(3)
        self._grip_closed = False
        self._miss_reported = False
        self._target = PARTS[0]
        self._active: list[PartSpec] = []
        self._instruction = INSTRUCTIONS[0]
        self._max_force_n = 0.0

    # --- Cell interface -------------------------------------------------------------------------
    def factors(self) -> tuple[Factor, ...]:
        """This cell's variation factors (docs/variation-factors.md has them as a table)."""
        return self._factors

    def reset(self, seed: int, instruction: str | None = None, variation: Levels | None = None) -> Observation:
        """Start an episode from the seed. An instruction naming a part makes that part the target;
        otherwise the seed picks it. `variation` sets factor levels (None: all nominal). Returns the
        first observation; raises VariationError naming a factor whose level this cell cannot take."""
        levels = levels_validate(self._factors, variation)
        m, d = self._model, self._data
        rng = np.random.default_rng(seed)
        seeded_target = PARTS[int(rng.integers(len(PARTS)))]
        named = instruction_part(instruction) if instruction else None
        target = next(p for p in PARTS if p.name == named) if named else seeded_target
        others = [p for p in PARTS if p is not target]
        n_distractors = int(rng.choice([0, 1, 2], p=[0.3, 0.4, 0.3]))
        order = rng.permutation(len(others))
        # The seeded layout is drawn whatever the distractor level, so the main stream (tray, lights,
        # every seeded part's pose, the tool's start) is the same at every level.
        seeded_active = [target] + [others[i] for i in order[:n_distractors]]
        wanted = n_distractors if levels[DISTRACTORS] == "seeded" else int(str(levels[DISTRACTORS]))
        self._active = [target] + [others[i] for i in order[:wanted]]
        self._target = target
        self._instruction = _phrase(
            instruction or PHRASINGS[0].format(part=target.name),
            part=target.name,
            phrasing_set=str(levels[INSTRUCTION_SET]),
            rng=factor_rng(seed, INSTRUCTION_SET),
        )

        mujoco.mj_resetData(m, d)
        self._lights.restore()
        m.body_pos[self._tray_body, :2] = TRAY_NOMINAL + rng.uniform([-0.04, -0.08], [0.04, 0.08])
        m.light_pos[self._light] = self._light_pos0 + np.array([*rng.uniform(-0.3, 0.3, size=2), 0.0])
        m.light_diffuse[self._light] = rng.uniform(0.45, 0.85) * rng.uniform(0.9, 1.0, size=3)
        m.vis.headlight.ambient[:] = rng.uniform(0.25, 0.45)
        self._scene_vary(seed, levels)

        slots = iter(rng.permutation(len(BIN_SLOTS)))
        poses: dict[str, tuple[npt.NDArray[np.float64], float]] = {}
        for part in PARTS:
            if part in seeded_active:
                poses[part.name] = (
                    BIN_SLOTS[next(slots)] + rng.uniform(-BIN_SLOT_JITTER_M, BIN_SLOT_JITTER_M),
                    rng.uniform(-0.5, 0.5),
                )
        extra = factor_rng(seed, DISTRACTORS)
        for part in self._active:
            if part.name not in poses:  # a distractor beyond the seeded ones: the next free slot
                xy = BIN_SLOTS[next(slots)] + extra.uniform(-BIN_SLOT_JITTER_M, BIN_SLOT_JITTER_M)
                poses[part.name] = (xy, extra.uniform(-0.5, 0.5))
        for part in PARTS:
            qadr = self._part_qadr[part.name]
            spec = self._target if part is target else part
            if part in self._active:
                xy, yaw = poses[part.name]
                pos = [BIN_CENTRE[0] + xy[0], BIN_CENTRE[1] + xy[1], spec.rest_z_m + 0.001]
            else:
                pos = [*PARKED_XY[PART_NAMES.index(part.name)], -0.75 + part.rest_z_m + 0.001]
                yaw = 0.0
            d.qpos[qadr : qadr + 3] = pos
            d.qpos[qadr + 3 : qadr + 7] = [np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)]

        self._cmd = np.array([rng.uniform(-0.1, 0.1), rng.uniform(-0.12, 0.12), rng.uniform(0.12, 0.2)])
        d.qpos[self._qadr_tool] = self._cmd
        d.qpos[self._qadr_fingers] = FINGER_OPEN_M
        d.ctrl[:3] = self._cmd
        d.ctrl[3:5] = FINGER_OPEN_M
        self._grip_closed = False
        self._miss_reported = False
        self._max_force_n = 0.0
        self._actuation.reset(seed=seed, levels=levels)
        mujoco.mj_step(m, d, nstep=SETTLE_STEPS)
        d.time = 0.0
        self._log.reset()
        return self._observe()

    def step(self, action: npt.NDArray[np.float32]) -> Observation:
        """Apply [dx, dy, dz, grip] for one 0.1 s control period; returns the new obs.

        Steps after the episode ended change nothing."""
        if self._log.done:
            return self._observe()
        m, d = self._model, self._data
        action = self._actuation.apply(action)
        act = np.clip(np.nan_to_num(np.asarray(action, dtype=np.float64).reshape(-1)[:4]), -1.0, 1.0)
        new_cmd = self._cmd + act[:3] * MAX_SPEED_M_S * CONTROL_DT_S
        self._log.advance(dt_s=CONTROL_DT_S)
        if np.any(new_cmd < WORKSPACE_LO) or np.any(new_cmd > WORKSPACE_HI):
            x, y, z = new_cmd
            self._log.fault(
                category=episode.SAFETY_STOP,
                message=f"workspace limit: commanded tool position ({x:.3f}, {y:.3f}, {z:.3f}) m is outside the cell",
                fatal=True,
            )
            return self._observe()
        close = bool(act[3] > 0.0)
        if close and not self._grip_closed:
            self._miss_reported = False
        self._grip_closed = close
        d.ctrl[3:5] = FINGER_CLOSE_CMD_M if close else FINGER_OPEN_M
        step_force_n = 0.0
        # Ramp the set-point across the substeps, as a robot controller interpolates between waypoints.
        for k in range(1, SUBSTEPS + 1):
            d.ctrl[:3] = self._cmd + (new_cmd - self._cmd) * (k / SUBSTEPS)
            mujoco.mj_step(m, d)
            step_force_n = max(step_force_n, self._gripper_contact_force_n())
        self._cmd = new_cmd
        self._max_force_n = max(self._max_force_n, step_force_n)
        self._judge(step_force_n)
        self._log.timeout_check()
        return self._observe()

    @property
    def target_part(self) -> str:
        """The part type this episode must place in the tray."""
        return self._target.name

    @property
    def max_contact_force_n(self) -> float:
        """The largest gripper contact force seen since reset, in newtons."""
        return self._max_force_n

    def expert_action(self) -> npt.NDArray[np.float32]:
        """Scripted expert from the current physical state (no hidden phase): approach the grasp point down
        a funnel (the lower the tool, the nearer it must be in x-y), close, lift, carry above the tray,
        lower down the same kind of funnel, open, retreat. Returns the action.

        The funnel rather than "align, then descend" is for the policies cloned from it: the height to aim
        for is a smooth function of the remaining x-y error, so a policy that localises the part to a
        centimetre still descends (and keeps correcting on the way down) instead of hovering until its
        estimate crosses a sharp threshold."""
        d = self._data
        tool = d.qpos[self._qadr_tool].copy()
        fingers = d.qpos[self._qadr_fingers]
        part_pos = d.xpos[self._part_body[self._target.name]]
        grip = 1.0 if self._grip_closed else -1.0
        if self._holding():
            grip = 1.0
            # Aim the part, not the tool, at the tray centre; lower it to 1 cm above the tray floor.
            goal_xy = self._tray_xy() + (tool[:2] - part_pos[:2])
            part_bottom_z = part_pos[2] - self._target.rest_z_m
            place_z = tool[2] - (part_bottom_z - (TRAY_FLOOR_Z_M + 0.01))
            xy_err = float(np.linalg.norm(tool[:2] - goal_xy))
            goal = _funnel_goal(tool=tool, target=np.array([*goal_xy, place_z]))
            if xy_err < EXPERT_PLACE_XY_M and abs(tool[2] - place_z) < EXPERT_Z_TOL_M:
                grip = -1.0
        elif self._target_in_tray_xy():
            goal, grip = np.array([*tool[:2], HOVER_Z_M]), -1.0
        else:
            grasp = self._grasp_point()
            xy_err = float(np.linalg.norm(tool[:2] - grasp[:2]))
            at_grasp = xy_err < EXPERT_GRASP_XY_M and abs(tool[2] - grasp[2]) < EXPERT_Z_TOL_M
            if self._grip_closed and np.all(fingers < FINGER_MISS_M):
                goal, grip = np.array([*tool[:2], HOVER_Z_M]), -1.0  # missed: open and back off
            elif at_grasp:
                goal, grip = grasp, 1.0
            elif self._grip_closed or np.any(fingers < FINGER_OPEN_M - 0.004):
                goal, grip = tool, -1.0  # open fully before moving on
            else:
                goal = _funnel_goal(tool=tool, target=grasp)
        move = np.clip((goal - self._cmd) / (MAX_SPEED_M_S * CONTROL_DT_S), -1.0, 1.0)
        return np.array([*move, grip], dtype=np.float32)

    def training_keypoints(self) -> npt.NDArray[np.float32]:
        """The target's grasp point and the tray floor's centre projected into the front camera's image,
        (2, 2) in [-1, 1], x right, y down: labels for an attention loss when training policies."""
        tray = np.array([*self._tray_xy(), TRAY_FLOOR_Z_M])
        return np.stack([self._project(self._grasp_point()), self._project(tray)]).astype(np.float32)

    def stages(self) -> tuple[str, ...]:
        return STAGES

    def render_overview(self, *, px: int) -> npt.NDArray[np.uint8]:
        """The whole table from above the front-left at px x px (up to OVERVIEW_MAX_PX), rendered in
        the policy camera's GL context."""
        if self._renderer is None:
            raise RuntimeError("factory-kitting cell is closed")
        return self._renderer.render(self._data, camera=self._overview_camera, width=px, height=px)

    def close(self) -> None:
        """Free the offscreen renderer (its GL context); the cell cannot render afterwards."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    # --- internals ------------------------------------------------------------------------------
    def _scene_vary(self, seed: int, levels: dict[str, Level]) -> None:
        """Lights, camera, table and target part at this episode's levels (each put back first, so a
        cell reused across episodes starts every one from the loaded model); returns nothing."""
        m = self._model
        self._lights.apply(levels)
        self._camera_rig.restore()
        self._camera_rig.apply(seed=seed, levels=levels)
        texture = str(levels[TABLE_TEXTURE])
        if texture == "nominal":
            m.geom_matid[self._table] = self._table_matid0
            m.geom_rgba[self._table] = self._table_rgba0
        else:
            m.geom_matid[self._table] = m.material(TABLE_MATERIALS[texture]).id
            m.geom_rgba[self._table] = (1.0, 1.0, 1.0, 1.0)  # the texture carries the colour
        for snapshot in self._part_geometry0.values():
            snapshot.restore(m)
        target = self._target
        scale = float(levels[PART_SCALE])
        if scale != 1.0:
            self._part_geometry0[target.name].scaled(m, scale)
            offset = tuple(float(v) * scale for v in target.grasp_offset_m)
            self._target = replace(target, rest_z_m=target.rest_z_m * scale, grasp_offset_m=offset)  # type: ignore[arg-type]
        colour = str(levels[PART_COLOUR])
        if colour != "nominal":
            m.geom_rgba[self._part_geoms[target.name], :3] = PART_COLOURS[colour]

    def _tray_xy(self) -> npt.NDArray[np.float64]:
        return np.array(self._model.body_pos[self._tray_body, :2], dtype=np.float64)

    def _project(self, point: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        # Pinhole model of the MuJoCo camera: it looks down its own -z axis with y up; fovy is vertical.
        d = self._data
        cam = self._camera
        local = d.cam_xmat[cam].reshape(3, 3).T @ (point - d.cam_xpos[cam])
        focal = 1.0 / np.tan(np.deg2rad(self._model.cam_fovy[cam]) / 2)  # in half-image units
        return np.array([focal * local[0] / -local[2], -focal * local[1] / -local[2]])

    def _grasp_point(self) -> npt.NDArray[np.float64]:
        body = self._part_body[self._target.name]
        rot = self._data.xmat[body].reshape(3, 3)
        point = self._data.xpos[body] + rot @ np.array(self._target.grasp_offset_m)
        # Pads reach 1 cm below the tool point: stay 3 mm clear of the table.
        point[2] = max(point[2], 0.013)
        return np.asarray(point, dtype=np.float64)

    def _gripper_contact_force_n(self) -> float:
        # Touch sensors (palm, each pad): summed contact normal force in newtons, cheap to read every substep.
        return float(self._data.sensordata[self._touch_adr].max())

    def _touching(self, geom: int, part: str) -> bool:
        d = self._data
        geoms = d.contact.geom[: d.ncon]
        part_geoms = self._part_geoms[part]
        return bool(
            np.any(
                ((geoms[:, 0] == geom) & np.isin(geoms[:, 1], part_geoms))
                | ((geoms[:, 1] == geom) & np.isin(geoms[:, 0], part_geoms))
            )
        )

    def _holding(self) -> bool:
        name = self._target.name
        return self._grip_closed and self._touching(self._pad_l, name) and self._touching(self._pad_r, name)

    def _target_in_tray_xy(self) -> bool:
        pos = self._data.xpos[self._part_body[self._target.name]]
        return bool(np.all(np.abs(pos[:2] - self._tray_xy()) <= TRAY_INNER_HALF_M - TRAY_CENTRE_MARGIN_M))

    def _judge(self, step_force_n: float) -> None:
        d = self._data
        for part in self._active:
            z = d.xpos[self._part_body[part.name], 2]
            if z < TABLE_DROP_Z_M:
                self._log.fault(category=episode.DROP, message=f"the {part.name} fell off the table", fatal=True)
                return
        if step_force_n > self._force_limit_n:
            self._log.fault(
                category=episode.COLLISION,
                message=f"gripper contact force {step_force_n:.0f} N above the {self._force_limit_n:.0f} N limit",
                fatal=True,
            )
            return
        if self._grip_closed and not self._miss_reported and np.all(d.qpos[self._qadr_fingers] < FINGER_MISS_M):
            self._miss_reported = True
            self._log.fault(category=episode.GRASP_MISS, message="fingers closed on nothing", fatal=False)
        self._log.stage_reach(self._stage_now())
        if self._target_placed():
            self._log.succeed()

    def _stage_now(self) -> int:
        """How many of STAGES the current physical state shows (before the success check)."""
        d = self._data
        part = self._target
        part_z = float(d.xpos[self._part_body[part.name], 2]) - part.rest_z_m  # its underside
        in_tray_low = self._target_in_tray_xy() and part_z - TRAY_FLOOR_Z_M < STAGE_PLACE_Z_M
        if in_tray_low:
            return 5
        if self._holding():
            if self._target_in_tray_xy():
                return 4
            return 3 if part_z > STAGE_LIFT_M else 2
        tool = d.qpos[self._qadr_tool]
        grasp = self._grasp_point()
        near = np.linalg.norm(tool[:2] - grasp[:2]) < STAGE_REACH_XY_M and abs(tool[2] - grasp[2]) < STAGE_REACH_Z_M
        return 1 if near else 0

    def _target_placed(self) -> bool:
        name = self._target.name
        body = self._part_body[name]
        d = self._data
        if not self._target_in_tray_xy():
            return False
        resting = abs(d.xpos[body, 2] - (TRAY_FLOOR_Z_M + self._target.rest_z_m)) < 0.008
        upright = self._upright(d.xmat[body].reshape(3, 3))
        dadr = self._part_dadr[name]
        settled = float(np.linalg.norm(d.qvel[dadr : dadr + 3])) < SETTLED_SPEED_M_S
        released = not (self._touching(self._pad_l, name) or self._touching(self._pad_r, name))
        return bool(resting and upright and settled and released)

    def _upright(self, rot: npt.NDArray[np.float64]) -> bool:
        return part_upright(self._target.upright, rot, tolerance_rad=UPRIGHT_TOLERANCE_RAD)

    def _finger_gap(self) -> float:
        return float(np.sum(self._data.qpos[self._qadr_fingers]) / (2 * FINGER_OPEN_M))

    def _observe(self) -> Observation:
        tool = self._data.qpos[self._qadr_tool]
        state = np.array([tool[0], tool[1], tool[2], self._finger_gap()], dtype=np.float32)
        return Observation(images={"front": self._render()}, state=state, instruction=self._instruction)

    def _render(self) -> npt.NDArray[np.uint8]:
        if self._renderer is None:
            raise RuntimeError("factory-kitting cell is closed")
        return self._renderer.render(self._data, camera="front", width=self._image_px, height=self._image_px)


@dataclass(frozen=True)
class _GeometrySnapshot:
    """A part's geometry and inertia as loaded: what part_scale scales and every reset puts back."""

    body: int
    geoms: npt.NDArray[np.intp]
    geom_size: npt.NDArray[np.float64]
    geom_pos: npt.NDArray[np.float64]
    geom_rbound: npt.NDArray[np.float64]
    geom_aabb: npt.NDArray[np.float64]
    geom_rgba: npt.NDArray[np.float32]
    bvh: slice  # the body's bounding-volume tree, which the broad phase reads (body frame)
    bvh_aabb: npt.NDArray[np.float64]
    mass: float
    inertia: npt.NDArray[np.float64]
    ipos: npt.NDArray[np.float64]

    @classmethod
    def of(cls, m: mujoco.MjModel, body_name: str, geoms: npt.NDArray[np.intp]) -> _GeometrySnapshot:
        body = m.body(body_name).id
        bvh = slice(int(m.body_bvhadr[body]), int(m.body_bvhadr[body] + m.body_bvhnum[body]))
        return cls(
            body=body,
            geoms=geoms,
            geom_size=m.geom_size[geoms].copy(),
            geom_pos=m.geom_pos[geoms].copy(),
            geom_rbound=m.geom_rbound[geoms].copy(),
            geom_aabb=m.geom_aabb[geoms].copy(),
            geom_rgba=m.geom_rgba[geoms].copy(),
            bvh=bvh,
            bvh_aabb=m.bvh_aabb[bvh].copy(),
            mass=float(m.body_mass[body]),
            inertia=m.body_inertia[body].copy(),
            ipos=m.body_ipos[body].copy(),
        )

    def restore(self, m: mujoco.MjModel) -> None:
        g = self.geoms
        m.geom_size[g], m.geom_pos[g], m.geom_rgba[g] = self.geom_size, self.geom_pos, self.geom_rgba
        m.geom_rbound[g], m.geom_aabb[g], m.bvh_aabb[self.bvh] = self.geom_rbound, self.geom_aabb, self.bvh_aabb
        m.body_mass[self.body], m.body_inertia[self.body], m.body_ipos[self.body] = self.mass, self.inertia, self.ipos

    def scaled(self, m: mujoco.MjModel, scale: float) -> None:
        """Every length of the part times `scale`, at the same density (mass x scale^3, inertia x scale^5)."""
        g = self.geoms
        m.geom_size[g] = self.geom_size * scale
        m.geom_pos[g] = self.geom_pos * scale
        m.geom_rbound[g] = self.geom_rbound * scale
        m.geom_aabb[g] = self.geom_aabb * scale  # centre and half sizes, both lengths in the geom's frame
        m.bvh_aabb[self.bvh] = self.bvh_aabb * scale  # likewise, in the body's frame
        m.body_mass[self.body] = self.mass * scale**3
        m.body_inertia[self.body] = self.inertia * scale**5
        m.body_ipos[self.body] = self.ipos * scale


def _phrase(instruction: str, *, part: str, phrasing_set: str, rng: np.random.Generator) -> str:
    """The instruction as the policy reads it under an instruction phrasing set: as given ("trained"),
    an unseen paraphrase naming the part, the same words with a synonym for the part, or both."""
    if phrasing_set == "trained":
        return instruction
    text = instruction
    if "paraphrase" in phrasing_set:
        text = UNSEEN_PHRASINGS[int(rng.integers(len(UNSEEN_PHRASINGS)))].format(part=part)
    if "synonym" in phrasing_set:
        synonyms = PART_SYNONYMS[part]
        synonym = synonyms[int(rng.integers(len(synonyms)))]
        if _PART_WORD.search(text):
            text = _PART_WORD.sub(synonym, text, count=1)
        else:  # an instruction that names no part: the default phrasing, with the synonym
            text = PHRASINGS[0].format(part=synonym)
    return text


def _wood_grain_fill(m: mujoco.MjModel, texture: str) -> None:
    """Fill a flat texture with wood grain (rings stretched along x, a little noise); fixed, not seeded."""
    tex = m.texture(texture).id
    h, w, channels = int(m.tex_height[tex]), int(m.tex_width[tex]), int(m.tex_nchannel[tex])
    y, x = np.mgrid[0:h, 0:w] / np.array([h, w]).reshape(2, 1, 1)
    noise = np.random.default_rng(7).normal(0.0, 1.0, size=(h, w))
    rings = 0.5 + 0.5 * np.sin(2 * np.pi * (9.0 * y + 0.6 * np.sin(2 * np.pi * x) + 0.08 * noise))
    light, dark = np.array([0.72, 0.53, 0.33]), np.array([0.45, 0.3, 0.17])
    rgb = dark + (light - dark) * rings[..., None]
    pixels = np.clip(rgb * 255, 0, 255).astype(np.uint8)
    if channels == 4:
        pixels = np.concatenate([pixels, np.full((h, w, 1), 255, np.uint8)], axis=2)
    adr = int(m.tex_adr[tex])
    m.tex_data[adr : adr + h * w * channels] = pixels.reshape(-1)


def _factors(control_dt_s: float) -> tuple[Factor, ...]:
    return (
        *light_factors(),
        *camera_factors(),
        Factor(
            key=DISTRACTORS,
            title="Distractor parts",
            unit="parts",
            nominal="seeded",
            kind=FactorKind.CATEGORY,
            choices=DISTRACTOR_LEVELS,
            description=(
                "Other part types in the bin beside the target: the seeded draw (0, 1 or 2 with "
                "probabilities 0.3, 0.4, 0.3), or exactly 0, 1 or 2. The seeded parts keep their poses; "
                "one added beyond them goes to a free bin slot."
            ),
        ),
        Factor(
            key=PART_COLOUR,
            title="Part colour",
            unit="colour",
            nominal="nominal",
            kind=FactorKind.CATEGORY,
            choices=("nominal", *PART_COLOURS),
            description="The whole target part in one flat colour instead of its own (bracket teal, bolt steel, box orange).",
        ),
        Factor(
            key=PART_SCALE,
            title="Part size",
            unit="x nominal",
            nominal=1.0,
            low=0.7,
            high=1.3,
            description="Every length of the target part scaled, at the same density (the grasp point scales with it).",
        ),
        Factor(
            key=TABLE_TEXTURE,
            title="Table texture",
            unit="texture",
            nominal="nominal",
            kind=FactorKind.CATEGORY,
            choices=("nominal", *TABLE_MATERIALS),
            description="The table top plain (nominal), wood grain, a checkerboard or speckled noise.",
        ),
        *actuation_factors(control_dt_s=control_dt_s),
        Factor(
            key=INSTRUCTION_SET,
            title="Instruction phrasing set",
            unit="phrasing set",
            nominal="trained",
            kind=FactorKind.CATEGORY,
            choices=INSTRUCTION_SETS,
            description=(
                "The instruction as given (trained phrasings), an unseen paraphrase naming the same part, "
                "the same words with a shop-floor synonym for the part ('fastener' for the bolt, 'orange "
                "cube' for the box), or both; drawn per seed. The target part is decided before rephrasing."
            ),
        ),
    )


@cell_register(KEY)
def make(**kwargs: float) -> FactoryKitting:
    """A new factory-kitting cell; kwargs: time_limit_s, image_px, force_limit_n."""
    return FactoryKitting(**kwargs)  # type: ignore[arg-type]
