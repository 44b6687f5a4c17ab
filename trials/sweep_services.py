"""Writes for robustness sweeps: a sweep and its condition trials, checked against the robot's cell."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

from django.db import transaction

from accounts.models import User
from accounts.permissions import acts_for_organization
from core.sim.registry import cell_make
from core.sim.variation import Factor, Level, VariationError, levels_validate
from core.sweep import GRID, ONE_AT_A_TIME, sweep_conditions
from policies.models import PolicyVersion
from robots.models import Robot, RobotKind
from trials.models import MAX_EPISODES_PER_TRIAL, MAX_SWEEP_CONDITIONS, MAX_SWEEP_EPISODES, Sweep, Task
from trials.services import TrialRuleError, trial_schedule


@functools.cache
def cell_factors(cell_key: str) -> tuple[Factor, ...]:
    """The factors of a simulation cell, made once per process (building a cell loads its simulator).
    Raises KeyError for an unknown cell."""
    return tuple(cell_make(cell_key).factors())


def _factor_levels(factors: Sequence[Factor], requested: Mapping[str, object]) -> dict[str, list[Level]]:
    """Each requested factor's levels, checked by the cell's own rules; TrialRuleError names
    `factors.<key>` (or `factors`) at fault."""
    if not isinstance(requested, Mapping) or not requested:
        raise TrialRuleError("name at least one factor and its levels", field="factors")
    checked: dict[str, list[Level]] = {}
    for key, levels in requested.items():
        if not isinstance(levels, list) or not levels:
            raise TrialRuleError("give a non-empty list of levels", field=f"factors.{key}")
        checked[str(key)] = []
        for level in levels:
            try:
                value = levels_validate(factors, {str(key): level})[str(key)]
            except VariationError as exc:
                raise TrialRuleError(exc.message, field=f"factors.{exc.field}") from None
            if value not in checked[str(key)]:
                checked[str(key)].append(value)
    return checked


def sweep_schedule(
    *,
    task: Task,
    policy_version: PolicyVersion,
    robot: Robot,
    name: str,
    design: str,
    factors: Mapping[str, object],
    episodes_per_condition: int,
    seed: int,
    created_by: User | None,
    episode_timeout_s: float = 60.0,
    start_runner: bool = True,
) -> Sweep:
    """Create a sweep and one queued trial per condition (nominal first), all with the sweep's seed so
    episode i of every condition runs seed + i, in one transaction, and start them once committed.
    Returns the sweep. Raises TrialRuleError naming the field: a physical or other organization's
    robot, an unknown design, a factor or level the cell does not take (`factors.<key>`), too many
    conditions or episodes."""
    if created_by is not None and not acts_for_organization(created_by, robot.organization_id):
        raise TrialRuleError("you can only run sweeps on your organization's robots", field="robot")
    if robot.kind != RobotKind.SIMULATED:
        raise TrialRuleError(
            "sweeps run on simulated robots: a physical scene cannot be set to a factor level", field="robot"
        )
    if design not in (GRID, ONE_AT_A_TIME):
        raise TrialRuleError(f"design must be {GRID} or {ONE_AT_A_TIME}", field="design")
    if not name.strip():
        raise TrialRuleError("the sweep needs a name", field="name")
    if not 1 <= episodes_per_condition <= MAX_EPISODES_PER_TRIAL:
        raise TrialRuleError(
            f"episodes per condition must be between 1 and {MAX_EPISODES_PER_TRIAL}", field="episodes_per_condition"
        )
    try:
        known = cell_factors(robot.sim_cell_key)
    except KeyError as exc:
        raise TrialRuleError(str(exc), field="robot") from None
    levels = _factor_levels(known, factors)
    conditions = sweep_conditions(design=design, factors=known, levels=levels)
    if len(conditions) > MAX_SWEEP_CONDITIONS:
        raise TrialRuleError(
            f"{len(conditions)} conditions; a sweep takes at most {MAX_SWEEP_CONDITIONS}", field="factors"
        )
    total = len(conditions) * episodes_per_condition
    if total > MAX_SWEEP_EPISODES:
        raise TrialRuleError(
            f"{len(conditions)} conditions x {episodes_per_condition} episodes = {total:,}; "
            f"a sweep runs at most {MAX_SWEEP_EPISODES:,} episodes",
            field="episodes_per_condition",
        )
    with transaction.atomic():
        sweep = Sweep.objects.create(
            name=name.strip(),
            task=task,
            policy_version=policy_version,
            robot=robot,
            design=design,
            factors=levels,
            episodes_per_condition=episodes_per_condition,
            seed=seed,
            created_by=created_by,
        )
        for condition in conditions:
            trial_schedule(
                task=task,
                policy_version=policy_version,
                robot=robot,
                episodes_planned=episodes_per_condition,
                scheduled_by=created_by,
                seed=seed,
                episode_timeout_s=episode_timeout_s,
                start_runner=start_runner,
                variation=condition.levels,
                sweep=sweep,
                sweep_label=condition.label,
            )
    return sweep
