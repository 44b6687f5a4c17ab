"""Variation factors of the built-in cells: each level changes the image or the dynamics, the same way
for the same seed; nominal levels reproduce the episodes from before factors existed; bad levels are
refused naming the factor (core/sim/variation.py, actuation.py, scene_variation.py, cells/)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import numpy as np
import pytest

from core.sim import Cell, CellOutcome, cell_make
from core.sim.episode import episode_rollout
from core.sim.variation import Level, Levels, VariationError

CELLS = ("factory-kitting", "tabletop-reach-2d", "fetch-pick-and-place", "metaworld-reach-v3")
SEED = 2  # factory-kitting: only the target (a box) in the bin at the seeded distractor draw
# A level away from nominal for every factor key any cell has (a new factor must be added here).
OFF_NOMINAL: dict[str, Level] = {
    "light_intensity": 0.4,
    "light_azimuth_deg": 120.0,
    "light_colour": "warm-3000k",
    "camera_shift_m": 0.04,
    "camera_rotation_deg": 8.0,
    "distractors": "2",
    "part_colour": "red",
    "part_scale": 1.3,
    "table_texture": "checker",
    "action_noise": 0.1,
    "actuation_delay": 3.0,
    "instruction_set": "synonym",
}
STEPS = 6  # expert steps recorded after reset: enough for noise and delay to move the tool


@pytest.fixture(scope="module")
def cells() -> Iterator[dict[str, Cell]]:
    made: dict[str, Cell] = {}

    class Lazy(dict[str, Cell]):
        def __missing__(self, key: str) -> Cell:
            made[key] = self[key] = cell_make(key)
            return made[key]

    yield Lazy()
    for cell in made.values():
        cell.close()


def _signature(cell: Cell, seed: int, variation: Levels | None, *, steps: int = STEPS) -> str:
    """A digest of the first image, the instruction and the states over a few expert steps."""
    digest = hashlib.sha256()
    obs = cell.reset(seed, variation=variation)
    digest.update(obs.instruction.encode())
    for image in obs.images.values():
        digest.update(image.tobytes())
    for _ in range(steps):
        obs = cell.step(cell.expert_action())
        digest.update(obs.state.tobytes())
    return digest.hexdigest()


def _factor_cases() -> list[tuple[str, str]]:
    # Factor keys per cell, listed without making the cells (the gym ones take a second each).
    common = ["light_intensity", "action_noise", "actuation_delay"]
    camera = ["camera_shift_m", "camera_rotation_deg"]
    per_cell = {
        "factory-kitting": list(OFF_NOMINAL),
        "tabletop-reach-2d": common,
        "fetch-pick-and-place": [*common, "light_colour", *camera],
        "metaworld-reach-v3": [*common, "light_colour", "light_azimuth_deg", *camera],
    }
    return [(cell, key) for cell, keys in per_cell.items() for key in keys]


@pytest.mark.parametrize("cell_key", CELLS)
def test_every_factor_has_a_test_level_and_the_cases_cover_the_cell(cells: dict[str, Cell], cell_key: str) -> None:
    keys = {f.key for f in cells[cell_key].factors()}
    assert keys <= set(OFF_NOMINAL)
    assert keys == {key for cell, key in _factor_cases() if cell == cell_key}
    assert {"action_noise", "actuation_delay", "light_intensity"} <= keys


@pytest.mark.parametrize(("cell_key", "factor"), _factor_cases())
def test_factor_level_changes_the_episode_the_same_way_each_time(
    cells: dict[str, Cell], cell_key: str, factor: str
) -> None:
    cell = cells[cell_key]
    level = {factor: OFF_NOMINAL[factor]}
    nominal = _signature(cell, SEED, None)
    varied = _signature(cell, SEED, level)
    assert varied != nominal
    assert _signature(cell, SEED, level) == varied
    # The cell is reused across episodes: a nominal episode after a varied one is today's again.
    assert _signature(cell, SEED, None) == nominal


@pytest.mark.parametrize("cell_key", CELLS)
def test_explicit_nominal_levels_reproduce_the_default_episode(cells: dict[str, Cell], cell_key: str) -> None:
    cell = cells[cell_key]
    explicit = {f.key: f.nominal for f in cell.factors()}
    for seed in (0, 5):
        assert _signature(cell, seed, explicit, steps=15) == _signature(cell, seed, None, steps=15)


def test_nominal_rollout_with_and_without_explicit_levels_is_identical(cells: dict[str, Cell]) -> None:
    cell = cells["factory-kitting"]
    explicit = {f.key: f.nominal for f in cell.factors()}
    runs = []
    for variation in (None, explicit):
        states: list[bytes] = []

        def act(obs: object, states: list[bytes] = states) -> np.ndarray:
            states.append(obs.state.tobytes() + obs.images["front"].tobytes())  # type: ignore[attr-defined]
            return cell.expert_action()

        result = episode_rollout(cell=cell, act=act, seed=4, variation=variation)
        runs.append((result.outcome, result.steps, result.sim_time_s, states))
    assert runs[0] == runs[1]
    assert runs[0][0] is CellOutcome.SUCCESS


# The scripted expert on main before variation factors existed (seed: steps, target part, final tool
# x, y, z, finger gap); every episode a success without faults.
FACTORY_EXPERT_ON_MAIN = {
    0: (43, "box", (0.163268, -0.077384, 0.034855, 0.879939)),
    1: (35, "bolt", (0.179539, 0.071654, 0.029125, 0.541488)),
    2: (37, "box", (0.225135, -0.065239, 0.034848, 0.854438)),
    3: (31, "box", (0.224085, 0.013197, 0.034855, 0.904143)),
    6: (35, "bolt", (0.197432, -0.019876, 0.028945, 0.541487)),
}
TABLETOP_EXPERT_ON_MAIN = {0: (24, (0.349306, 0.217123, 1.0)), 1: (16, (0.304256, 0.462167, 1.0))}


@pytest.mark.parametrize("seed", sorted(FACTORY_EXPERT_ON_MAIN))
def test_factory_nominal_expert_outcomes_are_those_of_main(cells: dict[str, Cell], seed: int) -> None:
    cell = cells["factory-kitting"]
    steps, part, final = FACTORY_EXPERT_ON_MAIN[seed]
    explicit = {f.key: f.nominal for f in cell.factors()}
    for variation in (None, explicit):
        obs = cell.reset(seed, variation=variation)
        n = 0
        while cell.outcome() is CellOutcome.RUNNING:
            obs = cell.step(cell.expert_action())
            n += 1
        assert (cell.outcome(), n, cell.faults(), cell.target_part) == (CellOutcome.SUCCESS, steps, [], part)  # type: ignore[attr-defined]
        assert cell.sim_time_s == pytest.approx(steps * 0.1)
        assert obs.state == pytest.approx(np.array(final, dtype=np.float32), abs=1e-5)


@pytest.mark.parametrize("seed", sorted(TABLETOP_EXPERT_ON_MAIN))
def test_tabletop_nominal_expert_outcomes_are_those_of_main(cells: dict[str, Cell], seed: int) -> None:
    cell = cells["tabletop-reach-2d"]
    steps, final = TABLETOP_EXPERT_ON_MAIN[seed]
    obs = cell.reset(seed, variation={"action_noise": 0.0, "actuation_delay": 0.0, "light_intensity": 1.0})
    n = 0
    while cell.outcome() is CellOutcome.RUNNING:
        obs = cell.step(cell.expert_action())
        n += 1
    assert (cell.outcome(), n) == (CellOutcome.SUCCESS, steps)
    assert obs.state == pytest.approx(np.array(final, dtype=np.float32), abs=1e-5)


def test_reference_policy_nominal_outcomes_match_its_card(cells: dict[str, Cell]) -> None:
    from policies.reference.evaluate import eval_instruction, reference_load

    cell = cells["factory-kitting"]
    policy, card = reference_load("factory-kitting")
    seeds = range(card["evaluation"]["held_out_seeds"][0], card["evaluation"]["held_out_seeds"][0] + 4)
    outcomes = ""
    for seed in seeds:
        instruction = eval_instruction(phrasings=card["training"]["phrasings"], seed=seed)
        controller = policy.episode(instruction=instruction)
        explicit = {f.key: f.nominal for f in cell.factors()}
        result = episode_rollout(cell=cell, act=controller.act, seed=seed, instruction=instruction, variation=explicit)
        controller.close()
        outcomes += "S" if result.outcome is CellOutcome.SUCCESS else "F"
    assert outcomes == card["evaluation"]["seen_phrasings"]["outcomes"][:4]


# --- what each factory factor changes, and what it leaves alone --------------------------------------


def _first(cell: Cell, variation: Levels | None, seed: int = SEED) -> tuple[np.ndarray, np.ndarray, str]:
    obs = cell.reset(seed, variation=variation)
    return obs.images[cell.info.cameras[0]].astype(np.int16), obs.state.copy(), obs.instruction


@pytest.mark.parametrize(
    "factor",
    ["light_intensity", "light_azimuth_deg", "light_colour", "camera_shift_m", "camera_rotation_deg", "table_texture"],
)
def test_scene_factors_change_the_image_and_not_the_layout(cells: dict[str, Cell], factor: str) -> None:
    cell = cells["factory-kitting"]
    image0, state0, _ = _first(cell, None)
    target0 = cell._data.xpos[cell._part_body["box"]].copy()  # type: ignore[attr-defined]
    image, state, _ = _first(cell, {factor: OFF_NOMINAL[factor]})
    assert np.abs(image - image0).mean() > 0.5
    assert np.array_equal(state, state0)
    assert np.array_equal(cell._data.xpos[cell._part_body["box"]], target0)  # type: ignore[attr-defined]


def test_light_intensity_darkens_and_brightens(cells: dict[str, Cell]) -> None:
    cell = cells["factory-kitting"]
    mean = {x: _first(cell, {"light_intensity": x})[0].mean() for x in (0.3, 1.0, 2.0)}
    assert mean[0.3] < mean[1.0] - 20 and mean[2.0] > mean[1.0] + 20


def test_warm_light_is_redder_than_cool(cells: dict[str, Cell]) -> None:
    cell = cells["factory-kitting"]
    warm = _first(cell, {"light_colour": "warm-3000k"})[0].reshape(-1, 3).mean(axis=0)
    cool = _first(cell, {"light_colour": "cool-9000k"})[0].reshape(-1, 3).mean(axis=0)
    assert warm[0] - warm[2] > 30 and cool[2] > cool[0]


def test_distractor_levels_add_parts_and_keep_the_target_where_the_seed_put_it(cells: dict[str, Cell]) -> None:
    cell = cells["factory-kitting"]
    in_bin = {}
    target_pose = {}
    for level in ("seeded", "0", "1", "2"):
        cell.reset(SEED, variation={"distractors": level})
        data, bodies = cell._data, cell._part_body  # type: ignore[attr-defined]
        in_bin[level] = sorted(name for name, body in bodies.items() if data.xpos[body, 2] > -0.1)
        target_pose[level] = data.xpos[bodies[cell.target_part]].copy()  # type: ignore[attr-defined]
    assert in_bin["seeded"] == in_bin["0"] == ["box"]
    assert len(in_bin["1"]) == 2 and in_bin["2"] == ["bolt", "box", "bracket"]
    for level in ("0", "1", "2"):
        assert np.allclose(target_pose[level], target_pose["seeded"], atol=1e-6)


def test_part_scale_scales_the_target_and_its_grasp(cells: dict[str, Cell]) -> None:
    cell = cells["factory-kitting"]
    sizes = {}
    for scale in (1.0, 1.3):
        cell.reset(SEED, variation={"part_scale": scale})
        model = cell._model  # type: ignore[attr-defined]
        sizes[scale] = (model.geom_size[model.geom("box_geom").id].copy(), cell._target.rest_z_m)  # type: ignore[attr-defined]
        box_z = cell._data.xpos[cell._part_body["box"], 2]  # type: ignore[attr-defined]
        assert box_z == pytest.approx(sizes[scale][1], abs=2e-3)  # resting on the bin floor at its new size
    assert sizes[1.3][0] == pytest.approx(sizes[1.0][0] * 1.3)
    assert sizes[1.3][1] == pytest.approx(0.026)
    cell.reset(SEED)  # and back: the loaded geometry, not a scaled one
    assert cell._model.geom_size[cell._model.geom("box_geom").id] == pytest.approx(sizes[1.0][0])  # type: ignore[attr-defined]


@pytest.mark.parametrize("level", [0.8, 1.3])
def test_scripted_expert_still_places_a_rescaled_part(cells: dict[str, Cell], level: float) -> None:
    cell = cells["factory-kitting"]
    successes = 0
    for seed in range(4):
        cell.reset(seed, variation={"part_scale": level})
        while cell.outcome() is CellOutcome.RUNNING:
            cell.step(cell.expert_action())
        successes += cell.outcome() is CellOutcome.SUCCESS
    assert successes >= 3


def test_part_colour_paints_only_the_target(cells: dict[str, Cell]) -> None:
    cell = cells["factory-kitting"]
    cell.reset(SEED, variation={"part_colour": "blue", "distractors": "2"})
    model = cell._model  # type: ignore[attr-defined]
    assert tuple(model.geom_rgba[model.geom("box_geom").id][:3]) == pytest.approx((0.12, 0.25, 0.8))
    assert tuple(model.geom_rgba[model.geom("bolt_shaft").id][:3]) == pytest.approx((0.3, 0.32, 0.38))


def test_instruction_sets_rephrase_but_keep_the_target(cells: dict[str, Cell]) -> None:
    from core.sim.cells.factory_kitting import PART_SYNONYMS, UNSEEN_PHRASINGS, instruction_part

    cell = cells["factory-kitting"]
    given = "kit the bolt into the tray"
    assert cell.reset(1, instruction=given, variation={"instruction_set": "trained"}).instruction == given
    paraphrase = cell.reset(1, instruction=given, variation={"instruction_set": "paraphrase"}).instruction
    assert paraphrase in {p.format(part="bolt") for p in UNSEEN_PHRASINGS}
    synonym = cell.reset(1, instruction=given, variation={"instruction_set": "synonym"}).instruction
    assert synonym in {f"kit the {s} into the tray" for s in PART_SYNONYMS["bolt"]}
    assert instruction_part(synonym) is None and cell.target_part == "bolt"  # type: ignore[attr-defined]
    both = cell.reset(1, instruction=given, variation={"instruction_set": "paraphrase+synonym"}).instruction
    assert "bolt" not in both and cell.target_part == "bolt"  # type: ignore[attr-defined]
    # Without an instruction the seed picks the part, and the phrasing set words it.
    seeded = cell.reset(0, variation={"instruction_set": "synonym"}).instruction
    assert seeded in {f"place the {s} in the tray" for s in PART_SYNONYMS["box"]}


def test_actuation_delay_holds_still_then_replays_the_actions(cells: dict[str, Cell]) -> None:
    cell = cells["factory-kitting"]
    start = cell.reset(SEED, variation={"actuation_delay": 2}).state.copy()
    push = np.array([1.0, 0.0, 0.0, -1.0], dtype=np.float32)
    after = [cell.step(push).state.copy() for _ in range(4)]
    assert np.allclose(after[1][:3], start[:3], atol=1e-3)  # two steps of the idle action
    assert after[3][0] > start[0] + 0.03  # then the pushes arrive


def test_action_noise_moves_the_tool_when_the_policy_holds_still(cells: dict[str, Cell]) -> None:
    cell = cells["factory-kitting"]
    hold = np.array([0.0, 0.0, 0.0, -1.0], dtype=np.float32)
    start = cell.reset(SEED, variation={"action_noise": 0.2}).state.copy()
    moved = [cell.step(hold).state.copy() for _ in range(3)][-1]
    assert np.linalg.norm(moved[:3] - start[:3]) > 0.005
    assert moved[3] == pytest.approx(start[3], abs=0.02)  # the gripper command is not noised


# --- bad levels -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variation", "field"),
    [
        ({"light_intensity": 9.0}, "light_intensity"),
        ({"light_intensity": "bright"}, "light_intensity"),
        ({"actuation_delay": 1.5}, "actuation_delay"),
        ({"table_texture": "marble"}, "table_texture"),
        ({"distractors": 2}, "distractors"),
        ({"gravity": 1.0}, "gravity"),
    ],
)
def test_bad_levels_are_refused_naming_the_factor(cells: dict[str, Cell], variation: Levels, field: str) -> None:
    cell = cells["factory-kitting"]
    with pytest.raises(VariationError) as caught:
        cell.reset(0, variation=variation)
    assert caught.value.field == field
    assert field in str(caught.value)


def test_gym_cell_refuses_a_factor_its_model_does_not_have(cells: dict[str, Cell]) -> None:
    with pytest.raises(VariationError) as caught:
        cells["tabletop-reach-2d"].reset(0, variation={"table_texture": "wood"})
    assert caught.value.field == "table_texture"
