"""One task's statistics over a big database: reports.stats.selectors (aggregate in the database, stream columns
into numpy) against a naive per-row Python computation of the same figures from model instances.

Bulk-generates BENCH_STATS_EPISODES episodes (default 1,000,000) and three events per episode on average
(3,000,000) into a throwaway SQLite database, spread over BENCH_STATS_TASKS tasks (default 10), and times
`task_statistics` for one of them. Targets (issue 7): <= 1.5 s and <= 1 GB peak memory.
Smaller run: BENCH_STATS_EPISODES=100000 python -m bench stats
"""

from __future__ import annotations

import os
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np

if TYPE_CHECKING:
    from core import stats

EPISODES = int(os.environ.get("BENCH_STATS_EPISODES", "1000000"))
TASKS = int(os.environ.get("BENCH_STATS_TASKS", "10"))
EVENTS_PER_EPISODE = 3.0
EPISODES_PER_TRIAL = 2_000
CHUNK = 200_000


def _setup_django(tmp: Path) -> None:
    os.environ.update(
        {
            "DEBUG": "1",
            "TRIALBENCH_VAR_DIR": str(tmp),
            "DATABASE_URL": f"sqlite:///{tmp / 'bench-stats.sqlite3'}",
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


EPISODE_COLUMNS = (
    "id",
    "trial_id",
    "index",
    "outcome",
    "cycle_time_s",
    "started_at",
    "ended_at",
    "source",
    "created_at",
)


def _episode_insert(connection: Any) -> tuple[str, tuple[Any, ...]]:
    """The episode INSERT for the generated columns above, every other column at its model default (as the
    ORM would write it): a column the model gains later needs nothing here."""
    from trials.models import Episode

    rest = [f for f in Episode._meta.concrete_fields if f.column not in EPISODE_COLUMNS]
    columns = ", ".join(connection.ops.quote_name(c) for c in (*EPISODE_COLUMNS, *(f.column for f in rest)))
    marks = ", ".join("?" for _ in range(len(EPISODE_COLUMNS) + len(rest)))
    defaults = tuple(f.get_db_prep_save(f.get_default(), connection) for f in rest)
    return f"INSERT INTO trials_episode ({columns}) VALUES ({marks})", defaults  # noqa: S608 - names from the model


def _generate() -> tuple[int, int, int]:
    """Returns (task id measured, episodes, events). Fixtures through the ORM, bulk rows by executemany."""
    from django.db import connection, transaction

    from tests.factories import OrganizationFactory, PolicyVersionFactory, RobotFactory, TaskFactory, TrialFactory
    from trials.models import EpisodeSource, EventCategory, EventKind

    rng = np.random.default_rng(7)
    org = OrganizationFactory.create()
    robot = RobotFactory.create(organization=org)
    versions = [PolicyVersionFactory.create() for _ in range(3)]
    tasks = [TaskFactory.create(organization=org, takt_time_s=14.0, manual_cycle_time_s=12.0) for _ in range(TASKS)]
    n_trials = max(1, EPISODES // EPISODES_PER_TRIAL)
    sources = [EpisodeSource.SIMULATION, EpisodeSource.ROBOT_AGENT, EpisodeSource.INTEGRATOR_UPLOAD]
    trials = [
        TrialFactory.create(
            task=tasks[i % TASKS],
            robot=robot,
            policy_version=versions[i % 3],
            episodes_planned=EPISODES_PER_TRIAL,
        )
        for i in range(n_trials)
    ]
    trial_source = [sources[int(x)] for x in rng.choice(3, size=n_trials, p=[0.7, 0.2, 0.1])]
    categories = np.array(EventCategory.values)
    kinds = np.array(EventKind.values)
    raw = connection.connection  # the sqlite3 connection: executemany without Django's per-row layer
    # Throwaway database: no fsync, and no per-row foreign-key bookkeeping (ids are consistent by construction).
    raw.execute("PRAGMA synchronous=OFF")
    raw.execute("PRAGMA foreign_keys=OFF")
    raw.execute("PRAGMA cache_size=-65536")
    stamp = "2026-11-01 08:00:00"
    episode_sql, episode_defaults = _episode_insert(connection)
    event_sql = (
        "INSERT INTO trials_episodeevent (episode_id, kind, category, severity, t_offset_s, message) "
        "VALUES (?, ?, ?, 'warning', ?, '')"
    )
    total = n_trials * EPISODES_PER_TRIAL
    n_events = 0
    outcome_names = np.array(["success", "failure", "aborted"])
    with transaction.atomic():
        for start in range(0, total, CHUNK):
            ids = np.arange(start, min(start + CHUNK, total))
            trial_pos = ids // EPISODES_PER_TRIAL
            index = ids % EPISODES_PER_TRIAL
            outcome = outcome_names[rng.choice(3, size=ids.size, p=[0.86, 0.12, 0.02])]
            cycle = np.round(rng.lognormal(np.log(11.0), 0.18, ids.size), 3)
            trial_ids = np.array([trials[p].pk for p in trial_pos])
            source = np.array([trial_source[p] for p in trial_pos])
            raw.executemany(
                episode_sql,
                (
                    (*row, *episode_defaults)
                    for row in zip(
                        (ids + 1).tolist(),
                        trial_ids.tolist(),
                        index.tolist(),
                        outcome.tolist(),
                        cycle.tolist(),
                        [stamp] * ids.size,
                        ["2026-11-01 08:01:00"] * ids.size,
                        source.tolist(),
                        [stamp] * ids.size,
                        strict=True,
                    )
                ),
            )
            per_episode = rng.poisson(EVENTS_PER_EPISODE, ids.size)
            episode_of_event = np.repeat(ids + 1, per_episode)
            m = episode_of_event.size
            raw.executemany(
                event_sql,
                zip(
                    episode_of_event.tolist(),
                    kinds[rng.choice(3, size=m, p=[0.3, 0.5, 0.2])].tolist(),
                    categories[rng.integers(0, categories.size, m)].tolist(),
                    np.round(rng.uniform(0, 10, m), 2).tolist(),
                    strict=True,
                ),
            )
            n_events += m
    raw.execute("PRAGMA foreign_keys=ON")
    # The rows above bypass episodes_record, so their per-trial summaries are built the ops way.
    from trials.services import trial_summaries_rebuild

    started = time.perf_counter()
    summaries = trial_summaries_rebuild()
    print(f"trial_summaries_rebuild: {summaries:,} summary rows in {time.perf_counter() - started:.1f} s")
    raw.execute("ANALYZE")
    return tasks[0].pk, total, n_events


class _NaiveFigures(TypedDict):
    """One source's figures as _naive computes them, to compare with task_statistics' block."""

    n: int
    success: stats.SuccessRate
    cycle: stats.CycleTimeSummary
    takt: stats.TaktVerdict
    interventions: stats.InterventionRate
    longest: int
    longest_clean: int
    pareto: tuple[stats.ParetoBar, ...]
    throughput: stats.Throughput


def _naive(task_id: int) -> dict[str, _NaiveFigures]:
    """The same figures, per row in Python from model instances (what the selectors avoid)."""
    from core import stats
    from reports.stats.selectors import _recovery_time
    from trials.models import Episode, EpisodeEvent, EventKind, Task

    task = Task.objects.get(pk=task_id)
    recovery_s, _ = _recovery_time(task_id)
    episodes = list(Episode.objects.filter(trial__task_id=task_id).order_by("trial_id", "index"))
    events_of: dict[int, list[EpisodeEvent]] = {}
    for ev in EpisodeEvent.objects.filter(episode__trial__task_id=task_id):
        events_of.setdefault(ev.episode_id, []).append(ev)
    out: dict[str, _NaiveFigures] = {}
    for source in sorted({e.source for e in episodes}):
        rows = [e for e in episodes if e.source == source]
        good = [e.cycle_time_s for e in rows if e.outcome == "success"]
        interventions = sum(1 for e in rows for ev in events_of.get(e.pk, []) if ev.kind == EventKind.INTERVENTION)
        hours = sum(e.cycle_time_s for e in rows) / 3600
        best = run = best_clean = clean = 0
        prev = None
        failed: dict[str, int] = {}
        for e in rows:
            if e.trial_id != prev:
                run = clean = 0
                prev = e.trial_id
            ok = e.outcome == "success"
            evs = events_of.get(e.pk, [])
            run = run + 1 if ok else 0
            clean = clean + 1 if ok and not any(v.kind == EventKind.INTERVENTION for v in evs) else 0
            best, best_clean = max(best, run), max(best_clean, clean)
            if not ok:
                first = min(evs, key=lambda v: (v.t_offset_s, v.pk)) if evs else None
                label = first.category if first else stats.UNATTRIBUTED  # the Pareto keeps event categories
                failed[label] = failed.get(label, 0) + 1
        success = stats.success_rate(successes=len(good), n=len(rows))
        out[source] = {
            "n": len(rows),
            "success": success,
            "cycle": stats.cycle_time_summary(good),
            "takt": stats.takt_verdict(good, takt_time_s=task.takt_time_s),
            "interventions": stats.intervention_rate(interventions=interventions, operating_hours=hours),
            "longest": best,
            "longest_clean": best_clean,
            "pareto": stats.pareto(failed),
            "throughput": stats.effective_throughput(
                mean_attempt_cycle_s=hours * 3600 / len(rows),
                interventions_per_attempt=interventions / len(rows),
                recovery_time_s=recovery_s,
                success=success,
            ),
        }
    return out


def _rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="tb-bench-stats-"))
    try:
        _setup_django(tmp)
        _measure(tmp)
    finally:
        # The database is about 1 GB at the default size: throwaway, so removed.
        from django.db import connections

        connections.close_all()
        shutil.rmtree(tmp, ignore_errors=True)


def _measure(tmp: Path) -> None:
    from django.db import connection, reset_queries

    from reports.stats.selectors import task_statistics

    started = time.perf_counter()
    task_id, n_episodes, n_events = _generate()
    gen_s = time.perf_counter() - started
    from trials.models import Episode

    task_episodes = Episode.objects.filter(trial__task_id=task_id).count()
    print(f"database: {n_episodes:,} episodes, {n_events:,} events in {TASKS} tasks (SQLite, {tmp})")
    print(f"generated in {gen_s:.1f} s; measured task holds {task_episodes:,} episodes")
    rss_before = _rss_mb()

    timings, cpu = [], []
    for _ in range(5):
        t0, c0 = time.perf_counter(), time.process_time()
        result = task_statistics(task_id=task_id)
        timings.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)  # SQLite runs in-process: this is database + Python CPU
    rss_after = _rss_mb()
    tracemalloc.start()
    connection.force_debug_cursor = True
    reset_queries()
    task_statistics(task_id=task_id)
    queries = len(connection.queries)
    connection.force_debug_cursor = False
    _, stats_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    t0, c0 = time.perf_counter(), time.process_time()
    naive = _naive(task_id)
    naive_s, naive_cpu = time.perf_counter() - t0, time.process_time() - c0
    rss_naive = _rss_mb()

    # The two routes must agree, or the comparison means nothing.
    for block in result.sources:
        ref = naive[block.source]
        assert block.n_episodes == ref["n"], block.source
        assert block.success == ref["success"], block.source
        assert block.cycle_time.median_s == ref["cycle"].median_s
        assert block.takt == ref["takt"]
        assert block.interventions.interventions == ref["interventions"].interventions
        assert block.longest_success_run == ref["longest"]
        assert block.longest_run_without_intervention == ref["longest_clean"]
        assert block.failures_by_category == ref["pareto"]
    best = min(timings)
    print(
        f"task_statistics (database aggregates + streamed columns), {queries} queries, 5 runs: "
        f"{', '.join(f'{t:.2f}' for t in timings)} s; best {best:.3f} s, median {float(np.median(timings)):.3f} s "
        f"(CPU best {min(cpu):.3f} s)"
    )
    print(f"naive per-row Python from model instances: {naive_s:.3f} s (CPU {naive_cpu:.3f} s)")
    print(
        f"ratio naive / selectors: {naive_s / best:.1f}x wall, {naive_cpu / min(cpu):.1f}x CPU (same figures, checked equal)"
    )
    print(
        f"memory: selectors' tracemalloc peak {stats_peak / 2**20:.0f} MiB; process max RSS "
        f"{rss_before:.0f} MiB after generation, {rss_after:.0f} MiB after selectors, {rss_naive:.0f} MiB after naive"
    )
    for block in result.sources:
        print(
            f"  {block.source}: {block.success.claim}; median cycle {block.cycle_time.median_s:.2f} s; {block.takt.verdict}"
        )
    print(f"load average while measuring: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    target = "MET" if best <= 1.5 and rss_after <= 1024 else "NOT MET"
    print(f"target <= 1.5 s and <= 1 GB: {target}")
    sys.stdout.flush()
