"""Writes of the reports app: the cost model of a task (one row per named scenario)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from accounts.models import User
from accounts.permissions import acts_for_organization
from reports.models import COST_MODEL_EDITABLE_FIELDS, COST_MODEL_RANGE_FIELDS, CostModel, CostScenario
from trials.models import Task


def cost_model_save(*, task: Task, scenario: str, user: User, fields: dict[str, Any]) -> CostModel:
    """Create or update the task's cost model for `scenario` with `fields` (names in COST_MODEL_EDITABLE_FIELDS).

    Only the task's own organization (or a superuser) may write it. Notes are kept only for known inputs
    and trimmed; empty notes are dropped. Returns the saved CostModel.
    Raises PermissionDenied for another organization, ValidationError (field -> messages) on bad values
    (model validators, the CheckConstraints and CostModel.clean() on the ranges).
    """
    if not acts_for_organization(user, task.organization_id):
        raise PermissionDenied("Only the task's own organization can change its cost model.")
    if scenario not in CostScenario.values:
        raise ValidationError({"scenario": f"Unknown scenario {scenario!r}: use base, conservative or optimistic."})
    unknown = set(fields) - set(COST_MODEL_EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not cost-model inputs: {', '.join(sorted(unknown))}")
    values = dict(fields)
    if "input_notes" in values:
        allowed = set(COST_MODEL_EDITABLE_FIELDS) | set(COST_MODEL_RANGE_FIELDS)
        values["input_notes"] = {
            str(k): str(v).strip() for k, v in (values["input_notes"] or {}).items() if k in allowed and str(v).strip()
        }
    with transaction.atomic():
        # select_for_update: two engineers saving the same scenario at once must not both insert.
        cost_model = CostModel.objects.select_for_update().filter(task=task, scenario=scenario).first()
        if cost_model is None:
            cost_model = CostModel(task=task, scenario=scenario)
        for name, value in values.items():
            setattr(cost_model, name, value)
        cost_model.task = task
        cost_model.full_clean(validate_unique=False)
        cost_model.save()
    return cost_model
