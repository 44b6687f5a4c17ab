"""The statistics pages over a big database: the trial panel (reports.stats.selectors.trial_panel, figures and
template) of one 2,000-episode trial, and the task page's selector (task_panel) of a task holding a tenth of
the episodes, with their query counts. Reuses bench_stats' bulk generator and throwaway SQLite database.

BENCH_PANELS_EPISODES episodes (default 200,000; python -m bench panels); bench_stats measures the full
issue-7 size (1,000,000).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench import bench_stats

EPISODES = int(os.environ.get("BENCH_PANELS_EPISODES", "200000"))


def _best(fn: Callable[[], object], runs: int = 5) -> tuple[float, float]:
    timings = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        timings.append(time.perf_counter() - t0)
    return min(timings), float(np.median(timings))


def _measure(tmp: Path) -> None:
    from django.db import connection, reset_queries
    from django.template.loader import render_to_string

    from reports.models import AcceptanceCriteria
    from reports.stats.charts import source_figures
    from reports.stats.selectors import task_panel, trial_panel
    from trials.models import Episode, Trial

    bench_stats.EPISODES = EPISODES  # the shared generator reads its size from its module
    task_id, n_episodes, n_events = bench_stats._generate()
    AcceptanceCriteria.objects.create(task_id=task_id, name="fat", min_success_lower_bound=0.8)
    AcceptanceCriteria.objects.create(task_id=task_id, name="sat", consecutive_without_intervention=20)
    trial = Trial.objects.filter(task_id=task_id).order_by("pk").first()
    assert trial is not None
    trial_n = Episode.objects.filter(trial=trial).count()
    task_n = Episode.objects.filter(trial__task_id=task_id).count()
    print(f"database: {n_episodes:,} episodes, {n_events:,} events (SQLite, {tmp})")

    def panel_page() -> str:
        panel = trial_panel(trial_id=trial.pk)
        charts: dict[str, object] = {}
        for block in panel.statistics.sources:
            charts.update(source_figures(block=block, prefix=f"t-{block.source}"))
        return render_to_string(
            "reports/stats/_trial_panel.html",
            {"panel": panel, "stats": panel.statistics, "charts": charts, "chart_prefix": "t", "running": False},
        )

    connection.force_debug_cursor = True
    reset_queries()
    trial_panel(trial_id=trial.pk)
    panel_queries = len(connection.queries)
    reset_queries()
    task_panel(task_id=task_id)
    task_queries = len(connection.queries)
    connection.force_debug_cursor = False

    best, median = _best(lambda: trial_panel(trial_id=trial.pk))
    print(f"trial_panel ({trial_n:,} episodes, {panel_queries} queries): best {best:.3f} s, median {median:.3f} s")
    best, median = _best(panel_page)
    print(f"trial panel with plotly figures and template: best {best:.3f} s, median {median:.3f} s")
    best, median = _best(lambda: task_panel(task_id=task_id), runs=3)
    print(f"task_panel ({task_n:,} episodes, {task_queries} queries): best {best:.3f} s, median {median:.3f} s")


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="tb-bench-stats-pages-"))
    try:
        bench_stats._setup_django(tmp)
        _measure(tmp)
    finally:
        from django.db import connections

        connections.close_all()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
