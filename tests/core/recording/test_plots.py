"""The episode page's plot series from a trajectory (core.recording.plots)."""

from __future__ import annotations

import numpy as np
import pytest

from core.recording.plots import MAX_PLOT_POINTS, trajectory_plot_data
from core.recording.trajectory import Trajectory


def _trajectory(n: int, *, state_dim: int = 4, latency_nan_at: int | None = None) -> Trajectory:
    t = np.arange(n, dtype=np.float64) * 0.1
    state = np.stack([t * (i + 1) for i in range(state_dim)], axis=1).astype(np.float32)
    latency = np.full(n, 0.002)
    if latency_nan_at is not None:
        latency[latency_nan_at] = np.nan
    return Trajectory(
        step=np.arange(n),
        t_s=t,
        state=state,
        action=np.ones((n, 3), dtype=np.float32),
        policy_latency_s=latency,
        stage=np.minimum(np.arange(n) // 10, 3),
        stages=("a", "b", "c"),
    )


def test_factory_kitting_plots_the_finger_gap_and_the_tool_z() -> None:
    data = trajectory_plot_data(_trajectory(20, latency_nan_at=5), cell_key="factory-kitting")
    assert data["rows"] == 20 and len(data["t_s"]) == 20
    assert data["gripper"][4] == pytest.approx(0.4 * 4) and data["height"][4] == pytest.approx(0.4 * 3)
    assert data["state"] is None and len(data["actions"]) == 3
    assert data["latency_ms"][5] is None and data["latency_ms"][0] == 2.0
    assert data["stage"][-1] == 1.0 and data["stages"] == ["a", "b", "c"]


def test_fetch_sums_both_finger_widths_and_an_unknown_cell_gets_every_state_component() -> None:
    fetch = trajectory_plot_data(_trajectory(10, state_dim=8), cell_key="fetch-pick-and-place")
    assert fetch["gripper"][2] == pytest.approx(0.2 * 4 + 0.2 * 5) and fetch["gripper_unit"] == "m"
    planar = trajectory_plot_data(_trajectory(10, state_dim=3), cell_key="tabletop-reach-2d")
    assert planar["height"] is None and planar["gripper"][1] == pytest.approx(0.1 * 3)
    unknown = trajectory_plot_data(_trajectory(10, state_dim=2), cell_key="")
    assert unknown["gripper"] is None and unknown["height"] is None and len(unknown["state"]) == 2


def test_a_long_trajectory_is_thinned_keeping_the_first_and_last_rows() -> None:
    n = 3 * MAX_PLOT_POINTS + 7
    data = trajectory_plot_data(_trajectory(n), cell_key="factory-kitting")
    assert data["rows"] == n and len(data["t_s"]) <= MAX_PLOT_POINTS + 1
    assert data["t_s"][0] == 0.0 and data["t_s"][-1] == pytest.approx((n - 1) * 0.1)
    assert all(len(series) == len(data["t_s"]) for series in data["actions"])
