"""Stages: every cell's scripted expert reaches its stages in order, each on its own step, and a
success has progress 1.0; the tracker's bookkeeping."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from core.sim import Cell, CellOutcome, cell_make
from core.sim.episode import episode_rollout
from core.sim.stages import StageTracker


def _expert_stage_counts(cell: Cell, seed: int) -> tuple[list[int], CellOutcome]:
    cell.reset(seed)
    counts = [cell.stage_reached()]
    while cell.outcome() is CellOutcome.RUNNING:
        cell.step(cell.expert_action())
        counts.append(cell.stage_reached())
    return counts, cell.outcome()


@pytest.fixture(scope="module", params=["factory-kitting", "tabletop-reach-2d", "fetch-pick-and-place"])
def cell(request: pytest.FixtureRequest) -> Iterator[Cell]:
    made = cell_make(request.param)
    yield made
    made.close()


def test_expert_reaches_every_stage_in_order(cell: Cell) -> None:
    stages = cell.stages()
    assert len(stages) >= 3 and len(set(stages)) == len(stages)
    successes = 0
    for seed in range(4):
        counts, outcome = _expert_stage_counts(cell, seed)
        assert counts[0] == 0, "nothing is reached at reset"
        assert all(b >= a for a, b in zip(counts, counts[1:], strict=False)), "stages never go back"
        if outcome is CellOutcome.SUCCESS:
            successes += 1
            assert counts[-1] == len(stages)
            # Each stage is seen on a step of its own: the cell detects them, not only the success.
            assert set(counts) == set(range(len(stages) + 1)), f"seed {seed}: {counts}"
    assert successes >= 3


def test_rollout_records_when_each_stage_was_reached_and_progress(cell: Cell) -> None:
    result = episode_rollout(cell=cell, act=lambda _obs: cell.expert_action(), seed=1)
    assert result.outcome is CellOutcome.SUCCESS
    stages = result.stages
    assert stages.progress == 1.0 and stages.last_stage == cell.stages()[-1]
    assert list(stages.reached_at_s) == sorted(stages.reached_at_s)
    assert stages.last_stage_at_s == pytest.approx(result.sim_time_s)


def test_an_idle_policy_reaches_no_stage_and_fails() -> None:
    cell = cell_make("tabletop-reach-2d")
    result = episode_rollout(cell=cell, act=lambda _obs: np.zeros(3, dtype=np.float32), seed=3)
    assert result.outcome is CellOutcome.FAILURE
    assert (result.stages.reached, result.stages.progress, result.stages.last_stage) == (0, 0.0, None)


def test_failure_keeps_the_furthest_stage_reached() -> None:
    # Grasp the block, then carry it off the table: a safety stop after "grasped".
    cell = cell_make("tabletop-reach-2d")
    cell.reset(0)
    while cell.stage_reached() < 2 and cell.outcome() is CellOutcome.RUNNING:
        cell.step(cell.expert_action())
    assert cell.stage_reached() == 2
    while cell.outcome() is CellOutcome.RUNNING:
        cell.step(np.array([1.0, 1.0, 1.0], dtype=np.float32))
    assert cell.outcome() is CellOutcome.FAILURE and cell.stage_reached() == 2


@pytest.mark.parametrize("task", ["pick-place-v3", "drawer-open-v3"])
def test_metaworld_expert_reaches_its_stages(task: str) -> None:
    cell = cell_make(f"metaworld-{task}")
    try:
        counts, outcome = _expert_stage_counts(cell, 0)
        assert outcome is CellOutcome.SUCCESS
        assert all(b >= a for a, b in zip(counts, counts[1:], strict=False))
        # Meta-World's own flags mark the stages; its grasp flag can come on with the success itself.
        assert {0, 1, len(cell.stages())} <= set(counts)
    finally:
        cell.close()


def test_tracker_fills_skipped_stages_ignores_going_back_and_refuses_nonsense() -> None:
    tracker = StageTracker(stages=("a", "b", "c", "d"))
    tracker.update(t_s=0.0, reached=0)
    tracker.update(t_s=1.0, reached=1)
    tracker.update(t_s=2.0, reached=3)  # b and c at once
    tracker.update(t_s=3.0, reached=1)  # a regrasp does not undo the furthest stage
    result = tracker.result()
    assert result.reached_at_s == (1.0, 2.0, 2.0)
    assert (result.last_stage, result.last_stage_at_s, result.progress) == ("c", 2.0, 0.75)
    assert result.as_dict()["reached"] == 3
    with pytest.raises(ValueError):
        tracker.update(t_s=4.0, reached=5)
    assert StageTracker(stages=()).result().progress == 0.0
