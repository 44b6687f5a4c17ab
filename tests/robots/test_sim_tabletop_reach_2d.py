from __future__ import annotations

import numpy as np

from core.sim import Cell, CellOutcome, cell_keys, cell_make
from core.sim.cells.tabletop_reach_2d import PART_COLOURS, TRAY_FLOOR_RGB, TabletopReach2D

KEY = "tabletop-reach-2d"


def _run_expert(cell: Cell, seed: int) -> CellOutcome:
    cell.reset(seed)
    while cell.outcome() is CellOutcome.RUNNING:
        cell.step(cell.expert_action())
    return cell.outcome()


def test_cell_is_registered_and_implements_the_interface() -> None:
    assert KEY in cell_keys()
    cell = cell_make(KEY)
    assert isinstance(cell, Cell)
    assert cell.info.action_dim == 3 and cell.info.state_dim == 3
    assert cell.info.default_instruction in cell.info.instructions


def test_scripted_expert_solves_at_least_90_percent_of_seeds() -> None:
    cell = cell_make(KEY)
    outcomes = [_run_expert(cell, seed) for seed in range(50)]
    assert sum(o is CellOutcome.SUCCESS for o in outcomes) >= 45
    assert cell.sim_time_s <= cell.info.control_dt_s * 100


def test_observation_images_are_uint8_hxwx3_and_state_matches_info() -> None:
    cell = cell_make(KEY)
    obs = cell.reset(7)
    image = obs.images["top"]
    assert image.dtype == np.uint8 and image.shape == cell.info.image_shape
    assert obs.state.dtype == np.float32 and obs.state.shape == (cell.info.state_dim,)
    assert obs.instruction == cell.info.default_instruction
    assert cell.reset(7, instruction="put the part in the tray").instruction == "put the part in the tray"


def test_same_seed_reproduces_the_episode_and_other_seeds_differ() -> None:
    a, b = cell_make(KEY), cell_make(KEY)
    obs_a, obs_b = a.reset(11), b.reset(11)
    assert np.array_equal(obs_a.images["top"], obs_b.images["top"])
    assert np.array_equal(obs_a.state, obs_b.state)
    for _ in range(15):
        obs_a, obs_b = a.step(a.expert_action()), b.step(b.expert_action())
    assert np.array_equal(obs_a.images["top"], obs_b.images["top"])
    assert not np.array_equal(a.reset(12).images["top"], b.reset(11).images["top"])


def test_expert_moves_change_the_image_and_time_advances_in_control_periods() -> None:
    cell = cell_make(KEY)
    first = cell.reset(3).images["top"]
    later = cell.step(cell.expert_action()).images["top"]
    assert not np.array_equal(first, later)
    assert cell.sim_time_s == cell.info.control_dt_s


def test_leaving_the_table_is_a_fatal_workspace_fault() -> None:
    cell = cell_make(KEY)
    cell.reset(5)
    while cell.outcome() is CellOutcome.RUNNING:
        cell.step(np.array([-1.0, 0.0, -1.0], dtype=np.float32))
    assert cell.outcome() is CellOutcome.FAILURE
    assert [f.category for f in cell.faults()] == ["safety_stop"]
    assert "workspace limit" in cell.faults()[0].message


def test_doing_nothing_times_out() -> None:
    cell = cell_make(KEY, time_limit_s=2.0)
    cell.reset(5)
    steps = 0
    while cell.outcome() is CellOutcome.RUNNING:
        cell.step(np.zeros(3, dtype=np.float32))
        steps += 1
    assert steps == 20
    assert cell.outcome() is CellOutcome.FAILURE
    timeout = cell.faults()[-1]
    assert timeout.category == "timeout" and timeout.t_s == 2.0


def test_closing_on_nothing_and_releasing_off_tray_are_non_fatal_faults() -> None:
    cell = TabletopReach2D()
    cell.reset(9)
    cell.step(np.array([0.0, 0.0, 1.0], dtype=np.float32))  # start is never on the block
    assert [f.category for f in cell.faults()] == ["grasp_miss"]
    cell.step(np.array([0.0, 0.0, -1.0], dtype=np.float32))
    # Reach the block and grasp it, then let go at once, away from the tray.
    while cell.expert_action()[2] < 0:
        cell.step(cell.expert_action())
    cell.step(cell.expert_action())
    assert cell.step(cell.expert_action()).state[2] == np.float32(0.4)  # fingers closed on the block
    cell.step(np.array([0.0, 0.0, -1.0], dtype=np.float32))
    assert [f.category for f in cell.faults()] == ["grasp_miss", "drop"]
    assert cell.outcome() is CellOutcome.RUNNING
    # The expert can still recover and finish the task.
    while cell.outcome() is CellOutcome.RUNNING:
        cell.step(cell.expert_action())
    assert cell.outcome() is CellOutcome.SUCCESS


def test_steps_after_the_end_change_nothing() -> None:
    cell = cell_make(KEY)
    assert _run_expert(cell, 1) is CellOutcome.SUCCESS
    t_end, faults = cell.sim_time_s, cell.faults()
    cell.step(np.array([-1.0, -1.0, 1.0], dtype=np.float32))
    assert cell.sim_time_s == t_end and cell.faults() == faults and cell.outcome() is CellOutcome.SUCCESS


def test_training_keypoints_land_on_the_block_and_the_tray_floor() -> None:
    cell = TabletopReach2D()
    for seed in range(10):
        obs = cell.reset(seed)
        image = obs.images["top"]
        h, w, _ = image.shape
        (bx, by), (tx, ty) = np.clip(((cell.training_keypoints() + 1) / 2 * [w, h]).astype(int), 0, w - 1)
        assert tuple(image[by, bx]) in PART_COLOURS.values()
        assert tuple(image[ty, tx]) == TRAY_FLOOR_RGB
