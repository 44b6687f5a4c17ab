"""Recording at the runner level: a trial's chunk through trials.runner.chunk_run (database rows, the
recorder, media stored through Django's storage API, temporary folders removed) with and without
recording, at the default overview (96 px @ 1 fps) and at two other settings, the storage each
episode leaves, and the peak RSS of the process that ran every chunk (a worker's, an upper bound: it
keeps every setting's encoders and the cell's renderers of every size).

The issue's budget: recording at the defaults costs <= 15 % of the episode rate; RSS <= 600 MB.
bench_recording.py measures the same at the core level (no Django); this one adds what the runner
pays on top (EpisodeMedia rows, sha256, copies into storage).

"Without recording" runs the same chunk with the runner's recorder_for replaced by one returning
None (the bench's baseline only: the runner always records). Rates are by CPU seconds of this process
(threads included: the software GL rasteriser and the encoder), measured in rounds: each round runs
the same seeds bare and then at each setting, so load from other processes falls on all alike; wall
rates are printed beside them. Cell: BENCH_CELL (default factory-kitting: 10 Hz control, where
recording costs most), the committed reference ONNX policy; episodes per chunk BENCH_EPISODES
(default 10, the default TRIAL_CHUNK_EPISODES), rounds BENCH_ROUNDS (default 3). Throwaway SQLite
database and media folder under a temp dir.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SEED = 7000
BUDGET = 0.15
OTHER_SETTINGS = [(128, 5.0), (256, 10.0)]


def _setup(tmp: Path) -> None:
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
        "CELERY_FS_BROKER_DIR": str(tmp / "broker"),
        "MEDIA_ROOT": str(tmp / "media"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "OMP_NUM_THREADS": "1",
        "LP_NUM_THREADS": "1",
    }
    env.pop("REDIS_URL", None)
    os.environ.update(env)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)  # noqa: S603
    import django

    django.setup()


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="tb-bench-runner-recording-"))
    try:
        _setup(tmp)
        _run(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(tmp: Path) -> None:
    from django.conf import settings

    from core.recording.recorder import DEFAULT_OVERVIEW_FPS, DEFAULT_OVERVIEW_PX
    from core.sim import cell_make
    from policies.services import reference_policy_version_ensure
    from robots.models import Robot, RobotKind
    from tests.factories import TaskFactory
    from trials import queue, runner
    from trials.media import trial_media_bytes
    from trials.models import Episode, Trial, TrialChunk

    cell_key = os.environ.get("BENCH_CELL", "factory-kitting")
    n = int(os.environ.get("BENCH_EPISODES", "10"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    settings.TRIAL_CHUNK_EPISODES = n  # one chunk per trial
    setattr(queue, "chunks_enqueue", lambda *, chunk_ids: None)  # noqa: B010  # this process runs the chunk itself
    real_recorder_for = runner.recorder_for

    version = reference_policy_version_ensure(cell_key=cell_key)
    task = TaskFactory.create(instruction=cell_make(cell_key).info.default_instruction)
    robot = Robot.objects.create(
        organization=task.organization, name="bench cell", kind=RobotKind.SIMULATED, sim_cell_key=cell_key
    )
    default = (DEFAULT_OVERVIEW_PX, DEFAULT_OVERVIEW_FPS)
    settings_list: list[tuple[int, float] | None] = [None, default, *OTHER_SETTINGS]

    def chunk_once(setting: tuple[int, float] | None, seed: int) -> tuple[float, float, int, int, list[str]]:
        """(CPU s, wall s, episodes, bytes stored, outcomes) of one chunk of n episodes."""
        px, fps = setting if setting is not None else default
        trial = Trial.objects.create(
            task=task,
            policy_version=version,
            robot=robot,
            episodes_planned=n,
            seed=seed,
            instruction=task.instruction,
            episode_timeout_s=60,
            overview_px=px,
            overview_fps=fps,
        )
        runner.trial_start(trial_id=trial.pk)  # the preflight is not part of a chunk's rate
        chunk = TrialChunk.objects.get(trial=trial)
        no_recorder: Any = lambda trial, *, index: None  # noqa: E731
        setattr(runner, "recorder_for", real_recorder_for if setting is not None else no_recorder)  # noqa: B010
        cpu0, wall0 = time.process_time(), time.perf_counter()
        result = runner.chunk_run(chunk_id=chunk.pk)
        cpu_s, wall_s = time.process_time() - cpu0, time.perf_counter() - wall0
        setattr(runner, "recorder_for", real_recorder_for)  # noqa: B010
        if len(result.ran) != n:
            raise RuntimeError(f"chunk ran {result.ran}, stopped: {result.stopped!r}")
        outcomes = list(Episode.objects.filter(trial=trial).values_list("outcome", flat=True))
        return cpu_s, wall_s, n, trial_media_bytes(trial_id=trial.pk), outcomes

    chunk_once(None, SEED - n)  # warm up: cell, model, renderers
    for setting in settings_list[1:]:
        chunk_once(setting, SEED - n)  # and the encoders and renderer of each size
    totals: dict[tuple[int, float] | None, list[float]] = {s: [0.0, 0.0, 0.0, 0.0] for s in settings_list}
    same_outcomes = True
    for r in range(rounds):
        seed = SEED + r * n
        bare_outcomes: list[str] = []
        for setting in settings_list:
            cpu_s, wall_s, count, stored, outcomes = chunk_once(setting, seed)
            if setting is None:
                bare_outcomes = outcomes
            same_outcomes = same_outcomes and outcomes == bare_outcomes
            row = totals[setting]
            row[0], row[1], row[2], row[3] = row[0] + cpu_s, row[1] + wall_s, row[2] + count, row[3] + stored
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(
        f"cell {cell_key}, policy {version}, chunks of {n} episodes x {rounds} rounds per setting "
        f"(seeds {SEED}..{SEED + rounds * n - 1}), through trials.runner.chunk_run, SQLite, local storage"
    )
    print(f"  same outcomes recorded and bare: {'yes' if same_outcomes else 'NO'}")
    print(f"  {'setting':22} {'episodes':>8} {'ep/s CPU':>9} {'slower':>7} {'ep/s wall':>10} {'KB/episode':>11}")
    bare_cpu = totals[None][0]
    for setting, (total_cpu_s, total_wall_s, episodes, stored_bytes) in totals.items():
        count = int(episodes)
        if setting is None:
            name, slower, note = "no recording", "", ""
        else:
            name = f"{setting[0]} px @ {setting[1]:g} fps"
            share = 1 - bare_cpu / total_cpu_s
            slower = f"{share:7.1%}"
            note = ""
            if setting == default:
                note = "  default, " + ("within" if share <= BUDGET else "OVER") + " the 15 % budget"
        print(
            f"  {name:22} {count:8d} {count / total_cpu_s:9.2f} {slower:>7} {count / total_wall_s:10.2f} "
            f"{stored_bytes / 1024 / max(1, count):11.1f}{note}",
            flush=True,
        )
    print(f"  peak RSS of the process that ran every chunk: {peak_mb:.0f} MB (a worker's budget: 600 MB)")


if __name__ == "__main__":
    main()
