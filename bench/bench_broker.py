"""Round-trip latency of the embedded filesystem broker: enqueue a task, a real worker runs it,
the result appears in the database. Justifies the embedded default for `make demo`."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 20


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="tb-bench-"))
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
        "CELERY_FS_BROKER_DIR": str(tmp / "broker"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    env.pop("REDIS_URL", None)
    os.environ.update({k: env[k] for k in ("DEBUG", "DATABASE_URL", "CELERY_FS_BROKER_DIR", "DJANGO_SETTINGS_MODULE")})
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)  # noqa: S603

    import django

    django.setup()
    from tests.factories import EpisodeFactory, TrialFactory
    from trials.models import Trial, TrialStatus
    from trials.tasks import trial_refresh_status_task

    log = (tmp / "worker.log").open("wb")
    worker = subprocess.Popen(  # noqa: S603
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
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while b"ready." not in (tmp / "worker.log").read_bytes():
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start:\n{(tmp / 'worker.log').read_text(errors='replace')[-3000:]}")
            time.sleep(0.1)
        latencies = []
        for _ in range(ROUNDS):
            trial = TrialFactory.create(episodes_planned=1)
            EpisodeFactory.create(trial=trial, index=0)
            started = time.perf_counter()
            trial_refresh_status_task.delay(trial.pk)
            deadline = time.monotonic() + 60
            while Trial.objects.get(pk=trial.pk).status != TrialStatus.COMPLETED:
                if time.monotonic() > deadline:  # a task sent where the worker does not look: say so, not hang
                    raise RuntimeError(
                        f"the worker did not run the task within 60 s (broker {env['CELERY_FS_BROKER_DIR']})"
                    )
                time.sleep(0.005)
            latencies.append(time.perf_counter() - started)
        print(f"filesystem broker round trip (enqueue -> worker -> DB visible), {ROUNDS} rounds:")
        print(f"  median {statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")
    finally:
        worker.terminate()
        worker.wait(timeout=20)
