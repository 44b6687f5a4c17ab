"""core.blind: the balanced order, the neutral arms, and the unblinded figures against core.paired."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats as sps

from core.blind import (
    ARMS,
    PairOutcome,
    blind_arm_of_a,
    blind_order,
    blind_result,
    other_arm,
    preference_tally,
    run_sequence,
    version_at,
)
from core.paired import PairedTable, compare_success_paired


@given(pairs=st.integers(min_value=1, max_value=400), seed=st.integers(min_value=0, max_value=2**63 - 1))
def test_order_puts_a_first_in_half_the_pairs(pairs: int, seed: int) -> None:
    order = blind_order(pairs=pairs, seed=seed)
    assert len(order) == pairs
    assert set(order) <= {"A", "B"}
    assert abs(order.count("A") - order.count("B")) == pairs % 2


@given(pairs=st.integers(min_value=1, max_value=50), seed=st.integers(min_value=0, max_value=10**9))
def test_run_sequence_holds_one_episode_of_each_version_per_pair(pairs: int, seed: int) -> None:
    order = blind_order(pairs=pairs, seed=seed)
    positions = sorted(run_sequence(order=order, pair=i, version=v) for i in range(pairs) for v in "AB")
    assert positions == list(range(2 * pairs))
    for i in range(pairs):
        assert {run_sequence(order=order, pair=i, version=v) // 2 for v in "AB"} == {i}
        assert version_at(order=order, pair=i, position="first") == order[i]
        assert version_at(order=order, pair=i, position="second") != order[i]


def test_order_is_the_same_for_a_seed_and_differs_across_seeds() -> None:
    assert blind_order(pairs=20, seed=7) == blind_order(pairs=20, seed=7)
    orders = {blind_order(pairs=20, seed=s) for s in range(30)}
    assert len(orders) > 25  # 184756 balanced orders of 20: repeats among 30 seeds would be a broken shuffle


def test_order_is_not_a_fixed_alternation() -> None:
    # Over many seeds, pair 0 starts with A about half the time (a fixed ABAB... would always start A).
    firsts = [blind_order(pairs=10, seed=s)[0] for s in range(400)]
    assert sps.binomtest(firsts.count("A"), 400, 0.5).pvalue > 0.001


def test_arm_of_a_is_drawn_from_the_seed() -> None:
    arms = [blind_arm_of_a(seed=s) for s in range(200)]
    assert set(arms) == set(ARMS)
    assert blind_arm_of_a(seed=5) == blind_arm_of_a(seed=5)
    assert other_arm("arm-1") == "arm-2" and other_arm("arm-2") == "arm-1"
    with pytest.raises(ValueError, match="not an arm"):
        other_arm("A")


@pytest.mark.parametrize(("pairs", "seed"), [(0, 1), (3, -1)])
def test_order_refuses_no_pairs_and_negative_seed(pairs: int, seed: int) -> None:
    with pytest.raises(ValueError):
        blind_order(pairs=pairs, seed=seed)


def test_version_at_refuses_unknown_position() -> None:
    with pytest.raises(ValueError, match="position"):
        version_at(order=("A",), pair=0, position="A")


def test_result_matches_core_paired_on_the_complete_pairs() -> None:
    # 10 pairs: 4 both succeed, 1 only A, 3 only B, 1 neither, and one pair with B lost (left out).
    pairs = (
        [PairOutcome(True, True)] * 4
        + [PairOutcome(True, False)]
        + [PairOutcome(False, True)] * 3
        + [PairOutcome(False, False)]
        + [PairOutcome(True, None)]
    )
    result = blind_result(pairs=pairs, choices=["B", "B", "tie", "A", "B"])
    assert result.pairs_planned == 10 and result.pairs_complete == 9
    assert result.table == PairedTable(both=4, only_a=1, only_b=3, neither=1)
    expected = compare_success_paired(PairedTable(4, 1, 3, 1))
    assert result.paired == expected
    # McNemar exact on 1 vs 3 discordant: 2 x P(X <= 1 | n=4, p=1/2) = 2 x 5/16 = 0.625.
    assert result.paired.p_value == pytest.approx(0.625)
    assert (result.preferences.prefer_a, result.preferences.prefer_b, result.preferences.ties) == (1, 3, 1)


def test_preference_tally_sign_test_worked_example() -> None:
    # 9 of 10 non-tie preferences for B: two-sided sign test p = 2 x (C(10,9) + C(10,10)) / 2^10 = 22/1024.
    tally = preference_tally(["B"] * 9 + ["A"] + ["tie"] * 4)
    assert tally.p_value == pytest.approx(22 / 1024)
    assert tally.share_b == pytest.approx(0.9)
    assert tally.share_b_ci is not None and tally.share_b_ci.low is not None and tally.share_b_ci.high is not None
    # Clopper-Pearson 95% for 9/10: 0.5550 to 0.9975 (the beta quantiles).
    assert tally.share_b_ci.low == pytest.approx(sps.beta.ppf(0.025, 9, 2), abs=1e-9)
    assert tally.share_b_ci.high == pytest.approx(sps.beta.ppf(0.975, 10, 1), abs=1e-9)
    assert "lean to B" in tally.statement
    assert tally.recorded == 14


def test_preference_tally_with_only_ties_has_no_test() -> None:
    tally = preference_tally(["tie", "tie"])
    assert tally.p_value is None and tally.share_b is None and "2 ties" in tally.statement


def test_preference_tally_refuses_other_choices() -> None:
    with pytest.raises(ValueError, match="first"):
        preference_tally(["A", "first"])
