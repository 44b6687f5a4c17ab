"""core/ranking.py: Bradley-Terry recovers a known order on synthetic data, its bootstrap intervals cover the
truth in most seeded replications, and ties, degenerate and disconnected inputs are handled.

The model and the MM algorithm: Bradley RA, Terry ME (1952) Biometrika 39:324-345; Hunter DR (2004) Annals of
Statistics 32:384-406. The closed form checked below: with two items only, the MLE of the log-odds is
log(W_1 / W_2) (here with the one virtual tie per pair added to both win counts).
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from core import ranking


def _simulate(
    log_strengths: np.ndarray, games_per_pair: int, rng: np.random.Generator, tie_share: float = 0.0
) -> tuple[list[int], list[int], list[float]]:
    first, second, score = [], [], []
    for a, b in itertools.combinations(range(log_strengths.size), 2):
        p = 1 / (1 + math.exp(log_strengths[b] - log_strengths[a]))
        for _ in range(games_per_pair):
            first.append(a)
            second.append(b)
            if rng.random() < tie_share:
                score.append(0.5)
            else:
                score.append(1.0 if rng.random() < p else 0.0)
    return first, second, score


def test_two_items_match_the_closed_form():
    # 30 wins to 10, plus one virtual tie: log(30.5 / 10.5).
    result = ranking.bradley_terry(
        labels=["a", "b"], first=[0] * 40, second=[1] * 40, score_first=[1.0] * 30 + [0.0] * 10, resamples=0
    )
    top, bottom = result.items
    assert top.label == "a" and top.rank == 1 and bottom.rank == 2
    assert top.strength - bottom.strength == pytest.approx(math.log(30.5 / 10.5), abs=1e-8)
    assert top.strength == pytest.approx(-bottom.strength)
    assert top.wins == 30 and top.games == 40


def test_recovers_a_known_order_on_synthetic_data():
    truth = np.array([1.2, 0.6, 0.0, -0.6, -1.2])
    labels = ["v5", "v4", "v3", "v2", "v1"]
    first, second, score = _simulate(truth, 120, np.random.default_rng(7), tie_share=0.3)
    result = ranking.bradley_terry(labels=labels, first=first, second=second, score_first=score, resamples=200)
    assert [item.label for item in result.items] == labels
    assert result.connected and result.note is None
    top = result.items[0]
    assert top.rank_low == 1 and top.strength_interval.low < top.strength < top.strength_interval.high
    json.dumps(result.to_dict())


def test_bootstrap_intervals_cover_the_truth_in_most_seeded_replications():
    truth = np.array([0.8, 0.2, -0.3, -0.7])
    truth = truth - truth.mean()
    covered = np.zeros(truth.size)
    replications = 200
    for r in range(replications):
        first, second, score = _simulate(truth, 60, np.random.default_rng(1000 + r))
        result = ranking.bradley_terry(
            labels=[str(x) for x in range(truth.size)],
            first=first,
            second=second,
            score_first=score,
            resamples=300,
            seed=r,
        )
        for item in result.items:
            x = int(item.label)
            covered[x] += item.strength_interval.low <= truth[x] <= item.strength_interval.high
    # 95% intervals: each item's coverage should be near 0.95; the percentile bootstrap runs a little short.
    assert (covered / replications >= 0.85).all(), covered / replications


def test_ties_count_half_and_a_clean_sweep_stays_finite():
    # All ties: equal strengths.
    even = ranking.bradley_terry(labels=["a", "b"], first=[0] * 10, second=[1] * 10, score_first=[0.5] * 10)
    assert even.items[0].strength == pytest.approx(0.0, abs=1e-9)
    assert even.items[0].wins == 5
    # a won every game: the virtual tie keeps the estimate finite (log(10.5 / 0.5)).
    sweep = ranking.bradley_terry(
        labels=["a", "b"], first=[0] * 10, second=[1] * 10, score_first=[1.0] * 10, resamples=50
    )
    assert sweep.items[0].label == "a"
    assert sweep.items[0].strength * 2 == pytest.approx(math.log(10.5 / 0.5), abs=1e-8)
    assert all(math.isfinite(v) for v in (sweep.items[0].strength_interval.low, sweep.items[0].strength_interval.high))


def test_disconnected_items_are_said_and_the_seed_makes_it_reproducible():
    result = ranking.bradley_terry(
        labels=["a", "b", "c", "d"], first=[0, 0, 2, 2], second=[1, 1, 3, 3], score_first=[1, 1, 0, 1], seed=3
    )
    assert not result.connected and "never compared" in result.note
    again = ranking.bradley_terry(
        labels=["a", "b", "c", "d"], first=[0, 0, 2, 2], second=[1, 1, 3, 3], score_first=[1, 1, 0, 1], seed=3
    )
    assert again == result
    empty = ranking.bradley_terry(labels=["a", "b"], first=[], second=[], score_first=[])
    assert empty.n_results == 0 and "No pairwise result" in empty.note


@pytest.mark.parametrize(
    "kwargs",
    [
        {"labels": ["a"], "first": [], "second": [], "score_first": []},
        {"labels": ["a", "b"], "first": [0], "second": [0], "score_first": [1]},
        {"labels": ["a", "b"], "first": [0], "second": [2], "score_first": [1]},
        {"labels": ["a", "b"], "first": [0], "second": [1], "score_first": [2]},
        {"labels": ["a", "b"], "first": [0, 1], "second": [1], "score_first": [1]},
    ],
)
def test_bad_input_is_a_value_error(kwargs):
    with pytest.raises(ValueError):
        ranking.bradley_terry(**kwargs)
