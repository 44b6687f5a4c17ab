"""The arm cell (factory-kitting-arm, a Franka Panda): the bare closed loop at the policy's image size
(96 px, both policy cameras: front and wrist), where its CPU time goes, and its episode rate. The issue's
budget: >= 4 episodes/s on one core.

Three policies drive it: the committed reference VLA (onnxruntime on one thread, the instruction encoded
once per episode as the runner does), the scripted expert (what demonstrations are made with) and uniform
random actions (a policy that has learnt nothing; its episodes mostly end early on a fault, so it is a
rate of control steps rather than of whole episodes). Shares are CPU seconds of this process (the
software GL rasteriser's thread included) spent in physics (the 20 substeps of a control period),
rendering (both 96 px policy cameras), the policy's own computation and the rest of the cell (IK, fault
and stage checks), measured by timing the cell's own physics and render methods.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

KEY = "factory-kitting-arm"
EPISODES = 40
SEED = 2_000_000  # seeds no training or test uses
BUDGET_EPISODES_PER_S = 4.0


def _timed(method: Callable[..., Any], bucket: dict[str, float], name: str) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return method(*args, **kwargs)
        finally:
            bucket[name] += time.process_time() - started

    return wrapper


Act = Callable[[Any], npt.NDArray[np.float32]]  # observation -> action


def _run(cell: Any, start: Callable[[str], Act], *, episodes: int) -> dict[str, float]:
    """`episodes` episodes; start(instruction) gives each episode's policy."""
    from core.sim import CellOutcome

    spent = {"physics": 0.0, "render": 0.0, "policy": 0.0}
    # Instance attributes shadow the methods the cell calls on itself, so only this cell is timed.
    cell._simulate = _timed(cell._simulate, spent, "physics")
    cell._render = _timed(cell._render, spent, "render")
    timed_start = _timed(start, spent, "policy")
    steps = successes = 0
    started = time.process_time()
    for seed in range(SEED, SEED + episodes):
        obs = cell.reset(seed)
        timed_act = _timed(timed_start(obs.instruction), spent, "policy")
        while cell.outcome() is CellOutcome.RUNNING:
            obs = cell.step(timed_act(obs))
            steps += 1
        successes += cell.outcome() is CellOutcome.SUCCESS
    total = time.process_time() - started
    del cell._simulate, cell._render
    return {"total": total, "steps": steps, "successes": successes, **spent}


def main() -> None:
    from core.sim import cell_make
    from policies.reference.evaluate import reference_load

    cell: Any = cell_make(KEY)
    rng = np.random.default_rng(0)
    reference, _ = reference_load(KEY)
    policies: dict[str, Callable[[str], Act]] = {
        "reference VLA": lambda instruction: reference.episode(instruction=instruction).act,
        "scripted expert": lambda _instruction: lambda _obs: cell.expert_action(),
        "random actions": lambda _instruction: lambda _obs: rng.uniform(-1.0, 1.0, size=4).astype(np.float32),
    }
    print(f"{KEY}, two 96 px policy cameras, {EPISODES} episodes per policy, CPU seconds of this process")
    print(
        f"{'policy':16} {'success':>8} {'steps/ep':>8} {'ep/s':>6} {'steps/s':>8} "
        f"{'physics':>8} {'render':>7} {'policy':>7} {'rest':>6}"
    )
    for name, act in policies.items():
        r = _run(cell, act, episodes=EPISODES)
        total = r["total"]
        rest = total - r["physics"] - r["render"] - r["policy"]
        print(
            f"{name:16} {r['successes'] / EPISODES:8.0%} {r['steps'] / EPISODES:8.1f} {EPISODES / total:6.2f} "
            f"{r['steps'] / total:8.0f} {r['physics'] / total:8.0%} {r['render'] / total:7.0%} "
            f"{r['policy'] / total:7.0%} {rest / total:6.0%}",
            flush=True,
        )
        if name in ("reference VLA", "scripted expert"):
            verdict = "meets" if EPISODES / total >= BUDGET_EPISODES_PER_S else "MISSES"
            print(f"  -> {verdict} the {BUDGET_EPISODES_PER_S:g} episodes/s budget", flush=True)
    cell.close()
