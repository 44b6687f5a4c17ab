"""Reads for robustness sweeps: the sweeps a user may see, and a sweep's results."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.db.models import Q, QuerySet

from accounts.models import User
from core.sim.variation import Factor
from core.sweep import ConditionEpisodes, SweepFigures, heatmap_grid, sweep_figures
from trials.models import COUNTED_OUTCOMES, Episode, EpisodeOutcome, EpisodeSource, Sweep, Trial


def sweep_list_for_user(*, user: User) -> QuerySet[Sweep]:
    """Sweeps the user may read: of its tasks, of tasks it is engaged on as integrator, on its robots."""
    sweeps = Sweep.objects.select_related("task", "robot", "policy_version__policy", "created_by")
    if user.is_superuser:
        return sweeps
    org = user.organization_id
    return sweeps.filter(Q(task__organization_id=org) | Q(task__integrator_id=org) | Q(robot__organization_id=org))


def sweep_condition_trials(*, sweep: Sweep) -> list[Trial]:
    """The sweep's condition trials, nominal first then in the order they were made."""
    trials = list(sweep.conditions.order_by("pk"))
    return sorted(trials, key=lambda t: bool(t.variation))


@dataclass(frozen=True)
class Heatmap:
    x_key: str
    y_key: str
    x: list[str]
    y: list[str]
    z: list[list[float | None]]


@dataclass(frozen=True)
class SweepResults:
    sweep: Sweep
    trials: list[Trial]  # in the order of figures.conditions
    figures: SweepFigures
    heatmap: Heatmap | None


def _condition_episodes(trials: list[Trial]) -> list[ConditionEpisodes]:
    """Each trial's counted simulated episodes (one query): uploaded or agent episodes have no seed that
    pairs them, and lost attempts are no evidence."""
    rows = np.array(
        Episode.objects.filter(
            trial__in=trials, source=EpisodeSource.SIMULATION, outcome__in=list(COUNTED_OUTCOMES)
        ).values_list("trial_id", "index", "outcome"),
        dtype=object,
    ).reshape(-1, 3)
    trial_ids = rows[:, 0].astype(np.int64)
    index = rows[:, 1].astype(np.int64)
    success = rows[:, 2] == EpisodeOutcome.SUCCESS.value
    out = []
    for trial in trials:
        mask = trial_ids == trial.pk
        out.append(
            ConditionEpisodes(
                label=trial.sweep_label or f"trial {trial.pk}",
                levels=dict(trial.variation or {}),
                index=index[mask],
                success=success[mask].astype(bool),
            )
        )
    return out


def sweep_factor_keys(*, sweep: Sweep, factors: tuple[Factor, ...] | None = None) -> list[str]:
    """The swept factors in the cell's order (then any it no longer declares, by name). Not the order they
    were written in: PostgreSQL's jsonb keeps an object's keys shorter-first, so that order cannot be read
    back, and the tables and the heat map's axes would differ by database."""
    swept = set(sweep.factors)
    ordered = [f.key for f in factors or () if f.key in swept]
    return ordered + sorted(swept - set(ordered))


def sweep_results(*, sweep: Sweep, factors: tuple[Factor, ...] | None = None) -> SweepResults:
    """Success per condition with Wilson intervals, each factor's sensitivity (paired drop from nominal),
    the worst condition and, for a two-factor sweep whose cell's factors are given, the heat map."""
    trials = sweep_condition_trials(sweep=sweep)
    keys = sweep_factor_keys(sweep=sweep, factors=factors)
    figures = sweep_figures(conditions=_condition_episodes(trials), factor_keys=keys)
    heatmap = None
    if len(keys) == 2 and factors is not None:
        x, y, z = heatmap_grid(figures=figures.conditions, factors=factors, x_key=keys[0], y_key=keys[1])
        heatmap = Heatmap(keys[0], keys[1], x, y, z)
    return SweepResults(sweep=sweep, trials=trials, figures=figures, heatmap=heatmap)
