"""Reads that turn a task's CostModel and its recorded episodes into the pure inputs of core.roi.

Pages and the API call `task_roi_inputs` and then `core.roi` / `core.montecarlo`, so every figure
comes from the same functions. A fixed number of queries whatever the number of episodes: counts, sums and
intervention counts come from the per-trial, per-source running totals (trials.models.TrialSourceSummary,
kept by episodes_record) and cycle times are streamed as one column where the bootstrap needs them.

Evidence: simulation and real episodes are never mixed. By default the ROI rests on real episodes (robot
agent and integrator upload) when the task has any, else on simulation; pass `source` to choose.
Interventions are events of kind "intervention" (as in reports.selectors); the robot's running time is the
sum of its episodes' cycle times; aborted episodes count as failures (no part was made).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.core.cache import cache
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from accounts.models import User
from core.montecarlo import DEFAULT_DRAWS, MonteCarloResult, TrialEvidence, run_monte_carlo
from core.roi import (
    BreakEven,
    CostInputs,
    Heatmap,
    InputRange,
    JsonResult,
    RoiInputError,
    RoiInputs,
    RoiResult,
    TaskInputs,
    Tornado,
    compute_roi,
    roi_break_even,
    roi_heatmap,
    roi_tornado,
)
from reports.models import CostModel, CostScenario
from trials.models import Episode, EpisodeSource, Task, Trial, TrialStatus
from trials.selectors import (
    SummaryTotals,
    task_commercial_visible,
    task_list_commercial_for_user,
    trial_list_for_user,
    trial_source_summaries,
)

REAL_SOURCES = (EpisodeSource.ROBOT_AGENT.value, EpisodeSource.INTEGRATOR_UPLOAD.value)


COMMERCIAL_TERMS_HIDDEN = "The cost model and ROI of a task are shared only within its organization."


class CommercialTermsHidden(PermissionError):
    """The user may read the task (an engaged integrator) but not its commercial terms: cost model, labour
    cost, ROI. Views and the API answer 403 or show the evidence only."""


def _require_commercial(*, task: Task, user: User | None) -> None:
    if user is not None and not task_commercial_visible(user=user, task=task):
        raise CommercialTermsHidden(COMMERCIAL_TERMS_HIDDEN)


@dataclass(frozen=True, kw_only=True)
class TaskRoiInputs:
    """Inputs for one task and scenario, with what the evidence rests on (for the page's "why")."""

    inputs: RoiInputs
    evidence: TrialEvidence
    scenario: str
    evidence_sources: tuple[str, ...]  # episode sources used, e.g. ("simulation",)
    input_notes: dict[str, str]  # source/evidence note per cost input, from the cost model


def cost_inputs_from_model(*, cost_model: CostModel) -> CostInputs:
    """The pure CostInputs of a CostModel (Decimal money -> float; the task's labour rate unless overridden).

    Raises RoiInputError when a stored value makes the ROI meaningless (e.g. zero utilisation).
    """
    ranges = tuple(
        InputRange(name=name, low=float(bounds[0]), high=float(bounds[1]))
        for name, bounds in sorted((cost_model.input_ranges or {}).items())
    )
    return CostInputs(
        robot_capex=float(cost_model.robot_capex),
        tooling_capex=float(cost_model.tooling_capex),
        vision_capex=float(cost_model.vision_capex),
        safety_capex=float(cost_model.safety_capex),
        integration_cost=float(cost_model.integration_cost),
        fat_sat_cost=float(cost_model.fat_sat_cost),
        training_cost=float(cost_model.training_cost),
        annual_maintenance=float(cost_model.annual_maintenance),
        annual_software=float(cost_model.annual_software),
        annual_consumables=float(cost_model.annual_consumables),
        energy_kw=float(cost_model.energy_kw),
        energy_hours_per_year=cost_model.energy_hours_per_year,
        energy_price_per_kwh=float(cost_model.energy_price_per_kwh),
        labour_cost_per_hour=float(cost_model.effective_labour_rate()),
        utilisation=float(cost_model.utilisation),
        ramp_up_months=float(cost_model.ramp_up_months),
        discount_rate=float(cost_model.discount_rate),
        horizon_years=int(cost_model.horizon_years),
        salvage_value=float(cost_model.salvage_value),
        payback_target_months=float(cost_model.payback_target_months),
        ranges=ranges,
        range_distribution=cost_model.range_distribution,  # type: ignore[arg-type]
    )


def task_inputs_from_model(*, task: Task) -> TaskInputs:
    """The pure TaskInputs of a Task. Raises RoiInputError on a task with no volume or no production hours."""
    return TaskInputs(
        annual_volume=float(task.annual_volume),
        takt_time_s=float(task.takt_time_s),
        shifts_per_day=float(task.shifts_per_day),
        hours_per_shift=float(task.hours_per_shift),
        operating_days_per_year=float(task.operating_days_per_year),
        operators_per_shift=float(task.operators_per_shift),
        manual_cycle_time_s=float(task.manual_cycle_time_s),
    )


def _task_trials(*, task: Task, user: User | None, policy_version_id: int | None) -> QuerySet[Trial]:
    trials: QuerySet[Trial] = trial_list_for_user(user=user) if user is not None else Trial.objects.all()
    trials = trials.filter(task=task)
    if policy_version_id is not None:
        trials = trials.filter(policy_version_id=policy_version_id)
    return trials


SUMMARY_FIELDS = (
    "trial_id",
    "source",
    "episodes",
    "successes",
    "cycle_time_sum_s",
    "cycle_time_sq_sum_s2",
    "interventions",
    "lost",
    "revision",
)


def _totals_by_source(rows: list[dict[str, Any]]) -> dict[str, SummaryTotals]:
    """{source: totals} over summary rows (values() dicts of SUMMARY_FIELDS). Summed in (trial, source)
    order, so the report page and the dashboard add the same floats in the same order: identical figures."""
    out: dict[str, SummaryTotals] = {}
    for row in sorted(rows, key=lambda r: (r["trial_id"], r["source"])):
        if row["episodes"]:
            out.setdefault(row["source"], SummaryTotals()).add(SummaryTotals.from_row(row))
    return out


def _chosen_totals(by_source: dict[str, SummaryTotals], chosen: tuple[str, ...]) -> SummaryTotals:
    total = SummaryTotals()
    for source in chosen:
        if source in by_source:
            total.add(by_source[source])
    return total


# Up to this many episodes of evidence the ROI (report, dashboard, API) bootstraps the recorded cycle times;
# above it, the stand-in of _cycle_time_sample.
EXACT_CYCLE_TIMES = 2_000
DASHBOARD_EXACT_CYCLE_TIMES = EXACT_CYCLE_TIMES


@functools.cache
def _standard_normal_quantiles(k: int) -> np.ndarray:
    """k evenly spaced standard normal quantiles, standardised to mean 0 and deviation 1 (read-only: shared
    by every large task of a dashboard load, computed once per process)."""
    from scipy.stats import norm

    z = norm.ppf((np.arange(k) + 0.5) / k)
    z = (z - z.mean()) / z.std()
    z.flags.writeable = False
    return z


def _cycle_time_sample(*, n: int, mean_s: float, sum_sq: float) -> tuple[float, ...]:
    """A stand-in for the cycle times of a task with more than EXACT_CYCLE_TIMES episodes: k evenly
    spaced normal quantiles with the recorded mean, scaled so their bootstrap mean spreads by s / sqrt(n).

    Why: core.montecarlo bootstraps the *mean* cycle time, and past 2,000 episodes it already rescales
    m-out-of-n resamples to the n-episode spread (s / sqrt(n)); for such n the sampling distribution of the
    mean is normal to within the bootstrap's own noise (central limit theorem). The mean, the spread and n
    come from one database aggregate, so the dashboard never streams a million cycle times.
    """
    k = EXACT_CYCLE_TIMES
    variance = max(sum_sq / n - mean_s * mean_s, 0.0)
    values = mean_s + np.sqrt(variance) * np.sqrt(k / n) * _standard_normal_quantiles(k)
    return tuple(np.maximum(values, 0.0).tolist())


def task_trial_evidence(
    *,
    task: Task,
    source: str | None = None,
    user: User | None = None,
    policy_version_id: int | None = None,
) -> tuple[TrialEvidence, tuple[str, ...]]:
    """(evidence, sources used) from the task's recorded episodes, in two queries: the trials' summary rows
    (counts, sums, interventions per trial and source) and the chosen episodes' cycle times (up to
    EXACT_CYCLE_TIMES episodes; past it the normal stand-in of _cycle_time_sample, as on the dashboard).

    `source`: one EpisodeSource value, "real" (robot agent + integrator upload), or None for real when any
    real episode exists else simulation. `user` scopes to the trials the user may read.
    Raises RoiInputError when there are no episodes or no successful one (see TrialEvidence).
    """
    trials = _task_trials(task=task, user=user, policy_version_id=policy_version_id)
    by_source = _totals_by_source(list(trial_source_summaries(trials=trials).values(*SUMMARY_FIELDS)))
    if source is None:
        chosen = _chosen_sources(set(by_source))
    elif source == "real":
        chosen = REAL_SOURCES
    elif source in EpisodeSource.values:
        chosen = (source,)
    else:
        raise RoiInputError(
            f"Unknown evidence source {source!r}: use simulation, robot_agent, integrator_upload or real."
        )
    total = _chosen_totals(by_source, chosen)
    if total.episodes == 0:
        label = " or ".join(EpisodeSource(s).label.lower() for s in chosen)
        raise RoiInputError(f"No episodes recorded yet ({label}): run a trial of this task before computing its ROI.")
    if total.episodes <= EXACT_CYCLE_TIMES:
        chosen_episodes = Episode.objects.counted().filter(trial__in=trials.order_by().values("pk"), source__in=chosen)
        # Ordered as the dashboard reads them: the bootstrap resamples by position.
        sample = tuple(chosen_episodes.order_by("trial_id", "index").values_list("cycle_time_s", flat=True))
    else:
        # The dashboard's stand-in, so the report and the dashboard draw the same cycle times: one figure
        # per task and scenario wherever it is shown (issue 13).
        sample = _cycle_time_sample(
            n=total.episodes, mean_s=total.cycle_time_sum_s / total.episodes, sum_sq=total.cycle_time_sq_sum_s2
        )
    evidence = TrialEvidence(
        successes=total.successes,
        failures=total.episodes - total.successes,
        interventions=total.interventions,
        autonomous_hours=total.cycle_time_sum_s / 3600,
        cycle_times_s=sample,
    )
    return evidence, tuple(s for s in chosen if s in by_source)


def task_roi_inputs(
    *,
    task: Task,
    scenario: str = CostScenario.BASE,
    source: str | None = None,
    user: User | None = None,
    policy_version_id: int | None = None,
) -> TaskRoiInputs:
    """Everything core.roi and core.montecarlo need for one task and scenario, in three queries.

    The measured performance is the point estimate of the evidence (observed success rate, mean attempt
    cycle time, interventions per running hour) with the cost model's recovery time.
    Raises RoiInputError with a message for the page when the task has no cost model for the scenario,
    no episodes, no successful episode, or inputs that make an ROI meaningless; CommercialTermsHidden when
    `user` may read the task but not its commercial terms (an engaged integrator).
    """
    _require_commercial(task=task, user=user)
    cost_model = CostModel.objects.filter(task=task, scenario=scenario).first()
    if cost_model is None:
        label = CostScenario(scenario).label if scenario in CostScenario.values else scenario
        raise RoiInputError(f"No {label.lower()} cost model for this task yet: enter its costs to see the ROI.")
    cost_model.task = task  # effective_labour_rate reads the task: no extra query
    evidence, sources = task_trial_evidence(task=task, source=source, user=user, policy_version_id=policy_version_id)
    inputs = RoiInputs(
        costs=cost_inputs_from_model(cost_model=cost_model),
        task=task_inputs_from_model(task=task),
        measured=evidence.measured(recovery_time_s=float(cost_model.recovery_time_s)),
    )
    notes = {str(k): str(v) for k, v in (cost_model.input_notes or {}).items()}
    return TaskRoiInputs(
        inputs=inputs, evidence=evidence, scenario=scenario, evidence_sources=sources, input_notes=notes
    )


@dataclass(frozen=True, kw_only=True)
class TaskRoiReport(JsonResult):
    """The ROI of one task and scenario as pages and the API show it; `to_dict()` is the JSON.

    `break_even`, `tornado` and `heatmap` are None when not asked for (a dashboard row needs only the
    ROI and the Monte Carlo summary).
    """

    task_id: int
    scenario: str
    currency: str  # ISO 4217 code of every money figure below (the task's organization's)
    evidence_sources: tuple[str, ...]
    episodes: int
    successes: int
    interventions: int
    roi: RoiResult
    monte_carlo: MonteCarloResult
    break_even: BreakEven | None
    tornado: Tornado | None
    heatmap: Heatmap | None
    input_notes: dict[str, str]


def task_roi_report(
    *,
    task: Task,
    scenario: str = CostScenario.BASE,
    source: str | None = None,
    user: User | None = None,
    policy_version_id: int | None = None,
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    details: bool = True,
) -> TaskRoiReport:
    """ROI, Monte Carlo (seeded: the same page shows the same figures) and, with `details`, break-even,
    tornado and heatmap for one task and scenario; three queries.

    Raises RoiInputError with a message for the page (no cost model, no episodes, no success, ...).
    """
    bundle = task_roi_inputs(
        task=task, scenario=scenario, source=source, user=user, policy_version_id=policy_version_id
    )
    inputs = bundle.inputs
    return TaskRoiReport(
        task_id=task.pk,
        scenario=bundle.scenario,
        currency=task.currency,
        evidence_sources=bundle.evidence_sources,
        episodes=bundle.evidence.episodes,
        successes=bundle.evidence.successes,
        interventions=bundle.evidence.interventions,
        roi=compute_roi(inputs=inputs),
        monte_carlo=run_monte_carlo(inputs=inputs, evidence=bundle.evidence, draws=draws, seed=seed),
        break_even=roi_break_even(inputs=inputs) if details else None,
        tornado=roi_tornado(inputs=inputs) if details else None,
        heatmap=roi_heatmap(inputs=inputs) if details else None,
        input_notes=bundle.input_notes,
    )


@dataclass(frozen=True, kw_only=True)
class ScenarioRoi(JsonResult):
    """One named scenario's ROI and Monte Carlo summary, or the message why it cannot be computed."""

    scenario: str
    roi: RoiResult | None
    monte_carlo: MonteCarloResult | None
    error: str | None


def task_roi_by_scenario(
    *,
    task: Task,
    source: str | None = None,
    user: User | None = None,
    policy_version_id: int | None = None,
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
) -> tuple[ScenarioRoi, ...]:
    """ROI and Monte Carlo of every cost-model scenario of the task (base, conservative, optimistic order),
    on one set of evidence; three queries whatever the number of scenarios.

    A scenario whose inputs make ROI meaningless carries its message in `error`. Raises RoiInputError when
    the evidence itself is unusable (no episodes, no success) or the task has no cost model at all;
    CommercialTermsHidden as task_roi_inputs.
    """
    _require_commercial(task=task, user=user)
    cost_models = {cm.scenario: cm for cm in CostModel.objects.filter(task=task)}
    if not cost_models:
        raise RoiInputError("No cost model for this task yet: enter its costs to see the ROI.")
    evidence, _ = task_trial_evidence(task=task, source=source, user=user, policy_version_id=policy_version_id)
    task_inputs = task_inputs_from_model(task=task)
    results = []
    for scenario in CostScenario.values:
        cost_model = cost_models.get(scenario)
        if cost_model is None:
            continue
        cost_model.task = task
        try:
            inputs = RoiInputs(
                costs=cost_inputs_from_model(cost_model=cost_model),
                task=task_inputs,
                measured=evidence.measured(recovery_time_s=float(cost_model.recovery_time_s)),
            )
            results.append(
                ScenarioRoi(
                    scenario=scenario,
                    roi=compute_roi(inputs=inputs),
                    monte_carlo=run_monte_carlo(inputs=inputs, evidence=evidence, draws=draws, seed=seed),
                    error=None,
                )
            )
        except RoiInputError as error:
            results.append(ScenarioRoi(scenario=scenario, roi=None, monte_carlo=None, error=str(error)))
    return tuple(results)


# ------------------------------------------------------------------------------------------- dashboard

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


def _chosen_sources(present: set[str]) -> tuple[str, ...]:
    """Real episodes when there are any, else simulation: the same rule as task_trial_evidence."""
    return tuple(s for s in REAL_SOURCES if s in present) or (EpisodeSource.SIMULATION.value,)


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
    return f"roi-dashboard:v3:{digest}"


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
    from _cycle_time_sample, as the report does. Rows come in name order; a task without a cost model or usable
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
    tasks: list[Task],
    cost_models: dict[int, CostModel],
    summaries: dict[int, list[dict[str, Any]]],
    scenario: str,
    draws: int,
    seed: int,
) -> list[DashboardRow]:
    """The rows of `tasks` from their summary rows, the cycle times of the small ones (one query, none when
    every task is large) and the ROI maths."""
    by_source = {t.pk: _totals_by_source(summaries.get(t.pk, [])) for t in tasks}
    chosen = {task_id: _chosen_sources(set(b)) for task_id, b in by_source.items()}
    totals = {task_id: _chosen_totals(by_source[task_id], chosen[task_id]) for task_id in by_source}
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
            "latest_trial_status": task.latest_trial_status or "",
            "trials_by_status": _trials_by_status(task),
            "evidence_sources": sources,
            "episodes": n,
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
                sample = _cycle_time_sample(n=n, mean_s=total.cycle_time_sum_s / n, sum_sq=total.cycle_time_sq_sum_s2)
            evidence = TrialEvidence(
                successes=total.successes,
                failures=n - total.successes,
                interventions=total.interventions,
                autonomous_hours=total.cycle_time_sum_s / 3600,
                cycle_times_s=sample,
            )
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


# The traffic light of a task (dashboard row and report verdict), from the headline (deterministic base case)
# and the Monte Carlo's risk of losing money. Green: pays back within its target and at most a 10 % chance of a
# negative NPV. Red: the base case loses money, or losing money is at least as likely as not. Amber: the rest
# (makes money, but slower than the target or with a real chance of a loss).
LIGHT_GREEN_MAX_P_LOSS = 0.10
LIGHT_RED_MIN_P_LOSS = 0.50
LIGHTS = ("green", "amber", "red", "none")


def roi_traffic_light(*, roi: RoiResult | None, monte_carlo: MonteCarloResult | None) -> str:
    """'green', 'amber', 'red' by the rule above; 'none' without a result."""
    if roi is None or monte_carlo is None:
        return "none"
    p_loss = monte_carlo.p_npv_negative
    if roi.npv < 0 or p_loss >= LIGHT_RED_MIN_P_LOSS:
        return "red"
    if roi.meets_payback_target and p_loss <= LIGHT_GREEN_MAX_P_LOSS:
        return "green"
    return "amber"


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
