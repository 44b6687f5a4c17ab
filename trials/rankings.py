"""The task list's payback order, which only a later layer can compute (the ROI needs reports' cost models).

trials may not import reports, so reports registers its ranker here when the app loads
(reports.apps.ReportsConfig.ready) and the task list asks for it through `task_payback_ranking`. Without a
registered ranker the list keeps its order and shows no payback column.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from accounts.models import User
from core.montecarlo import Distribution


@dataclass(frozen=True, kw_only=True)
class PaybackRanking:
    """Task ids, soonest base-case payback first (tasks without a result last), with each task's payback in
    months: the base case (None: not within the horizon) and the Monte Carlo distribution."""

    task_ids: tuple[int, ...]
    base_months: dict[int, float | None]
    expected_months: dict[int, Distribution]


PaybackRanker = Callable[[User], PaybackRanking]

_rankers: list[PaybackRanker] = []


def payback_ranker_register(ranker: PaybackRanker) -> None:
    """Make `ranker` the one the task list uses (the last registered wins; registering again is harmless)."""
    _rankers[:] = [ranker]


def task_payback_ranking(*, user: User) -> PaybackRanking | None:
    """The payback ranking of the tasks `user` may read, or None when no ranker is registered."""
    return _rankers[0](user) if _rankers else None
