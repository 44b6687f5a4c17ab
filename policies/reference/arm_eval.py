"""The arm cell's reference-policy evaluation, torch-free (policies.reference.arm trains; the tests and
the evaluation processes import only this): the held-out rows' instructions and factor levels, and one
process's share of a row's episodes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import onnxruntime

from core.policy.onnx_runtime import policy_from_bytes
from core.policy.text_encoder import sentence_encoder
from core.sim import CellOutcome, cell_make
from core.sim.cells.factory_kitting_arm import PHRASINGS
from core.sim.cells.factory_kitting_arm.cell import FactoryKittingArm
from core.sim.cells.factory_kitting_arm.task import PART_NAMES
from core.sim.variation import Levels
from policies.reference.evaluate import HELD_OUT_SEED_BASE, rollout

KEY = "factory-kitting-arm"
HOLD_AFTER_SUCCESS_S = 3.0

# Never trained on: other sentence shapes, and part names the training phrasings never use (the cell
# resolves them through PART_SYNONYMS).
UNSEEN_INSTRUCTIONS = (
    "grab the angle bracket and set it down in its slot",
    "transfer the hex bolt over to the kit tray",
    "put the orange cube into its pocket",
    "the mounting bracket goes into the kit",
    "could you stow the screw in the tray",
    "drop the carton into the kit tray",
    "transfer the L-shaped bracket over to the kit tray",
    "set the cap screw into its slot in the kit",
    "the orange block goes in its pocket",
)
# Moderate perturbations (the card's row): the work light dimmer or brighter, turned and tinted, and the
# policy camera moved 1-2 cm and turned up to 2 degrees. Training randomises over wider ranges.


PERTURBED = {
    "light_intensity": (0.6, 1.5),
    "light_azimuth_deg": (-45.0, 45.0),
    "light_colour": ("nominal", "warm-3000k", "cool-9000k"),
    "camera_shift_m": (0.01, 0.02),
    "camera_rotation_deg": (0.0, 2.0),
}


# One description list per part: each prototype is the mean embedding of the training phrasings with
# each description filled in. Colours and materials are what the parts look like in the cell.
PART_DESCRIPTIONS = {
    "bracket": ("bracket", "green bracket", "steel bracket", "bent metal plate"),
    "bolt": ("bolt", "grey bolt", "steel bolt", "threaded fastener"),
    "box": ("box", "orange box", "small box", "small container"),
}


def prototypes() -> tuple[np.ndarray, np.ndarray]:
    """(parts, 384) unit prototype directions in PART_NAMES order, and the (384,) centre they are measured
    from. Each part's prototype is the mean embedding of the training phrasings with each of its
    descriptions filled in; all three share the phrasing, so their mean (the centre) is mostly "put X in
    the tray": subtracting it leaves what tells the parts apart (with raw cosines, "could you stow the
    screw in the tray" read 0.57 bracket, 0.43 bolt)."""
    encoder = sentence_encoder()
    rows = []
    for part in PART_NAMES:
        texts = [p.format(part=d) for p in PHRASINGS for d in PART_DESCRIPTIONS[part]]
        mean = encoder.encode(texts).mean(axis=0)
        rows.append(mean / np.linalg.norm(mean))
    means = np.stack(rows)
    centre = means.mean(axis=0)
    directions = means - centre
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return directions.astype(np.float32), centre.astype(np.float32)


def factor_levels_draw(ranges: dict[str, tuple[Any, ...]], rng: np.random.Generator) -> Levels:
    """Factor levels drawn uniformly from numeric (low, high) ranges, or one of a tuple of choices."""
    levels: dict[str, float | str] = {}
    for key, values in ranges.items():
        if isinstance(values[0], str):
            levels[key] = str(rng.choice(list(values)))
        else:
            levels[key] = float(rng.uniform(values[0], values[1]))
    return levels


def perturbed_variation(seed: int) -> Levels:
    """The perturbed row's factor levels for a held-out seed (drawn from the seed alone)."""
    return factor_levels_draw(PERTURBED, np.random.default_rng([seed, 19]))


def arm_cell_make() -> FactoryKittingArm:
    """The arm cell as training and evaluation run it: every episode kept going HOLD_AFTER_SUCCESS_S
    past the placement, so a fault after success is a failure."""
    cell = cell_make(KEY, hold_after_success_s=HOLD_AFTER_SUCCESS_S)
    assert isinstance(cell, FactoryKittingArm)  # noqa: S101
    return cell


def _progress(seeds: list[int], *, desc: str, position: int) -> Iterable[int]:
    """A progress bar where tqdm is installed (the build's requirements-train.txt); the suite and the
    workers have no tqdm, and their evaluations need none."""
    try:
        from tqdm import tqdm
    except ImportError:
        return seeds
    return tqdm(seeds, desc=desc, position=position, leave=False, unit="ep")


def evaluate_seeds(row_name: str, seeds: list[int], model: tuple[bytes, dict], row: int) -> list[dict]:
    """One evaluation row's episodes on `seeds`; per seed: success, faults, the part, success time."""
    onnxruntime.set_default_logger_severity(3)
    cell = arm_cell_make()
    policy = policy_from_bytes(data=model[0], io_spec=model[1])
    out = []
    for seed in _progress(seeds, desc=f"eval {row_name} (job {row})", position=row):
        instruction, variation = eval_episode(row_name, seed)
        controller = policy.episode(instruction=instruction)
        result = rollout(cell=cell, act=controller.act, seed=seed, instruction=instruction, variation=variation)
        out.append(
            {
                "seed": seed,
                "success": result.success,
                "faults": result.faults,
                "part": cell.target_part,
                "placed": cell.placed_at_s is not None,
                "fault_after_placed": cell.placed_at_s is not None and cell.outcome() is not CellOutcome.SUCCESS,
            }
        )
    cell.close()
    return out


def eval_episode(row_name: str, seed: int) -> tuple[str, Levels | None]:
    """The instruction and factor levels of a held-out seed in an evaluation row."""
    index = seed - HELD_OUT_SEED_BASE
    if row_name == "unseen_phrasings":
        return UNSEEN_INSTRUCTIONS[index % len(UNSEEN_INSTRUCTIONS)], None
    instruction = PHRASINGS[index % len(PHRASINGS)].format(part=PART_NAMES[index % len(PART_NAMES)])
    return instruction, perturbed_variation(seed) if row_name == "perturbed" else None
