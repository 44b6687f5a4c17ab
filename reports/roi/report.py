"""The ROI report of one task and scenario, as the report page and the API show it, and its traffic light."""

from __future__ import annotations

from dataclasses import dataclass

from accounts.models import User
from core.montecarlo import DEFAULT_DRAWS, MonteCarloResult, run_monte_carlo
from core.results import JsonResult
from core.roi import (
    BreakEven,
    Heatmap,
    RoiResult,
    Tornado,
    compute_roi,
    roi_break_even,
    roi_heatmap,
    roi_tornado,
)
from reports.models import CostScenario
from reports.roi.inputs import task_roi_inputs
from trials.models import Task


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
    reviewed: int  # of `episodes`, how many a person reviewed
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
        reviewed=bundle.evidence.reviewed,
        successes=bundle.evidence.successes,
        interventions=bundle.evidence.interventions,
        roi=compute_roi(inputs=inputs),
        monte_carlo=run_monte_carlo(inputs=inputs, evidence=bundle.evidence, draws=draws, seed=seed),
        break_even=roi_break_even(inputs=inputs) if details else None,
        tornado=roi_tornado(inputs=inputs) if details else None,
        heatmap=roi_heatmap(inputs=inputs) if details else None,
        input_notes=bundle.input_notes,
    )


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
