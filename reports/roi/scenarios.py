"""The ROI of every named cost-model scenario of a task, on one set of evidence."""

from __future__ import annotations

from dataclasses import dataclass

from accounts.models import User
from core.montecarlo import DEFAULT_DRAWS, MonteCarloResult, run_monte_carlo
from core.results import JsonResult
from core.roi import RoiInputError, RoiInputs, RoiResult, compute_roi
from reports.models import CostModel, CostScenario
from reports.roi.evidence import task_trial_evidence
from reports.roi.inputs import cost_inputs_from_model, require_commercial, task_inputs_from_model
from trials.models import Task


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
    require_commercial(task=task, user=user)
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
