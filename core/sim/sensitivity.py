"""A policy's sensitivity to each variation factor: success per level on the same seeds, with intervals.

    python -m core.sim.sensitivity                      # the committed reference policy, factory-kitting
    python -m core.sim.sensitivity --episodes 20 --factors light_intensity,camera_shift_m
    python -m core.sim.sensitivity --model M.onnx --card M.json --cell tabletop-reach-2d --levels L.json
    python -m core.sim.sensitivity --expert             # the cell's scripted expert, for comparison

One factor at a time around nominal: every condition runs the same seeds (common random numbers), so a
level's drop from nominal is paired; the table gives each level's success rate with a Wilson 95 %
interval and, against nominal on the same seeds, the episodes lost (nominal success, level failure)
and gained. Seed i gets the cell's training phrasing i mod len(phrasings), as the reference policy's
evaluation does; the policy is given the instruction the cell returns (an instruction_set level
rephrases it). Pure: no Django, runs on a worker or a laptop.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from core.policy.base import EpisodeController, Policy
from core.sim.base import Cell, CellOutcome, Observation
from core.sim.episode import episode_rollout
from core.sim.registry import cell_make
from core.sim.variation import Level, levels_validate
from core.stats import wilson_interval

REFERENCE_ARTIFACTS = Path(__file__).resolve().parents[2] / "policies" / "reference" / "artifacts"
HELD_OUT_SEED_BASE = 1_000_000  # the reference policy never trained on seeds from here on
# Levels run per factor by default (factory-kitting's factors; a cell lacking one skips it).
DEFAULT_LEVELS: dict[str, tuple[Level, ...]] = {
    "light_intensity": (0.4, 0.7, 1.5),
    "light_azimuth_deg": (90.0, 180.0),
    "light_colour": ("warm-3000k", "cool-9000k"),
    "camera_shift_m": (0.01, 0.02, 0.04),
    "camera_rotation_deg": (2.0, 5.0),
    "distractors": ("0", "2"),
    "part_colour": ("red", "blue"),
    "part_scale": (0.8, 1.2),
    "table_texture": ("wood", "checker", "noise"),
    "action_noise": (0.05, 0.1),
    "actuation_delay": (1.0, 2.0),
    "instruction_set": ("paraphrase", "synonym"),
}


@dataclass(frozen=True)
class ConditionResult:
    """One condition (factor at level; factor None = nominal) over the seeds: outcomes in seed order."""

    factor: str | None
    level: Level | None
    outcomes: tuple[bool, ...]

    @property
    def successes(self) -> int:
        return sum(self.outcomes)


class _InstructedPolicy:
    """The act callable of a rollout: opens the policy's episode on the first observation, with the
    instruction the cell returned (so a rephrasing factor reaches the policy)."""

    def __init__(self, policy: Policy) -> None:
        self._policy = policy
        self._controller: EpisodeController | None = None

    def __call__(self, obs: Observation) -> npt.NDArray[np.float32]:
        if self._controller is None:
            self._controller = self._policy.episode(instruction=obs.instruction)
        return self._controller.act(obs)

    def close(self) -> None:
        if self._controller is not None:
            self._controller.close()


class ExpertPolicy:
    """The cell's scripted expert as a Policy: what a factor does to the task itself, not to a
    learned policy's perception (the expert reads the simulator's state, never the image)."""

    def __init__(self, cell: Cell) -> None:
        self._cell = cell

    def episode(self, *, instruction: str) -> ExpertPolicy:
        return self

    def act(self, obs: Observation) -> npt.NDArray[np.float32]:
        return self._cell.expert_action()

    def latency_summary(self) -> dict[str, float]:
        return {}

    def close(self) -> None:
        """Nothing held."""


def condition_run(
    *, cell: Cell, policy: Policy, seeds: Sequence[int], variation: Mapping[str, Level] | None
) -> tuple[bool, ...]:
    """The policy's success on each seed at these levels (seed i with training phrasing i mod n)."""
    phrasings = cell.info.instructions or (cell.info.default_instruction,)
    outcomes = []
    for seed in seeds:
        act = _InstructedPolicy(policy)
        try:
            result = episode_rollout(
                cell=cell, act=act, seed=seed, instruction=phrasings[seed % len(phrasings)], variation=variation
            )
        finally:
            act.close()
        outcomes.append(result.outcome is CellOutcome.SUCCESS)
    return tuple(outcomes)


def sensitivity_run(
    *,
    cell: Cell,
    policy: Policy,
    seeds: Sequence[int],
    levels: Mapping[str, Sequence[Level]],
    progress: Callable[[ConditionResult, float], None] | None = None,
) -> list[ConditionResult]:
    """Nominal, then each factor of `levels` the cell has at each of its levels, all on `seeds`.
    Returns the conditions in that order; raises VariationError for a level the cell refuses."""
    known = {f.key for f in cell.factors()}
    plan: list[tuple[str | None, Level | None]] = [(None, None)]
    for key, values in levels.items():
        if key in known:
            for value in values:  # every level checked before the first episode runs
                levels_validate(cell.factors(), {key: value})
            plan += [(key, value) for value in values]
    results = []
    for factor, level in plan:
        started = time.perf_counter()
        variation = None if factor is None or level is None else {factor: level}
        result = ConditionResult(
            factor, level, condition_run(cell=cell, policy=policy, seeds=seeds, variation=variation)
        )
        results.append(result)
        if progress is not None:
            progress(result, time.perf_counter() - started)
    return results


def table_lines(results: Sequence[ConditionResult], *, units: Mapping[str, str]) -> list[str]:
    """A Markdown table: condition, successes / n, rate with its Wilson 95 % interval, and the episodes
    lost and gained against nominal on the same seeds."""
    nominal = results[0].outcomes
    lines = [
        "| factor | level | successes / n | success (Wilson 95 %) | lost / gained vs nominal |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        n = len(r.outcomes)
        interval = wilson_interval(successes=r.successes, n=n)
        low, high = (interval.low, interval.high) if interval else (None, None)
        span = f"{r.successes / n:.0%} [{low:.0%}, {high:.0%}]" if n and low is not None and high is not None else "-"
        lost = sum(a and not b for a, b in zip(nominal, r.outcomes, strict=True))
        gained = sum(b and not a for a, b in zip(nominal, r.outcomes, strict=True))
        paired = "-" if r.factor is None else f"{lost} / {gained}"
        lines.append(
            f"| {r.factor or '(nominal)'} | {_level_text(r, units)} | {r.successes} / {n} | {span} | {paired} |"
        )
    return lines


def _level_text(result: ConditionResult, units: Mapping[str, str]) -> str:
    if result.level is None or result.factor is None:
        return "-"
    if isinstance(result.level, str):
        return result.level
    return f"{result.level:g} {units.get(result.factor, '')}".strip()


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m core.sim.sensitivity", description=__doc__.split("\n")[0])
    parser.add_argument("--cell", default="factory-kitting")
    parser.add_argument("--model", type=Path, help="ONNX policy (default: the committed reference for --cell)")
    parser.add_argument("--card", type=Path, help="its JSON card with sha256 and io_spec (default: the reference's)")
    parser.add_argument("--expert", action="store_true", help="run the cell's scripted expert instead of a policy")
    parser.add_argument("--episodes", type=int, default=50, help="episodes (seeds) per condition")
    parser.add_argument("--seed-base", type=int, default=HELD_OUT_SEED_BASE)
    parser.add_argument("--factors", help="comma-separated factor keys (default: every factor with default levels)")
    parser.add_argument("--levels", type=Path, help='JSON {"factor": [level, ...]} instead of the default levels')
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    from core.policy.onnx_runtime import policy_load  # onnxruntime loads only for a run

    args = _arguments(argv)
    cell = cell_make(args.cell)
    model = args.model or REFERENCE_ARTIFACTS / f"{args.cell}.onnx"
    policy: Policy
    if args.expert:
        policy, name = ExpertPolicy(cell), "the scripted expert"
    else:
        card = json.loads((args.card or model.with_suffix(".json")).read_text())
        policy, name = policy_load(path=model, sha256=card["sha256"], io_spec=card["io_spec"]), model.name
    levels: dict[str, Sequence[Level]] = json.loads(args.levels.read_text()) if args.levels else dict(DEFAULT_LEVELS)
    if args.factors:
        wanted = args.factors.split(",")
        levels = {k: v for k, v in levels.items() if k in wanted}
    seeds = range(args.seed_base, args.seed_base + args.episodes)
    started = time.perf_counter()

    def progress(result: ConditionResult, seconds: float) -> None:
        print(
            f"{result.factor or 'nominal'}={result.level}: {result.successes}/{len(result.outcomes)} ({seconds:.0f} s)",
            file=sys.stderr,
        )

    try:
        results = sensitivity_run(cell=cell, policy=policy, seeds=seeds, levels=levels, progress=progress)
    finally:
        cell.close()
    units = {f.key: f.unit for f in cell.factors()}
    print(
        f"{name} on {args.cell}: seeds {seeds.start}..{seeds.stop - 1} ({args.episodes} per condition), "
        f"{time.perf_counter() - started:.0f} s"
    )
    print("\n".join(table_lines(results, units=units)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
