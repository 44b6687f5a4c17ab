from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import pytest

from core.sim import Cell, CellOutcome, cell_keys, cell_make
from core.sim.cells.factory_kitting_arm import (
    FACTORS,
    PART_NAMES,
    PHRASINGS,
    STAGES,
    FactoryKittingArm,
    instruction_part,
)
from core.sim.episode import episode_rollout
from core.sim.variation import VariationError

KEY = "factory-kitting-arm"


@pytest.fixture(scope="module")
def cell() -> Iterator[FactoryKittingArm]:
    # One cell (one GL context, one model compile) for the module: building them is the slow part.
    made = cell_make(KEY)
    assert isinstance(made, FactoryKittingArm)
    yield made
    made.close()


def _run_expert(cell: Cell, seed: int, instruction: str | None = None) -> CellOutcome:
    cell.reset(seed, instruction=instruction)
    while cell.outcome() is CellOutcome.RUNNING:
        cell.step(cell.expert_action())
    return cell.outcome()


def _drive_to(cell: FactoryKittingArm, goal: npt.NDArray[np.float64], *, grip: float) -> None:
    """Move the tool set-point to goal with a proportional command until there or the episode ends."""
    for _ in range(80):
        if cell.outcome() is not CellOutcome.RUNNING:
            return
        delta = goal - cell._cmd
        if np.linalg.norm(delta) < 1e-3:
            return
        cell.step(np.array([*np.clip(delta / 0.025, -1.0, 1.0), grip], dtype=np.float32))


def test_cell_is_registered_and_implements_the_cell_protocol(cell: FactoryKittingArm) -> None:
    assert KEY in cell_keys()
    assert isinstance(cell, Cell)
    assert cell.info.action_dim == 4 and cell.info.state_dim == 11
    assert cell.info.cameras == ("front", "wrist") and cell.info.image_shape == (96, 96, 3)
    assert cell.info.default_instruction in cell.info.instructions
    for part in PART_NAMES:
        assert sum(part in text for text in cell.info.instructions) == len(PHRASINGS)
    assert cell.stages() == STAGES and cell.stage_reached() == 0
    cell.time_limit_s = 12.0
    assert cell.time_limit_s == 12.0
    cell.time_limit_s = 15.0
    cell.reset(0)
    overview = cell.render_overview(px=160)
    assert overview.shape == (160, 160, 3) and overview.dtype == np.uint8 and overview.std() > 10


def test_the_arm_comes_from_the_installed_robosuite_package(cell: FactoryKittingArm) -> None:
    m = cell._model
    assert [m.joint(j).name for j in cell._arm_joints] == [f"arm_joint{i}" for i in range(1, 8)]
    assert m.nmesh > 50  # the Panda's published meshes, not primitives


def test_observation_is_an_image_plus_joint_positions_and_gripper_opening(cell: FactoryKittingArm) -> None:
    obs = cell.reset(3)
    assert set(obs.images) == {"front", "wrist"}
    for image in obs.images.values():
        assert image.dtype == np.uint8 and image.shape == (96, 96, 3) and image.std() > 10
    assert obs.state.dtype == np.float32 and obs.state.shape == (11,)
    assert obs.state[3] == pytest.approx(1.0, abs=0.03)  # fingers start open
    np.testing.assert_allclose(obs.state[4:], cell._data.qpos[cell._qadr_arm], atol=1e-6)
    np.testing.assert_allclose(obs.state[:3], cell._tool(), atol=1e-6)
    assert obs.instruction == PHRASINGS[0].format(part=cell.target_part)


def test_same_seed_gives_the_same_episode_and_seeds_vary_the_scene(cell: FactoryKittingArm) -> None:
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
    assert np.array_equal(after.state, after_again.state)
    targets, distractors, images = set(), set(), []
    for seed in range(12):
        images.append(cell.reset(seed).images["front"])
        targets.add(cell.target_part)
        distractors.add(len(cell._active) - 1)
    assert targets == set(PART_NAMES)
    assert distractors == {0, 1, 2}
    assert len({img.tobytes() for img in images}) == 12


def test_instruction_naming_a_part_makes_it_the_target(cell: FactoryKittingArm) -> None:
    assert instruction_part("Kit the BOLTS") == "bolt"
    assert instruction_part("place the widget in the tray") is None
    for part in PART_NAMES:
        obs = cell.reset(5, instruction=f"transfer the {part} to its pocket, please")
        assert cell.target_part == part
        assert obs.instruction == f"transfer the {part} to its pocket, please"


def test_scripted_expert_places_every_part_type_and_stages_advance_in_order(cell: FactoryKittingArm) -> None:
    for seed in range(6):
        part = PART_NAMES[seed % len(PART_NAMES)]
        result = episode_rollout(
            cell=cell,
            act=lambda _obs: cell.expert_action(),
            seed=1000 + seed,
            instruction=PHRASINGS[seed % len(PHRASINGS)].format(part=part),
        )
        assert cell.target_part == part
        assert result.outcome is CellOutcome.SUCCESS, (seed, result.faults)
        assert result.faults == []
        assert result.stages.reached == len(STAGES)
        assert list(result.stages.reached_at_s) == sorted(result.stages.reached_at_s)
        # Reaching, grasping, lifting, carrying and placing each take simulated time.
        assert result.stages.reached_at_s[0] < result.stages.reached_at_s[2] < result.stages.reached_at_s[-1]
        assert 2.0 <= result.sim_time_s <= 10.0
        assert 1.0 < cell.max_contact_force_n < cell._force_limit_n
        part_centre = cell._part_centre()
        np.testing.assert_array_less(np.abs(part_centre[:2] - cell._pocket_xy()), [0.0475, 0.055])


def test_expert_retracts_clear_of_the_tray_after_letting_go() -> None:
    # Held 3 s past the placement, the episode counts only if nothing faults meanwhile: the expert climbs
    # out of the pocket and parks above the bench without touching the part or the tray again.
    held = cell_make(KEY, hold_after_success_s=3.0)
    try:
        assert isinstance(held, FactoryKittingArm)
        for seed, part in ((11, "box"), (12, "bolt")):
            assert _run_expert(held, seed, f"kit the {part}") is CellOutcome.SUCCESS
            assert held.faults() == []
            assert held.placed_at_s is not None
            assert held.sim_time_s == pytest.approx(held.placed_at_s + 3.0)
            assert held._tool()[2] > 0.15
            assert held._target_placed()
    finally:
        held.close()


def test_moving_outside_the_workspace_is_a_fatal_safety_stop(cell: FactoryKittingArm) -> None:
    cell.reset(1)
    steps = 0
    while cell.outcome() is CellOutcome.RUNNING:
        cell.step(np.array([0.0, 0.0, 1.0, -1.0], dtype=np.float32))
        steps += 1
    assert cell.outcome() is CellOutcome.FAILURE and steps < 12
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


def test_driving_into_the_table_is_a_collision_fault(cell: FactoryKittingArm) -> None:
    cell.reset(4)
    _drive_to(cell, np.array([-0.05, -0.2, 0.06]), grip=-1.0)  # free bench in front of the bin
    assert cell.outcome() is CellOutcome.RUNNING
    while cell.outcome() is CellOutcome.RUNNING:
        cell.step(np.array([0.0, 0.0, -0.4, -1.0], dtype=np.float32))
    assert [f.category for f in cell.faults()] == ["collision"]
    assert cell.max_contact_force_n > cell._force_limit_n


def test_an_arm_link_touching_anything_is_a_collision_fault() -> None:
    # With the force limit out of the way, lower the open hand over the box: the fingers pass either side
    # and the hand itself comes down on the box's top. Any contact of a link counts, however light.
    lax = cell_make(KEY, force_limit_n=1e6)
    try:
        assert isinstance(lax, FactoryKittingArm)
        lax.reset(4, instruction="kit the box")
        box = lax._part_centre()
        _drive_to(lax, np.array([box[0], box[1], 0.09]), grip=-1.0)
        while lax.outcome() is CellOutcome.RUNNING:
            lax.step(np.array([0.0, 0.0, -0.3, -1.0], dtype=np.float32))
        faults = lax.faults()
        assert [f.category for f in faults] == ["collision"]
        assert faults[0].message.startswith("arm link") and faults[0].message.endswith("touched box")
    finally:
        lax.close()


def test_closing_on_nothing_is_a_grasp_miss_warning(cell: FactoryKittingArm) -> None:
    cell.reset(6)
    for _ in range(6):
        cell.step(np.array([0.0, 0.0, 0.0, 1.0], dtype=np.float32))
    assert cell.outcome() is CellOutcome.RUNNING
    assert [(f.category, f.severity) for f in cell.faults()] == [("grasp_miss", "warning")]
    assert cell.reset(6).state[3] == pytest.approx(1.0, abs=0.03)
    assert cell.faults() == []


def test_success_needs_the_part_upright_in_its_own_pocket(cell: FactoryKittingArm) -> None:
    def place(pocket_of: str, quat: list[float], height: float) -> CellOutcome:
        cell.reset(9, instruction="place the bracket in its pocket")
        qadr, dadr = cell._part_qadr["bracket"], cell._part_dadr["bracket"]
        xy = cell._pocket_xy(pocket_of)
        cell._data.qpos[qadr : qadr + 7] = [xy[0], xy[1] - 0.01, height, *quat]  # centre over the pocket
        cell._data.qvel[dadr : dadr + 6] = 0.0
        for _ in range(8):
            cell.step(np.zeros(4, dtype=np.float32))
        return cell.outcome()

    assert place("bracket", [1.0, 0.0, 0.0, 0.0], 0.011) is CellOutcome.SUCCESS
    assert place("box", [1.0, 0.0, 0.0, 0.0], 0.011) is CellOutcome.RUNNING  # the wrong pocket
    assert place("bracket", [0.0, 1.0, 0.0, 0.0], 0.045) is CellOutcome.RUNNING  # upside down


def test_factors_at_nominal_reproduce_the_default_scene(cell: FactoryKittingArm) -> None:
    assert {f.key for f in cell.factors()} >= {
        "light_intensity",
        "light_azimuth_deg",
        "camera_shift_m",
        "camera_rotation_deg",
        "light_colour",
        "distractors",
        "clutter",
        "action_noise",
        "actuation_delay",
    }
    default = cell.reset(21)
    nominal = cell.reset(21, variation={f.key: f.nominal for f in FACTORS})
    assert np.array_equal(default.images["front"], nominal.images["front"])
    assert np.array_equal(default.state, nominal.state)
    with pytest.raises(VariationError) as bad:
        cell.reset(21, variation={"camera_shift_m": 3.0})
    assert bad.value.field == "camera_shift_m"
    with pytest.raises(VariationError):
        cell.reset(21, variation={"gravity": 1.0})


@pytest.mark.parametrize(
    "levels",
    [
        {"light_intensity": 0.4},
        {"light_azimuth_deg": 90.0},
        {"camera_shift_m": 0.02},
        {"camera_rotation_deg": 3.0},
        {"light_colour": "warm-3000k"},
        {"clutter": 3.0},
    ],
)
def test_scene_factors_change_the_image_deterministically_and_nothing_else(
    cell: FactoryKittingArm, levels: dict[str, float]
) -> None:
    base = cell.reset(22)
    target, active = cell.target_part, list(cell._active)
    parts = {p: cell._data.xpos[cell._part_body[p]].copy() for p in PART_NAMES}
    varied = cell.reset(22, variation=levels)
    assert (cell.target_part, cell._active) == (target, active)
    for p in PART_NAMES:
        np.testing.assert_allclose(cell._data.xpos[cell._part_body[p]], parts[p], atol=1e-4)
    again = cell.reset(22, variation=levels)
    assert not np.array_equal(base.images["front"], varied.images["front"])
    # The light and the clutter show in the wrist camera too (it starts above the bench between the bin and
    # the tray); the camera factors move the front camera only: the wrist camera stays on its mount.
    moves_wrist = not any(key.startswith("camera_") for key in levels)
    assert np.array_equal(base.images["wrist"], varied.images["wrist"]) is not moves_wrist
    for camera in ("front", "wrist"):
        assert np.array_equal(varied.images[camera], again.images[camera]), camera


def test_the_wrist_camera_moves_with_the_hand_and_sees_the_part_between_the_fingers(cell: FactoryKittingArm) -> None:
    obs = cell.reset(5, instruction="kit the box")
    front, wrist = obs.images["front"], obs.images["wrist"]
    moved = cell.step(np.array([0.0, 0.0, 0.6, -1.0], dtype=np.float32))
    assert (
        np.abs(moved.images["wrist"].astype(int) - wrist).mean()
        > np.abs(moved.images["front"].astype(int) - front).mean()
    )
    while cell.stage_reached() < 3:  # lifted: the box is held between the fingers
        obs = cell.step(cell.expert_action())
    points = cell.training_keypoints("wrist")
    assert np.all(np.abs(points[0]) < 1.0)
    h, w, _ = obs.images["wrist"].shape
    bx, by = ((points[0] + 1) / 2 * [w, h]).astype(int)
    r, g, b = obs.images["wrist"][by, bx].astype(int)
    assert r > g + 30 > b + 30, obs.images["wrist"][by, bx]  # the box's orange, seen between the fingers


def test_distractor_levels_set_the_parts_in_the_bin_and_keep_their_poses(cell: FactoryKittingArm) -> None:
    cell.reset(25)
    seeded = list(cell._active)
    poses = {p.name: cell._data.xpos[cell._part_body[p.name]].copy() for p in seeded}
    for level in ("0", "1", "2"):
        cell.reset(25, variation={"distractors": level})
        assert cell._active[0] == seeded[0] and len(cell._active) == 1 + int(level)
        for part in cell._active:
            if part.name in poses:
                np.testing.assert_allclose(cell._data.xpos[cell._part_body[part.name]], poses[part.name], atol=1e-4)
            assert cell._data.xpos[cell._part_body[part.name], 2] > 0.0  # in the bin, not parked
        assert _run_expert_from_reset(cell) is CellOutcome.SUCCESS


def _run_expert_from_reset(cell: FactoryKittingArm) -> CellOutcome:
    while cell.outcome() is CellOutcome.RUNNING:
        cell.step(cell.expert_action())
    return cell.outcome()


@pytest.mark.parametrize("levels", [{"action_noise": 0.15}, {"actuation_delay": 2.0}])
def test_dynamics_factors_change_the_motion_deterministically(
    cell: FactoryKittingArm, levels: dict[str, float]
) -> None:
    def states(variation: dict[str, float] | None) -> npt.NDArray[np.float32]:
        cell.reset(23, variation=variation)
        out = []
        for _ in range(6):
            out.append(cell.step(np.array([0.6, -0.3, -0.2, -1.0], dtype=np.float32)).state)
        return np.stack(out)

    base, varied, again = states(None), states(levels), states(levels)
    assert not np.allclose(base, varied, atol=1e-4)
    assert np.array_equal(varied, again)


def test_actuation_delay_holds_the_first_actions_back(cell: FactoryKittingArm) -> None:
    cell.reset(24, variation={"actuation_delay": 2.0})
    start = cell._cmd.copy()
    move = np.array([1.0, 0.0, 0.0, -1.0], dtype=np.float32)
    cell.step(move)
    cell.step(move)
    np.testing.assert_allclose(cell._cmd, start)
    cell.step(move)
    assert cell._cmd[0] == pytest.approx(start[0] + 0.025)


def test_training_keypoints_land_on_the_target_part_and_its_pocket(cell: FactoryKittingArm) -> None:
    for seed in range(4):
        obs = cell.reset(seed, instruction="kit the box")
        image = obs.images["front"].astype(int)
        points = cell.training_keypoints()
        assert points.shape == (2, 2) and np.all(np.abs(points) < 1.0)
        h, w, _ = image.shape
        (bx, by), (px, py) = ((points + 1) / 2 * [w, h]).astype(int)
        r, g, b = image[by, bx]
        assert r > g + 30 > b + 30, (seed, image[by, bx])  # the box's orange (0.85, 0.5, 0.2)
        r, g, b = image[py, px]
        assert r > b + 20, (seed, image[py, px])  # the box pocket's brown tint (0.55, 0.36, 0.18)


def test_close_frees_the_renderer_and_is_idempotent() -> None:
    extra = cell_make(KEY)
    extra.reset(0)
    extra.close()
    extra.close()
    with pytest.raises(RuntimeError, match="closed"):
        extra.reset(0)


def test_instruction_part_resolves_synonyms_longest_first() -> None:
    assert instruction_part("put the orange cube into its pocket") == "box"
    assert instruction_part("transfer the hex bolt over to the kit tray") == "bolt"
    assert instruction_part("kit the L-shaped bracket") == "bracket"
    assert instruction_part("could you stow the screw in the tray") == "bolt"
    assert instruction_part("place the widget in the tray") is None
