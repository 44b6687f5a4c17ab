"""core/stats.py against worked examples from published sources, edge cases and hypothesis properties.

Sources cited per test:
- Newcombe RG (1998a) "Two-sided confidence intervals for the single proportion: comparison of seven
  methods", Statistics in Medicine 17:857-872, Table I (Wilson score and Clopper-Pearson exact intervals).
- Newcombe RG (1998b) "Interval estimation for the difference between independent proportions: comparison
  of eleven methods", Statistics in Medicine 17:873-890, Table II, method 10 (hybrid score).
- Garwood F (1936) "Fiducial limits for the Poisson distribution", Biometrika 28:437-442 (exact chi-square
  limits; x = 0 -> upper 3.689, x = 3 -> 0.619 to 8.767).
- Success-run demonstration sample sizes: n = ceil(ln(1 - C) / ln R), e.g. 29 for R = 0.90, C = 0.95;
  59 for 0.95/0.95; 299 for 0.99/0.95 (docs/metrics.md; standard reliability tables).
- OEE worked example from oee.com "OEE Calculation": planned 420 min, run 373 min, ideal cycle 1.0 s,
  total 19,271, good 18,848 -> A 88.81%, P 86.11%, Q 97.80%, OEE 74.79%.
- Wald A (1945) "Sequential tests of statistical hypotheses", Ann. Math. Statist. 16:117-186 (boundaries
  A = (1 - beta) / alpha, B = beta / (1 - alpha)).
- Conover WJ, Practical Nonparametric Statistics, 3rd ed., section 3.2: distribution-free CI of the median
  by order statistics r = n/2 - z sqrt(n)/2, s = n + 1 - r (n = 1000 -> ranks 469 and 532).
- scipy.stats.mannwhitneyu reference example (docs): males [19, 22, 16, 29, 24] vs females [20, 11, 17, 12]
  -> U = 17, exact two-sided p = 0.1111.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint

from core import stats

# --- Success rate --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("k", "n", "wilson", "exact"),
    [
        (81, 263, (0.2553, 0.3662), (0.2527, 0.3676)),
        (15, 148, (0.0624, 0.1605), (0.0578, 0.1617)),
        (0, 20, (0.0000, 0.1611), (0.0000, 0.1684)),
        (1, 29, (0.0061, 0.1718), (0.0009, 0.1776)),
    ],
)
def test_wilson_and_exact_intervals_match_newcombe_1998_table_1(k, n, wilson, exact):
    """Newcombe 1998a, Table I: Wilson score (method 3) and Clopper-Pearson (method 5), 95%."""
    interval = stats.wilson_interval(successes=k, n=n)
    assert (round(interval.low, 4), round(interval.high, 4)) == wilson
    # The two-sided exact lower limit at 95% is the one-sided 97.5% lower bound.
    assert round(stats.clopper_pearson_lower(successes=k, n=n, confidence=0.975), 4) == exact[0]


def test_success_rate_claim_sentence_for_20_of_20():
    """All 20 of 20: exact one-sided lower bound 0.05 ** (1/20) = 0.8609 (closed form for k = n)."""
    rate = stats.success_rate(successes=20, n=20)
    assert rate.lower_bound == pytest.approx(0.05 ** (1 / 20), abs=1e-9)
    assert rate.claim == "at least 86% success at 95% confidence, exact binomial, n = 20"
    assert rate.rate == 1.0 and rate.interval.high == pytest.approx(1.0)


def test_success_rate_edge_cases_never_crash():
    empty = stats.success_rate(successes=0, n=0)
    assert empty.rate is None and empty.interval is None and empty.lower_bound is None
    assert "not enough data" in empty.claim
    none = stats.success_rate(successes=0, n=5)
    assert none.rate == 0 and none.lower_bound == 0 and none.interval.low == 0
    one = stats.success_rate(successes=1, n=1)
    assert one.claim == "at least 5% success at 95% confidence, exact binomial, n = 1"
    json.dumps(one.to_dict())
    with pytest.raises(ValueError):
        stats.success_rate(successes=3, n=2)


@given(k=st.integers(0, 200), n=st.integers(1, 200))
def test_success_intervals_contain_the_estimate(k, n):
    k = min(k, n)
    rate = stats.success_rate(successes=k, n=n)
    assert rate.interval.low - 1e-12 <= rate.rate <= rate.interval.high + 1e-12
    assert rate.lower_bound <= rate.rate + 1e-12


@given(k=st.integers(0, 100), n=st.integers(1, 100), factor=st.integers(2, 10))
def test_success_intervals_narrow_as_n_grows(k, n, factor):
    k = min(k, n)
    small = stats.success_rate(successes=k, n=n)
    large = stats.success_rate(successes=k * factor, n=n * factor)
    assert large.interval.high - large.interval.low < small.interval.high - small.interval.low
    # Same observed rate on more episodes gives a higher (or equal, at 0 successes) lower bound.
    assert large.lower_bound >= small.lower_bound - 1e-12


# --- Interventions -------------------------------------------------------------------------------


def test_intervention_rate_matches_garwood_exact_limits():
    """Garwood 1936: x = 3 events -> 0.619 to 8.767 per unit exposure; x = 0 -> 0 to 3.689."""
    three = stats.intervention_rate(interventions=3, operating_hours=10.0)
    assert three.per_hour == pytest.approx(0.3)
    assert (round(three.per_hour_ci.low * 10, 3), round(three.per_hour_ci.high * 10, 3)) == (0.619, 8.767)
    assert three.mtbi_h == pytest.approx(10 / 3)
    assert three.mtbi_ci_h.low == pytest.approx(10 / 8.7673, rel=1e-4)
    assert three.mtbi_ci_h.high == pytest.approx(10 / 0.6187, rel=1e-3)
    # One-sided lower MTBI bound: 2T / chi2(0.95, 2k + 2).
    assert three.mtbi_lower_bound_h == pytest.approx(2 * 10 / sps.chi2.ppf(0.95, 8))
    zero = stats.intervention_rate(interventions=0, operating_hours=1.0)
    assert zero.per_hour == 0 and round(zero.per_hour_ci.high, 3) == 3.689
    assert zero.mtbi_h is None and zero.mtbi_ci_h.high is None
    # "Rule of three": no failure in T hours shows MTBI >= T / 3.0 at 95%.
    assert zero.mtbi_lower_bound_h == pytest.approx(1 / 2.9957, rel=1e-4)


def test_intervention_rate_without_operating_time():
    empty = stats.intervention_rate(interventions=0, operating_hours=0)
    assert empty.per_hour is None and empty.mtbi_lower_bound_h is None
    assert "not enough data" in empty.statement


@given(k=st.integers(0, 50), hours=st.floats(0.1, 100), factor=st.integers(2, 8))
def test_intervention_interval_contains_rate_and_narrows(k, hours, factor):
    small = stats.intervention_rate(interventions=k, operating_hours=hours)
    large = stats.intervention_rate(interventions=k * factor, operating_hours=hours * factor)
    assert small.per_hour_ci.low <= small.per_hour <= small.per_hour_ci.high
    assert large.per_hour_ci.high - large.per_hour_ci.low < small.per_hour_ci.high - small.per_hour_ci.low


# --- Cycle time ----------------------------------------------------------------------------------


def test_cycle_time_summary_worked_example():
    """1..10 s: mean 5.5, median 5.5, p10 1.9, p90 9.1 (linear interpolation), s = sqrt(55/6) = 3.0277."""
    summary = stats.cycle_time_summary(np.arange(1.0, 11.0))
    assert summary.n == 10
    assert (summary.mean_s, summary.median_s) == (5.5, 5.5)
    assert summary.p10_s == pytest.approx(1.9) and summary.p90_s == pytest.approx(9.1)
    assert summary.p95_s == pytest.approx(9.55)
    assert summary.std_s == pytest.approx(math.sqrt(55 / 6))
    assert summary.cv == pytest.approx(math.sqrt(55 / 6) / 5.5)
    assert "BCa" in summary.median_ci.method
    assert summary.median_ci.low <= 5.5 <= summary.median_ci.high


def test_median_ci_is_seeded_and_reproducible():
    x = np.random.default_rng(3).lognormal(2.0, 0.3, 60)
    first = stats.cycle_time_summary(x, seed=7).median_ci
    assert first == stats.cycle_time_summary(x, seed=7).median_ci
    assert first != stats.cycle_time_summary(x, seed=8).median_ci


def test_median_ci_large_sample_uses_order_statistics_conover():
    """Conover 3.2: n = 1000 -> ranks 469 and 532 bound the median at 95%."""
    summary = stats.cycle_time_summary(np.arange(1.0, 1001.0))
    assert "order-statistic" in summary.median_ci.method
    assert (summary.median_ci.low, summary.median_ci.high) == (469.0, 532.0)


def test_cycle_time_edge_cases():
    empty = stats.cycle_time_summary([])
    assert empty.n == 0 and empty.median_s is None and empty.note == "not enough data"
    one = stats.cycle_time_summary([12.5])
    assert one.median_s == 12.5 and one.std_s is None and one.median_ci is None
    flat = stats.cycle_time_summary([4.0] * 10)
    assert flat.std_s == 0 and flat.cv == 0 and flat.median_ci is None
    json.dumps(empty.to_dict()), json.dumps(one.to_dict())


@settings(max_examples=20, deadline=None)
@given(values=st.lists(st.floats(1, 100), min_size=2, max_size=80))
def test_median_interval_contains_median(values):
    summary = stats.cycle_time_summary(values)
    if summary.median_ci is not None:
        assert summary.median_ci.low - 1e-9 <= summary.median_s <= summary.median_ci.high + 1e-9


def test_takt_verdict_needs_29_cycles_to_bound_p90():
    """Bounding p90 at 95% by the sample maximum needs 0.9 ** n <= 0.05, i.e. n >= 29 (success-run)."""
    fast28 = stats.takt_verdict([10.0] * 28, takt_time_s=12.0)
    assert fast28.verdict == "inconclusive" and fast28.min_n_for_claim == 29
    assert "at least 29 cycles" in fast28.statement
    fast29 = stats.takt_verdict([10.0] * 29, takt_time_s=12.0)
    assert fast29.verdict == "meets takt" and fast29.upper_bound_s == 10.0
    slow = stats.takt_verdict(np.linspace(13, 20, 40), takt_time_s=12.0)
    assert slow.verdict == "misses takt" and slow.lower_bound_s > 12.0
    assert slow.share_within_takt == 0 and slow.share_within_takt_ci.high > 0
    close = stats.takt_verdict(np.linspace(8, 14, 200), takt_time_s=13.4)
    assert close.verdict == "inconclusive"
    assert stats.takt_verdict([], takt_time_s=12.0).verdict == "not enough data"
    with pytest.raises(ValueError):
        stats.takt_verdict([1.0], takt_time_s=0)


# --- Runs, Pareto, throughput, OEE ---------------------------------------------------------------


def test_longest_run_respects_groups():
    assert stats.longest_run([]) == 0
    assert stats.longest_run([False, False]) == 0
    assert stats.longest_run([True]) == 1
    assert stats.longest_run([True, True, False, True, True, True]) == 3
    # The last three successes are split across two trials: runs of 1 and 2.
    assert stats.longest_run([True, True, False, True, True, True], groups=[1, 1, 1, 1, 2, 2]) == 2


@given(flags=st.lists(st.booleans(), max_size=60), groups=st.lists(st.integers(0, 2), max_size=60))
def test_longest_run_matches_a_plain_loop(flags, groups):
    groups = sorted((groups + [0] * len(flags))[: len(flags)])
    best = current = 0
    previous = None
    for flag, group in zip(flags, groups, strict=True):
        if group != previous:
            current = 0
        current = current + 1 if flag else 0
        best = max(best, current)
        previous = group
    assert stats.longest_run(flags, groups=groups) == best


def test_pareto_orders_and_accumulates():
    bars = stats.pareto({"grasp": 6, "perception": 3, "safety stop": 1, "other": 0})
    assert [b.category for b in bars] == ["grasp", "perception", "safety stop"]
    assert [b.cumulative_share for b in bars] == pytest.approx([0.6, 0.9, 1.0])
    assert stats.pareto({}) == ()


def test_effective_throughput_formula_worked_example():
    """metrics.md: (10 s + 0.1 x 60 s) / 0.8 = 20 s per good part, 180 good parts per hour."""
    success = stats.success_rate(successes=16, n=20)
    t = stats.effective_throughput(
        mean_attempt_cycle_s=10.0, interventions_per_attempt=0.1, recovery_time_s=60.0, success=success
    )
    assert t.time_per_good_part_s == pytest.approx(20.0)
    assert t.good_parts_per_hour == pytest.approx(180.0)
    assert t.time_per_good_part_range_s.low < 20.0 < t.time_per_good_part_range_s.high
    no_good = stats.effective_throughput(
        mean_attempt_cycle_s=10.0,
        interventions_per_attempt=0.0,
        recovery_time_s=60.0,
        success=stats.success_rate(successes=0, n=5),
    )
    assert no_good.time_per_good_part_s is None and no_good.good_parts_per_hour == 0
    empty = stats.effective_throughput(
        mean_attempt_cycle_s=None,
        interventions_per_attempt=None,
        recovery_time_s=60.0,
        success=stats.success_rate(successes=0, n=0),
    )
    assert empty.note == "not enough data"


def test_oee_matches_oee_com_worked_example():
    """oee.com: A = 373/420 = 88.81%, P = 19,271 x 1.0 s / 22,380 s = 86.11%, Q = 18,848/19,271 = 97.80%."""
    oee = stats.oee_breakdown(
        attempt_time_s=373 * 60,
        attempts=19_271,
        good=18_848,
        ideal_cycle_time_s=1.0,
        downtime_s=47 * 60,
        failed_by_category={"grasp": 300, "perception": 100},
    )
    assert round(oee.availability, 4) == 0.8881
    assert round(oee.performance, 4) == 0.8611
    assert round(oee.quality, 4) == 0.9780
    assert round(oee.oee, 4) == 0.7479
    steps = {s.label: s.seconds for s in oee.waterfall}
    assert steps["operator recovery"] == pytest.approx(-47 * 60)
    assert steps["speed"] == pytest.approx(-(22_380 - 19_271))
    # Failed attempts at ideal speed: 423 s, split 300 : 100 : 23 unattributed.
    assert steps["grasp"] == pytest.approx(-300) and steps["unattributed"] == pytest.approx(-23)
    assert sum(s.seconds for s in oee.waterfall[:-1]) == pytest.approx(oee.waterfall[-1].seconds)
    assert stats.oee_breakdown(
        attempt_time_s=0, attempts=0, good=0, ideal_cycle_time_s=1, downtime_s=0, failed_by_category={}
    ) is None  # fmt: skip


# --- Planner and SPRT ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("r", "c", "failures", "n"),
    [(0.90, 0.95, 0, 29), (0.95, 0.95, 0, 59), (0.99, 0.95, 0, 299), (0.90, 0.90, 0, 22), (0.90, 0.90, 1, 38),
     (0.90, 0.95, 1, 46), (0.5, 0.75, 0, 2)],
)  # fmt: skip
def test_planner_matches_success_run_tables(r, c, failures, n):
    """Success-run n = ceil(ln(1 - C)/ln R); with c failures the smallest n with BinomCDF(c; n, 1 - R) <= 1 - C.
    0.5/0.75 is an exact tie (0.5 ** 2 = 0.25) that a floating-point ceil gets wrong."""
    plan = stats.success_run_plan(target_success=r, confidence=c, failures_allowed=failures, mean_cycle_time_s=36.0)
    assert plan.episodes_needed == n
    assert plan.robot_hours == pytest.approx(n * 36.0 / 3600)
    assert str(n) in plan.statement


def test_planner_rejects_impossible_claims():
    for bad in ({"target_success": 1.0}, {"target_success": 0.9, "confidence": 1.0}, {"target_success": 0}):
        with pytest.raises(ValueError):
            stats.success_run_plan(**bad)
    with pytest.raises(ValueError):
        stats.success_run_plan(target_success=0.9, failures_allowed=-1)


@given(
    r=st.integers(50, 995).map(lambda v: v / 1000),
    c=st.sampled_from([0.8, 0.9, 0.95, 0.99]),
    failures=st.integers(0, 5),
)
def test_planner_n_is_the_smallest_meeting_the_claim(r, c, failures):
    n = stats.success_run_plan(target_success=r, confidence=c, failures_allowed=failures).episodes_needed

    def lower(n_: int) -> float:
        # Independent route: statsmodels' exact interval with n - c successes.
        return proportion_confint(n_ - failures, n_, alpha=2 * (1 - c), method="beta")[0]

    assert lower(n) >= r - 1e-9
    if n - 1 > failures:
        assert lower(n - 1) < r + 1e-9


def test_sprt_boundaries_and_verdicts_wald_1945():
    """alpha 0.05, beta 0.10: pass at ln 18 = 2.890, fail at ln(0.1/0.95) = -2.251. With p1 = 0.95,
    p0 = 0.80 each success adds ln(0.95/0.8) = 0.1719 and each failure ln(0.05/0.2) = -1.386, so 17
    straight successes pass (16 x 0.1719 = 2.75 < 2.890) and 2 early failures fail."""
    keep = stats.sprt_binomial(successes=16, failures=0, acceptable_success=0.95, rejectable_success=0.80)
    assert keep.pass_threshold == pytest.approx(math.log(18))
    assert keep.fail_threshold == pytest.approx(math.log(0.1 / 0.95))
    assert keep.verdict == "keep going" and keep.successes_to_pass == 1
    assert stats.sprt_binomial(successes=17, failures=0, acceptable_success=0.95, rejectable_success=0.8).verdict == (
        "pass"
    )
    assert stats.sprt_binomial(successes=0, failures=2, acceptable_success=0.95, rejectable_success=0.8).verdict == (
        "fail"
    )
    start = stats.sprt_binomial(successes=0, failures=0, acceptable_success=0.95, rejectable_success=0.8)
    assert start.verdict == "keep going" and start.n == 0
    with pytest.raises(ValueError):
        stats.sprt_binomial(successes=1, failures=0, acceptable_success=0.8, rejectable_success=0.9)


def test_sprt_error_rates_hold_by_simulation():
    """A policy exactly at the rejectable level passes with probability <= alpha (Wald's bound, approx.)."""
    rng = np.random.default_rng(0)
    passes = 0
    for _ in range(400):
        s = f = 0
        while True:
            if rng.random() < 0.8:
                s += 1
            else:
                f += 1
            v = stats.sprt_binomial(successes=s, failures=f, acceptable_success=0.95, rejectable_success=0.8)
            if v.verdict != "keep going":
                passes += v.verdict == "pass"
                break
    assert passes / 400 <= 0.05 + 0.02


# --- Comparison ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("b", "a", "expected"),
    [((56, 70), (48, 80), (0.0524, 0.3339)), ((9, 10), (3, 10), (0.1705, 0.8090)), ((6, 7), (2, 7), (0.0582, 0.8062)),
     ((5, 56), (0, 29), (-0.0381, 0.1926)), ((0, 10), (0, 20), (-0.1611, 0.2775)), ((10, 10), (0, 20), (0.6791, 1.0))],
)  # fmt: skip
def test_newcombe_interval_matches_newcombe_1998b_table_2(b, a, expected):
    """Newcombe 1998b Table II, method 10 (hybrid score from Wilson intervals), difference B - A."""
    cmp = stats.compare_success(successes_a=a[0], n_a=a[1], successes_b=b[0], n_b=b[1])
    assert (round(cmp.difference_ci.low, 4), round(cmp.difference_ci.high, 4)) == expected


def test_compare_success_uses_barnard_and_says_no_evidence():
    cmp = stats.compare_success(successes_a=18, n_a=20, successes_b=19, n_b=20, labels=("v1", "v2"))
    reference = sps.barnard_exact([[19, 18], [1, 2]]).pvalue
    assert cmp.p_value == pytest.approx(reference)
    assert cmp.significant is False
    assert cmp.verdict.startswith("No evidence of a difference in success rate")
    clear = stats.compare_success(successes_a=5, n_a=20, successes_b=19, n_b=20, labels=("v1", "v2"))
    assert clear.significant and clear.verdict.startswith("v2's success rate is higher than v1's")
    same = stats.compare_success(successes_a=10, n_a=10, successes_b=10, n_b=10)
    assert same.p_value == 1.0 and not same.significant
    empty = stats.compare_success(successes_a=0, n_a=0, successes_b=3, n_b=4)
    assert empty.p_value is None and "Not enough data" in empty.verdict
    large = stats.compare_success(successes_a=900, n_a=1000, successes_b=950, n_b=1000)
    assert "score test" in large.method and large.significant


def test_compare_cycle_times_scipy_reference_example():
    """scipy.stats.mannwhitneyu docs: U = 17, exact two-sided p = 0.1111 -> no evidence of a difference."""
    cmp = stats.compare_cycle_times([20, 11, 17, 12], [19, 22, 16, 29, 24], labels=("females", "males"))
    assert cmp.statistic == 17.0
    assert cmp.p_value == pytest.approx(0.1111, abs=1e-4)
    assert cmp.verdict.startswith("No evidence of a difference in cycle time")
    faster = stats.compare_cycle_times(np.linspace(12, 14, 30), np.linspace(9, 11, 30), labels=("v1", "v2"))
    assert faster.significant and faster.verdict.startswith("v2 is faster than v1")
    assert stats.compare_cycle_times([], [1.0]).p_value is None


def test_sprt_sequence_stops_at_the_first_crossing():
    """17 straight successes cross Wald's pass boundary (see above); the later failures must not undo it."""
    verdict = stats.sprt_sequence([True] * 17 + [False] * 3, acceptable_success=0.95, rejectable_success=0.8)
    assert verdict.verdict == "pass" and verdict.decided_at_n == 17 and verdict.n == 17
    assert "decided at episode 17 of 20" in verdict.statement
    early_fail = stats.sprt_sequence([False, False, True], acceptable_success=0.95, rejectable_success=0.8)
    assert early_fail.verdict == "fail" and early_fail.decided_at_n == 2
    empty = stats.sprt_sequence([], acceptable_success=0.95, rejectable_success=0.8)
    assert empty.verdict == "keep going" and empty.decided_at_n is None


def test_acceptance_without_data_fails_and_without_criteria_says_so():
    no_data = stats.acceptance_evaluate(
        criteria=stats.AcceptanceRule(min_success_lower_bound=0.9, mtbi_lower_bound_h=1.0, cycle_time_max_s=12.0),
        success=stats.success_rate(successes=0, n=0),
        interventions=stats.intervention_rate(interventions=0, operating_hours=0),
        longest_clean_run=0,
        cycle_times_s=[],
    )
    assert not no_data.passed and all(not c.passed for c in no_data.checks)
    assert all("not enough data" in c.evidence for c in no_data.checks)
    nothing = stats.acceptance_evaluate(
        criteria=stats.AcceptanceRule(),
        success=stats.success_rate(successes=3, n=3),
        interventions=stats.intervention_rate(interventions=0, operating_hours=0.01),
        longest_clean_run=3,
        cycle_times_s=[1.0, 2.0, 3.0],
    )
    assert nothing.passed and nothing.statement == "No acceptance criterion set."
    with pytest.raises(ValueError):
        stats.AcceptanceRule(min_success_lower_bound=1.5)


def test_cycle_time_distribution_box_plot_and_histogram():
    """Tukey box plot of 1..9 and 30: quartiles 3.25 / 5.5 / 7.75 (linear), IQR 4.5, upper fence 14.5,
    so 30 is the one outlier and the upper whisker stops at 9."""
    dist = stats.cycle_time_distribution([*range(1, 10), 30])
    assert (dist.q1_s, dist.median_s, dist.q3_s) == (3.25, 5.5, 7.75)
    assert (dist.whisker_low_s, dist.whisker_high_s, dist.outliers) == (1.0, 9.0, 1)
    assert sum(dist.counts) == 10 and len(dist.bin_edges_s) == len(dist.counts) + 1
    assert dist.bin_edges_s[0] == 1.0 and dist.bin_edges_s[-1] == 30.0
    wide = stats.cycle_time_distribution(np.random.default_rng(1).lognormal(2, 1, 100_000))
    assert len(wide.counts) <= stats.MAX_HISTOGRAM_BINS and sum(wide.counts) == 100_000
    empty = stats.cycle_time_distribution([])
    assert empty.n == 0 and empty.counts == () and empty.median_s is None
    json.dumps(dist.to_dict())


def test_hodges_lehmann_shift_recovers_a_pure_shift() -> None:
    a = np.array([9.8, 10.4, 11.1, 10.0, 12.3, 10.9, 9.5, 11.7])
    shift, interval = stats.hodges_lehmann_shift(a, a + 1.5)
    assert shift == pytest.approx(1.5)
    assert interval.low < 1.5 < interval.high


def test_hodges_lehmann_interval_is_the_kth_pairwise_differences() -> None:
    # m = n = 10, 95 %: k = floor(50 - 1.96 sqrt(100 * 21 / 12)) = floor(24.07) = 24.
    rng = np.random.default_rng(4)
    a, b = rng.normal(10, 1, 10), rng.normal(11, 1, 10)
    diffs = np.sort((b[None, :] - a[:, None]).ravel())
    shift, interval = stats.hodges_lehmann_shift(a, b)
    assert shift == pytest.approx(float(np.median(diffs)))
    assert (interval.low, interval.high) == (pytest.approx(diffs[23]), pytest.approx(diffs[100 - 24]))


def test_hodges_lehmann_needs_both_groups() -> None:
    assert stats.hodges_lehmann_shift([], [1.0]) is None
