"""Part types of the kitting cells: what a part is to the cell (where it rests, where it is grasped) and
what "upright" means for it, checked the same way in every cell."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

UPRIGHT_TOLERANCE_RAD = float(np.deg2rad(25.0))


class Upright(enum.Enum):
    """What "upright" means for a part type."""

    Z_UP = "z_up"  # body z axis vertical (the bracket, flange up)
    X_LEVEL = "x_level"  # body x axis horizontal (the bolt, lying rather than standing on its head)
    ANY = "any"  # any face down (the box is a cube)


@dataclass(frozen=True)
class PartSpec:
    """A part type: body name in the model, the z of its body origin when resting upright on a flat
    surface, where the expert grasps it (body frame), and what upright means for it."""

    name: str
    rest_z_m: float
    grasp_offset_m: tuple[float, float, float]
    upright: Upright


def part_upright(rule: Upright, rot: npt.NDArray[np.float64], *, tolerance_rad: float = UPRIGHT_TOLERANCE_RAD) -> bool:
    """Whether a part whose body rotation matrix is `rot` stands as `rule` wants."""
    # rot[2, i] is the world-z component of body axis i.
    if rule is Upright.Z_UP:
        return bool(rot[2, 2] > np.cos(tolerance_rad))
    if rule is Upright.X_LEVEL:
        return bool(abs(rot[2, 0]) < np.sin(tolerance_rad))
    return True
