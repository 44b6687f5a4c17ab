"""Recording every episode (core/recording): what it costs against the bare loop.

1. The overview camera's render cost per control step at 96/128/192 px and 2.5/5/10 fps (render
   only), against the bare loop (reset, the committed reference ONNX policy acting on the policy
   camera, step): what the defaults in core/recording/recorder.py were chosen from.
2. Episode rate bare vs recorded (policy camera video + overview video + trajectory + poster +
   manifest) at the defaults and two other settings, the KB each episode leaves on disk, and the
   process's peak RSS. The issue's budget: recording at the defaults <= 15 % slower.

CPU seconds of this process (threads included: the software GL rasteriser and the encoder), so other
load on the machine does not skew the ratio; settings are interleaved round by round for the same
reason. The loop is a trial's: the reference policy on held-out seeds (OMP_NUM_THREADS=1 as in a
worker); a bigger policy makes the bare loop slower and recording's share smaller.
"""

from __future__ import annotations

import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

# Cells and episodes per setting per round; a round runs every setting once, ROUNDS rounds.
CELLS = {"factory-kitting": 6, "tabletop-reach-2d": 40}
ROUNDS = 3
RENDER_GRID = [(px, fps) for px in (96, 128, 192) for fps in (2.5, 5.0, 10.0)]
SEED = 1_000_000  # held-out seeds (policies/reference/evaluate.py)


def _record_settings() -> list[tuple[int, float]]:
    from core.recording.recorder import DEFAULT_OVERVIEW_FPS, DEFAULT_OVERVIEW_PX

    # The default first; 0 fps: the policy camera's video and the trajectory only, no overview.
    return [(DEFAULT_OVERVIEW_PX, DEFAULT_OVERVIEW_FPS), (96, 0.0), (128, 5.0), (192, 10.0)]


_POLICIES: dict[str, object] = {}


def _act_for(cell):
    """The episode's act function: the reference ONNX policy of the cell."""
    from policies.reference.evaluate import reference_load

    key = cell.info.key
    if key not in _POLICIES:
        _POLICIES[key] = reference_load(key)[0]
    return _POLICIES[key].episode(instruction=cell.info.default_instruction).act  # type: ignore[attr-defined]
BUDGET = 0.15


def _episodes_cpu_s(cell, *, seeds: range, overview: tuple[int, float] | None) -> tuple[float, int]:
    """CPU seconds and steps for the bare loop, plus the overview render (only) when given."""
    from core.sim import CellOutcome

    steps = 0
    started = time.process_time()
    for seed in seeds:
        act = _act_for(cell)
        obs = cell.reset(SEED + seed, instruction=cell.info.default_instruction)
        next_s = 0.0
        while cell.outcome() is CellOutcome.RUNNING:
            if overview is not None and cell.sim_time_s + 1e-9 >= next_s:
                cell.render_overview(px=overview[0])
                next_s += 1.0 / overview[1]
            obs = cell.step(act(obs))
            steps += 1
    return time.process_time() - started, steps


def _recorded_cpu_s(cell, *, seeds: range, overview: tuple[int, float], folder: Path) -> tuple[float, int]:
    """CPU seconds and bytes written for recorded episodes (files removed afterwards)."""
    from core.recording.recorder import EpisodeRecorder, OverviewSettings
    from core.sim.episode import episode_rollout

    total_bytes = 0
    settings = OverviewSettings(px=overview[0], fps=overview[1])
    started = time.process_time()
    for seed in seeds:
        target = folder / f"ep{seed}"
        result = episode_rollout(
            cell=cell,
            act=_act_for(cell),
            seed=SEED + seed,
            instruction=cell.info.default_instruction,
            recorder=EpisodeRecorder(target, overview=settings),
        )
        total_bytes += result.recording.bytes  # type: ignore[attr-defined]  # an EpisodeRecording
        shutil.rmtree(target)
    return time.process_time() - started, total_bytes


def main() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from core.sim import cell_make

    record_settings = _record_settings()
    folder = Path(tempfile.mkdtemp(prefix="bench-recording-"))
    try:
        for key, episodes in CELLS.items():
            cell = cell_make(key)
            seeds = range(episodes)
            _episodes_cpu_s(cell, seeds=range(1), overview=None)  # warm the renderer and caches
            for px, _ in record_settings:
                cell.render_overview(px=px)

            print(f"\n{key}: overview render cost per control step (render only), {ROUNDS * episodes} episodes each")
            bare, grid = [], {s: [] for s in RENDER_GRID}
            steps = 0
            for _ in range(ROUNDS):
                cpu, steps = _episodes_cpu_s(cell, seeds=seeds, overview=None)
                bare.append(cpu)
                for setting in RENDER_GRID:
                    grid[setting].append(_episodes_cpu_s(cell, seeds=seeds, overview=setting)[0])
            bare_ms = 1000 * float(np.median(bare)) / steps
            print(f"  {'bare loop':16} {bare_ms:8.3f} ms/step")
            for (px, fps), cpus in grid.items():
                extra = 1000 * float(np.median(cpus)) / steps - bare_ms
                print(f"  {px:4d} px {fps:4g} fps  {extra:+8.3f} ms/step  {extra / bare_ms:+7.1%} of the bare loop")

            print(f"\n{key}: episode rate, bare vs recorded (every step: policy camera, overview, trajectory)")
            print(f"  {'setting':16} {'episodes/s':>10} {'slower':>8} {'KB/episode':>11}")
            rec: dict[tuple[int, float], list[float]] = {s: [] for s in record_settings}
            kb: dict[tuple[int, float], float] = {}
            bare = []
            for _ in range(ROUNDS):
                bare.append(_episodes_cpu_s(cell, seeds=seeds, overview=None)[0])
                for setting in record_settings:
                    cpu, written = _recorded_cpu_s(cell, seeds=seeds, overview=setting, folder=folder)
                    rec[setting].append(cpu)
                    kb[setting] = written / 1024 / episodes
            bare_rate = episodes / float(np.median(bare))
            print(f"  {'bare':16} {bare_rate:10.2f} {'':>8} {'':>11}")
            for (px, fps), cpus in rec.items():
                rate = episodes / float(np.median(cpus))
                slower = 1 - rate / bare_rate
                mark = " (default)" if (px, fps) == record_settings[0] else ""
                within = "" if (px, fps) != record_settings[0] else ("  within" if slower <= BUDGET else "  OVER")
                print(
                    f"  {(f'{px} px {fps:g} fps' if fps else 'no overview'):16} {rate:10.2f} {slower:8.1%} {kb[(px, fps)]:11.1f}"
                    f"{mark}{within} {'the 15 % budget' if within else ''}"
                )
            cell.close()
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\npeak RSS of this process: {peak_mb:.0f} MB (budget for a worker: 600 MB)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
