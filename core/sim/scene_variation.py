"""Lighting and camera factors for MuJoCo cells: the same keys, units and meaning in every cell.

`LightRig` and `CameraRig` remember a model's lights and one fixed camera as loaded, put them back at
each reset (`restore`) and then apply an episode's levels on top of whatever the cell set from its seed.
At nominal levels `apply` writes nothing, so a cell's nominal episodes are exactly what they were.
Directions the levels leave open (which way the camera is bumped, about which axis it turns) come from
the episode's `factor_rng` stream for that factor.
"""

from __future__ import annotations

import math

import mujoco
import numpy as np
import numpy.typing as npt

from core.sim.variation import Factor, FactorKind, Level, factor_rng

LIGHT_INTENSITY = "light_intensity"
LIGHT_AZIMUTH = "light_azimuth_deg"
LIGHT_COLOUR = "light_colour"
CAMERA_SHIFT = "camera_shift_m"
CAMERA_ROTATION = "camera_rotation_deg"

# RGB of a black body at these temperatures relative to 6500 K (D65) white, normalised to the brightest
# channel: Mitchell Charity's blackbody colour table (vendian.org/mncharity/dir3/blackbody, 10 deg CMF).
LIGHT_TINTS: dict[str, tuple[float, float, float]] = {
    "warm-3000k": (1.0, 0.706, 0.420),
    "cool-9000k": (0.824, 0.871, 1.0),
}


def light_factors() -> tuple[Factor, ...]:
    return (
        Factor(
            key=LIGHT_INTENSITY,
            title="Light intensity",
            unit="x nominal",
            nominal=1.0,
            low=0.2,
            high=2.5,
            description="Every light's diffuse, ambient and specular output and the headlight scaled by this factor.",
        ),
        Factor(
            key=LIGHT_AZIMUTH,
            title="Light direction",
            unit="deg",
            nominal=0.0,
            low=-180.0,
            high=180.0,
            description=(
                "The lights turned about the vertical axis through the work area by this azimuth "
                "(position and direction), so shading and highlights fall from another side."
            ),
        ),
        Factor(
            key=LIGHT_COLOUR,
            title="Light colour",
            unit="colour temperature",
            nominal="nominal",
            kind=FactorKind.CATEGORY,
            choices=("nominal", *LIGHT_TINTS),
            description="Every light tinted as a black body at 3000 K (warm tungsten) or 9000 K (cool daylight).",
        ),
    )


def camera_factors() -> tuple[Factor, ...]:
    return (
        Factor(
            key=CAMERA_SHIFT,
            title="Camera position offset",
            unit="m",
            nominal=0.0,
            low=0.0,
            high=0.05,
            description="The policy camera moved by this distance in a direction drawn from the episode seed.",
        ),
        Factor(
            key=CAMERA_ROTATION,
            title="Camera orientation offset",
            unit="deg",
            nominal=0.0,
            low=0.0,
            high=10.0,
            description="The policy camera turned by this angle about an axis drawn from the episode seed (in place).",
        ),
    )


def seeded_unit_vector(seed: int, factor_key: str) -> npt.NDArray[np.float64]:
    """A direction uniform on the sphere, from the factor's own stream for this episode."""
    v = factor_rng(seed, factor_key).normal(size=3)
    return np.asarray(v / np.linalg.norm(v), dtype=np.float64)


class LightRig:
    """Every light of `model`, and its headlight, as loaded; `centre` (x, y) is where azimuth turns them."""

    def __init__(self, model: mujoco.MjModel, *, centre: tuple[float, float] = (0.0, 0.0)) -> None:
        self._model = model
        self._centre = np.array([*centre, 0.0])
        self._pos = model.light_pos.copy()
        self._dir = model.light_dir.copy()
        self._diffuse = model.light_diffuse.copy()
        self._ambient = model.light_ambient.copy()
        self._specular = model.light_specular.copy()
        head = model.vis.headlight
        self._head = (head.ambient.copy(), head.diffuse.copy(), head.specular.copy())

    def restore(self) -> None:
        """Put every light back as loaded; returns nothing."""
        m = self._model
        m.light_pos[:] = self._pos
        m.light_dir[:] = self._dir
        m.light_diffuse[:] = self._diffuse
        m.light_ambient[:] = self._ambient
        m.light_specular[:] = self._specular
        head = m.vis.headlight
        head.ambient[:], head.diffuse[:], head.specular[:] = self._head

    def apply(self, levels: dict[str, Level]) -> None:
        """Scale, tint and turn the lights as they are now (after the cell's seeded lighting); returns nothing."""
        m = self._model
        gain = np.full(3, float(levels.get(LIGHT_INTENSITY, 1.0)))
        tint = LIGHT_TINTS.get(str(levels.get(LIGHT_COLOUR, "nominal")))
        if tint is not None:
            gain = gain * np.array(tint)
        if not np.all(gain == 1.0):
            for values in (m.light_diffuse, m.light_ambient, m.light_specular):
                values[:] = values * gain
            head = m.vis.headlight
            for values in (head.ambient, head.diffuse, head.specular):
                values[:] = values * gain
        azimuth = float(levels.get(LIGHT_AZIMUTH, 0.0))
        if azimuth != 0.0:
            turn = _rotation_z(math.radians(azimuth))
            m.light_pos[:] = (m.light_pos - self._centre) @ turn.T + self._centre
            m.light_dir[:] = m.light_dir @ turn.T


class CameraRig:
    """One fixed camera of `model` (its pose relative to its body) as loaded."""

    def __init__(self, model: mujoco.MjModel, *, camera: str) -> None:
        self._model = model
        self._id = model.camera(camera).id
        self._pos = model.cam_pos[self._id].copy()
        self._quat = model.cam_quat[self._id].copy()

    def restore(self) -> None:
        self._model.cam_pos[self._id] = self._pos
        self._model.cam_quat[self._id] = self._quat

    def apply(self, *, seed: int, levels: dict[str, Level]) -> None:
        """Move the camera by camera_shift_m along a seeded direction and turn it in place by
        camera_rotation_deg about a seeded axis; returns nothing."""
        shift = float(levels.get(CAMERA_SHIFT, 0.0))
        if shift != 0.0:
            self._model.cam_pos[self._id] = self._pos + shift * seeded_unit_vector(seed, CAMERA_SHIFT)
        angle = float(levels.get(CAMERA_ROTATION, 0.0))
        if angle != 0.0:
            turn = np.zeros(4)
            mujoco.mju_axisAngle2Quat(turn, seeded_unit_vector(seed, CAMERA_ROTATION), math.radians(angle))
            turned = np.zeros(4)
            # Left-multiplied: a turn about an axis fixed in the camera's parent frame, not the camera's own.
            mujoco.mju_mulQuat(turned, turn, self._quat)
            self._model.cam_quat[self._id] = turned


def _rotation_z(angle_rad: float) -> npt.NDArray[np.float64]:
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


class FreeCameraRig:
    """A free MjvCamera (lookat, distance, azimuth, elevation) posed as `pose`, the way gymnasium's
    renderers place a policy camera that is not in the model."""

    def __init__(self, pose: dict[str, object]) -> None:
        self._lookat = np.asarray(pose["lookat"], dtype=np.float64)
        self._distance = float(pose["distance"])  # type: ignore[arg-type]
        self._azimuth = float(pose["azimuth"])  # type: ignore[arg-type]
        self._elevation = float(pose["elevation"])  # type: ignore[arg-type]

    def apply(self, camera: mujoco.MjvCamera, *, seed: int, levels: dict[str, Level]) -> None:
        """Pose `camera` as loaded, then shift it by camera_shift_m along a seeded direction and turn it
        in place by camera_rotation_deg (split between azimuth and elevation by a seeded angle: a free
        camera cannot roll); returns nothing."""
        lookat = self._lookat.copy()
        azimuth, elevation = self._azimuth, self._elevation
        shift = float(levels.get(CAMERA_SHIFT, 0.0))
        if shift != 0.0:
            lookat = lookat + shift * seeded_unit_vector(seed, CAMERA_SHIFT)
        angle = float(levels.get(CAMERA_ROTATION, 0.0))
        if angle != 0.0:
            position = lookat - self._distance * _free_camera_forward(azimuth, elevation)
            split = float(factor_rng(seed, CAMERA_ROTATION).uniform(0.0, 2 * math.pi))
            azimuth += angle * math.cos(split)
            elevation += angle * math.sin(split)
            lookat = position + self._distance * _free_camera_forward(azimuth, elevation)
        camera.lookat[:] = lookat
        camera.distance, camera.azimuth, camera.elevation = self._distance, azimuth, elevation


def _free_camera_forward(azimuth_deg: float, elevation_deg: float) -> npt.NDArray[np.float64]:
    # MuJoCo's free camera looks along this unit vector (elevation < 0 looks down).
    az, el = math.radians(azimuth_deg), math.radians(elevation_deg)
    return np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
