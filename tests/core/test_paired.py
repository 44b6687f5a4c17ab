"""core/paired.py against published worked examples, edge cases and properties.

Sources cited per test:
- Fagerland MW, Lydersen S, Laake P (2017) "Statistical Analysis of Contingency Tables", CRC Press,
  chapter 8 (the paired 2 x 2 table), the Cavo et al. (2012) example: complete response before/after
  consolidation therapy, [[59, 6], [16, 80]], n = 161; Newcombe square-and-add interval for the
  difference -0.0621 (95% CI -0.1186 to -0.0046). The book's companion R package (ocbe-uio/contingencytables,
  tests/testthat/test-ch8.R) asserts the same printed figures.
- Fagerland MW, Lydersen S, Laake P (2013) "The McNemar test for binary matched-pairs data: mid-p and
  asymptotic are better than exact conditional", BMC Medical Research Methodology 13:91: the Bentur et al.
  (2009) example, [[1, 1], [7, 12]], exact conditional McNemar p = 0.070.
- Agresti A (2002) "Categorical Data Analysis", 2nd ed., section 10.1, Table 10.1: presidential approval in
  two surveys of the same 1600 people, [[794, 150], [86, 570]]: McNemar z^2 = 17.36, difference of the
  marginal proportions 0.59 - 0.55 = 0.04 with 95% CI (0.02, 0.06).
- Newcombe RG (1998) "Improved confidence intervals for the difference between binomial proportions based on
  paired data", Statistics in Medicine 17:2635-2650, Table II, method 10, examples (a)-(d). These four were
  not re-read from the printed table when this test was written (the paper was not at hand); the Cavo
  example above is the one cross-checked against a second published source.
- Connor RJ (1987) "Sample size for testing differences in proportions for the paired-sample design",
  Biometrics 43:207-211, p. 209: discordant shares 0.45 and 0.05 (psi = 0.5, delta = 0.4), alpha 0.05
  two-sided, power 0.8 -> 23 pairs (the example the powerandsamplesize.com McNemar calculator reproduces
  from that page).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from statsmodels.stats.contingency_tables import mcnemar

from core import paired
from core.paired import PairedTable


def _table(both: int, only_b: int, only_a: int, neither: int) -> PairedTable:
    """Books write the paired table with the first condition in rows: [[both, first only], [second only,
    neither]]; here the first condition is B (the difference is B - A)."""
    return PairedTable(both=both, only_a=only_a, only_b=only_b, neither=neither)


def test_newcombe_interval_matches_fagerland_cavo_example():
    # Difference first - second = (59 + 6)/161 - (59 + 16)/161 = -0.0621.
    result = paired.compare_success_paired(_table(59, 6, 16, 80))
    assert round(result.difference, 4) == -0.0621
    assert (round(result.difference_ci.low, 4), round(result.difference_ci.high, 4)) == (-0.1186, -0.0046)


def test_mcnemar_exact_matches_fagerland_bentur_example():
    table = _table(1, 1, 7, 12)
    assert round(paired.mcnemar_exact_p(table), 3) == 0.070
    assert paired.mcnemar_exact_p(table) == pytest.approx(18 / 256)  # 2 x P(X <= 1), X ~ Bin(8, 1/2)


def test_agresti_presidential_approval_example():
    table = _table(794, 150, 86, 570)
    statistic = mcnemar([[794, 150], [86, 570]], exact=False, correction=False).statistic
    assert round(float(statistic), 2) == 17.36
    result = paired.compare_success_paired(table, labels=("second survey", "first survey"))
    assert round(result.difference, 2) == 0.04
    assert (round(result.difference_ci.low, 2), round(result.difference_ci.high, 2)) == (0.02, 0.06)
    assert result.p_value < 0.001 and result.significant


@pytest.mark.parametrize(
    ("cells", "interval"),
    [
        ((36, 12, 2, 0), (0.0569, 0.3404)),
        ((263, 15, 3, 19), (0.0119, 0.0713)),
        ((2, 1, 1, 0), (-0.5522, 0.5522)),
        ((6, 0, 0, 0), (-0.3903, 0.3903)),
    ],
)
def test_newcombe_interval_matches_newcombe_1998_table_2_method_10(cells, interval):
    ci = paired.newcombe_paired_interval(_table(*cells))
    assert (round(ci.low, 4), round(ci.high, 4)) == interval


def test_connor_sample_size_matches_the_published_example():
    assert paired.connor_pairs(rate_a=0.5, rate_b=0.1, discordance=0.5, alpha=0.05, power=0.8) == 23


def test_paired_plan_needs_fewer_episodes_than_unpaired_when_seeds_agree():
    plan = paired.paired_plan(rate_a=0.6, rate_b=0.75, discordance=0.2, power=0.8)
    assert plan.pairs_needed == 68 and plan.paired_episodes == 136
    assert plan.unpaired_per_version > plan.pairs_needed * 2  # here: 152 per version
    assert plan.paired_episodes < plan.unpaired_episodes
    assert "68 seeds" in plan.statement and "per version" in plan.statement
    # Without a measured discordance the independence value is assumed, and pairing then saves nothing.
    cautious = paired.paired_plan(rate_a=0.6, rate_b=0.75)
    assert cautious.discordance == pytest.approx(0.6 * 0.25 + 0.75 * 0.4)
    assert "assumed" in cautious.discordance_source
    assert cautious.pairs_needed == pytest.approx(cautious.unpaired_per_version, rel=0.05)
    json.dumps(plan.to_dict())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rate_a": 0.6, "rate_b": 0.6},
        {"rate_a": 0.0, "rate_b": 0.5},
        {"rate_a": 0.6, "rate_b": 0.8, "discordance": 0.1},  # below |delta|
        {"rate_a": 0.9, "rate_b": 0.95, "discordance": 0.5},  # above 2 - p_a - p_b
        {"rate_a": 0.6, "rate_b": 0.8, "power": 1.0},
    ],
)
def test_paired_plan_rejects_impossible_questions(kwargs):
    with pytest.raises(ValueError):
        paired.paired_plan(**kwargs)


def test_edge_cases_never_crash():
    empty = paired.compare_success_paired(PairedTable(0, 0, 0, 0))
    assert empty.p_value is None and empty.difference_ci is None and "Not enough data" in empty.verdict
    json.dumps(empty.to_dict())
    same = paired.compare_success_paired(PairedTable(10, 0, 0, 0))
    assert same.p_value == 1.0 and not same.significant and same.difference == 0
    with pytest.raises(ValueError):
        PairedTable(-1, 0, 0, 0)
    assert PairedTable.from_outcomes([True, True, False, False], [True, False, True, False]) == PairedTable(1, 1, 1, 1)
    with pytest.raises(ValueError):
        PairedTable.from_outcomes([True], [])


def test_verdict_names_the_discordant_pairs_and_the_unpaired_result_uses_the_same_episodes():
    result = paired.compare_success_paired(_table(30, 12, 3, 5), labels=("v1", "v2"))
    assert result.n_pairs == 50 and result.only_b == 12 and result.only_a == 3
    assert "15 of 50 seeds decided differently: 12 only v2, 3 only v1" in result.verdict
    assert (result.unpaired.n_a, result.unpaired.successes_a) == (50, 33)
    assert (result.unpaired.n_b, result.unpaired.successes_b) == (50, 42)
    assert result.width_ratio is not None and result.width_ratio < 1
    assert "paired test applies" in result.explanation


def test_positively_correlated_pairs_give_a_narrower_interval_than_independent_samples():
    # 100 seeds; 90 decided alike. Same marginals (70% vs 80%) as two independent samples of 100.
    result = paired.compare_success_paired(_table(65, 15, 5, 15))
    assert result.width_ratio < 0.8
    assert result.significant is not None


def test_newcombe_interval_covers_the_truth_in_about_95_percent_of_seeded_replications():
    rng = np.random.default_rng(20261202)
    # Cell probabilities of (both, only_b, only_a, neither): true difference B - A = 0.15 - 0.05 = 0.10.
    probabilities = [0.6, 0.15, 0.05, 0.2]
    covered = 0
    replications = 2000
    for counts in rng.multinomial(60, probabilities, size=replications):
        ci = paired.newcombe_paired_interval(_table(*counts.tolist()))
        covered += ci.low <= 0.10 <= ci.high
    assert 0.93 <= covered / replications <= 0.98


@given(both=st.integers(0, 60), only_a=st.integers(0, 60), only_b=st.integers(0, 60), neither=st.integers(0, 60))
def test_interval_contains_the_estimate_and_swapping_versions_mirrors_it(both, only_a, only_b, neither):
    table = PairedTable(both, only_a, only_b, neither)
    ci = paired.newcombe_paired_interval(table)
    if table.n_pairs == 0:
        assert ci is None
        return
    difference = (only_b - only_a) / table.n_pairs
    assert -1 <= ci.low <= difference + 1e-12 <= ci.high + 2e-12 <= 1 + 2e-12
    swapped = PairedTable(both, only_b, only_a, neither)
    assert paired.mcnemar_exact_p(swapped) == pytest.approx(paired.mcnemar_exact_p(table))
    mirrored = paired.newcombe_paired_interval(swapped)
    assert mirrored.low == pytest.approx(-ci.high) and mirrored.high == pytest.approx(-ci.low)
