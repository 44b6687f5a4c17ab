"""Robustness sweeps, the pure part: which conditions a design makes, and the figures over their episodes.

Every condition of a sweep runs the same seeds (episode i runs seed + i), so episode i of a condition and
episode i of the nominal condition saw the same scene apart from the factor levels: they are a pair, and
a condition's change from nominal gets a paired interval (core.paired: Newcombe's method 10, McNemar's
exact test). Success per condition gets a Wilson interval. No Django: plain levels and boolean arrays.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from core.paired import PairedSuccessComparison, PairedTable, compare_success_paired
from core.results import JsonResult
from core.sim.variation import Factor, Level
from core.stats import Interval, wilson_interval

GRID = "grid"
ONE_AT_A_TIME = "one_at_a_time"
NOMINAL_LABEL = "nominal"


@dataclass(frozen=True)
class Condition:
    """One condition: its label and the levels it sets (only those that differ from nominal)."""

    label: str
    levels: dict[str, Level]

    @property
    def is_nominal(self) -> bool:
        return not self.levels


def level_text(level: Level) -> str:
    return f"{level:g}" if isinstance(level, float | int) else str(level)


def _label(levels: Mapping[str, Level]) -> str:
    return ", ".join(f"{key}={level_text(v)}" for key, v in levels.items()) or NOMINAL_LABEL


def sweep_conditions(
    *, design: str, factors: Sequence[Factor], levels: Mapping[str, Sequence[Level]]
) -> list[Condition]:
    """The conditions of a sweep, nominal first: a grid is every combination of the levels (plus nominal
    when it is not among them); one factor at a time is nominal, then each listed level of each factor with
    the other factors nominal. Levels equal to the factor's nominal are not repeated as conditions of their
    own. `levels` must already be valid (levels_validate). Raises ValueError for an unknown design."""
    nominal = {f.key: f.nominal for f in factors}
    keys = list(levels)
    conditions = [Condition(NOMINAL_LABEL, {})]
    seen: set[tuple[tuple[str, Level], ...]] = {()}
    if design == GRID:
        combos: list[dict[str, Level]] = [
            dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(levels[k] for k in keys))
        ]
    elif design == ONE_AT_A_TIME:
        combos = [{key: level} for key in keys for level in levels[key]]
    else:
        raise ValueError(f"unknown design {design!r}")
    for combo in combos:
        off_nominal = {k: v for k, v in combo.items() if v != nominal[k]}
        signature = tuple(sorted(off_nominal.items()))
        if signature in seen:
            continue
        seen.add(signature)
        conditions.append(Condition(_label(off_nominal), off_nominal))
    return conditions


# ---------------------------------------------------------------- figures


@dataclass(frozen=True)
class ConditionEpisodes:
    """A condition's counted simulated episodes: their indexes and whether each succeeded."""

    label: str
    levels: dict[str, Level]
    index: npt.NDArray[np.int64]
    success: npt.NDArray[np.bool_]


@dataclass(frozen=True)
class ConditionFigures(JsonResult):
    label: str
    levels: dict[str, Level]
    episodes: int
    successes: int
    rate: float | None
    rate_ci: Interval | None
    # Against nominal on the same seeds (None for nominal itself, or without a shared index).
    vs_nominal: PairedSuccessComparison | None


@dataclass(frozen=True)
class FactorSensitivity(JsonResult):
    """A factor's sensitivity: the largest drop from nominal among the conditions that vary it alone."""

    factor: str
    worst_label: str | None
    worst_level: Level | None
    drop: float | None  # nominal rate - condition rate on the paired episodes (positive: worse)
    drop_ci: Interval | None  # paired interval of the drop
    p_value: float | None
    n_pairs: int
    statement: str


@dataclass(frozen=True)
class SweepFigures(JsonResult):
    conditions: tuple[ConditionFigures, ...]
    sensitivities: tuple[FactorSensitivity, ...]
    worst: str | None  # label of the condition with the lowest success rate
    statement: str


def paired_with(nominal: ConditionEpisodes, other: ConditionEpisodes) -> PairedTable:
    """The 2 x 2 table of episodes matched by index (the same seed) between nominal and `other`."""
    _, at_n, at_o = np.intersect1d(nominal.index, other.index, assume_unique=True, return_indices=True)
    ok_n, ok_o = nominal.success[at_n], other.success[at_o]
    return PairedTable(
        both=int((ok_n & ok_o).sum()),
        only_a=int((ok_n & ~ok_o).sum()),
        only_b=int((ok_o & ~ok_n).sum()),
        neither=int((~ok_n & ~ok_o).sum()),
    )


def _condition_figures(cond: ConditionEpisodes, nominal: ConditionEpisodes | None) -> ConditionFigures:
    n, k = int(cond.success.size), int(cond.success.sum())
    comparison = None
    if nominal is not None and cond is not nominal:
        table = paired_with(nominal, cond)
        if table.n_pairs:
            comparison = compare_success_paired(table, labels=(NOMINAL_LABEL, cond.label))
    return ConditionFigures(
        label=cond.label,
        levels=dict(cond.levels),
        episodes=n,
        successes=k,
        rate=k / n if n else None,
        rate_ci=wilson_interval(successes=k, n=n),
        vs_nominal=comparison,
    )


def _negated(interval: Interval | None) -> Interval | None:
    if interval is None:
        return None
    low, high = interval.low, interval.high
    return Interval(
        -high if high is not None else None, -low if low is not None else None, interval.confidence, interval.method
    )


def _sensitivity(key: str, figures: Sequence[ConditionFigures]) -> FactorSensitivity:
    scored = [
        (f, f.vs_nominal)
        for f in figures
        if set(f.levels) == {key} and f.vs_nominal is not None and f.vs_nominal.difference is not None
    ]
    if not scored:
        return FactorSensitivity(key, None, None, None, None, None, 0, f"No condition varies {key} alone.")
    worst, cmp = min(scored, key=lambda pair: pair[1].difference or 0.0)
    difference = cmp.difference or 0.0
    drop_ci = _negated(cmp.difference_ci)
    ci_text = ""
    if drop_ci is not None and drop_ci.low is not None and drop_ci.high is not None:
        ci_text = f" (95 % paired interval of the drop {drop_ci.low:+.1%} to {drop_ci.high:+.1%})"
    statement = (
        f"{key}: worst at {level_text(worst.levels[key])}, success {-difference:.1%} below nominal"
        f"{ci_text} over {cmp.n_pairs} paired seeds."
    )
    return FactorSensitivity(
        key, worst.label, worst.levels[key], -difference, drop_ci, cmp.p_value, cmp.n_pairs, statement
    )


def sweep_figures(*, conditions: Sequence[ConditionEpisodes], factor_keys: Sequence[str]) -> SweepFigures:
    """Success per condition (Wilson), each condition against nominal paired by episode index, each swept
    factor's sensitivity and the worst condition. The nominal condition is the one with no levels."""
    nominal = next((c for c in conditions if not c.levels), None)
    figures = tuple(_condition_figures(c, nominal) for c in conditions)
    sensitivities = tuple(_sensitivity(key, figures) for key in factor_keys)
    rated = [f for f in figures if f.rate is not None]
    worst = min(rated, key=lambda f: f.rate or 0.0) if rated else None
    if worst is None:
        statement = "No counted episodes yet."
    else:
        statement = f"Worst condition: {worst.label}, {worst.successes}/{worst.episodes} successes ({worst.rate:.0%})."
    return SweepFigures(figures, sensitivities, worst.label if worst else None, statement)


def heatmap_grid(
    *, figures: Sequence[ConditionFigures], factors: Sequence[Factor], x_key: str, y_key: str
) -> tuple[list[str], list[str], list[list[float | None]]]:
    """Success rate on an x_key x y_key grid (other factors nominal): x labels, y labels, rows of rates
    (None where no such condition ran)."""
    nominal = {f.key: f.nominal for f in factors}
    cells: dict[tuple[Level, Level], float | None] = {}
    for f in figures:
        if set(f.levels) - {x_key, y_key}:
            continue
        x, y = f.levels.get(x_key, nominal[x_key]), f.levels.get(y_key, nominal[y_key])
        cells[(x, y)] = f.rate
    xs = sorted({x for x, _ in cells}, key=_sort_key)
    ys = sorted({y for _, y in cells}, key=_sort_key)
    rows = [[cells.get((x, y)) for x in xs] for y in ys]
    return [level_text(x) for x in xs], [level_text(y) for y in ys], rows


def _sort_key(level: Level) -> tuple[int, float, str]:
    return (0, float(level), "") if isinstance(level, float | int) else (1, 0.0, str(level))
