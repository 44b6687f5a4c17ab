"""Recording every episode (core/recording): what it costs against the bare loop.

1. The overview camera's render cost per control step at 96/128/192 px and 2.5/5/10 fps (render
   only), against the bare loop: what the defaults in core/recording/recorder.py were chosen from.
2. Episode rate bare vs recorded (policy camera video + overview video + trajectory + poster +
   manifest) at the defaults and other settings, the KB each episode leaves on disk, and the
   process's peak RSS. The issue's budget: recording at the defaults costs <= 15 % of the episode rate.

The loop is a trial's: the committed reference ONNX policy on held-out seeds where the cell has one
(OMP_NUM_THREADS=1 as in a worker), else the scripted expert (which costs next to nothing, so the
share recording takes is an upper bound there). CPU seconds of this process (threads included: the
software GL rasteriser and the encoder), measured in pairs: each seed runs bare and then measured,
so load from other processes on the machine falls on both alike.
"""

from __future__ import annotations

import os
import resource
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from core.sim.base import Cell, Observation

if TYPE_CHECKING:
    from core.policy.onnx_runtime import LoadedPolicy

# Cell -> seeds per setting.
CELLS = {"factory-kitting": 16, "fetch-pick-and-place": 8, "tabletop-reach-2d": 60}
RENDER_GRID = [(px, fps) for px in (96, 128, 192) for fps in (2.5, 5.0, 10.0)]
SEED = 1_000_000  # held-out seeds (policies/reference/evaluate.py)
BUDGET = 0.15

_POLICIES: dict[str, LoadedPolicy | None] = {}
Act = Callable[[Observation], npt.NDArray[np.float32]]


def _record_settings() -> list[tuple[int, float]]:
    from core.recording.recorder import DEFAULT_OVERVIEW_FPS, DEFAULT_OVERVIEW_PX

    # The default first; 0 fps: the policy camera's video and the trajectory only, no overview.
    return [(DEFAULT_OVERVIEW_PX, DEFAULT_OVERVIEW_FPS), (96, 0.0), (128, 5.0), (192, 10.0)]


def _act_for(cell: Cell) -> Act:
    """The episode's act function: the cell's reference ONNX policy, else its scripted expert."""
    from policies.reference.evaluate import artifact_paths, reference_load

    key = cell.info.key
    if key not in _POLICIES:
        _POLICIES[key] = reference_load(key)[0] if artifact_paths(key)[0].exists() else None
    policy = _POLICIES[key]
    if policy is None:
        return lambda _obs: cell.expert_action()
    return policy.episode(instruction=cell.info.default_instruction).act


def _bare(cell: Cell, seed: int, *, overview: tuple[int, float] | None = None) -> tuple[float, int]:
    """CPU seconds and steps of one bare episode, plus the overview render (only) when given."""
    from core.sim import CellOutcome

    started = time.process_time()
    act = _act_for(cell)
    obs = cell.reset(SEED + seed, instruction=cell.info.default_instruction)
    next_s, steps = 0.0, 0
    while cell.outcome() is CellOutcome.RUNNING:
        if overview is not None and cell.sim_time_s + 1e-9 >= next_s:
            cell.render_overview(px=overview[0])
            next_s += 1.0 / overview[1]
        obs = cell.step(act(obs))
        steps += 1
    return time.process_time() - started, steps


def _recorded(cell: Cell, seed: int, *, overview: tuple[int, float], folder: Path) -> tuple[float, int]:
    """CPU seconds and bytes written of one recorded episode (its files removed afterwards)."""
    from core.recording.recorder import EpisodeRecorder, EpisodeRecording, OverviewSettings
    from core.sim.episode import episode_rollout

    target = folder / f"ep{seed}"
    started = time.process_time()
    result = episode_rollout(
        cell=cell,
        act=_act_for(cell),
        seed=SEED + seed,
        instruction=cell.info.default_instruction,
        recorder=EpisodeRecorder(target, overview=OverviewSettings(px=overview[0], fps=overview[1])),
    )
    cpu_s = time.process_time() - started
    assert isinstance(result.recording, EpisodeRecording)  # noqa: S101  # a benchmark's own sanity check
    shutil.rmtree(target)
    return cpu_s, result.recording.bytes


def main() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from core.sim import cell_make

    record_settings = _record_settings()
    folder = Path(tempfile.mkdtemp(prefix="bench-recording-"))
    try:
        for key, seeds in CELLS.items():
            cell = cell_make(key)
            _act_for(cell)
            loop = "reference ONNX policy" if _POLICIES[key] is not None else "scripted expert"
            _recorded(cell, 0, overview=record_settings[0], folder=folder)  # warm up: renderers, caches, encoder
            for px in {px for px, _ in RENDER_GRID}:
                cell.render_overview(px=px)

            bare_s, steps = 0.0, 0
            grid = dict.fromkeys(RENDER_GRID, 0.0)
            for seed in range(seeds):
                for setting in RENDER_GRID:
                    cpu, n = _bare(cell, seed)
                    bare_s, steps = bare_s + cpu, steps + n
                    grid[setting] += _bare(cell, seed, overview=setting)[0]
            bare_ms = 1000 * bare_s / steps
            print(f"\n{key} ({loop}): overview render cost per control step, render only, {seeds} episodes each")
            print(f"  {'bare loop':16} {bare_ms:8.3f} ms/step")
            for (px, fps), cpu in grid.items():
                extra = 1000 * cpu / (steps / len(RENDER_GRID)) - bare_ms  # the bare loop ran once per setting
                print(f"  {px:4d} px {fps:4g} fps  {extra:+8.3f} ms/step  {extra / bare_ms:+7.1%} of the bare loop")

            print(f"\n{key} ({loop}): episode rate, bare vs recorded (policy camera, overview, trajectory)")
            print(f"  {'setting':16} {'bare ep/s':>10} {'recorded':>9} {'slower':>8} {'KB/episode':>11}")
            for px, fps in record_settings:
                bare_s = rec_s = 0.0
                written = 0
                for seed in range(seeds):
                    bare_s += _bare(cell, seed)[0]
                    cpu, size = _recorded(cell, seed, overview=(px, fps), folder=folder)
                    rec_s, written = rec_s + cpu, written + size
                slower = 1 - bare_s / rec_s
                name = f"{px} px {fps:g} fps" if fps else "no overview"
                note = ""
                if (px, fps) == record_settings[0]:
                    note = "  default, " + ("within" if slower <= BUDGET else "OVER") + " the 15 % budget"
                print(
                    f"  {name:16} {seeds / bare_s:10.2f} {seeds / rec_s:9.2f} {slower:8.1%} "
                    f"{written / 1024 / seeds:11.1f}{note}",
                    flush=True,
                )
            cell.close()
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\npeak RSS of this process (all cells above): {peak_mb:.0f} MB (a worker's budget: 600 MB)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
