from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import pytest

from core.sim import Cell, CellOutcome, cell_keys, cell_make
from core.sim.cells.factory_kitting import PART_NAMES, PHRASINGS, FactoryKitting, instruction_part

KEY = "factory-kitting"


@pytest.fixture(scope="module")
def cell() -> Iterator[FactoryKitting]:
    # One cell (one GL context) for the module: building a renderer is the slow part.
    made = cell_make(KEY)
    assert isinstance(made, FactoryKitting)
    yield made
    made.close()


def _run_expert(cell: Cell, seed: int, instruction: str | None = None) -> CellOutcome:
    cell.reset(seed, instruction=instruction)
    while cell.outcome() is CellOutcome.RUNNING:
        cell.step(cell.expert_action())
    return cell.outcome()


def _drive_to(cell: FactoryKitting, goal: npt.NDArray[np.float64], *, grip: float, speed: float = 1.0) -> None:
    """Move the tool towards goal with a proportional command until there or the episode ends."""
    for _ in range(60):
        if cell.outcome() is not CellOutcome.RUNNING:
            return
        tool = cell._data.qpos[cell._qadr_tool]
        delta = goal - cell._cmd
        if np.linalg.norm(delta) < 1e-3 and np.linalg.norm(goal - tool) < 5e-3:
            return
        move = np.clip(delta / 0.025, -speed, speed)
        cell.step(np.array([*move, grip], dtype=np.float32))


def test_cell_is_registered_and_describes_itself(cell: FactoryKitting) -> None:
    assert KEY in cell_keys()
    assert isinstance(cell, Cell)
    assert cell.info.action_dim == 4 and cell.info.state_dim == 4
    assert cell.info.cameras == ("front",)
    assert cell.info.default_instruction in cell.info.instructions
    for part in PART_NAMES:
        assert sum(part in text for text in cell.info.instructions) == len(PHRASINGS)


def test_scripted_expert_places_every_part_type_on_at_least_90_percent_of_seeds(cell: FactoryKitting) -> None:
    results: dict[str, list[bool]] = {part: [] for part in PART_NAMES}
    cycle_times = []
    for seed in range(24):
        part = PART_NAMES[seed % len(PART_NAMES)]
        phrasing = PHRASINGS[seed % len(PHRASINGS)]
        outcome = _run_expert(cell, seed, phrasing.format(part=part))
        assert cell.target_part == part
        results[part].append(outcome is CellOutcome.SUCCESS)
        if outcome is CellOutcome.SUCCESS:
            cycle_times.append(cell.sim_time_s)
            assert [f.category for f in cell.faults()] == []
    successes = sum(sum(v) for v in results.values())
    assert successes >= 22, results
    assert all(sum(v) >= 7 for v in results.values()), results
    # Realistic cycle times in simulated seconds: a few seconds, well inside the 15 s limit.
    assert 2.0 <= min(cycle_times) and max(cycle_times) <= 10.0


def test_observation_is_uint8_image_plus_proprio_and_instruction(cell: FactoryKitting) -> None:
    obs = cell.reset(3)
    image = obs.images["front"]
    assert image.dtype == np.uint8 and image.shape == cell.info.image_shape == (96, 96, 3)
    assert image.std() > 10  # a rendered scene, not a blank frame
    assert obs.state.dtype == np.float32 and obs.state.shape == (4,)
    assert obs.state[3] == pytest.approx(1.0, abs=0.02)  # fingers start open
    assert obs.instruction == f"place the {cell.target_part} in the tray"


def test_image_size_is_configurable() -> None:
    small = cell_make(KEY, image_px=64)
    try:
        assert small.reset(0).images["front"].shape == (64, 64, 3)
        assert small.info.image_shape == (64, 64, 3)
    finally:
        small.close()


def test_same_seed_gives_the_same_episode_and_seeds_vary_the_scene(cell: FactoryKitting) -> None:
    first = cell.reset(42)
    part, n_active = cell.target_part, len(cell._active)
    for _ in range(10):
        after = cell.step(cell.expert_action())
    again = cell.reset(42)
    assert np.array_equal(first.images["front"], again.images["front"])
    assert np.array_equal(first.state, again.state)
    assert (cell.target_part, len(cell._active)) == (part, n_active)
    for _ in range(10):
        after_again = cell.step(cell.expert_action())
    assert np.array_equal(after.images["front"], after_again.images["front"])
    # Across seeds: every part type is a target, distractor counts and scenes differ.
    targets, distractors = set(), set()
    images = []
    for seed in range(12):
        images.append(cell.reset(seed).images["front"])
        targets.add(cell.target_part)
        distractors.add(len(cell._active) - 1)
    assert targets == set(PART_NAMES)
    assert distractors == {0, 1, 2}
    assert len({img.tobytes() for img in images}) == 12


def test_instruction_naming_a_part_makes_it_the_target(cell: FactoryKitting) -> None:
    assert instruction_part("Kit the BOLTS into the tray") == "bolt"
    assert instruction_part("place the widget in the tray") is None
    for part in PART_NAMES:
        obs = cell.reset(5, instruction=f"transfer the {part} to the tray, please")
        assert cell.target_part == part
        assert obs.instruction == f"transfer the {part} to the tray, please"


def test_moving_outside_the_workspace_is_a_fatal_safety_stop(cell: FactoryKitting) -> None:
    cell.reset(1)
    steps = 0
    while cell.outcome() is CellOutcome.RUNNING:
        cell.step(np.array([0.0, 0.0, 1.0, -1.0], dtype=np.float32))
        steps += 1
    assert cell.outcome() is CellOutcome.FAILURE
    assert steps < 12
    assert [f.category for f in cell.faults()] == ["safety_stop"]
    assert "workspace limit" in cell.faults()[0].message


def test_doing_nothing_times_out_at_the_limit() -> None:
    short = cell_make(KEY, time_limit_s=1.5)
    try:
        short.reset(2)
        steps = 0
        while short.outcome() is CellOutcome.RUNNING:
            short.step(np.zeros(4, dtype=np.float32))
            steps += 1
        assert steps == 15 and short.sim_time_s == pytest.approx(1.5)
        assert [(f.category, f.t_s) for f in short.faults()] == [("timeout", 1.5)]
    finally:
        short.close()


def test_pushing_the_gripper_into_the_table_is_a_collision_fault(cell: FactoryKitting) -> None:
    cell.reset(4)
    _drive_to(cell, np.array([0.0, 0.0, 0.05]), grip=-1.0)  # free table between bin and tray
    assert cell.outcome() is CellOutcome.RUNNING
    while cell.outcome() is CellOutcome.RUNNING:
        cell.step(np.array([0.0, 0.0, -0.3, -1.0], dtype=np.float32))
    assert [f.category for f in cell.faults()] == ["collision"]
    assert cell.max_contact_force_n > 40.0


def test_expert_contact_forces_stay_below_the_collision_limit(cell: FactoryKitting) -> None:
    assert _run_expert(cell, 7) is CellOutcome.SUCCESS
    assert 1.0 < cell.max_contact_force_n < 40.0


def test_closing_on_nothing_is_a_grasp_miss_warning(cell: FactoryKitting) -> None:
    cell.reset(6)
    for _ in range(6):
        cell.step(np.array([0.0, 0.0, 0.0, 1.0], dtype=np.float32))
    assert cell.outcome() is CellOutcome.RUNNING
    assert [(f.category, f.severity) for f in cell.faults()] == [("grasp_miss", "warning")]
    assert cell.reset(6).state[3] == pytest.approx(1.0, abs=0.02)
    assert cell.faults() == []


def test_carrying_the_part_off_the_table_and_letting_go_is_a_drop(cell: FactoryKitting) -> None:
    cell.reset(8, instruction="place the box in the tray")
    # Let the expert grasp and lift the box, then take over.
    for _ in range(80):
        cell.step(cell.expert_action())
        if cell._holding() and cell._data.qpos[cell._qadr_tool][2] > 0.09:
            break
    assert cell._holding()
    _drive_to(cell, np.array([0.0, -0.335, 0.1]), grip=1.0)
    for _ in range(20):
        if cell.outcome() is not CellOutcome.RUNNING:
            break
        cell.step(np.array([0.0, 0.0, 0.0, -1.0], dtype=np.float32))
    assert cell.outcome() is CellOutcome.FAILURE
    assert [f.category for f in cell.faults()] == ["drop"]
    assert "box fell off the table" in cell.faults()[0].message


def test_success_needs_the_part_resting_upright_in_the_tray(cell: FactoryKitting) -> None:
    def place(seed: int, quat: list[float], height: float) -> CellOutcome:
        cell.reset(seed, instruction="place the bracket in the tray")
        qadr = cell._part_qadr["bracket"]
        tray = cell._tray_xy()
        cell._data.qpos[qadr : qadr + 7] = [tray[0], tray[1], height, *quat]
        cell._data.qvel[cell._part_dadr["bracket"] : cell._part_dadr["bracket"] + 6] = 0.0
        for _ in range(8):
            cell.step(np.zeros(4, dtype=np.float32))
        return cell.outcome()

    assert place(9, [1.0, 0.0, 0.0, 0.0], 0.008) is CellOutcome.SUCCESS
    assert cell.sim_time_s == pytest.approx(0.1)
    # Upside down (rotated 180 degrees about x): in the tray, but not upright.
    assert place(9, [0.0, 1.0, 0.0, 0.0], 0.04) is CellOutcome.RUNNING


def test_close_frees_the_renderer_and_is_idempotent() -> None:
    extra = cell_make(KEY)
    extra.reset(0)
    extra.close()
    extra.close()
    with pytest.raises(RuntimeError, match="closed"):
        extra.reset(0)


def test_training_keypoints_land_on_the_target_part_and_the_tray_in_the_image(cell: FactoryKitting) -> None:
    # The projection is checked against the renderer itself: the pixel under the box's keypoint has the
    # box's orange, the one under the tray's keypoint the tray floor's dark grey.
    for seed in range(6):
        obs = cell.reset(seed, instruction="place the box in the tray")
        image = obs.images["front"].astype(int)
        points = cell.training_keypoints()
        assert points.shape == (2, 2) and np.all(np.abs(points) < 1.0)
        h, w, _ = image.shape
        (bx, by), (tx, ty) = ((points + 1) / 2 * [w, h]).astype(int)
        r, g, b = image[by, bx]
        assert r > g + 40 > b + 40, (seed, image[by, bx])  # orange (0.85, 0.5, 0.2)
        assert np.all(image[ty, tx] < 90), (seed, image[ty, tx])  # tray floor (0.2, 0.2, 0.22)
