"""Roll out an ONNX policy in a cell without Django or torch: success rates for the reference policy's
report, and the bare loop the runner benchmark compares against."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from core.policy.base import Policy
from core.policy.onnx_runtime import LoadedPolicy, policy_load
from core.sim import Cell, CellOutcome, Observation
from core.sim.variation import Levels

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
# Episode seeds: training demos and DAgger rollouts use seeds below HELD_OUT_SEED_BASE; evaluation only
# seeds at or above it, so reported success rates are on layouts the policy never trained on.
HELD_OUT_SEED_BASE = 1_000_000


@dataclass
class Rollout:
    success: bool
    steps: int
    sim_time_s: float
    faults: list[str]
    observations: list[Observation] = field(default_factory=list)
    expert_actions: list[npt.NDArray[np.float32]] = field(default_factory=list)
    keypoints: list[npt.NDArray[np.float32]] = field(default_factory=list)


def rollout(
    *,
    cell: Cell,
    act: Callable[[Observation], npt.NDArray[np.float32]],
    seed: int,
    instruction: str,
    record: bool = False,
    expert_share: float = 0.0,
    rng: np.random.Generator | None = None,
    max_steps: int = 10_000,
    variation: Levels | None = None,
    labels: Callable[[Cell], npt.NDArray[np.float32]] | None = None,
) -> Rollout:
    """Run one episode with `act` (obs -> action). With record=True, keep every observation with the
    expert's action for it (DAgger labels) and the cell's training keypoints; with expert_share > 0, execute the expert's action instead of
    the policy's on that share of steps; variation: the cell's factor levels; labels: what to record as
    the training labels instead of the cell's keypoints. Returns a Rollout."""
    obs = cell.reset(seed=seed, instruction=instruction, variation=variation)
    result = Rollout(success=False, steps=0, sim_time_s=0.0, faults=[])
    while cell.outcome() is CellOutcome.RUNNING and result.steps < max_steps:
        expert = cell.expert_action() if (record or expert_share > 0) else None
        if record:
            result.observations.append(obs)
            result.expert_actions.append(np.asarray(expert, dtype=np.float32))
            # Cells the reference policy trains on (factory-kitting, tabletop-reach-2d) label where the
            # task's key objects are in the image; it is not part of the Cell protocol.
            label = labels(cell) if labels else cell.training_keypoints()  # type: ignore[attr-defined]
            result.keypoints.append(np.asarray(label, dtype=np.float32))
        if expert is not None and expert_share > 0 and rng is not None and rng.random() < expert_share:
            action = expert
        else:
            action = act(obs)
        obs = cell.step(action)
        result.steps += 1
    result.success = cell.outcome() is CellOutcome.SUCCESS
    result.sim_time_s = cell.sim_time_s
    result.faults = [f.category for f in cell.faults()]
    return result


def success_rate(
    *,
    cell: Cell,
    policy: Policy,
    seeds: Iterable[int],
    instructions: Callable[[int], str],
    progress: Callable[[Iterable[int]], Iterable[int]] | None = None,
) -> dict[str, Any]:
    """Success rate of a policy over seeds (instruction per seed from `instructions`). Returns
    {"episodes", "successes", "success_rate", "faults": {category: count},
    "outcomes": "SF..." per seed}."""
    seed_list = list(seeds)
    successes = 0
    faults: dict[str, int] = {}
    outcomes: list[str] = []
    for seed in progress(seed_list) if progress else seed_list:
        instruction = instructions(seed)
        controller = policy.episode(instruction=instruction)
        try:
            result = rollout(cell=cell, act=controller.act, seed=seed, instruction=instruction)
        finally:
            controller.close()
        successes += int(result.success)
        outcomes.append("S" if result.success else "F")
        for category in result.faults:
            faults[category] = faults.get(category, 0) + 1
    return {
        "episodes": len(seed_list),
        "successes": successes,
        "success_rate": round(successes / max(1, len(seed_list)), 4),
        "faults": faults,
        "outcomes": "".join(outcomes),  # per seed, in order: lets a test re-check the reported figures
    }


def artifact_paths(cell_key: str, folder: Path = ARTIFACTS) -> tuple[Path, Path]:
    """(onnx model, json card) of the reference policy for a cell in `folder` (default: the committed one)."""
    return folder / f"{cell_key}.onnx", folder / f"{cell_key}.json"


def reference_load(cell_key: str) -> tuple[LoadedPolicy, dict[str, Any]]:
    """The committed reference policy for a cell, loaded by the runtime, and its card (io_spec, metrics).
    Raises FileNotFoundError when no artifact exists for the cell."""
    model, card_path = artifact_paths(cell_key)
    card = json.loads(card_path.read_text())
    return policy_load(path=model, sha256=card["sha256"], io_spec=card["io_spec"]), card


def eval_instruction(*, phrasings: list[str], seed: int, unseen_phrasing: str | None = None) -> str:
    """The instruction evaluation uses for a held-out seed: the training phrasings in turn, or the never-seen
    phrasing (its {part} filled in turn with the parts the training phrasings name)."""
    if unseen_phrasing is None:
        return phrasings[seed % len(phrasings)]
    parts = [p for p in ("bracket", "bolt", "box") if any(p in x for x in phrasings)]
    return unseen_phrasing.format(part=parts[seed % len(parts)] if parts else "part")
