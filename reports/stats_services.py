"""Writes of the statistics pages: acceptance criteria per task, and stopping a trial early on its
sequential verdict."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from reports.models import AcceptanceCriteria
from reports.selectors import trial_panel
from trials.models import Task, Trial
from trials.services import trial_cancel


class StopEarlyRefused(Exception):
    """The trial cannot be stopped early honestly: no source has reached a sequential verdict yet."""


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


def trial_stop_early(*, trial: Trial, username: str) -> tuple[Trial, str]:
    """Cancel a running trial whose sequential test (SPRT) has decided, with the verdict as the reason.

    Returns the trial and the reason written. Raises StopEarlyRefused while every source says "keep going"
    (stopping then would not be an honest early stop; the ordinary cancel remains available).
    """
    panel = trial_panel(trial_id=trial.pk)
    decided = [v for v in panel.sequential.sources if v.verdict.verdict != "keep going"]
    if not decided:
        raise StopEarlyRefused("The sequential test has not decided yet: keep going (or cancel the trial).")
    verdicts = "; ".join(f"{v.source.replace('_', ' ')}: {v.verdict.statement}" for v in decided)
    reason = f"Stopped early by {username} on the sequential verdict — {verdicts}"
    return trial_cancel(trial_id=trial.pk, reason=reason[:2000]), reason
