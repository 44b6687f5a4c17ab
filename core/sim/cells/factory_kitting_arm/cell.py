"""The `factory-kitting-arm` cell: a Franka Panda picks the named part from a feeder bin into its kit-tray pocket.

The station (bench, feeder bin, tray fixture and kit tray, parts, lamp, cell frame, cameras) is
core/sim/assets/factory_kitting_arm.xml; the arm and its two-finger gripper are robosuite 1.5.2's Panda
MJCF, loaded from the installed package (never copied here) and attached to the station with MjSpec.
The seed sets the target part (bracket, bolt or box, unless the instruction names one), every part's
pose in the bin, the distractor parts, the tray's position and the lighting; the variation factors
(`factors()`) add light, camera, clutter, action noise and actuation delay on top. Control at 10 Hz,
20 physics substeps of 5 ms, so `sim_time_s` is a realistic cycle time (the expert places a part after about 3-5 s).

The arm is driven in Cartesian space: an action moves the tool centre point's set-point, differential
inverse kinematics (damped least squares, posture held in the null space, joint limits enforced) turns
it into joint targets, and joint position servos track them. The hand stays pointing down with the
fingers closing along the world y axis.
"""

from __future__ import annotations

import collections
import copy

import mujoco
import numpy as np
import numpy.typing as npt

from core.sim import episode
from core.sim.base import CellInfo, Observation
from core.sim.cells.factory_kitting_arm.station import ARM_PREFIX, GRIPPER_PREFIX, SCENE_PATH, station_model
from core.sim.cells.factory_kitting_arm.task import (
    BIN_SLOT_JITTER_M,
    BIN_SLOTS,
    CLUTTER_BODIES,
    CLUTTER_HI,
    CLUTTER_LO,
    CLUTTER_SPACING_M,
    CONTROL_DT_S,
    FACTORS,
    INSTRUCTIONS,
    LIGHT_TINTS,
    PARKED_XY,
    PART_NAMES,
    PART_YAW_RAD,
    PARTS,
    PHRASINGS,
    instruction_part,
)
from core.sim.parts import PartSpec, part_upright
from core.sim.registry import cell_register
from core.sim.render import SceneRenderer, close_at_exit, free_camera
from core.sim.variation import Factor, Levels, factor_rng, levels_validate

KEY = "factory-kitting-arm"

PHYSICS_DT_S = 0.005
SUBSTEPS = round(CONTROL_DT_S / PHYSICS_DT_S)
SETTLE_STEPS = 60  # 0.3 s of physics after placing parts, before t = 0
MAX_SPEED_M_S = 0.25  # |action| <= 1 maps to 2.5 cm of tool travel per control step
TIME_LIMIT_S = 15.0
FORCE_LIMIT_N = 60.0  # the fingers squeeze with 15 N each (actuator forcerange); a crash reads 100s of N
TARGET_FORCE_LIMIT_N = 150.0  # summed over the grasped part's contacts with the gripper (see _crash_force_n)
# Tool-centre-point set-points the cell accepts: the bench plus a margin, and 2 cm below its top, far
# enough to crash into it; beyond this the controller refuses the move (safety stop).
WORKSPACE_LO = np.array([-0.38, -0.24, -0.02])
WORKSPACE_HI = np.array([0.40, 0.24, 0.35])
IK_ITERATIONS = 2
IK_DAMPING = 0.02
IK_POSTURE_GAIN = 0.2
IK_JOINT_MARGIN_RAD = 0.02
_IK_DAMPING_EYE = IK_DAMPING**2 * np.eye(6)
IK_REACH_TOL_M = 0.01  # a set-point the joint-limited arm misses by more than this is out of reach
# Panda's "ready" posture, turned so the fingers close along world y (joint 7 a quarter turn from the
# usual 0.785 rad); the IK's null-space bias keeps the elbow near it.
ARM_HOME_Q = np.array([0.0, -0.6, 0.0, -2.4, 0.0, 1.8, -0.785])
FINGER_OPEN_M = 0.03  # per finger: a 6 cm gap, so open fingers clear a pocket's walls
FINGER_CLOSE_CMD_M = -0.02  # beyond the joint limit: grip force is set by the actuator's force range
FINGER_MISS_M = 0.0015  # both fingers this near fully closed: the grip closed on nothing
TABLE_DROP_Z_M = -0.05
TRAY_FLOOR_Z_M = 0.008
POCKET_HALF_M = np.array([0.0475, 0.055])
POCKET_CENTRE_MARGIN_M = 0.012
# Pocket centres in the tray's frame, one per part type (the kit's layout).
POCKET_OFFSETS = {"bracket": np.array([-0.099, 0.0]), "bolt": np.array([0.0, 0.0]), "box": np.array([0.099, 0.0])}
UPRIGHT_TOLERANCE_RAD = float(np.deg2rad(25.0))
SETTLED_SPEED_M_S = 0.05
HOVER_Z_M = 0.12
# The finger tips reach 12.5 mm below the tool centre point: grasp no lower than this over the bench.
GRASP_MIN_Z_M = 0.016
RELEASE_HEIGHT_M = 0.012  # the expert lets go with the part's underside this far above the pocket floor
RETREAT_POS = np.array([0.0, 0.05, 0.22])  # where the expert parks the tool after a release
# Scripted expert: tool heights on a cone of this slope above the grasp / place point (3 cm higher per
# cm of x-y error), flat within the first few mm; it closes or opens within these tolerances.
EXPERT_FUNNEL_SLOPE = 3.0
EXPERT_FUNNEL_FLAT_M = 0.004
EXPERT_GRASP_XY_M = 0.006
EXPERT_PLACE_XY_M = 0.008
EXPERT_Z_TOL_M = 0.006
BIN_CENTRE = np.array([-0.2, 0.0])
TRAY_NOMINAL = np.array([0.2, 0.0])
TRAY_JITTER_M = np.array([0.03, 0.06])
DEFAULT_IMAGE_PX = 96
# The policy's cameras: the fixed one in front of the bench and the one on the hand (station.py).
POLICY_CAMERAS = ("front", "wrist")
STAGES = ("reached the part", "grasped", "lifted", "over its pocket", "placed", "released")
STAGE_REACH_XY_M = 0.02  # the tool this near the grasp point, in x-y and in z: "reached the part"
STAGE_REACH_Z_M = 0.015
STAGE_LIFT_M = 0.03  # held part's underside this far above where it rested: "lifted"
STAGE_PLACE_Z_M = 0.015  # part's underside this near the pocket floor, inside its pocket: "placed"
OVERVIEW_MAX_PX = 720
# Overview camera: the bench and the whole arm from the front-left, above the operator's eye line.
OVERVIEW_CAMERA = {"lookat": (0.0, 0.08, 0.18), "distance": 1.45, "azimuth": 128.0, "elevation": -30.0}
# Arm link colours for the coarse collision meshes the policy camera draws (see _show_detail).
LINK_RGBA = (0.93, 0.93, 0.95, 1.0)
JOINT_RGBA = (0.25, 0.25, 0.27, 1.0)
FINGER_RGBA = (0.45, 0.45, 0.47, 1.0)


def _funnel_goal(*, tool: npt.NDArray[np.float64], target: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Where the expert aims on its way down to `target` (x, y, z): above it, at a height on a cone
    (EXPERT_FUNNEL_SLOPE) over the target, capped at the hover height. A tool well below the cone for its
    x-y error (just after a grasp, or after a miss) first climbs straight up, so it never drags a held
    part or the open fingers sideways through the bin or across a pocket wall."""
    xy_err = float(np.linalg.norm(tool[:2] - target[:2]))
    cone_z = target[2] + EXPERT_FUNNEL_SLOPE * max(0.0, xy_err - EXPERT_FUNNEL_FLAT_M)
    goal_z = float(min(cone_z, max(HOVER_Z_M, target[2])))
    if tool[2] < goal_z - 0.015:
        return np.array([tool[0], tool[1], goal_z])
    return np.array([target[0], target[1], goal_z])


def _rotation_about(axis: npt.NDArray[np.float64], angle_rad: float) -> npt.NDArray[np.float64]:
    quat = np.zeros(4)
    mujoco.mju_axisAngle2Quat(quat, axis, angle_rad)
    rot = np.zeros(9)
    mujoco.mju_quat2Mat(rot, quat)
    return rot.reshape(3, 3)


class FactoryKittingArm(episode.LoggedCell):
    """A Cell (see core.sim.base.Cell).

    Action: [dx, dy, dz, grip] in [-1, 1]; dx..dz move the tool centre point's set-point by up to 2.5 cm
    per step, grip > 0 closes the fingers. State (11): [tool x, y, z (m), finger gap (0 closed .. 1 open),
    the seven arm joint positions (rad)].
    Faults, all fatal unless noted: a part off the table (drop); an arm link touching anything, or
    touching another link (self-collision), or a gripper contact force above the limit (collision); a
    set-point outside the workspace or out of the arm's reach (safety_stop); fingers closing on nothing
    (grasp_miss, a warning); timeout.
    """

    def __init__(
        self,
        *,
        time_limit_s: float = TIME_LIMIT_S,
        image_px: int = DEFAULT_IMAGE_PX,
        force_limit_n: float = FORCE_LIMIT_N,
        hold_after_success_s: float = 0.0,
    ) -> None:
        self.info = CellInfo(
            key=KEY,
            title="Factory kitting: bin to kit tray (MuJoCo, Franka Panda arm)",
            action_dim=4,
            state_dim=11,
            cameras=POLICY_CAMERAS,
            image_shape=(image_px, image_px, 3),
            control_dt_s=CONTROL_DT_S,
            default_instruction=INSTRUCTIONS[0],
            instructions=INSTRUCTIONS,
        )
        self._force_limit_n = force_limit_n
        # Evaluation option: keep the episode running this long after the part is placed, so a policy that
        # drives into the tray once it is done fails (the success counts once the hold passes fault-free).
        self._hold_after_success_s = float(hold_after_success_s)
        self._placed_at_s: float | None = None
        self._model = copy.deepcopy(station_model())
        if abs(self._model.opt.timestep * SUBSTEPS - CONTROL_DT_S) > 1e-9:
            raise ValueError(f"{SCENE_PATH.name}: timestep must be {PHYSICS_DT_S} s")
        self._data = mujoco.MjData(self._model)
        self._ik_data = mujoco.MjData(self._model)  # kinematics scratch for the IK, never stepped
        mujoco.mj_forward(self._model, self._data)  # so the overview draws the station before any reset
        self._image_px = image_px
        # One GL context for the policy camera and the overview (see core/sim/render.py).
        self._renderer: SceneRenderer | None = SceneRenderer(
            self._model, max_width=max(image_px, OVERVIEW_MAX_PX), max_height=max(image_px, OVERVIEW_MAX_PX)
        )
        close_at_exit(self)
        self._log = episode.EpisodeLog(time_limit_s=time_limit_s, stage_total=len(STAGES))
        self._overview_camera = free_camera(OVERVIEW_CAMERA)
        self._index_model()
        self._cmd = np.zeros(3)
        self._q_target = ARM_HOME_Q.copy()
        self._grip_closed = False
        self._miss_reported = False
        self._target = PARTS[0]
        self._active: list[PartSpec] = []
        self._instruction = INSTRUCTIONS[0]
        self._max_force_n = 0.0
        self._levels: dict[str, float | str] = levels_validate(FACTORS, None)
        self._noise_rng = factor_rng(0, "action_noise")
        # Actions on their way to the controller (the actuation delay); None: none was sent yet.
        self._pending: collections.deque[npt.NDArray[np.float64] | None] = collections.deque()

    def _index_model(self) -> None:
        m = self._model
        a = ARM_PREFIX
        g = ARM_PREFIX + GRIPPER_PREFIX
        self._arm_joints = [m.joint(f"{a}joint{i}").id for i in range(1, 8)]
        self._qadr_arm = np.array([m.jnt_qposadr[j] for j in self._arm_joints])
        self._dadr_arm = np.array([m.jnt_dofadr[j] for j in self._arm_joints])
        self._q_lo = m.jnt_range[self._arm_joints, 0] + IK_JOINT_MARGIN_RAD
        self._q_hi = m.jnt_range[self._arm_joints, 1] - IK_JOINT_MARGIN_RAD
        self._qadr_fingers = np.array([m.joint(f"{g}finger_joint{i}").qposadr[0] for i in (1, 2)])
        self._act_arm = np.array([m.actuator(f"a_joint{i}").id for i in range(1, 8)])
        self._act_fingers = np.array([m.actuator(f"a_finger{i}").id for i in (1, 2)])
        # Position servo: force = kp (ctrl - q) - kv qdot, with biasprm = [0, -kp, -kv].
        self._servo_lead = -m.actuator_biasprm[self._act_arm, 2] / m.actuator_gainprm[self._act_arm, 0]
        self._tcp = m.site(f"{g}grip_site").id
        self._part_body = {p.name: m.body(p.name).id for p in PARTS}
        self._part_qadr = {p.name: m.joint(p.name).qposadr[0] for p in PARTS}
        self._part_dadr = {p.name: m.joint(p.name).dofadr[0] for p in PARTS}
        self._part_geoms = {p.name: np.flatnonzero(m.geom_bodyid == m.body(p.name).id) for p in PARTS}
        self._part_geom_sets = {name: frozenset(int(g) for g in geoms) for name, geoms in self._part_geoms.items()}
        self._pad_contacts: tuple[frozenset[int], ...] | None = None
        self._clutter_qadr = [m.jnt_qposadr[m.body_jntadr[m.body(n).id]] for n in CLUTTER_BODIES]
        self._pads = (m.geom(f"{g}finger1_pad_collision").id, m.geom(f"{g}finger2_pad_collision").id)
        self._touch_adr = np.array(
            [m.sensor(n).adr[0] for n in ("hand_touch", "finger1_touch", "finger2_touch", "pad1_touch", "pad2_touch")]
        )
        robot_bodies = {i for i in range(m.nbody) if m.body(i).name.startswith(ARM_PREFIX)}
        gripper_bodies = {i for i in robot_bodies if m.body(i).name.startswith(g)}
        self._robot_geom = np.array([m.geom_bodyid[i] in robot_bodies for i in range(m.ngeom)])
        # Arm links: every robot geom that collides, except the fingers (whose contacts are judged by force).
        finger_bodies = {i for i in gripper_bodies if "finger" in m.body(i).name}
        self._link_geom = self._robot_geom & np.array([m.geom_bodyid[i] not in finger_bodies for i in range(m.ngeom)])
        self._tray_body = m.body("tray").id
        self._light = m.light("main").id
        self._cameras = np.array([m.camera(name).id for name in POLICY_CAMERAS])
        self._light_pos0 = m.light_pos[self._light].copy()
        self._light_dir0 = m.light_dir[self._light].copy()
        self._light_specular0 = m.light_specular[self._light].copy()
        self._head_diffuse0 = m.vis.headlight.diffuse.copy()
        self._cam_pos0 = m.cam_pos[self._cameras].copy()
        self._cam_quat0 = m.cam_quat[self._cameras].copy()
        # The policy camera draws the arm's coarse collision meshes (recoloured): the published visual
        # meshes have ~150k triangles and take ~14 ms a frame in software, the collision ones ~1 ms.
        # The overview, for people, draws the visual meshes.
        self._detail_geoms = np.flatnonzero(self._robot_geom & (m.geom_group == 1))
        heavy = m.geom(ARM_PREFIX + "link1_collision").id
        m.geom_rgba[heavy, 3] = 0.0  # never drawn: the link1 primitives stand in for it
        self._coarse_geoms = np.flatnonzero(self._robot_geom & (m.geom_group == 0) & (np.arange(m.ngeom) != heavy))
        m.site_rgba[:, 3] = 0.0  # the package's frame markers and the touch volumes are not for the cameras
        # Parts and clutter out of play are parked under the table, not colliding and held by gravity
        # compensation: resting on the floor, their contacts cost a third of each physics step.
        self._parkable = {
            name: (m.body(name).id, np.flatnonzero(m.geom_bodyid == m.body(name).id))
            for name in (*PART_NAMES, *CLUTTER_BODIES)
        }
        self._contype0 = m.geom_contype.copy()
        self._conaffinity0 = m.geom_conaffinity.copy()
        for i in self._coarse_geoms:
            name = m.geom(i).name
            rgba = FINGER_RGBA if "finger" in name else JOINT_RGBA if "link7" in name else LINK_RGBA
            m.geom_rgba[i] = rgba
        self._show_detail(False)

    # --- Cell interface -------------------------------------------------------------------------
    def factors(self) -> tuple[Factor, ...]:
        """The variation factors this cell understands (core.sim.variation)."""
        return FACTORS

    def reset(self, seed: int, instruction: str | None = None, variation: Levels | None = None) -> Observation:
        """Start an episode from the seed, at the given factor levels (unnamed ones nominal; raises
        VariationError for a bad one). An instruction naming a part makes that part the target;
        otherwise the seed picks it. Returns the first observation."""
        levels = levels_validate(FACTORS, variation)
        m, d = self._model, self._data
        rng = np.random.default_rng(seed)
        seeded_target = PARTS[int(rng.integers(len(PARTS)))]
        named = instruction_part(instruction) if instruction else None
        self._target = next(p for p in PARTS if p.name == named) if named else seeded_target
        others = [p for p in PARTS if p is not self._target]
        n_distractors = int(rng.choice([0, 1, 2], p=[0.3, 0.4, 0.3]))
        order = rng.permutation(len(others))
        if levels["distractors"] != "seeded":
            n_distractors = int(levels["distractors"])
        self._active = [self._target] + [others[i] for i in order[:n_distractors]]
        self._instruction = instruction or PHRASINGS[0].format(part=self._target.name)

        mujoco.mj_resetData(m, d)
        m.body_pos[self._tray_body, :2] = TRAY_NOMINAL + rng.uniform(-TRAY_JITTER_M, TRAY_JITTER_M)
        light_shift = np.array([*rng.uniform(-0.3, 0.3, size=2), 0.0])
        diffuse = rng.uniform(0.45, 0.85) * rng.uniform(0.9, 1.0, size=3)
        ambient = rng.uniform(0.25, 0.45)
        self._place_parts(rng)
        start = np.array([rng.uniform(-0.1, 0.1), rng.uniform(-0.1, 0.05), rng.uniform(0.15, 0.22)])

        self._apply_scene_factors(
            seed, levels, light_pos=self._light_pos0 + light_shift, diffuse=diffuse, ambient=ambient
        )
        self._levels = levels
        self._noise_rng = factor_rng(seed, "action_noise")
        self._pending = collections.deque([None] * int(levels["actuation_delay"]))

        self._q_target = ARM_HOME_Q.copy()
        self._q_target, _ = self._solve_ik(start)
        d.qpos[self._qadr_arm] = self._q_target
        d.ctrl[self._act_arm] = self._q_target
        d.qpos[self._qadr_fingers] = [FINGER_OPEN_M, -FINGER_OPEN_M]
        d.ctrl[self._act_fingers] = [FINGER_OPEN_M, -FINGER_OPEN_M]
        mujoco.mj_forward(m, d)
        self._cmd = d.site_xpos[self._tcp].copy()
        self._grip_closed = False
        self._miss_reported = False
        self._max_force_n = 0.0
        self._placed_at_s = None
        mujoco.mj_step(m, d, nstep=SETTLE_STEPS)
        self._pad_contacts = None
        d.time = 0.0
        self._log.reset()
        return self._observe()

    def step(self, action: npt.NDArray[np.float32]) -> Observation:
        """Apply [dx, dy, dz, grip] for one 0.1 s control period; returns the new obs.

        Steps after the episode ended change nothing."""
        if self._log.done:
            return self._observe()
        d = self._data
        act = np.clip(np.nan_to_num(np.asarray(action, dtype=np.float64).reshape(-1)[:4]), -1.0, 1.0)
        act = self._actuated(act)
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
        q_new, miss_m = self._solve_ik(new_cmd)
        if miss_m > IK_REACH_TOL_M:
            self._log.fault(
                category=episode.SAFETY_STOP,
                message=f"reach limit: the arm cannot reach the commanded tool position within its joint limits "
                f"(short by {miss_m * 100:.1f} cm)",
                fatal=True,
            )
            return self._observe()
        close = bool(act[3] > 0.0)
        if close and not self._grip_closed:
            self._miss_reported = False
        self._grip_closed = close
        finger = FINGER_CLOSE_CMD_M if close else FINGER_OPEN_M
        d.ctrl[self._act_fingers] = [finger, -finger]
        step_force_n = self._simulate(self._q_target, q_new)
        self._pad_contacts = None
        self._q_target = q_new
        self._cmd = new_cmd
        self._max_force_n = max(self._max_force_n, step_force_n)
        self._judge(step_force_n)
        if self._placed_at_s is not None and not self._log.done:
            held_s = self._log.t_s - self._placed_at_s
            if held_s >= self._hold_after_success_s - 1e-9 or self._log.t_s >= self._log.time_limit_s - 1e-9:
                self._log.succeed()
        self._log.timeout_check()
        return self._observe()

    @property
    def target_part(self) -> str:
        """The part type this episode must place in its pocket."""
        return self._target.name

    @property
    def max_contact_force_n(self) -> float:
        """The largest gripper contact force seen since reset, in newtons."""
        return self._max_force_n

    @property
    def placed_at_s(self) -> float | None:
        """The simulated second the target first rested released in its pocket (None before): the
        success time, also when hold_after_success_s keeps the episode running past it."""
        return self._placed_at_s

    @property
    def levels(self) -> dict[str, float | str]:
        """Every factor's level in this episode."""
        return dict(self._levels)

    def expert_action(self) -> npt.NDArray[np.float32]:
        """Scripted expert from the current physical state (no hidden phase): approach the grasp point down
        a funnel (the lower the tool, the nearer it must be in x-y), close, lift, carry above the part's
        pocket, lower down the same kind of funnel, open, then retract up and back to a parking point
        clear of the tray. Returns the action.

        The funnel rather than "align, then descend" is for the policies cloned from it: the height to aim
        for is a smooth function of the remaining x-y error, so a policy that localises the part to a
        centimetre still descends (and keeps correcting on the way down) instead of hovering until its
        estimate crosses a sharp threshold."""
        d = self._data
        tool = self._tool()
        fingers = self._finger_q()
        part_pos = self._part_centre()
        grip = 1.0 if self._grip_closed else -1.0
        if self._holding():
            grip = 1.0
            # Aim the part, not the tool, at the pocket centre; lower it to just above the pocket floor.
            goal_xy = self._pocket_xy() + (tool[:2] - part_pos[:2])
            part_bottom_z = d.xpos[self._part_body[self._target.name], 2] - self._target.rest_z_m
            place_z = tool[2] - (part_bottom_z - (TRAY_FLOOR_Z_M + RELEASE_HEIGHT_M))
            xy_err = float(np.linalg.norm(tool[:2] - goal_xy))
            goal = _funnel_goal(tool=tool, target=np.array([*goal_xy, place_z]))
            if xy_err < EXPERT_PLACE_XY_M and abs(tool[2] - place_z) < EXPERT_Z_TOL_M:
                grip = -1.0
        elif self._target_in_pocket_xy():
            # Released: open, climb straight out of the pocket, then park clear of the tray.
            grip = -1.0
            if tool[2] < HOVER_Z_M - 0.01 and np.linalg.norm(tool[:2] - RETREAT_POS[:2]) > 0.02:
                goal = np.array([*tool[:2], HOVER_Z_M + 0.01])
            else:
                goal = RETREAT_POS
        else:
            grasp = self._grasp_point()
            xy_err = float(np.linalg.norm(tool[:2] - grasp[:2]))
            at_grasp = xy_err < EXPERT_GRASP_XY_M and abs(tool[2] - grasp[2]) < EXPERT_Z_TOL_M
            if self._grip_closed and self._fingers_shut(fingers):
                goal, grip = np.array([*tool[:2], HOVER_Z_M]), -1.0  # missed: open and back off
            elif at_grasp:
                goal, grip = grasp, 1.0
            elif self._grip_closed or self._finger_gap() < 1.0 - 0.004 / FINGER_OPEN_M:
                goal, grip = tool, -1.0  # open fully before moving on
            else:
                goal = _funnel_goal(tool=tool, target=grasp)
        move = np.clip((goal - self._cmd_after_pending()) / (MAX_SPEED_M_S * CONTROL_DT_S), -1.0, 1.0)
        return np.array([*move, grip], dtype=np.float32)

    def _cmd_after_pending(self) -> npt.NDArray[np.float64]:
        """The set-point once the actions still on their way (actuation delay) have arrived: the expert
        knows what it already sent, so it aims from there instead of sending the same move twice."""
        moves = [a[:3] for a in self._pending if a is not None]
        if not moves:
            return self._cmd
        return np.asarray(self._cmd + np.sum(moves, axis=0) * MAX_SPEED_M_S * CONTROL_DT_S, dtype=np.float64)

    def training_keypoints(self, camera: str = "front") -> npt.NDArray[np.float32]:
        """The target's grasp point and its pocket's floor centre projected into a policy camera's image,
        (2, 2) in [-1, 1], x right, y down (beyond +-1: out of view; a point behind the camera reads
        far out): labels for an attention loss when training policies."""
        pocket = np.array([*self._pocket_xy(), TRAY_FLOOR_Z_M])
        cam = int(self._cameras[POLICY_CAMERAS.index(camera)])
        return np.stack([self._project(self._grasp_point(), cam), self._project(pocket, cam)]).astype(np.float32)

    def training_deltas(self) -> npt.NDArray[np.float32]:
        """The target's grasp point and its pocket's floor centre relative to the tool centre point, (2, 3)
        in metres along the world axes (the hand keeps one orientation): privileged labels for training
        a policy to localise them, never an input."""
        tool = self._tool()
        pocket = np.array([*self._pocket_xy(), TRAY_FLOOR_Z_M])
        return np.stack([self._grasp_point() - tool, pocket - tool]).astype(np.float32)

    def stages(self) -> tuple[str, ...]:
        return STAGES

    def render_overview(self, *, px: int) -> npt.NDArray[np.uint8]:
        """The whole cell from the front-left at px x px (up to OVERVIEW_MAX_PX), with the arm's detailed
        meshes, rendered in the policy camera's GL context."""
        if self._renderer is None:
            raise RuntimeError("factory-kitting-arm cell is closed")
        self._show_detail(True)
        try:
            return self._renderer.render(self._data, camera=self._overview_camera, width=px, height=px)
        finally:
            self._show_detail(False)

    def close(self) -> None:
        """Free the offscreen renderer (its GL context); the cell cannot render afterwards."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    # --- scene set-up ---------------------------------------------------------------------------
    def _place_parts(self, rng: np.random.Generator) -> None:
        d = self._data
        # Every part's slot and pose are drawn whether it is in play or not, so the distractors factor
        # changes which parts are in the bin and nothing about where they lie.
        slots = rng.permutation(len(BIN_SLOTS))
        for i, part in enumerate(PARTS):
            qadr = self._part_qadr[part.name]
            xy = BIN_SLOTS[slots[i]] + rng.uniform(-BIN_SLOT_JITTER_M, BIN_SLOT_JITTER_M)
            yaw = rng.uniform(-PART_YAW_RAD, PART_YAW_RAD)
            if part in self._active:
                pos = [BIN_CENTRE[0] + xy[0], BIN_CENTRE[1] + xy[1], part.rest_z_m + 0.001]
            else:
                pos = [*PARKED_XY[PART_NAMES.index(part.name)], -0.7]
                yaw = 0.0
            self._park(part.name, part not in self._active)
            d.qpos[qadr : qadr + 3] = pos
            d.qpos[qadr + 3 : qadr + 7] = [np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)]

    def _apply_scene_factors(
        self,
        seed: int,
        levels: dict[str, float | str],
        *,
        light_pos: npt.NDArray[np.float64],
        diffuse: npt.NDArray[np.float64],
        ambient: float,
    ) -> None:
        """Lighting, camera pose and clutter for this episode: the seeded scene, changed only by the
        factors away from nominal (each drawing from its own stream)."""
        m, d = self._model, self._data
        gain = float(levels["light_intensity"]) * np.array(
            LIGHT_TINTS.get(str(levels["light_colour"]), (1.0, 1.0, 1.0))
        )
        turn = _rotation_about(np.array([0.0, 0.0, 1.0]), np.deg2rad(float(levels["light_azimuth_deg"])))
        m.light_pos[self._light] = turn @ light_pos
        m.light_dir[self._light] = turn @ self._light_dir0
        m.light_diffuse[self._light] = np.clip(diffuse * gain, 0.0, 1.0)
        m.light_specular[self._light] = np.clip(self._light_specular0 * gain, 0.0, 1.0)
        head = m.vis.headlight
        head.ambient[:] = np.clip(ambient * gain, 0.0, 1.0)
        head.diffuse[:] = np.clip(self._head_diffuse0 * gain, 0.0, 1.0)

        # The camera factors move the front (scene) camera only, as on the other cells: the wrist camera is
        # bolted to the hand, 10 cm from what it looks at, so a 1-2 cm shift of it is a remount that needs a
        # recalibration (like moving the front camera by 10-15 cm), not a moderate perturbation.
        cam = self._cameras[0]
        m.cam_pos[self._cameras] = self._cam_pos0
        m.cam_quat[self._cameras] = self._cam_quat0
        shift = float(levels["camera_shift_m"])
        if shift > 0.0:
            direction = factor_rng(seed, "camera_shift_m").normal(size=3)
            m.cam_pos[cam] = self._cam_pos0[0] + shift * direction / np.linalg.norm(direction)
        tilt = float(levels["camera_rotation_deg"])
        if tilt > 0.0:
            # An axis in the image plane (camera x-y): the view swings up/down/sideways, it does not roll.
            angle = factor_rng(seed, "camera_rotation_deg").uniform(0.0, 2 * np.pi)
            local = np.zeros(4)
            mujoco.mju_axisAngle2Quat(local, np.array([np.cos(angle), np.sin(angle), 0.0]), np.deg2rad(tilt))
            turned = np.zeros(4)
            mujoco.mju_mulQuat(turned, self._cam_quat0[0], local)
            m.cam_quat[cam] = turned

        count = int(float(levels["clutter"]))
        clutter_rng = factor_rng(seed, "clutter")
        placed: list[npt.NDArray[np.float64]] = []
        for i, qadr in enumerate(self._clutter_qadr):
            if i < count:
                xy = clutter_rng.uniform(CLUTTER_LO, CLUTTER_HI)
                for _ in range(50):
                    if all(np.linalg.norm(xy - other) >= CLUTTER_SPACING_M for other in placed):
                        break
                    xy = clutter_rng.uniform(CLUTTER_LO, CLUTTER_HI)
                placed.append(xy)
                yaw = clutter_rng.uniform(-np.pi, np.pi)
                d.qpos[qadr : qadr + 3] = [xy[0], xy[1], 0.012]
            else:
                yaw = 0.0
                d.qpos[qadr : qadr + 3] = [-0.3 + 0.2 * i, 0.0, -0.7]
            self._park(CLUTTER_BODIES[i], i >= count)
            d.qpos[qadr + 3 : qadr + 7] = [np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)]

    def _park(self, name: str, parked: bool) -> None:
        m = self._model
        body, geoms = self._parkable[name]
        m.body_gravcomp[body] = 1.0 if parked else 0.0
        m.geom_contype[geoms] = 0 if parked else self._contype0[geoms]
        m.geom_conaffinity[geoms] = 0 if parked else self._conaffinity0[geoms]

    def _actuated(self, act: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """The action the controller carries out this step: delayed and noised by the factors."""
        noise = float(self._levels["action_noise"])
        if noise > 0.0:
            act = act.copy()
            # The level is a fraction of each component's range, which is 2 ([-1, 1]).
            act[:3] = np.clip(act[:3] + self._noise_rng.normal(0.0, 2.0 * noise, size=3), -1.0, 1.0)
        if self._pending:
            self._pending.append(act)
            # The grip holds its last state while the delayed command is on its way.
            delayed = self._pending.popleft()
            if delayed is None:
                return np.array([0.0, 0.0, 0.0, 1.0 if self._grip_closed else -1.0])
            return delayed
        return act

    # --- the arm --------------------------------------------------------------------------------
    def _solve_ik(self, goal: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], float]:
        """Joint targets that put the tool centre point at `goal` (hand down, fingers along y), from the
        current joint targets by damped least squares with the posture in the null space, within the
        joint limits. Returns (joint targets, the remaining position error in m)."""
        m, d = self._model, self._ik_data
        q = self._q_target.copy()
        jacp = np.zeros((3, m.nv))
        jacr = np.zeros((3, m.nv))
        want = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])  # site axes as columns
        err_p = np.zeros(3)
        for _ in range(IK_ITERATIONS):
            d.qpos[self._qadr_arm] = q
            mujoco.mj_kinematics(m, d)
            mujoco.mj_comPos(m, d)
            err_p = goal - d.site_xpos[self._tcp]
            have = d.site_xmat[self._tcp].reshape(3, 3)
            # Small-angle orientation error: half the sum of the cross products of matching axes.
            err_r = 0.5 * np.cross(have.T, want.T).sum(axis=0)
            mujoco.mj_jacSite(m, d, jacp, jacr, self._tcp)
            jac = np.vstack([jacp[:, self._dadr_arm], jacr[:, self._dadr_arm]])
            err = np.concatenate([err_p, err_r])
            # dq = z + J+ (err - J z), J+ = J^T (J J^T + lambda^2 I)^-1: the posture step z moves only
            # in the null space of the task.
            posture = IK_POSTURE_GAIN * (ARM_HOME_Q - q)
            dq = posture + jac.T @ np.linalg.solve(jac @ jac.T + _IK_DAMPING_EYE, err - jac @ posture)
            q = np.clip(q + dq, self._q_lo, self._q_hi)
        d.qpos[self._qadr_arm] = q
        mujoco.mj_kinematics(m, d)
        return q, float(np.linalg.norm(goal - d.site_xpos[self._tcp]))

    def _simulate(self, q_old: npt.NDArray[np.float64], q_new: npt.NDArray[np.float64]) -> float:
        """One control period of physics, the joint targets going from q_old to q_new. Returns the
        largest gripper contact force seen (N)."""
        m, d = self._model, self._data
        step_force_n = 0.0
        # Ramp the joint targets across the substeps, as a robot controller interpolates between waypoints,
        # with velocity feed-forward: the servo's damping pulls towards zero velocity, so without it the arm
        # lags ~1 cm behind a set-point moving at full speed. Shifting the target by kv/kp times the
        # ramp's velocity makes the damping act on the velocity error instead.
        lead = self._servo_lead * (q_new - q_old) / CONTROL_DT_S
        for k in range(1, SUBSTEPS + 1):
            d.ctrl[self._act_arm] = q_old + (q_new - q_old) * (k / SUBSTEPS) + lead
            mujoco.mj_step(m, d)
            touch_n = float(d.sensordata[self._touch_adr].max())
            if touch_n > self._force_limit_n:
                touch_n = self._crash_force_n()
            step_force_n = max(step_force_n, touch_n)
        return step_force_n

    def _show_detail(self, detailed: bool) -> None:
        rgba = self._model.geom_rgba
        rgba[self._detail_geoms, 3] = 1.0 if detailed else 0.0
        rgba[self._coarse_geoms, 3] = 0.0 if detailed else 1.0

    # --- state ----------------------------------------------------------------------------------
    def _tool(self) -> npt.NDArray[np.float64]:
        return np.array(self._data.site_xpos[self._tcp], dtype=np.float64)

    def _finger_q(self) -> npt.NDArray[np.float64]:
        # Both as opening distances (finger 2's joint runs negative).
        q = self._data.qpos[self._qadr_fingers]
        return np.array([q[0], -q[1]])

    def _fingers_shut(self, fingers: npt.NDArray[np.float64]) -> bool:
        return bool(np.all(fingers < FINGER_MISS_M))

    def _finger_gap(self) -> float:
        return float(np.sum(self._finger_q()) / (2 * FINGER_OPEN_M))

    def _tray_xy(self) -> npt.NDArray[np.float64]:
        return np.array(self._model.body_pos[self._tray_body, :2], dtype=np.float64)

    def _pocket_xy(self, part: str | None = None) -> npt.NDArray[np.float64]:
        offset: npt.NDArray[np.float64] = POCKET_OFFSETS[part or self._target.name]
        return self._tray_xy() + offset

    def _project(self, point: npt.NDArray[np.float64], cam: int) -> npt.NDArray[np.float64]:
        # Pinhole model of the MuJoCo camera: it looks down its own -z axis with y up; fovy is vertical.
        d = self._data
        local = d.cam_xmat[cam].reshape(3, 3).T @ (point - d.cam_xpos[cam])
        focal = 1.0 / np.tan(np.deg2rad(self._model.cam_fovy[cam]) / 2)  # in half-image units
        depth = max(-local[2], 1e-3)
        return np.array([focal * local[0] / depth, -focal * local[1] / depth])

    def _part_centre(self) -> npt.NDArray[np.float64]:
        # The centre of the part's bounding box, in the world (the bolt's body origin is off-centre).
        name = self._target.name
        geoms = self._part_geoms[name]
        return np.asarray(self._data.geom_xpos[geoms].mean(axis=0), dtype=np.float64)

    def _grasp_point(self) -> npt.NDArray[np.float64]:
        body = self._part_body[self._target.name]
        rot = self._data.xmat[body].reshape(3, 3)
        point = self._data.xpos[body] + rot @ np.array(self._target.grasp_offset_m)
        point[2] = max(point[2], GRASP_MIN_Z_M)
        return np.asarray(point, dtype=np.float64)

    def _touching(self, pad: int, part: str) -> bool:
        """Whether the pad (index 0 or 1) touches the part, in the current state."""
        if self._pad_contacts is None:
            # Worked out once per physics state: the expert, the stages and the success check all ask.
            d = self._data
            geoms = d.contact.geom[: d.ncon]
            self._pad_contacts = tuple(
                frozenset(int(g) for g in np.concatenate([geoms[geoms[:, 1] == p, 0], geoms[geoms[:, 0] == p, 1]]))
                for p in self._pads
            )
        return not self._pad_contacts[pad].isdisjoint(self._part_geom_sets[part])

    def _holding(self) -> bool:
        name = self._target.name
        return self._grip_closed and self._touching(0, name) and self._touching(1, name)

    def _target_in_pocket_xy(self) -> bool:
        centre = self._part_centre()
        return bool(np.all(np.abs(centre[:2] - self._pocket_xy()) <= POCKET_HALF_M - POCKET_CENTRE_MARGIN_M))

    # --- judging --------------------------------------------------------------------------------
    def _link_contact(self) -> str | None:
        """A description of the first contact of an arm link with anything (the station or another link),
        or None."""
        d, m = self._data, self._model
        if d.ncon == 0:
            return None
        geoms = d.contact.geom[: d.ncon]
        hits = np.flatnonzero(self._link_geom[geoms].any(axis=1))
        for i in hits:
            g1, g2 = (int(g) for g in geoms[i])
            link, other = (g1, g2) if self._link_geom[g1] else (g2, g1)
            if self._robot_geom[other]:
                kind = f"another arm link ({m.body(m.geom_bodyid[other]).name.removeprefix(ARM_PREFIX)})"
            else:
                kind = m.body(m.geom_bodyid[other]).name if m.geom_bodyid[other] else (m.geom(other).name or "the cell")
            return f"arm link {m.body(m.geom_bodyid[link]).name.removeprefix(ARM_PREFIX)} touched {kind}"
        return None

    def _crash_force_n(self) -> float:
        """The gripper's contact force as the collision limit sees it: summed normal forces on the robot
        from everything but the target part, or those from the target part scaled by the limit ratio
        (the pads squeezing a part that wedges between them read up to ~4x the grip force). Called only
        when a touch sensor reads above the limit, so the per-contact work is rare."""
        m, d = self._model, self._data
        target = self._part_geoms[self._target.name]
        other_n = held_n = 0.0
        force = np.zeros(6)
        for i in range(d.ncon):
            g1, g2 = (int(g) for g in d.contact.geom[i])
            if not (self._robot_geom[g1] or self._robot_geom[g2]):
                continue
            mujoco.mj_contactForce(m, d, i, force)
            if g1 in target or g2 in target:
                held_n += abs(force[0])
            else:
                other_n += abs(force[0])
        return max(other_n, held_n * self._force_limit_n / TARGET_FORCE_LIMIT_N)

    def _judge(self, step_force_n: float) -> None:
        d = self._data
        for part in self._active:
            if d.xpos[self._part_body[part.name], 2] < TABLE_DROP_Z_M:
                self._log.fault(category=episode.DROP, message=f"the {part.name} fell off the table", fatal=True)
                return
        touched = self._link_contact()
        if touched is not None:
            self._log.fault(category=episode.COLLISION, message=touched, fatal=True)
            return
        if step_force_n > self._force_limit_n:
            self._log.fault(
                category=episode.COLLISION,
                message=f"gripper contact force {step_force_n:.0f} N above the {self._force_limit_n:.0f} N limit",
                fatal=True,
            )
            return
        if self._grip_closed and not self._miss_reported and self._fingers_shut(self._finger_q()):
            self._miss_reported = True
            self._log.fault(category=episode.GRASP_MISS, message="fingers closed on nothing", fatal=False)
        self._log.stage_reach(self._stage_now())
        if self._placed_at_s is None and self._target_placed():
            self._placed_at_s = self._log.t_s
            self._log.stage_reach(len(STAGES))

    def _stage_now(self) -> int:
        """How many of STAGES the current physical state shows (before the success check)."""
        d = self._data
        part = self._target
        part_z = float(d.xpos[self._part_body[part.name], 2]) - part.rest_z_m  # its underside
        in_pocket_low = self._target_in_pocket_xy() and part_z - TRAY_FLOOR_Z_M < STAGE_PLACE_Z_M
        if in_pocket_low:
            return 5
        if self._holding():
            if self._target_in_pocket_xy():
                return 4
            return 3 if part_z > STAGE_LIFT_M else 2
        tool = self._tool()
        grasp = self._grasp_point()
        near = np.linalg.norm(tool[:2] - grasp[:2]) < STAGE_REACH_XY_M and abs(tool[2] - grasp[2]) < STAGE_REACH_Z_M
        return 1 if near else 0

    def _target_placed(self) -> bool:
        name = self._target.name
        body = self._part_body[name]
        d = self._data
        if not self._target_in_pocket_xy():
            return False
        resting = abs(d.xpos[body, 2] - (TRAY_FLOOR_Z_M + self._target.rest_z_m)) < 0.008
        upright = self._upright(d.xmat[body].reshape(3, 3))
        dadr = self._part_dadr[name]
        settled = float(np.linalg.norm(d.qvel[dadr : dadr + 3])) < SETTLED_SPEED_M_S
        released = not (self._touching(0, name) or self._touching(1, name))
        return bool(resting and upright and settled and released)

    def _upright(self, rot: npt.NDArray[np.float64]) -> bool:
        return part_upright(self._target.upright, rot, tolerance_rad=UPRIGHT_TOLERANCE_RAD)

    def _observe(self) -> Observation:
        tool = self._tool()
        q = self._data.qpos[self._qadr_arm]
        state = np.array([*tool, self._finger_gap(), *q], dtype=np.float32)
        images = {name: self._render(name) for name in POLICY_CAMERAS}
        return Observation(images=images, state=state, instruction=self._instruction)

    def _render(self, camera: str) -> npt.NDArray[np.uint8]:
        if self._renderer is None:
            raise RuntimeError("factory-kitting-arm cell is closed")
        return self._renderer.render(self._data, camera=camera, width=self._image_px, height=self._image_px)


@cell_register(KEY)
def make(**kwargs: float) -> FactoryKittingArm:
    """A new factory-kitting-arm cell; kwargs: time_limit_s, image_px, force_limit_n, hold_after_success_s."""
    return FactoryKittingArm(**kwargs)  # type: ignore[arg-type]
