"""The pure inputs of core.roi for one task and scenario: its CostModel, the task and the trial evidence.

Pages and the API call `task_roi_inputs` and then `core.roi` / `core.montecarlo`, so every figure comes from
the same functions. The cost model's commercial terms are shared only within the task's organization.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from accounts.models import User
from core.montecarlo import TrialEvidence
from core.roi import CostInputs, InputRange, RoiInputError, RoiInputs, TaskInputs
from reports.models import COST_MODEL_COLUMNS, CostModel, CostScenario
from reports.roi.evidence import task_trial_evidence
from trials.models import Task
from trials.selectors import task_commercial_visible

COMMERCIAL_TERMS_HIDDEN = "The cost model and ROI of a task are shared only within its organization."


class CommercialTermsHidden(PermissionError):
    """The user may read the task (an engaged integrator) but not its commercial terms: cost model, labour
    cost, ROI. Views and the API answer 403 or show the evidence only."""


def require_commercial(*, task: Task, user: User | None) -> None:
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
    """The pure CostInputs of a CostModel, field by field (Decimal money -> float; the task's labour rate
    unless overridden; the ranges as InputRange, by name).

    Raises RoiInputError when a stored value makes the ROI meaningless (e.g. zero utilisation).
    """
    values: dict[str, Any] = {}
    for f in dataclasses.fields(CostInputs):
        if f.name == "labour_cost_per_hour":
            values[f.name] = float(cost_model.effective_labour_rate())
        elif f.name == "ranges":
            values[f.name] = tuple(
                InputRange(name=name, low=float(bounds[0]), high=float(bounds[1]))
                for name, bounds in sorted((cost_model.input_ranges or {}).items())
            )
        else:
            stored = getattr(cost_model, COST_MODEL_COLUMNS[f.name])
            # Money is Decimal in the database and float in the maths; counts, text and blanks pass as they are.
            values[f.name] = float(stored) if isinstance(stored, Decimal | float) else stored
    return CostInputs(**values)


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
    require_commercial(task=task, user=user)
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
