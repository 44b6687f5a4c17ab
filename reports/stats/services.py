"""Writes of the statistics pages: acceptance criteria per task. (Stopping a trial early on its sequential
verdict is a write to trials: trials.services.trial_stop_early, fed by reports.stats.selectors.)"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from reports.models import AcceptanceCriteria
from trials.models import Task


@transaction.atomic
def acceptance_criteria_save(
    *, task: Task, criteria: AcceptanceCriteria | None, fields: dict[str, Any]
) -> AcceptanceCriteria:
    """Create (criteria None) or update one acceptance criteria set of `task` from cleaned form fields.

    Returns the saved row. Raises django.db.IntegrityError when the task already has a set of that name
    (the form checks it first) or a value breaks a check constraint.
    """
    record = criteria or AcceptanceCriteria(task=task)
    for name, value in fields.items():
        setattr(record, name, value)
    record.task = task
    record.full_clean(validate_unique=False, validate_constraints=False)
    record.save()
    return record


def acceptance_criteria_delete(*, criteria: AcceptanceCriteria) -> None:
    """Delete one acceptance criteria set (its evaluations are computed, never stored)."""
    criteria.delete()
