"""The series the episode page plots from a trajectory: gripper opening and tool height (where the cell's
proprio state has them), every action dimension, and the policy's latency, against simulated time.

Each cell lays out its proprio state its own way (core/sim/cells/*: `_observe`), so which component is the
gripper and which the tool's height is looked up per cell here; a cell not listed (or an uploaded
trajectory of a physical robot) gets every state component plotted as it is instead."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from core.recording.trajectory import Trajectory

# At most this many points per series: a browser draws an hour at 50 Hz (180,000 rows) no better than
# this, and the JSON stays under a megabyte.
MAX_PLOT_POINTS = 4000


@dataclass(frozen=True)
class StateLayout:
    """Indexes of the proprio state components: the gripper's opening (summed when it is one width per
    finger), the tool's height; None when the state has none."""

    gripper: tuple[int, ...] = ()
    height: int | None = None
    gripper_unit: str = "fraction open"


STATE_LAYOUTS: dict[str, StateLayout] = {
    # [tool x, y, z (m), finger gap / open gap]
    "factory-kitting": StateLayout(gripper=(3,), height=2),
    # [gripper x, y (m), finger opening]: a planar cell, no height
    "tabletop-reach-2d": StateLayout(gripper=(2,)),
    # [grip x, y, z (m), left and right finger widths (m), goal x, y, z]
    "fetch-pick-and-place": StateLayout(gripper=(3, 4), height=2, gripper_unit="m"),
}
# Meta-World's state: [hand x, y, z, gripper distance, goal x, y, z] (every metaworld-* cell).
_METAWORLD = StateLayout(gripper=(3,), height=2)


def state_layout(cell_key: str) -> StateLayout | None:
    """The state layout of a cell, or None when it is not known."""
    if cell_key.startswith("metaworld-"):
        return _METAWORLD
    return STATE_LAYOUTS.get(cell_key)


def _series(values: npt.NDArray[np.floating], rows: npt.NDArray[np.intp]) -> list[float | None]:
    return [None if not math.isfinite(v) else round(float(v), 6) for v in values[rows].tolist()]


def trajectory_plot_data(trajectory: Trajectory, *, cell_key: str = "") -> dict[str, object]:
    """JSON-ready series against `t_s` (seconds), thinned to at most MAX_PLOT_POINTS rows (every k-th row
    and the last): `gripper` and `height` (None when the cell's state has none) with `gripper_unit`,
    `state` (every component, only when the layout is unknown), `actions` (one list per dimension),
    `latency_ms` (None entries where unknown), `stage` (stages reached), `stages` (names), `rows` (before
    thinning)."""
    n = trajectory.rows
    step = max(1, math.ceil(n / MAX_PLOT_POINTS))
    rows = np.arange(0, n, step)
    if n and rows[-1] != n - 1:
        rows = np.append(rows, n - 1)
    state = trajectory.state.astype(np.float64)
    layout = state_layout(cell_key)
    data: dict[str, object] = {
        "rows": n,
        "t_s": _series(trajectory.t_s, rows),
        "gripper": None,
        "gripper_unit": "",
        "height": None,
        "state": None,
        "actions": [
            _series(trajectory.action[:, i].astype(np.float64), rows) for i in range(trajectory.action.shape[1])
        ],
        "latency_ms": _series(trajectory.policy_latency_s * 1000.0, rows),
        "stage": _series(trajectory.stage.astype(np.float64), rows),
        "stages": list(trajectory.stages),
    }
    dim = state.shape[1]
    if layout is not None and all(i < dim for i in layout.gripper) and (layout.height or 0) < dim:
        if layout.gripper:
            data["gripper"] = _series(state[:, list(layout.gripper)].sum(axis=1), rows)
            data["gripper_unit"] = layout.gripper_unit
        if layout.height is not None:
            data["height"] = _series(state[:, layout.height], rows)
    else:
        data["state"] = [_series(state[:, i], rows) for i in range(dim)]
    return data
