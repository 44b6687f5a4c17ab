"""Robustness sweeps: a sweep of 12 conditions x 20 episodes through the runner against a plain trial of
240 episodes (same policy, cell, worker), and the sweep results page over 12 x 1,000 episodes.

Targets (issue 16): the sweep's per-episode overhead <= 10 %; the results page loads in <= 1 s.
The conditions are harder than nominal (failures run to the timeout), so episodes differ in length: the
overhead is judged per simulated policy step (steps/s), with episodes/s printed beside it.
Cell: factory-kitting with the reference policy (BENCH_CELL to change); BENCH_SWEEP_EPISODES episodes per
condition (default 20). One Celery worker, throwaway SQLite database and filesystem broker under a temp dir.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench.bench_runner import _start_worker

ROOT = Path(__file__).resolve().parent.parent
SEED = 7000
# 12 conditions: nominal and 11 single-factor levels.
SWEEP_FACTORS: dict[str, list[float | str]] = {
    "light_intensity": [0.4, 0.7, 1.5],
    "camera_shift_m": [0.01, 0.02],
    "action_noise": [0.05, 0.1],
    "actuation_delay": [1, 3],
    "part_colour": ["red"],
    "table_texture": ["checker"],
}
PAGE_EPISODES = 1000
PAGE_REPEATS = 5


def _wait(trial_ids: list[int], limit_s: float) -> float:
    from trials.models import Trial

    begun = time.perf_counter()
    deadline = time.monotonic() + limit_s
    while True:
        finished = Trial.objects.filter(pk__in=trial_ids, status__in=Trial.FINISHED_STATUSES).count()
        if finished == len(trial_ids):
            return time.perf_counter() - begun
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(trial_ids) - finished} trials unfinished at the {limit_s:.0f} s limit")
        time.sleep(0.1)


def _steps(trial_ids: list[int]) -> tuple[int, int, float, int]:
    """(counted episodes, their policy steps, the seconds spent inside episode_run, successes) from the
    episodes' metrics."""
    from trials.models import Episode, EpisodeOutcome

    rows = list(Episode.objects.counted().filter(trial_id__in=trial_ids).values_list("metrics", "outcome"))
    steps = sum(int((m or {}).get("steps", 0)) for m, _ in rows)
    inside = sum(float((m or {}).get("wall_time_s", 0.0)) for m, _ in rows)
    return len(rows), steps, inside, sum(o == EpisodeOutcome.SUCCESS for _, o in rows)


def _through_runner(env: dict[str, str], tmp: Path) -> None:
    from core.sim import cell_make
    from policies.reference.evaluate import artifact_paths
    from policies.services import reference_policy_version_ensure
    from robots.models import Robot, RobotKind
    from tests.factories import TaskFactory
    from trials.models import TrialStatus
    from trials.services import trial_schedule
    from trials.sweep_services import sweep_schedule
    from trials.tasks import trial_start_task

    default_cell = "factory-kitting" if artifact_paths("factory-kitting")[0].exists() else "tabletop-reach-2d"
    cell_key = os.environ.get("BENCH_CELL", default_cell)
    per = int(os.environ.get("BENCH_SWEEP_EPISODES", "20"))
    version = reference_policy_version_ensure(cell_key=cell_key)
    task = TaskFactory.create(instruction=cell_make(cell_key).info.default_instruction)
    robot = Robot.objects.create(
        organization=task.organization, name="bench cell", kind=RobotKind.SIMULATED, sim_cell_key=cell_key
    )
    known = {f.key for f in cell_make(cell_key).factors()}
    factors = {k: v for k, v in SWEEP_FACTORS.items() if k in known}
    sweep = sweep_schedule(
        task=task, policy_version=version, robot=robot, name="bench", design="one_at_a_time", factors=factors,
        episodes_per_condition=per, seed=SEED, created_by=None, start_runner=False,
    )  # fmt: skip
    conditions = list(sweep.conditions.order_by("pk"))
    plain = trial_schedule(
        task=task, policy_version=version, robot=robot, episodes_planned=per * len(conditions),
        scheduled_by=None, seed=SEED, start_runner=False,
    )  # fmt: skip
    worker = _start_worker(env, tmp / "worker-sweep.log")
    try:
        trial_start_task.delay(plain.pk)
        plain_s = _wait([plain.pk], limit_s=max(900.0, 10.0 * plain.episodes_planned))
        for trial in conditions:
            trial_start_task.delay(trial.pk)
        sweep_s = _wait([t.pk for t in conditions], limit_s=max(900.0, 10.0 * per * len(conditions)))
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    statuses = {t.status for t in sweep.conditions.all()} | {type(plain).objects.get(pk=plain.pk).status}
    if statuses != {TrialStatus.COMPLETED}:
        raise RuntimeError(f"trials ended {statuses}")
    plain_n, plain_steps, plain_in, plain_ok = _steps([plain.pk])
    sweep_n, sweep_steps, sweep_in, sweep_ok = _steps([t.pk for t in conditions])
    plain_eps, sweep_eps = plain_n / plain_s, sweep_n / sweep_s
    # The runner's own cost per episode: wall time outside episode_run (trial starts and preflights, chunks,
    # leases, recording the row and storing the media). Harder conditions make longer episodes, so this and
    # the time per step are the like-for-like figures; episodes/s is printed beside them.
    plain_out, sweep_out = (plain_s - plain_in) / plain_n, (sweep_s - sweep_in) / sweep_n
    print(f"cell {cell_key}, policy {version}, 1 worker, seeds {SEED}..{SEED + per - 1} in every condition")
    print(f"  plain trial        {plain_n} episodes ({plain_ok} successes), {plain_steps} steps in {plain_s:.1f} s: "
          f"{plain_eps:.2f} episodes/s, {plain_in / plain_steps * 1000:.2f} ms a step in episodes, "
          f"{plain_out * 1000:.0f} ms an episode outside them")  # fmt: skip
    print(f"  sweep              {len(conditions)} conditions x {per} = {sweep_n} episodes ({sweep_ok} successes), "
          f"{sweep_steps} steps in {sweep_s:.1f} s: {sweep_eps:.2f} episodes/s, "
          f"{sweep_in / sweep_steps * 1000:.2f} ms a step in episodes, {sweep_out * 1000:.0f} ms an episode "
          "outside them")  # fmt: skip
    print(f"  runner cost per episode, sweep vs plain  {(sweep_out / plain_out - 1) * 100:+.1f} %   (target <= 10 %)")
    print(
        f"  time per step, sweep vs plain            {(sweep_s / sweep_steps) / (plain_s / plain_steps) * 100 - 100:+.1f} %"
    )
    print(
        f"  time per episode, sweep vs plain         {(plain_eps / sweep_eps - 1) * 100:+.1f} %   "
        f"(its episodes are {sweep_steps / plain_steps * 100 - 100:+.0f} % longer in steps)"
    )


def _results_page() -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment
    from django.utils import timezone

    from accounts.models import Role
    from tests.factories import PolicyVersionFactory, RobotFactory, TaskFactory, UserFactory
    from trials.models import Episode, EpisodeOutcome, EpisodeSource
    from trials.services import trial_summaries_rebuild
    from trials.sweep_services import sweep_schedule

    user = UserFactory.create(role=Role.ENGINEER)
    task = TaskFactory.create(organization=user.organization)
    robot = RobotFactory.create(organization=user.organization)
    sweep = sweep_schedule(
        task=task, policy_version=PolicyVersionFactory.create(), robot=robot, name="page", design="one_at_a_time",
        factors=SWEEP_FACTORS, episodes_per_condition=PAGE_EPISODES, seed=0, created_by=user, start_runner=False,
    )  # fmt: skip
    now = timezone.now()
    conditions = list(sweep.conditions.order_by("pk"))
    for c, trial in enumerate(conditions):
        Episode.objects.bulk_create(
            Episode(
                trial=trial, index=i, cycle_time_s=10.0, started_at=now, ended_at=now + timedelta(seconds=10),
                source=EpisodeSource.SIMULATION,
                outcome=EpisodeOutcome.SUCCESS if (i * 7 + c * 13) % 100 < 90 - 4 * c else EpisodeOutcome.FAILURE,
            )
            for i in range(PAGE_EPISODES)
        )  # fmt: skip
    trial_summaries_rebuild(trial_ids=[t.pk for t in conditions])
    setup_test_environment()  # lets the test client's "testserver" host through ALLOWED_HOSTS
    client = Client()
    client.force_login(user)
    for url, what in ((f"/sweeps/{sweep.pk}/", "results page"), (f"/api/v1/sweeps/{sweep.pk}/results/", "results API")):
        assert client.get(url).status_code == 200  # noqa: S101  # warm: templates, the cell's factors
        times = []
        with CaptureQueriesContext(connection) as queries:
            for _ in range(PAGE_REPEATS):
                begun = time.perf_counter()
                response = client.get(url)
                times.append(time.perf_counter() - begun)
        assert response.status_code == 200  # noqa: S101
        print(f"  {what:<18} {len(conditions)} conditions x {PAGE_EPISODES:,} episodes: median "
              f"{statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms over {PAGE_REPEATS} loads, "
              f"{len(queries) // PAGE_REPEATS} queries   (target <= 1 s)")  # fmt: skip


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="tb-bench-sweep-"))
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
        "CELERY_FS_BROKER_DIR": str(tmp / "broker"),
        "MEDIA_ROOT": str(tmp / "media"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LP_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }
    env.pop("REDIS_URL", None)
    os.environ.update(env)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)  # noqa: S603
    import django

    django.setup()
    if os.environ.get("BENCH_SWEEP_RUNNER", "1") != "0":
        _through_runner(env, tmp)
    _results_page()


if __name__ == "__main__":
    main()
