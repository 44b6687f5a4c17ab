"""When two trials' episodes are pairs, and their paired comparison (core.paired) from the compare's columns.

The simulation runner resets episode i of a trial with seed `trial.seed + i`, the trial's instruction and
its factor levels (trials.runner), so two trials of one task on the same simulated cell with the same seed,
instruction, episode timeout and variation levels ran the same scene at every index: episode i of A and episode i of B form a pair. Pairs
are matched by index over counted episodes (an index lost to infrastructure in one trial has no pair) and
only simulated episodes are paired (an uploaded or physical episode has no seed that reproduces it).
Anything else falls back to the unpaired comparison, and `Pairing.reasons` says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from core.paired import PairedSuccessComparison, PairedTable, compare_success_paired
from core.results import JsonResult
from robots.models import RobotKind
from trials.models import EpisodeSource, Trial

PAIRED_SOURCE = EpisodeSource.SIMULATION.value


class _PairColumns(Protocol):
    """The per-episode columns the pairing reads (reports.stats.selectors._Columns)."""

    source: np.ndarray
    success: np.ndarray
    index: np.ndarray


@dataclass(frozen=True)
class Pairing(JsonResult):
    """Whether the two trials are paired by seed; `reasons` say why not (empty when they are)."""

    pairable: bool
    reasons: tuple[str, ...]
    n_pairs: int
    unmatched_a: int  # counted simulated episodes of A without a counted episode of B at the same index
    unmatched_b: int
    statement: str


def levels_key(variation: Mapping[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    """A trial's factor levels as a hashable, order-free key; () for nominal. A level equal to nominal is
    never stored (trials.sweep_services keeps only the off-nominal ones), so equal keys mean equal scenes."""
    return tuple(sorted((variation or {}).items()))


def pairing_refusals(a: Trial, b: Trial, *, source: str | None) -> tuple[str, ...]:
    """Why episode i of A and episode i of B did not run the same scene (empty: they did). Reads the trials'
    robots (select them with the trials)."""
    reasons: list[str] = []
    if a.task_id != b.task_id:
        reasons.append("the trials are of different tasks")
    simulated = True
    for label, trial in (("A", a), ("B", b)):
        if trial.robot.kind != RobotKind.SIMULATED:
            simulated = False
            reasons.append(f"trial {label} ran on a physical robot, whose scenes no seed reproduces")
    if simulated and a.robot.sim_cell_key != b.robot.sim_cell_key:
        reasons.append(f"they ran different cells ({a.robot.sim_cell_key} vs {b.robot.sim_cell_key})")
    if a.seed != b.seed:
        reasons.append(f"their seeds differ ({a.seed} vs {b.seed}), so episode i ran a different scene in each")
    if a.instruction != b.instruction:
        reasons.append("their instructions differ")
    if levels_key(a.variation) != levels_key(b.variation):
        reasons.append(
            f"their variation factor levels differ ({_levels_text(a.variation)} vs {_levels_text(b.variation)})"
        )
    if a.episode_timeout_s != b.episode_timeout_s:
        reasons.append(f"their episode timeouts differ ({a.episode_timeout_s:g} s vs {b.episode_timeout_s:g} s)")
    if source is not None and source != PAIRED_SOURCE:
        reasons.append("only simulated episodes are paired by seed, and the comparison asks for another source")
    return tuple(reasons)


def _levels_text(variation: Mapping[str, Any] | None) -> str:
    return ", ".join(f"{key}={level}" for key, level in levels_key(variation)) or "nominal"


def paired_table(col_a: _PairColumns, col_b: _PairColumns) -> tuple[PairedTable, int, int]:
    """The 2 x 2 table of pairs (same index, both counted and simulated), and how many simulated episodes
    of A and of B had no counterpart."""
    code = _source_code()
    mask_a, mask_b = col_a.source == code, col_b.source == code
    index_a, index_b = col_a.index[mask_a], col_b.index[mask_b]
    _, at_a, at_b = np.intersect1d(index_a, index_b, assume_unique=True, return_indices=True)
    ok_a, ok_b = col_a.success[mask_a][at_a], col_b.success[mask_b][at_b]
    table = PairedTable(
        both=int((ok_a & ok_b).sum()),
        only_a=int((ok_a & ~ok_b).sum()),
        only_b=int((ok_b & ~ok_a).sum()),
        neither=int((~ok_a & ~ok_b).sum()),
    )
    return table, int(index_a.size - at_a.size), int(index_b.size - at_b.size)


def _source_code() -> int:
    return list(EpisodeSource.values).index(PAIRED_SOURCE)


def paired_compare(
    *, a: Trial, b: Trial, col_a: _PairColumns, col_b: _PairColumns, source: str | None, labels: tuple[str, str]
) -> tuple[Pairing, PairedSuccessComparison | None]:
    """The pairing of two trials and, when they are pairable and share at least one pair, their paired
    success comparison (None otherwise: the unpaired one applies)."""
    reasons = pairing_refusals(a, b, source=source)
    if reasons:
        statement = (
            "The unpaired test applies: " + "; ".join(reasons) + ". Episodes are compared as two independent samples."
        )
        return Pairing(False, reasons, 0, 0, 0, statement), None
    table, unmatched_a, unmatched_b = paired_table(col_a, col_b)
    if table.n_pairs == 0:
        reason = "no index was counted in both trials"
        statement = f"The unpaired test applies: {reason}."
        return Pairing(False, (reason,), 0, unmatched_a, unmatched_b, statement), None
    comparison = compare_success_paired(table, labels=labels)
    statement = (
        f"Trials {a.pk} and {b.pk} ran the same cell, seed {a.seed}, instruction and timeout, so episode i of "
        f"each ran the same scene: {table.n_pairs} pairs matched by episode index. " + comparison.explanation
    )
    unmatched = unmatched_a + unmatched_b
    if unmatched:
        statement += (
            f" {unmatched} episode{'s' if unmatched != 1 else ''} without a counterpart ({unmatched_a} of A, "
            f"{unmatched_b} of B) are left out of the paired figures; the unpaired row uses every counted episode."
        )
    return Pairing(True, (), table.n_pairs, unmatched_a, unmatched_b, statement), comparison
