from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trials.fit import FIT_FACTOR_KEYS, FIT_FACTORS, FitRatingError, fit_assess

BEST = {f.key: (5 if f.higher_is_better else 1) for f in FIT_FACTORS}
WORST = {f.key: (1 if f.higher_is_better else 5) for f in FIT_FACTORS}


def test_best_and_worst_ratings_span_0_to_100() -> None:
    assert fit_assess(ratings=BEST).score == 100.0
    assert fit_assess(ratings=WORST).score == 0.0
    assert fit_assess(ratings=BEST).verdict.startswith("Good fit")
    assert fit_assess(ratings=WORST).verdict.startswith("Poor fit")


def test_all_middle_ratings_score_50_and_say_neutral() -> None:
    result = fit_assess(ratings=dict.fromkeys(FIT_FACTOR_KEYS, 3))
    assert result.score == 50.0
    assert result.reasons == ("Every factor is rated neutral.",)


def test_worked_example_weights_are_applied() -> None:
    # Everything neutral except precision (weight 18 of 100) rated worst: 50 - 18/2 = 41.
    ratings = dict.fromkeys(FIT_FACTOR_KEYS, 3) | {"precision": 5}
    result = fit_assess(ratings=ratings)
    assert result.score == 41.0
    assert result.reasons == ("Hurts: precision needed — < 0.1 mm / force fit (-9 vs neutral)",)
    precision = next(f for f in result.factors if f.key == "precision")
    assert precision.points == 0.0 and precision.max_points == 18.0


def test_heavier_factor_is_named_first() -> None:
    ratings = dict.fromkeys(FIT_FACTOR_KEYS, 3) | {"payload": 5, "part_variation": 5}
    reasons = fit_assess(ratings=ratings).reasons
    assert reasons[0].startswith("Hurts: part variation") and reasons[1].startswith("Hurts: payload")


@pytest.mark.parametrize(
    ("ratings", "field"),
    [
        ({k: 3 for k in FIT_FACTOR_KEYS if k != "volume"}, "volume"),
        (dict.fromkeys(FIT_FACTOR_KEYS, 3) | {"payload": 6}, "payload"),
        (dict.fromkeys(FIT_FACTOR_KEYS, 3) | {"payload": 0}, "payload"),
        (dict.fromkeys(FIT_FACTOR_KEYS, 3) | {"colour": 3}, "colour"),
    ],
)
def test_bad_ratings_name_the_factor(ratings: dict[str, int], field: str) -> None:
    with pytest.raises(FitRatingError) as info:
        fit_assess(ratings=ratings)
    assert info.value.field == field


def test_weights_sum_to_100_points() -> None:
    assert sum(f.weight for f in FIT_FACTORS) == 100


@given(st.fixed_dictionaries({k: st.integers(1, 5) for k in FIT_FACTOR_KEYS}))
def test_score_is_within_0_100_and_is_the_sum_of_points(ratings: dict[str, int]) -> None:
    result = fit_assess(ratings=ratings)
    assert 0.0 <= result.score <= 100.0
    assert result.score == pytest.approx(sum(f.points for f in result.factors), abs=0.05)


@given(st.fixed_dictionaries({k: st.integers(1, 5) for k in FIT_FACTOR_KEYS}), st.sampled_from(FIT_FACTORS))
def test_improving_one_factor_never_lowers_the_score(ratings: dict[str, int], factor: object) -> None:
    key, better = factor.key, (1 if factor.higher_is_better else -1)  # type: ignore[attr-defined]
    improved = ratings | {key: min(5, max(1, ratings[key] + better))}
    assert fit_assess(ratings=improved).score >= fit_assess(ratings=ratings).score
