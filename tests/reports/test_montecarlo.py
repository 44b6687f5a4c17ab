"""core.montecarlo: seeded, vectorised, posterior draws that move the right way."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import numpy_financial as npf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from core.montecarlo import TrialEvidence, _range_draws, bootstrap_means, run_monte_carlo
from core.roi import InputRange, RoiInputError, RoiInputs, base_params, compute_roi, evaluate, monthly_rate
from tests.reports.test_roi import hand_inputs


def evidence(*, successes: int = 160, failures: int = 40, interventions: int = 2, seed: int = 7) -> TrialEvidence:
    """Episodes like the hand-worked case: 24 s attempts (gamma-distributed), one intervention an hour."""
    cycle_times = np.random.default_rng(seed).gamma(shape=50, scale=24 / 50, size=successes + failures)
    return TrialEvidence(
        successes=successes,
        failures=failures,
        interventions=interventions,
        autonomous_hours=float(cycle_times.sum() / 3600),
        cycle_times_s=tuple(float(c) for c in cycle_times),
    )


def with_ranges(inputs: RoiInputs, *ranges: InputRange, distribution: str = "pert") -> RoiInputs:
    return replace(inputs, costs=replace(inputs.costs, ranges=ranges, range_distribution=distribution))


def test_same_seed_same_result_and_another_seed_another() -> None:
    inputs = with_ranges(hand_inputs(discount_rate=0.08), InputRange(name="robot_capex", low=40_000, high=80_000))
    first = run_monte_carlo(inputs=inputs, evidence=evidence(), seed=42)
    again = run_monte_carlo(inputs=inputs, evidence=evidence(), seed=42)
    other = run_monte_carlo(inputs=inputs, evidence=evidence(), seed=43)
    assert first == again
    assert first.to_dict() == again.to_dict()
    assert first.npv.p50 != other.npv.p50


def test_summary_is_consistent_with_the_draws() -> None:
    inputs = hand_inputs(discount_rate=0.08)
    result = run_monte_carlo(inputs=inputs, evidence=evidence(), draws=5_000, seed=1)
    assert result.draws == 5_000
    assert result.npv.p10 < result.npv.p50 < result.npv.p90
    assert result.payback_months.p10 <= result.payback_months.p50 <= result.payback_months.p90
    assert sum(result.npv.histogram_counts) == 5_000
    assert len(result.npv.histogram_edges) == len(result.npv.histogram_counts) + 1 == 31
    assert sum(result.payback_months.histogram_counts) == round(5_000 * (1 - result.p_never_pays_back))
    assert 0 <= result.p_payback_within_target <= 1
    assert result.expected_npv == pytest.approx(result.npv.mean)
    # The posterior of the success rate centres on the Jeffreys posterior median of 160 / 200.
    assert result.success_rate.p50 == pytest.approx(stats.beta.median(160.5, 40.5), abs=0.01)
    assert json.loads(json.dumps(result.to_dict()))["draws"] == 5_000


def test_plenty_of_evidence_and_no_ranges_converges_on_the_point_roi() -> None:
    # 20,000 episodes pin the success rate, cycle time and intervention rate: every draw is nearly the point case.
    many = evidence(successes=16_000, failures=4_000, interventions=133, seed=3)
    inputs = hand_inputs(discount_rate=0.08)
    measured = many.measured(recovery_time_s=36)
    point = compute_roi(inputs=replace(inputs, measured=measured))
    result = run_monte_carlo(inputs=inputs, evidence=many, seed=5)
    assert result.npv.p50 == pytest.approx(point.npv, rel=0.01)
    assert result.payback_months.p50 == pytest.approx(point.payback_months, rel=0.01)
    assert result.npv.p90 - result.npv.p10 < 0.05 * abs(point.npv)


def test_probabilities_at_the_extremes() -> None:
    hopeless = hand_inputs(labour_cost_per_hour=5)
    result = run_monte_carlo(inputs=hopeless, evidence=evidence(), draws=2_000)
    assert result.p_npv_negative == 1.0
    assert result.p_never_pays_back == 1.0
    assert result.payback_months.p50 is None
    assert result.payback_months.histogram_counts == ()
    easy = hand_inputs(robot_capex=1_000, integration_cost=0)
    result = run_monte_carlo(inputs=easy, evidence=evidence(), draws=2_000)
    assert result.p_npv_negative == 0.0
    assert result.p_payback_within_target == 1.0


def test_vectorised_npv_equals_numpy_financial_draw_by_draw() -> None:
    inputs = hand_inputs(discount_rate=0.09, ramp_up_months=4, salvage_value=3_000)
    params = base_params(inputs)
    draws = np.random.default_rng(0)
    params.update(
        success_rate=draws.uniform(0.5, 1, 25),
        labour_cost_per_hour=draws.uniform(20, 60, 25),
        ramp_up_months=draws.uniform(0, 6, 25),
        discount_rate=draws.uniform(0, 0.2, 25),
    )
    ev = evaluate(params, horizon_years=5)
    for i in range(25):
        rate = monthly_rate(params["discount_rate"][i])
        assert ev.npv[i] == pytest.approx(npf.npv(rate, ev.cash_flows[i]), rel=1e-9, abs=1e-6)


def test_pert_and_triangular_ranges_shift_the_mean_npv_by_their_mean() -> None:
    params = base_params(hand_inputs())
    # PERT(40k, 50k, 90k) is 40k + 50k x Beta(1.8, 4.2): mean (a + 4m + b) / 6, sd 50k x sqrt(1.8 x 4.2 / (6^2 x 7));
    # triangular: mean (a + m + b) / 3, sd sqrt((a^2 + m^2 + b^2 - am - ab - mb) / 18).
    pert_sd = 50_000 * np.sqrt(1.8 * 4.2 / (36 * 7))
    triangular_sd = 1_000 * np.sqrt((40**2 + 50**2 + 90**2 - 40 * 50 - 40 * 90 - 50 * 90) / 18)
    for distribution, expected_mean, sd in (
        ("pert", (40_000 + 4 * 50_000 + 90_000) / 6, pert_sd),
        ("triangular", 60_000, triangular_sd),
    ):
        inputs = with_ranges(
            hand_inputs(), InputRange(name="robot_capex", low=40_000, high=90_000), distribution=distribution
        )
        result = run_monte_carlo(inputs=inputs, evidence=evidence(), seed=9)
        no_range = run_monte_carlo(inputs=hand_inputs(), evidence=evidence(), seed=9)
        # The other inputs draw from their own streams, so only capex differs draw for draw; with one cell
        # and a 0% rate each unit of capex is a unit of NPV: the mean NPV shifts by base - mean capex.
        assert result.robots_needed_p50 == no_range.robots_needed_p50 == 1
        assert result.expected_npv - no_range.expected_npv == pytest.approx(
            params["robot_capex"] - expected_mean, abs=4 * sd / np.sqrt(result.draws)
        )
        assert result.npv.p90 - result.npv.p10 > no_range.npv.p90 - no_range.npv.p10


@pytest.mark.parametrize("distribution", ["pert", "triangular"])
def test_range_draws_stay_within_low_and_high(distribution: str) -> None:
    draws = _range_draws(
        low=2.0, mode=2.5, high=6.0, distribution=distribution, draws=20_000, rng=np.random.default_rng(4)
    )
    assert draws.min() >= 2.0 and draws.max() <= 6.0
    assert np.median(draws) < 4.0  # weighted towards the mode, not the midpoint
    assert (
        _range_draws(low=3, mode=3, high=3, distribution=distribution, draws=5, rng=np.random.default_rng()) == 3
    ).all()


def test_ranges_that_do_not_make_sense_raise_clear_errors() -> None:
    with pytest.raises(RoiInputError, match="must contain its base value"):
        run_monte_carlo(
            inputs=with_ranges(hand_inputs(), InputRange(name="robot_capex", low=60_000, high=90_000)),
            evidence=evidence(),
        )
    with pytest.raises(RoiInputError, match="measured by the trials"):
        run_monte_carlo(
            inputs=with_ranges(hand_inputs(), InputRange(name="success_rate", low=0.5, high=0.9)),
            evidence=evidence(),
        )
    with pytest.raises(RoiInputError, match="Unknown input"):
        run_monte_carlo(inputs=with_ranges(hand_inputs(), InputRange(name="bogus", low=0, high=1)), evidence=evidence())


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ({"successes": 0, "failures": 0}, "No episodes recorded"),
        ({"successes": 0, "failures": 12}, "never completed the task"),
    ],
)
def test_no_episodes_or_no_success_gives_a_clear_message(counts: dict[str, int], message: str) -> None:
    with pytest.raises(RoiInputError, match=message):
        TrialEvidence(**counts, interventions=0, autonomous_hours=1.0, cycle_times_s=(20.0,))


def test_evidence_without_running_time_or_cycle_times_is_refused() -> None:
    with pytest.raises(RoiInputError, match="no time"):
        TrialEvidence(successes=3, failures=0, interventions=0, autonomous_hours=0.0, cycle_times_s=(20.0,))
    with pytest.raises(RoiInputError, match="cycle times"):
        TrialEvidence(successes=3, failures=0, interventions=0, autonomous_hours=1.0, cycle_times_s=())


def test_bootstrap_means_centre_on_the_sample_mean_with_the_standard_error() -> None:
    rng = np.random.default_rng(11)
    # 400 x 10,000 exceeds the budget: shared resamples; 200,000 episodes: rescaled m-out-of-n resamples.
    for n in (40, 400, 5_000, 200_000):
        values = rng.gamma(5, 4, size=n)
        means = bootstrap_means(values, draws=10_000, rng=np.random.default_rng(1))
        assert means.shape == (10_000,)
        assert means.mean() == pytest.approx(values.mean(), rel=0.01)
        assert means.std() == pytest.approx(values.std() / np.sqrt(n), rel=0.15)


@settings(max_examples=25, deadline=None)
@given(
    episodes=st.integers(5, 300),
    first=st.floats(0.05, 1.0),
    second=st.floats(0.05, 1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_p50_moves_the_right_way_with_the_success_rate(episodes: int, first: float, second: float, seed: int) -> None:
    low_k, high_k = sorted((max(1, round(first * episodes)), max(1, round(second * episodes))))
    inputs = hand_inputs(discount_rate=0.08, takt_time_s=30)
    low = run_monte_carlo(
        inputs=inputs, evidence=evidence(successes=low_k, failures=episodes - low_k), draws=2_000, seed=seed
    )
    high = run_monte_carlo(
        inputs=inputs, evidence=evidence(successes=high_k, failures=episodes - high_k), draws=2_000, seed=seed
    )
    assert high.success_rate.p50 >= low.success_rate.p50
    assert high.npv.p50 >= low.npv.p50
    assert (high.payback_months.p50 or np.inf) <= (low.payback_months.p50 or np.inf)
    assert high.p_npv_negative <= low.p_npv_negative
