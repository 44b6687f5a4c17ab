"""The arm cell's MuJoCo model: the station's MJCF with robosuite's Panda and Panda gripper attached.

The robot MJCF and meshes are read from the installed robosuite package (1.5.2, installed --no-deps; the
package itself is never imported) and attached with mujoco.MjSpec; nothing of it is copied into the
repository.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import mujoco
import numpy as np

SCENE_PATH = Path(__file__).resolve().parents[2] / "assets" / "factory_kitting_arm.xml"
ARM_PREFIX = "arm_"
GRIPPER_PREFIX = "g_"
# The package's finger joints carry 1 kg of armature: closing on a part then hits it with a spike above
# the collision limit. A light finger closing at up to ~0.4 m/s grasps without one.
FINGER_ARMATURE = 0.01
FINGER_DAMPING = 40.0
# The wrist camera, as on a real cell's hand-mounted camera: on the hand, beside it across the fingers'
# closing direction (so neither finger hides the view), 9.7 cm above the tool centre point, tilted to look
# at the point just below it: the fingertips, a part between them and the bench around it are in view.
WRIST_CAMERA_POS = (0.0, 0.07, -0.06)  # in the tool frame (grip_site: x along the fingers' travel, z down)
WRIST_CAMERA_AIM = (0.0, 0.0, 0.06)
WRIST_CAMERA_FOVY_DEG = 75.0


def robosuite_assets() -> Path:
    """The folder of robosuite's MJCF assets in the installed package (found without importing robosuite,
    whose import needs its full dependency set). Raises ModuleNotFoundError when it is not installed."""
    found = importlib.util.find_spec("robosuite")
    if found is None or not found.submodule_search_locations:
        raise ModuleNotFoundError("robosuite 1.5.2 is not installed (pip install --no-deps robosuite==1.5.2)")
    return Path(next(iter(found.submodule_search_locations))) / "models" / "assets"


def _robot_spec(path: Path) -> mujoco.MjSpec:
    # Mesh paths made absolute so they still resolve once attached to a spec loaded from elsewhere; the
    # package's own torque actuators go, the station's joint servos replace them.
    spec = mujoco.MjSpec.from_file(str(path))
    for mesh in spec.meshes:
        mesh.file = str((path.parent / mesh.file).resolve())
    for actuator in list(spec.actuators):
        actuator.delete()
    return spec


def _wrist_camera_quat() -> np.ndarray:
    # A MuJoCo camera looks along its -z axis with y up in the image; its x axis stays the fingers' travel.
    forward = np.subtract(WRIST_CAMERA_AIM, WRIST_CAMERA_POS)
    z = -forward / np.linalg.norm(forward)
    x = np.array([1.0, 0.0, 0.0])
    y = np.cross(z, x)
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, np.column_stack([x, y, z]).reshape(-1))
    return quat


@functools.cache
def station_model() -> mujoco.MjModel:
    """The station with the Panda attached, compiled once per process (about 1 s: the meshes); each cell
    works on its own copy, since it changes lighting, camera and collision fields per episode."""
    assets = robosuite_assets()
    arm = _robot_spec(assets / "robots" / "panda" / "robot.xml")
    gripper = _robot_spec(assets / "grippers" / "panda_gripper.xml")
    for joint in gripper.joints:
        joint.armature = FINGER_ARMATURE
        joint.damping = FINGER_DAMPING
    arm.attach(gripper, prefix=GRIPPER_PREFIX, frame=arm.body("right_hand").add_frame())
    scene = mujoco.MjSpec.from_file(str(SCENE_PATH))
    scene.attach(arm, prefix=ARM_PREFIX, site=scene.site("robot_mount"))
    for body in scene.bodies:
        if body.name.startswith(ARM_PREFIX):
            body.gravcomp = 1.0
    # Link 1's collision mesh alone has 12.5k triangles (more than the rest of the arm together): the
    # policy camera draws these two primitives in its place (see FactoryKittingArm._index_model).
    link1 = scene.body(ARM_PREFIX + "link1")
    for name, kind, fromto in (
        ("link1_column", mujoco.mjtGeom.mjGEOM_CYLINDER, [0, 0, -0.192, 0, 0, -0.03]),
        ("link1_housing", mujoco.mjtGeom.mjGEOM_CAPSULE, [0, -0.074, 0, 0, 0, 0]),
    ):
        link1.add_geom(
            name=name, type=kind, fromto=fromto, size=[0.055, 0, 0], contype=0, conaffinity=0, group=0, mass=0
        )
    p = ARM_PREFIX + GRIPPER_PREFIX
    scene.body(p + "eef").add_camera(
        name="wrist", pos=list(WRIST_CAMERA_POS), quat=list(_wrist_camera_quat()), fovy=WRIST_CAMERA_FOVY_DEG
    )
    # Touch-sensor volumes, a little larger than the geoms they watch (sensors in the station's XML).
    scene.body(p + "right_gripper").add_site(
        name="hand_touch", type=mujoco.mjtGeom.mjGEOM_BOX, pos=[0, 0, 0.03], size=[0.035, 0.11, 0.035]
    )
    for i, finger in ((1, "leftfinger"), (2, "rightfinger")):
        scene.body(p + finger).add_site(
            name=f"finger{i}_touch", type=mujoco.mjtGeom.mjGEOM_BOX, pos=[0, 0, 0.03], size=[0.015, 0.025, 0.035]
        )
        scene.body(p + f"finger_joint{i}_tip").add_site(
            name=f"pad{i}_touch",
            type=mujoco.mjtGeom.mjGEOM_BOX,
            pos=[0, 0.005 if i == 2 else -0.005, -0.015],
            size=[0.01, 0.006, 0.01],
        )
    return scene.compile()
