"""core.stats.stage_funnel against a hand count, scipy's t interval and statsmodels' Wilson interval."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint

from core.stats import stage_funnel

NAMES = ("reached the part", "grasped", "lifted", "over the tray", "placed", "released")


def test_funnel_equals_a_hand_count() -> None:
    reached = [0, 1, 1, 2, 3, 3, 3, 5, 6, 6]
    funnel = stage_funnel(stage_counts=Counter(reached), stage_names=NAMES, unreported=2)
    # By hand: at least 1 stage: 9 of 10; 2: 7; 3: 6; 4: 3; 5: 3; 6: 2.
    assert [(s.stage, s.name, s.reached, s.stopped_before) for s in funnel.stages] == [
        (1, "reached the part", 9, 1),
        (2, "grasped", 7, 2),
        (3, "lifted", 6, 1),
        (4, "over the tray", 3, 3),
        (5, "placed", 3, 0),
        (6, "released", 2, 1),
    ]
    assert funnel.n == 10 and funnel.n_unreported == 2 and "2 episodes reported no stage" in (funnel.note or "")
    lifted = funnel.stages[2]
    low, high = proportion_confint(6, 10, alpha=0.05, method="wilson")
    assert lifted.share == 0.6 and lifted.interval is not None
    assert (lifted.interval.low, lifted.interval.high) == pytest.approx((low, high))


def test_mean_progress_has_the_student_t_interval() -> None:
    progress = np.array([0.0, 0.2, 0.5, 0.5, 0.8, 1.0, 1.0, 0.9])
    funnel = stage_funnel(
        stage_counts={1: 8},
        progress_n=progress.size,
        progress_sum=float(progress.sum()),
        progress_sum_sq=float((progress**2).sum()),
    )
    low, high = sps.t.interval(0.95, df=progress.size - 1, loc=progress.mean(), scale=sps.sem(progress))
    assert funnel.mean_progress == pytest.approx(progress.mean())
    assert funnel.progress_interval is not None
    assert (funnel.progress_interval.low, funnel.progress_interval.high) == pytest.approx((max(0, low), min(1, high)))
    assert "t" in funnel.progress_interval.method


def test_stages_beyond_the_names_and_no_data() -> None:
    funnel = stage_funnel(stage_counts={0: 1, 3: 1}, stage_names=("a",))
    assert [s.name for s in funnel.stages] == ["a", "stage 2", "stage 3"]
    empty = stage_funnel(stage_counts={}, stage_names=NAMES)
    assert empty.n == 0 and all(s.share is None and s.interval is None for s in empty.stages)
    assert empty.mean_progress is None and "not enough data" in (empty.note or "")
    one = stage_funnel(stage_counts={1: 1}, progress_n=1, progress_sum=0.5, progress_sum_sq=0.25)
    assert one.mean_progress == 0.5 and one.progress_interval is None
    with pytest.raises(ValueError):
        stage_funnel(stage_counts={-1: 2})


@given(st.lists(st.integers(min_value=0, max_value=8), max_size=60))
def test_funnel_never_rises_and_accounts_for_every_episode(reached: list[int]) -> None:
    funnel = stage_funnel(stage_counts=Counter(reached), stage_names=NAMES)
    counts = [s.reached for s in funnel.stages]
    assert counts == sorted(counts, reverse=True)
    assert all(s.reached == sum(r >= s.stage for r in reached) for s in funnel.stages)
    assert sum(s.stopped_before for s in funnel.stages) + (counts[-1] if counts else 0) == len(reached)
