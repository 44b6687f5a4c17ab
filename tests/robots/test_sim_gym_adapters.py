"""Cells that adapt gymnasium-robotics Fetch and Meta-World envs (core/sim/cells/fetch_pick_and_place.py,
metaworld_tasks.py)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from core.sim import Cell, CellOutcome, cell_keys, cell_make
from core.sim.cells.fetch_pick_and_place import FetchPickAndPlace
from core.sim.cells.metaworld_tasks import TASKS

# Seeds per Meta-World task: bounded so the suite stays fast (rendering the Sawyer costs ~20 ms a step).
METAWORLD_SEEDS = {"pick-place-v3": 5}
DEFAULT_METAWORLD_SEEDS = 3


def _run_expert(cell: Cell, seed: int) -> CellOutcome:
    cell.reset(seed)
    while cell.outcome() is CellOutcome.RUNNING:
        cell.step(cell.expert_action())
    return cell.outcome()


@pytest.fixture(scope="module")
def fetch() -> Iterator[FetchPickAndPlace]:
    cell = cell_make("fetch-pick-and-place")
    assert isinstance(cell, FetchPickAndPlace)
    yield cell
    cell.close()


def test_adapter_cells_are_registered() -> None:
    keys = cell_keys()
    assert "fetch-pick-and-place" in keys
    assert {f"metaworld-{task}" for task in TASKS} <= set(keys)


def test_fetch_expert_succeeds_on_at_least_90_percent_of_seeds(fetch: FetchPickAndPlace) -> None:
    outcomes = [_run_expert(fetch, seed) for seed in range(10)]
    assert sum(o is CellOutcome.SUCCESS for o in outcomes) >= 9
    assert fetch.sim_time_s <= 2.0


def test_fetch_observation_and_seed_reproducibility(fetch: FetchPickAndPlace) -> None:
    first = fetch.reset(5)
    image = first.images["external"]
    assert isinstance(fetch, Cell)
    assert image.dtype == np.uint8 and image.shape == fetch.info.image_shape == (96, 96, 3)
    assert first.state.dtype == np.float32 and first.state.shape == (fetch.info.state_dim,)
    again = fetch.reset(5)
    assert np.array_equal(image, again.images["external"]) and np.array_equal(first.state, again.state)
    other = fetch.reset(6)
    assert not np.array_equal(first.state[5:], other.state[5:])  # a different goal


def test_fetch_times_out_after_the_gym_episode_length(fetch: FetchPickAndPlace) -> None:
    fetch.reset(3)
    steps = 0
    while fetch.outcome() is CellOutcome.RUNNING:
        fetch.step(np.array([0.0, 0.0, 1.0, 1.0], dtype=np.float32))  # lift away from the block
        steps += 1
    assert steps == 50
    assert [f.category for f in fetch.faults()] == ["timeout"]


def test_fetch_block_carried_off_the_table_is_a_drop() -> None:
    cell = cell_make("fetch-pick-and-place", time_limit_s=8.0)
    try:
        cell.reset(2)
        for _ in range(60):  # the expert grasps and lifts
            cell.step(cell.expert_action())
            obs = cell._obs["observation"]
            if obs[9:11].sum() < 0.06 and obs[5] > 0.47:
                break
        while cell.outcome() is CellOutcome.RUNNING:
            grip = cell._obs["observation"][0:3]
            # Towards the robot, past the table's near edge (x ~ 1.05 m), then let go.
            release = 1.0 if grip[0] < 0.95 else -1.0
            cell.step(np.array([-1.0, 0.0, 0.2, release], dtype=np.float32))
        assert cell.outcome() is CellOutcome.FAILURE
        assert [f.category for f in cell.faults()] == ["drop"]
    finally:
        cell.close()


@pytest.mark.parametrize("task", sorted(TASKS))
def test_metaworld_expert_succeeds_on_at_least_90_percent_of_seeds(task: str) -> None:
    cell = cell_make(f"metaworld-{task}")
    try:
        seeds = range(METAWORLD_SEEDS.get(task, DEFAULT_METAWORLD_SEEDS))
        outcomes = [_run_expert(cell, seed) for seed in seeds]
        assert sum(o is CellOutcome.SUCCESS for o in outcomes) >= 0.9 * len(seeds)
        obs = cell.reset(0)
        assert obs.images["corner"].dtype == np.uint8 and obs.images["corner"].shape == (96, 96, 3)
        assert obs.instruction in cell.info.instructions
    finally:
        cell.close()


def test_metaworld_seed_reproducibility_timeout_and_camera_turned_upright() -> None:
    cell = cell_make("metaworld-pick-place-v3", time_limit_s=0.25)
    try:
        first = cell.reset(1)
        again = cell.reset(1)
        assert np.array_equal(first.images["corner"], again.images["corner"])
        assert np.array_equal(first.state, again.state)
        assert not np.array_equal(cell.reset(2).state[4:], first.state[4:])  # another goal
        first = cell.reset(1)
        # Meta-World's "corner" camera is defined upside down (its up axis points at the floor), so the
        # cell turns the rendered frame by 180 degrees.
        env = cell._env
        up_axis = env.data.cam_xmat[env.model.camera("corner").id].reshape(3, 3)[:, 1]
        assert up_axis[2] < 0
        assert np.array_equal(first.images["corner"], env.render()[::-1, ::-1])
        cell.reset(1)
        steps = 0
        while cell.outcome() is CellOutcome.RUNNING:
            cell.step(np.zeros(4, dtype=np.float32))
            steps += 1
        assert steps == 20
        assert [(f.category, f.t_s) for f in cell.faults()] == [("timeout", 0.25)]
    finally:
        cell.close()
