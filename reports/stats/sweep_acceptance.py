"""Acceptance under every condition of a sweep: each of the task's stored criteria sets (FAT, SAT, run-off)
evaluated on each condition trial of a named sweep, passed only when every condition passes ("at least
80 % at 95 % confidence under each lighting level"). A condition without episodes yet is not enough data,
so the sweep is not passed while one is missing. Reads trials through their selectors only."""

from __future__ import annotations

from dataclasses import dataclass

from accounts.models import User
from core.results import JsonResult
from reports.stats.selectors import (
    CriteriaAcceptance,
    _acceptance_from_columns,
    _trial_statistics,
    acceptance_criteria_for_task,
)
from trials.models import Sweep
from trials.sweep_selectors import sweep_condition_trials, sweep_list_for_user


@dataclass(frozen=True)
class ConditionAcceptance(JsonResult):
    label: str
    trial_id: int
    acceptance: CriteriaAcceptance


@dataclass(frozen=True)
class SweepCriteriaAcceptance(JsonResult):
    criteria_id: int
    label: str
    passed: bool | None  # None: some condition has no episode of the required source yet (and none failed)
    conditions: tuple[ConditionAcceptance, ...]
    failing: tuple[str, ...]  # labels of the conditions that did not pass
    statement: str


@dataclass(frozen=True)
class SweepAcceptance(JsonResult):
    sweep_id: int
    criteria: tuple[SweepCriteriaAcceptance, ...]
    note: str | None


def _combined(criteria_id: int, label: str, conditions: list[ConditionAcceptance]) -> SweepCriteriaAcceptance:
    failing = tuple(c.label for c in conditions if c.acceptance.passed is False)
    waiting = tuple(c.label for c in conditions if c.acceptance.passed is None)
    if failing:
        passed: bool | None = False
        statement = f"{label} not passed under every condition: fails under {', '.join(failing)}."
    elif waiting:
        passed = None
        statement = f"{label}: not enough data under {', '.join(waiting)} yet."
    else:
        passed = True
        statement = f"{label} passed under each of the {len(conditions)} conditions."
    return SweepCriteriaAcceptance(criteria_id, label, passed, tuple(conditions), failing, statement)


def sweep_acceptance_evaluate(*, sweep_id: int, user: User | None = None) -> SweepAcceptance:
    """Each of the task's criteria sets on every condition of the sweep. About five queries per condition.
    Raises Sweep.DoesNotExist when the sweep is absent or not visible to `user`."""
    sweeps = sweep_list_for_user(user=user) if user is not None else Sweep.objects.select_related("task")
    sweep = sweeps.get(pk=sweep_id)
    records = acceptance_criteria_for_task(task_id=sweep.task_id)
    if not records:
        return SweepAcceptance(sweep.pk, (), "The task has no acceptance criteria: add them on its statistics page.")
    per_record: dict[int, list[ConditionAcceptance]] = {r.pk: [] for r in records}
    for trial in sweep_condition_trials(sweep=sweep):
        _, columns = _trial_statistics(trial_id=trial.pk, source=None, user=None)
        for record in records:
            result = _acceptance_from_columns(
                record=record, trial_id=trial.pk, columns=columns, takt_time_s=sweep.task.takt_time_s
            )
            per_record[record.pk].append(ConditionAcceptance(trial.sweep_label, trial.pk, result))
    combined = tuple(_combined(r.pk, r.get_name_display(), per_record[r.pk]) for r in records)
    return SweepAcceptance(sweep.pk, combined, None)
