"""Simulation cells with their scripted experts: success rate, control steps per second (CPU time of
this process, so other load on the machine does not skew it), CPU seconds per episode and simulated
seconds per episode (the cycle time a trial would record). No database is touched."""

from __future__ import annotations

import time

import numpy as np

# Episodes per cell: the MuJoCo cells with heavy robot meshes (Meta-World's Sawyer) render at ~20 ms a frame.
EPISODES = {
    "tabletop-reach-2d": 200,
    "factory-kitting": 40,
    "fetch-pick-and-place": 20,
}
DEFAULT_EPISODES = 5


def main() -> None:
    from core.sim import CellOutcome, cell_keys, cell_make

    print(f"{'cell':34} {'episodes':>8} {'success':>8} {'steps/s':>8} {'cpu s/ep':>9} {'sim s/ep':>9}")
    for key in cell_keys():
        episodes = EPISODES.get(key, DEFAULT_EPISODES)
        cell = cell_make(key)
        successes, steps, sim_s = 0, 0, []
        started = time.process_time()
        for seed in range(episodes):
            cell.reset(seed)
            while cell.outcome() is CellOutcome.RUNNING:
                cell.step(cell.expert_action())
                steps += 1
            successes += cell.outcome() is CellOutcome.SUCCESS
            sim_s.append(cell.sim_time_s)
        cpu_s = time.process_time() - started
        cell.close()
        print(
            f"{key:34} {episodes:8d} {successes / episodes:8.0%} {steps / cpu_s:8.0f} "
            f"{cpu_s / episodes:9.3f} {float(np.mean(sim_s)):9.2f}",
            flush=True,
        )
