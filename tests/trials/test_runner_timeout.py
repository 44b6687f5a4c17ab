"""The trial's episode timeout is what ends an episode, longer or shorter than the cell's default
(issue 13 item 10: a 60 s trial's failures ended at the factory cell's own 15 s)."""

from __future__ import annotations

import numpy as np
import pytest

from core.sim import cell_make
from trials import runner

CELL = "tabletop-reach-2d"


class _StandStill:
    """A policy that never moves, so no episode succeeds and each ends on its time limit."""

    def episode(self, *, instruction: str) -> _StandStill:
        return self

    def act(self, obs: object) -> np.ndarray:
        return np.zeros(3, dtype=np.float32)

    def latency_summary(self) -> dict[str, float]:
        return {}

    def close(self) -> None:
        pass


@pytest.mark.parametrize("timeout_s", [4.0, 25.0])
def test_episode_ends_at_the_trials_timeout_not_the_cells_default(timeout_s: float) -> None:
    cell = cell_make(CELL)
    default_s = cell.time_limit_s
    assert default_s not in (4.0, 25.0)  # one case is shorter than the cell's own limit, one longer
    run = runner.episode_run(
        cell=cell, policy=_StandStill(), seed=3, index=0, instruction="reach the target", timeout_s=timeout_s
    )
    assert run.outcome == "failure"
    assert run.sim_time_s == pytest.approx(timeout_s, abs=cell.info.control_dt_s)
    timeouts = [f for f in run.faults if f.category == "timeout"]
    assert len(timeouts) == 1 and f"{timeout_s:g} s" in timeouts[0].message


def test_a_cell_reused_by_later_trials_takes_each_trials_timeout() -> None:
    cell = cell_make(CELL)
    for timeout_s in (25.0, 3.0, 12.0):
        run = runner.episode_run(
            cell=cell, policy=_StandStill(), seed=1, index=0, instruction="reach the target", timeout_s=timeout_s
        )
        assert run.sim_time_s == pytest.approx(timeout_s, abs=cell.info.control_dt_s)


def test_time_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        cell_make(CELL).time_limit_s = 0
