"""The manager dashboard: the ROI and Monte Carlo summary of every task a user may read, cached per task.

The same evidence rules, inputs and maths as the task report (reports.roi.evidence, reports.roi.inputs), read
in batches: a fixed number of queries whatever the number of tasks and episodes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.core.cache import cache
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from accounts.models import User
from core.montecarlo import DEFAULT_DRAWS, MonteCarloResult, run_monte_carlo
from core.results import JsonResult
from core.roi import RoiInputError, RoiInputs, RoiResult, compute_roi
from reports.models import CostModel, CostScenario
from reports.roi.evidence import (
    EXACT_CYCLE_TIMES,
    SUMMARY_FIELDS,
    chosen_sources,
    chosen_totals,
    cycle_time_sample,
    evidence_from_totals,
    totals_by_source,
)
from reports.roi.inputs import cost_inputs_from_model, task_inputs_from_model
from reports.roi.report import roi_traffic_light
from trials.models import Episode, Task, TrialStatus
from trials.rankings import PaybackRanking
from trials.selectors import task_list_commercial_for_user, trial_list_for_user, trial_source_summaries

# The dashboard runs the report's Monte Carlo (same draws, same seed): one figure per task everywhere.
DASHBOARD_DRAWS = DEFAULT_DRAWS


@dataclass(frozen=True, kw_only=True)
class DashboardRow(JsonResult):
    """One task on the manager dashboard: its ROI and Monte Carlo summary, or the message why there is none.

    `latest_trial_status` is the status of the task's newest visible trial ("" when it has none);
    `trials_by_status` the number of its visible trials in each status that has any, in TrialStatus order.
    """

    task_id: int
    task_name: str
    currency: str  # ISO 4217, the task's organization's
    task_status: str
    trial_count: int
    latest_trial_status: str
    trials_by_status: tuple[tuple[str, int], ...] = ()
    evidence_sources: tuple[str, ...]
    episodes: int
    payback_target_months: float | None
    roi: RoiResult | None
    monte_carlo: MonteCarloResult | None
    error: str | None
    reviewed: int = 0  # of `episodes`, how many a person reviewed


DASHBOARD_CACHE_SECONDS = 24 * 3600


def _dashboard_cache_key(
    *,
    task: Task,
    cost_model: CostModel | None,
    summaries: list[dict[str, Any]],
    scenario: str,
    draws: int,
    seed: int,
) -> str:
    """A key that changes whenever anything the row depends on changes: the task and cost-model rows (their
    updated_at), the visible trials' summary rows (each one's revision rises with every episode or event
    recorded into it, and with every rebuild), the scenario, draws and seed."""
    parts = [
        task.pk,
        task.updated_at.isoformat() if task.updated_at else "",
        cost_model.pk if cost_model else None,
        cost_model.updated_at.isoformat() if cost_model and cost_model.updated_at else "",
        scenario,
        draws,
        seed,
        sorted((r["trial_id"], r["source"], r["episodes"], r["revision"]) for r in summaries),
    ]
    digest = hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()
    return f"roi-dashboard:v4:{digest}"


def task_roi_dashboard(
    *,
    user: User,
    scenario: str = CostScenario.BASE,
    draws: int = DASHBOARD_DRAWS,
    seed: int = 0,
    use_cache: bool = True,
) -> list[DashboardRow]:
    """The ROI and Monte Carlo summary of every task the user may read, for one scenario, in at most four
    queries whatever the number of tasks and episodes: tasks (with the latest visible trial's status), cost
    models, the summary rows of the visible trials (trials.models.TrialSourceSummary: about one per trial),
    and only when a stale task has few episodes, their cycle times.

    Rows are cached (Django's cache, shared between processes when REDIS_URL is set) under
    _dashboard_cache_key, so a task is recomputed only when its task row, cost model or visible episodes
    change. Evidence follows task_trial_evidence (real episodes preferred, never mixed with simulation) over
    the trials the user may read; tasks with more than EXACT_CYCLE_TIMES episodes bootstrap their cycle time
    from cycle_time_sample, as the report does. Rows come in name order; a task without a cost model or usable
    evidence carries its message in `error`.
    """
    visible_trials = trial_list_for_user(user=user)
    latest = visible_trials.filter(task=OuterRef("pk")).order_by("-created_at", "-pk").values("status")[:1]
    # Counted per status over the trials the user may read (the same trials as the evidence), in the tasks
    # query itself: "2 completed, 1 cancelled", not the newest trial's status beside the total.
    by_status = {
        f"trials_{status}": Coalesce(
            Subquery(
                visible_trials.order_by()
                .filter(task=OuterRef("pk"), status=status)
                .values("task")
                .annotate(n=Count("pk"))
                .values("n")[:1]
            ),
            0,
        )
        for status in TrialStatus.values
    }
    tasks = list(
        task_list_commercial_for_user(user=user)
        .annotate(latest_trial_status=Subquery(latest), **by_status)
        .order_by("name", "pk")
    )
    if not tasks:
        return []
    task_ids = [t.pk for t in tasks]
    cost_models = {cm.task_id: cm for cm in CostModel.objects.filter(task_id__in=task_ids, scenario=scenario)}
    summaries: dict[int, list[dict[str, Any]]] = {t: [] for t in task_ids}
    for row in trial_source_summaries(trials=visible_trials.filter(task_id__in=task_ids)).values(
        *SUMMARY_FIELDS, "trial__task_id"
    ):
        summaries[row["trial__task_id"]].append(row)
    keys = {
        t.pk: _dashboard_cache_key(
            task=t,
            cost_model=cost_models.get(t.pk),
            summaries=summaries[t.pk],
            scenario=scenario,
            draws=draws,
            seed=seed,
        )
        for t in tasks
    }
    cached: dict[str, DashboardRow] = cache.get_many(list(keys.values())) if use_cache else {}
    stale = [t for t in tasks if keys[t.pk] not in cached]
    fresh = (
        {
            row.task_id: row
            for row in _dashboard_compute(
                tasks=stale, cost_models=cost_models, summaries=summaries, scenario=scenario, draws=draws, seed=seed
            )
        }
        if stale
        else {}
    )
    if use_cache and fresh:
        cache.set_many({keys[task_id]: row for task_id, row in fresh.items()}, timeout=DASHBOARD_CACHE_SECONDS)
    rows = []
    for task in tasks:
        row = fresh.get(task.pk) or cached[keys[task.pk]]
        # The task's own fields are read afresh: they are not part of the cached figures.
        rows.append(
            dataclasses.replace(
                row,
                task_name=task.name,
                currency=task.currency,
                task_status=task.status,
                trial_count=sum(n for _, n in _trials_by_status(task)),
                latest_trial_status=task.latest_trial_status or "",
                trials_by_status=_trials_by_status(task),
            )
        )
    return rows


def _trials_by_status(task: Task) -> tuple[tuple[str, int], ...]:
    counts = ((status, int(getattr(task, f"trials_{status}", 0) or 0)) for status in TrialStatus.values)
    return tuple((status, n) for status, n in counts if n)


def _dashboard_compute(
    *,
    tasks: Sequence[Task],
    cost_models: dict[int, CostModel],
    summaries: dict[int, list[dict[str, Any]]],
    scenario: str,
    draws: int,
    seed: int,
) -> list[DashboardRow]:
    """The rows of `tasks` from their summary rows, the cycle times of the small ones (one query, none when
    every task is large) and the ROI maths."""
    by_source = {t.pk: totals_by_source(summaries.get(t.pk, [])) for t in tasks}
    chosen = {task_id: chosen_sources(set(b)) for task_id, b in by_source.items()}
    totals = {task_id: chosen_totals(by_source[task_id], chosen[task_id]) for task_id in by_source}
    small = [t for t, total in totals.items() if 0 < total.episodes <= EXACT_CYCLE_TIMES]
    task_of_trial = {r["trial_id"]: task_id for task_id in small for r in summaries[task_id]}
    small_filter = Q(pk__in=[])
    for task_id in small:
        trial_ids = sorted({r["trial_id"] for r in summaries[task_id] if r["source"] in chosen[task_id]})
        small_filter |= Q(trial_id__in=trial_ids, source__in=chosen[task_id])
    cycle_times = _cycle_times_by_trial(Episode.objects.counted().filter(small_filter), task_of_trial) if small else {}

    rows: list[DashboardRow] = []
    for task in tasks:
        cost_model = cost_models.get(task.pk)
        sources = tuple(s for s in chosen[task.pk] if s in by_source[task.pk])
        total = totals[task.pk]
        n = total.episodes
        common: dict[str, Any] = {
            "task_id": task.pk,
            "task_name": task.name,
            "currency": task.currency,
            "task_status": task.status,
            "trial_count": sum(n for _, n in _trials_by_status(task)),
            "latest_trial_status": getattr(task, "latest_trial_status", None) or "",
            "trials_by_status": _trials_by_status(task),
            "evidence_sources": sources,
            "episodes": n,
            "reviewed": total.reviewed,
            "payback_target_months": float(cost_model.payback_target_months) if cost_model else None,
        }
        try:
            if cost_model is None:
                label = CostScenario(scenario).label.lower() if scenario in CostScenario.values else scenario
                raise RoiInputError(f"No {label} cost model yet.")
            if n == 0:
                raise RoiInputError("No episodes recorded yet.")
            if n <= EXACT_CYCLE_TIMES:
                sample = tuple(cycle_times.get(task.pk, np.zeros(0)).tolist())
            else:
                sample = cycle_time_sample(n=n, mean_s=total.cycle_time_sum_s / n, sum_sq=total.cycle_time_sq_sum_s2)
            evidence = evidence_from_totals(total=total, cycle_times_s=sample)
            cost_model.task = task
            inputs = RoiInputs(
                costs=cost_inputs_from_model(cost_model=cost_model),
                task=task_inputs_from_model(task=task),
                measured=evidence.measured(recovery_time_s=float(cost_model.recovery_time_s)),
            )
            rows.append(
                DashboardRow(
                    **common,
                    roi=compute_roi(inputs=inputs),
                    monte_carlo=run_monte_carlo(inputs=inputs, evidence=evidence, draws=draws, seed=seed),
                    error=None,
                )
            )
        except RoiInputError as error:
            rows.append(DashboardRow(**common, roi=None, monte_carlo=None, error=str(error)))
    return rows


def _cycle_times_by_trial(episodes: QuerySet[Episode], task_of_trial: dict[int, int]) -> dict[int, np.ndarray]:
    """{task id: cycle times} of `episodes` (few: small tasks only), in one query."""
    by_task: dict[int, list[float]] = {}
    for trial_id, cycle_time_s in episodes.order_by("trial_id", "index").values_list("trial_id", "cycle_time_s"):
        by_task.setdefault(task_of_trial[trial_id], []).append(cycle_time_s)
    return {task_id: np.asarray(values, dtype=float) for task_id, values in by_task.items()}


def dashboard_traffic_light(*, row: DashboardRow) -> str:
    """The row's light by roi_traffic_light."""
    return roi_traffic_light(roi=row.roi, monte_carlo=row.monte_carlo)


DASHBOARD_ORDERS = ("npv", "payback", "name")


def dashboard_sort(*, rows: list[DashboardRow], order: str = "npv") -> list[DashboardRow]:
    """Rows ranked by the base-case NPV the table shows (highest first), by its payback (soonest first;
    never last) or by name; rows without a result always last. Unknown orders rank by NPV."""
    if order == "name":
        return sorted(rows, key=lambda r: r.task_name.lower())

    def key(row: DashboardRow) -> tuple[int, float]:
        roi = row.roi
        if roi is None or row.monte_carlo is None:
            return (2, 0.0)
        if order == "payback":
            return (0, roi.payback_months) if roi.payback_months is not None else (1, -roi.npv)
        return (0, -roi.npv)

    return sorted(rows, key=key)


def task_payback_ranking(user: User) -> PaybackRanking:
    """The task list's payback order (trials.rankings): the dashboard's cached rows of the base scenario,
    ranked by dashboard_sort's payback rule, with the base-case and Monte Carlo paybacks of each task."""
    ranked = dashboard_sort(rows=task_roi_dashboard(user=user), order="payback")
    return PaybackRanking(
        task_ids=tuple(row.task_id for row in ranked),
        base_months={row.task_id: row.roi.payback_months for row in ranked if row.roi is not None},
        expected_months={row.task_id: row.monte_carlo.payback_months for row in ranked if row.monte_carlo is not None},
    )
