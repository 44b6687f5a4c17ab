"""The manager ROI dashboard over a big database, and one task's 10,000-draw Monte Carlo.

Bulk-generates BENCH_DASHBOARD_EPISODES episodes (default 1,000,000; about three events each) spread over
BENCH_DASHBOARD_TASKS tasks (default 50) into a throwaway SQLite database with bench_stats' generator, gives
every task a base cost model with ranges, then times:
- `task_roi_dashboard` (every task's ROI and the report's 10,000-draw Monte Carlo from the per-trial summary rows) and
  the whole /reports/ page (the same plus ranking, the plotly figure and the template), on a first load
  (empty cache) and cached; target <= 2 s;
- one task's `task_roi_inputs` (the database part) and `run_monte_carlo` of 10,000 draws; target <= 100 ms
  for the Monte Carlo.
Smaller run: BENCH_DASHBOARD_EPISODES=100000 python -m bench dashboard
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench import bench_stats

EPISODES = int(os.environ.get("BENCH_DASHBOARD_EPISODES", "1000000"))
TASKS = int(os.environ.get("BENCH_DASHBOARD_TASKS", "50"))
RUNS = 5
DASHBOARD_TARGET_S = 2.0
MONTE_CARLO_TARGET_MS = 100.0


def _times(fn: Callable[[], Any], runs: int = RUNS) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def _line(label: str, times: list[float], target: float | None = None, unit: str = "s") -> None:
    scale = 1000.0 if unit == "ms" else 1.0
    best, median = min(times) * scale, statistics.median(times) * scale
    verdict = "" if target is None else ("  OK" if median <= target else "  OVER TARGET")
    target_text = "" if target is None else f" (target <= {target:g} {unit})"
    print(f"{label}: best {best:.3f} {unit}, median {median:.3f} {unit} over {len(times)} runs{target_text}{verdict}")


def _world() -> tuple[Any, Any]:
    """Generate the episodes; a base cost model for every task; a manager of the tasks' organization."""
    from accounts.models import Role
    from reports.models import CostModel
    from tests.factories import UserFactory
    from trials.models import Task

    bench_stats.EPISODES, bench_stats.TASKS = EPISODES, TASKS
    started = time.perf_counter()
    task_id, n_episodes, n_events = bench_stats._generate()
    print(
        f"database: {n_episodes:,} episodes, {n_events:,} events in {TASKS} tasks, generated in "
        f"{time.perf_counter() - started:.1f} s"
    )
    tasks = list(Task.objects.all())
    CostModel.objects.bulk_create(
        CostModel(
            task=task,
            robot_capex=Decimal(30_000 + 500 * i),
            integration_cost=Decimal("20000"),
            annual_maintenance=Decimal("1500"),
            input_ranges={"robot_capex": [27_000 + 500 * i, 45_000 + 500 * i], "ramp_up_months": [2, 6]},
        )
        for i, task in enumerate(tasks)
    )
    manager = UserFactory.create(organization=tasks[0].organization, role=Role.MANAGER)
    return Task.objects.get(pk=task_id), manager


def _measure() -> None:
    from django.core.cache import cache
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import setup_test_environment

    from core.montecarlo import run_monte_carlo
    from reports.roi.dashboard import task_roi_dashboard
    from reports.roi.inputs import task_roi_inputs

    task, manager = _world()
    cache.clear()
    rows = task_roi_dashboard(user=manager)
    computed = sum(1 for r in rows if r.monte_carlo is not None)
    connection.force_debug_cursor = True
    reset_queries()
    task_roi_dashboard(user=manager, use_cache=False)
    cold_queries = [(float(q["time"]), q["sql"][:90]) for q in connection.queries]
    reset_queries()
    task_roi_dashboard(user=manager)
    warm_queries = len(connection.queries)
    connection.force_debug_cursor = False
    print(
        f"dashboard: {len(rows)} tasks, {computed} with an ROI, {rows[0].episodes:,} episodes in the first; "
        f"{rows[0].monte_carlo.draws if rows[0].monte_carlo else 0:,} draws per task; "
        f"{len(cold_queries)} queries cold, {warm_queries} warm"
    )
    for seconds, sql in cold_queries:
        print(f"  {seconds:7.3f} s  {sql}")
    _line(
        "task_roi_dashboard, cold (every task recomputed: reads + ROI + Monte Carlo)",
        _times(lambda: task_roi_dashboard(user=manager, use_cache=False), runs=3),
        DASHBOARD_TARGET_S,
    )
    _line(
        "task_roi_dashboard, warm (nothing recorded since: summary rows read, rows from the cache)",
        _times(lambda: task_roi_dashboard(user=manager)),
        DASHBOARD_TARGET_S,
    )
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    setup_test_environment()  # lets the test client's "testserver" host through ALLOWED_HOSTS
    client = Client()
    client.force_login(manager)

    def page() -> None:
        response = client.get("/reports/")
        assert response.status_code == 200, response.status_code

    def first_page() -> None:
        cache.clear()
        page()

    _line(
        "GET /reports/, first load (cache emptied before each run: every task recomputed)",
        _times(first_page, runs=3),
        DASHBOARD_TARGET_S,
    )
    _line("GET /reports/, warm (the whole page: ranking, plotly figure, template)", _times(page), DASHBOARD_TARGET_S)

    # One trial records more episodes: only its task is recomputed on the next load.
    from trials.models import Episode

    last = Episode.objects.filter(trial__task=task).order_by("-id").first()
    assert last is not None
    last.pk, last.index = None, 10**6
    last.save()
    from trials.services import trial_summaries_add

    trial_summaries_add(episodes=[last])  # what episodes_record does for the rows it inserts
    _line("GET /reports/ after one task's trial recorded an episode", _times(page, runs=1), DASHBOARD_TARGET_S)

    bundle = task_roi_inputs(task=task)
    print(f"one task: {bundle.evidence.episodes:,} episodes of evidence ({', '.join(bundle.evidence_sources)})")
    _line(
        "task_roi_inputs (3 queries: cost model, summary rows, cycle times streamed)",
        _times(lambda: task_roi_inputs(task=task)),
        None,
    )
    run_monte_carlo(inputs=bundle.inputs, evidence=bundle.evidence, draws=10_000)  # warm scipy tables
    _line(
        "run_monte_carlo, 10,000 draws",
        _times(lambda: run_monte_carlo(inputs=bundle.inputs, evidence=bundle.evidence, draws=10_000), runs=15),
        MONTE_CARLO_TARGET_MS,
        unit="ms",
    )
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="tb-bench-dashboard-"))
    try:
        bench_stats._setup_django(tmp)
        _measure()
    finally:
        from django.db import connections

        connections.close_all()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
