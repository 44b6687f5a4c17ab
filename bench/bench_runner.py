"""Simulation runner throughput: episodes/s through Django + Celery workers against a bare loop (cell +
onnxruntime, no Django, no Celery) over the same seeds; 1 vs 2 workers; a worker's peak RSS.

Targets (issue 4): runner overhead <= 10 %, 2 workers >= 1.7x one, worker peak RSS <= 600 MB.
Cell: BENCH_CELL (default factory-kitting when its reference artifact exists, else tabletop-reach-2d);
episodes: BENCH_EPISODES (default 100: successful factory episodes take ~0.2 s, so 40 measured mostly noise). Throwaway SQLite database and filesystem broker under a temp dir.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = 5000


def _peak_rss_mb(group_id: int) -> float:
    """Largest VmHWM (peak resident set) among the live processes of a process group, in MB."""
    peak = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != group_id:  # field 5 of /proc/<pid>/stat: process group
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except (OSError, IndexError, ValueError):
            continue
    return peak / 1024


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--loglevel=INFO",
            "--concurrency=1",
            "--without-gossip",
            "--without-mingle",
            "--hostname",
            f"bench-{log.stem}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while b"ready." not in log.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"worker did not start:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)
    return proc


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="tb-bench-runner-"))
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
        "CELERY_FS_BROKER_DIR": str(tmp / "broker"),
        "MEDIA_ROOT": str(tmp / "media"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "TRIAL_CHUNK_EPISODES": "10",  # the default
        "LP_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }
    env.pop("REDIS_URL", None)
    os.environ.update({k: env[k] for k in env if k not in os.environ or os.environ[k] != env[k]})
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)  # noqa: S603

    import django

    django.setup()
    from core.policy.onnx_runtime import policy_load
    from core.sim import cell_make
    from policies.reference.evaluate import artifact_paths, rollout
    from policies.services import reference_policy_version_ensure
    from robots.models import Robot, RobotKind
    from tests.factories import TaskFactory
    from trials.models import Episode, Trial, TrialStatus
    from trials.tasks import trial_start_task

    default_cell = "factory-kitting" if artifact_paths("factory-kitting")[0].exists() else "tabletop-reach-2d"
    cell_key = os.environ.get("BENCH_CELL", default_cell)
    n = int(os.environ.get("BENCH_EPISODES", "100"))
    version = reference_policy_version_ensure(cell_key=cell_key)
    task = TaskFactory.create(instruction=cell_make(cell_key).info.default_instruction)
    robot = Robot.objects.create(
        organization=task.organization, name="bench cell", kind=RobotKind.SIMULATED, sim_cell_key=cell_key
    )

    # Bare loop: the same cell, policy and seeds in this process; includes model load and cell build,
    # as the runner's figure includes them in the worker.
    started = time.perf_counter()
    cell = cell_make(cell_key)
    policy = policy_load(path=Path(version.artifact.path), sha256=version.sha256, io_spec=version.io_spec)
    bare = []
    for index in range(n):
        result = rollout(
            cell=cell,
            act=policy.episode(instruction=task.instruction).act,
            seed=SEED + index,
            instruction=task.instruction,
        )
        bare.append("success" if result.success else "failure")
    bare_s = time.perf_counter() - started
    cell.close()

    def run_trial(workers: int) -> tuple[float, float, list[str]]:
        trial = Trial.objects.create(
            task=task,
            policy_version=version,
            robot=robot,
            episodes_planned=n,
            seed=SEED,
            instruction=task.instruction,
            episode_timeout_s=60,
        )
        procs = [_start_worker(env, tmp / f"worker-{trial.pk}-{i}.log") for i in range(workers)]
        try:
            begun = time.perf_counter()
            trial_start_task.delay(trial.pk)
            peak = 0.0
            deadline = time.monotonic() + max(600.0, 10.0 * n)
            while True:
                trial.refresh_from_db()
                peak = max([peak, *(_peak_rss_mb(p.pid) for p in procs)])
                if trial.is_finished:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"trial {trial.pk} still {trial.status} at the {max(600.0, 10.0 * n):.0f} s limit"
                    )
                time.sleep(0.05)
            elapsed = time.perf_counter() - begun
            if trial.status != TrialStatus.COMPLETED:
                raise RuntimeError(f"trial {trial.status}: {trial.status_message}")
            outcomes = list(Episode.objects.filter(trial=trial).order_by("index").values_list("outcome", flat=True))
            return elapsed, peak, outcomes
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=30)

    one_s, one_rss, one_outcomes = run_trial(1)
    two_s, two_rss, _ = run_trial(2)
    bare_rate, one_rate, two_rate = n / bare_s, n / one_s, n / two_s
    overhead = (bare_rate / one_rate - 1) * 100
    print(f"cell {cell_key}, policy {version}, {n} episodes, seeds {SEED}..{SEED + n - 1}")
    print(f"  success (bare loop)        {bare.count('success')}/{n}")
    print(f"  same outcomes via runner   {'yes' if one_outcomes == bare else 'NO'}")
    print(f"  bare loop                  {bare_rate:6.2f} episodes/s ({bare_s:.1f} s)")
    print(f"  runner, 1 worker           {one_rate:6.2f} episodes/s ({one_s:.1f} s)")
    print(f"  runner overhead            {overhead:+6.1f} %   (target <= 10 %)")
    print(f"  runner, 2 workers          {two_rate:6.2f} episodes/s ({two_s:.1f} s)")
    print(f"  2 workers / 1 worker       {two_rate / one_rate:6.2f} x   (target >= 1.7x)")
    print(f"  worker peak RSS            {max(one_rss, two_rss):6.0f} MB  (target <= 600 MB)")
