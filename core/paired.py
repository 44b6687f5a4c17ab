"""Paired comparisons of two policy versions run on the same seeds and conditions: pure, ORM-free.

When episode i of version A and episode i of version B ran the same scene (same cell, seed, instruction),
each seed is a pair and only the pairs where the two disagree (the discordant pairs) carry evidence about
which version is better: the scene's own difficulty cancels out. That is why a paired comparison needs
fewer episodes than two independent samples for the same answer.

- Test: McNemar's exact (conditional binomial) test on the discordant pairs (statsmodels
  `contingency_tables.mcnemar`, exact=True): under "no difference", A-only and B-only wins are equally
  likely among the discordant pairs.
- Interval for the paired difference of success rates B - A: Newcombe's method 10 (square-and-add of the
  two Wilson score intervals with a correction for the correlation of the pairs), Newcombe RG (1998)
  "Improved confidence intervals for the difference between binomial proportions based on paired data",
  Statistics in Medicine 17:2635-2650. statsmodels has no paired difference interval, so the formula is
  written out in `newcombe_paired_interval` (the definitions: docs/metrics.md, in this repository).
- Planner: pairs needed for given success rates, discordance, power and alpha by Connor's formula
  (Connor RJ (1987) "Sample size for testing differences in proportions for the paired-sample design",
  Biometrics 43:207-211, p. 209); statsmodels has none for McNemar. Beside it the per-version sample size
  of two independent samples (statsmodels `samplesize_proportions_2indep_onetail`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint, samplesize_proportions_2indep_onetail

from core.results import JsonResult
from core.stats import CONFIDENCE, Interval, SuccessComparison, compare_success

MAX_PLANNED_PAIRS: Final = 10_000_000
METHOD_TEST: Final = "McNemar's exact test on the discordant pairs (statsmodels contingency_tables.mcnemar, exact)"
METHOD_INTERVAL: Final = "Newcombe (1998) method 10: paired square-and-add of Wilson score intervals"


@dataclass(frozen=True)
class PairedTable(JsonResult):
    """The 2 x 2 table of pairs: each pair is one seed run by both A and B."""

    both: int  # A and B succeeded
    only_a: int  # A succeeded, B failed
    only_b: int  # B succeeded, A failed
    neither: int

    def __post_init__(self) -> None:
        if min(self.both, self.only_a, self.only_b, self.neither) < 0:
            raise ValueError("pair counts must be non-negative")

    @property
    def n_pairs(self) -> int:
        return self.both + self.only_a + self.only_b + self.neither

    @property
    def discordant(self) -> int:
        return self.only_a + self.only_b

    @classmethod
    def from_outcomes(cls, a: list[bool] | tuple[bool, ...], b: list[bool] | tuple[bool, ...]) -> PairedTable:
        """Count pairs from two equally long outcome lists, position i of each being the same seed."""
        if len(a) != len(b):
            raise ValueError("paired outcomes must be of equal length")
        both = sum(1 for x, y in zip(a, b, strict=True) if x and y)
        only_a = sum(1 for x, y in zip(a, b, strict=True) if x and not y)
        only_b = sum(1 for x, y in zip(a, b, strict=True) if y and not x)
        return cls(both, only_a, only_b, len(a) - both - only_a - only_b)


@dataclass(frozen=True)
class PairedSuccessComparison(JsonResult):
    """B vs A on the same seeds: the table of pairs, McNemar's exact p, Newcombe's paired interval of
    B - A, and on the very same episodes the unpaired comparison (as if the pairs were two independent
    samples), so a page can show both and how much narrower the paired interval is."""

    n_pairs: int
    both: int
    only_a: int
    only_b: int
    neither: int
    rate_a: float | None
    rate_b: float | None
    difference: float | None  # B - A, in rate units
    difference_ci: Interval | None
    p_value: float | None
    significant: bool | None
    verdict: str
    method: str
    unpaired: SuccessComparison  # the same episodes compared as two independent samples
    width_ratio: float | None  # paired interval width / unpaired interval width (< 1: pairing helped)
    explanation: str  # why the paired figure is the one that applies, in one sentence


def newcombe_paired_interval(table: PairedTable, *, confidence: float = CONFIDENCE) -> Interval | None:
    """Newcombe's (1998) method 10 interval for the paired difference B - A, or None with no pair.

    With l_k, u_k the Wilson limits of the marginal rates p_a, p_b and phi the phi coefficient of the
    2 x 2 table (numerator a*d - b*c reduced by n/2 when above it, set to 0 between 0 and n/2, and phi = 0
    when a margin is empty), the interval for p_b - p_a is
    D - sqrt((p_b - l_b)^2 - 2 phi (p_b - l_b)(u_a - p_a) + (u_a - p_a)^2) to
    D + sqrt((u_b - p_b)^2 - 2 phi (u_b - p_b)(p_a - l_a) + (p_a - l_a)^2).
    """
    n = table.n_pairs
    if n == 0:
        return None
    alpha = 1 - confidence
    succ_a, succ_b = table.both + table.only_a, table.both + table.only_b
    p_a, p_b = succ_a / n, succ_b / n
    l_a, u_a = (float(v) for v in proportion_confint(succ_a, n, alpha=alpha, method="wilson"))
    l_b, u_b = (float(v) for v in proportion_confint(succ_b, n, alpha=alpha, method="wilson"))
    margins = (succ_a, n - succ_a, succ_b, n - succ_b)
    phi = 0.0
    if min(margins) > 0:
        # Rows of Newcombe's table are B's outcome and columns A's: a = both, d = neither, b and c discordant.
        cross = table.both * table.neither - table.only_a * table.only_b
        if cross > n / 2:
            cross_corrected = cross - n / 2
        elif cross >= 0:
            cross_corrected = 0.0
        else:
            cross_corrected = float(cross)
        phi = cross_corrected / math.sqrt(math.prod(margins))
    d = p_b - p_a
    below = (p_b - l_b) ** 2 - 2 * phi * (p_b - l_b) * (u_a - p_a) + (u_a - p_a) ** 2
    above = (u_b - p_b) ** 2 - 2 * phi * (u_b - p_b) * (p_a - l_a) + (p_a - l_a) ** 2
    low, high = d - math.sqrt(max(below, 0.0)), d + math.sqrt(max(above, 0.0))
    return Interval(max(-1.0, low), min(1.0, high), confidence, METHOD_INTERVAL)


def mcnemar_exact_p(table: PairedTable) -> float:
    """Two-sided exact McNemar p: 2 x the smaller binomial tail of the discordant pairs at 1/2, capped at 1;
    1 when no pair is discordant (no evidence either way)."""
    if table.discordant == 0:
        return 1.0
    result = mcnemar([[table.both, table.only_a], [table.only_b, table.neither]], exact=True)
    return min(1.0, float(result.pvalue))


def _width(interval: Interval | None) -> float | None:
    if interval is None or interval.low is None or interval.high is None:
        return None
    return interval.high - interval.low


def compare_success_paired(
    table: PairedTable, *, alpha: float = 0.05, labels: tuple[str, str] = ("A", "B")
) -> PairedSuccessComparison:
    """Is B's success rate different from A's on the same seeds? McNemar's exact test and Newcombe's
    paired interval for B - A, beside `core.stats.compare_success` on the same episodes taken as two
    independent samples. The verdict says "no evidence of a difference" unless p < alpha."""
    la, lb = labels
    n = table.n_pairs
    unpaired = compare_success(
        successes_a=table.both + table.only_a, n_a=n, successes_b=table.both + table.only_b, n_b=n,
        alpha=alpha, labels=labels,
    )  # fmt: skip
    method = f"{METHOD_TEST}; {METHOD_INTERVAL} for {lb} - {la}"
    if n == 0:
        return PairedSuccessComparison(
            0, 0, 0, 0, 0, None, None, None, None, None, None,
            f"Not enough data: no seed was run by both {la} and {lb}.", method, unpaired, None,
            "No pair: nothing to compare.",
        )  # fmt: skip
    rate_a, rate_b = (table.both + table.only_a) / n, (table.both + table.only_b) / n
    diff = rate_b - rate_a
    interval = newcombe_paired_interval(table, confidence=1 - alpha)
    p_value = mcnemar_exact_p(table)
    significant = p_value < alpha
    ci_text = (
        f"{1 - alpha:.0%} CI {interval.low * 100:+.0f} to {interval.high * 100:+.0f} points"
        if interval and interval.low is not None and interval.high is not None
        else "no interval"
    )
    pairs_text = (
        f"{table.discordant} of {n} seeds decided differently: {table.only_b} only {lb}, {table.only_a} only {la}"
    )
    if significant:
        direction = "higher" if diff > 0 else "lower"
        verdict = (
            f"On the same {n} seeds, {lb}'s success rate is {direction} than {la}'s: {rate_b:.0%} vs "
            f"{rate_a:.0%}, difference {diff * 100:+.0f} points ({ci_text}, McNemar exact p = {p_value:.3g}; "
            f"{pairs_text})."
        )
    else:
        verdict = (
            f"On the same {n} seeds, no evidence of a difference in success rate: {lb} {rate_b:.0%} vs "
            f"{la} {rate_a:.0%}, difference {diff * 100:+.0f} points ({ci_text}, McNemar exact p = "
            f"{p_value:.3g}; {pairs_text})."
        )
    paired_w, unpaired_w = _width(interval), _width(unpaired.difference_ci)
    ratio = paired_w / unpaired_w if paired_w is not None and unpaired_w else None
    explanation = (
        "The paired test applies: both versions ran the same seeds, so each seed's own difficulty cancels "
        "and only the seeds where they disagree count as evidence."
    )
    if ratio is not None and paired_w is not None and unpaired_w is not None:
        explanation += (
            f" Its interval is {paired_w * 100:.0f} points wide against {unpaired_w * 100:.0f} for the same "
            f"episodes taken as independent samples ({ratio:.0%} of the width)."
        )
    return PairedSuccessComparison(
        n, table.both, table.only_a, table.only_b, table.neither, rate_a, rate_b, diff, interval, p_value,
        significant, verdict, method, unpaired, ratio, explanation,
    )  # fmt: skip


# --------------------------------------------------------------------------------------------------
# Planning
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PairedPlan(JsonResult):
    """Seeds to run with both versions to detect rate_b vs rate_a, and what two independent samples would
    need for the same power; `discordance` is the expected share of seeds where the two disagree."""

    rate_a: float
    rate_b: float
    discordance: float
    discordance_source: str
    alpha: float
    power: float
    pairs_needed: int  # seeds, each run by A and by B
    paired_episodes: int  # 2 x pairs
    unpaired_per_version: int
    unpaired_episodes: int  # 2 x per version
    statement: str
    method: str


def independent_discordance(rate_a: float, rate_b: float) -> float:
    """Share of discordant seeds if A's and B's outcomes on a seed were independent: the most a paired
    design can face short of negative correlation, so a cautious default when nothing was measured."""
    return rate_a * (1 - rate_b) + rate_b * (1 - rate_a)


def connor_pairs(*, rate_a: float, rate_b: float, discordance: float, alpha: float, power: float) -> int:
    """Connor (1987), p. 209: n = (z_{1-alpha/2} sqrt(psi) + z_{power} sqrt(psi - delta^2))^2 / delta^2 pairs,
    psi the discordant share, delta = rate_b - rate_a, rounded up. Raises ValueError when the inputs cannot
    describe a 2 x 2 table of pairs (psi outside [|delta|, min(p_a + p_b, 2 - p_a - p_b)]) or delta = 0."""
    delta = rate_b - rate_a
    if delta == 0:
        raise ValueError("the two success rates must differ")
    if not abs(delta) <= discordance <= min(rate_a + rate_b, 2 - rate_a - rate_b) + 1e-12:
        raise ValueError(
            f"discordance must be between |rate_b - rate_a| = {abs(delta):.3g} and "
            f"{min(rate_a + rate_b, 2 - rate_a - rate_b):.3g} for these rates"
        )
    z_alpha = float(sps.norm.ppf(1 - alpha / 2))
    z_beta = float(sps.norm.ppf(power))
    n = (z_alpha * math.sqrt(discordance) + z_beta * math.sqrt(max(discordance - delta**2, 0.0))) ** 2 / delta**2
    return math.ceil(n - 1e-9)


def paired_plan(
    *,
    rate_a: float,
    rate_b: float,
    discordance: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
) -> PairedPlan:
    """How many seeds both versions must run to tell rate_b from rate_a with `power` at two-sided `alpha`
    (Connor 1987), and the per-version size of two independent samples for the same question. Without a
    measured discordance the independence value is assumed (said in `discordance_source`).

    Raises ValueError on rates, alpha or power outside (0, 1), equal rates, an impossible discordance, or
    a plan beyond MAX_PLANNED_PAIRS.
    """
    if not (0 < rate_a < 1 and 0 < rate_b < 1):
        raise ValueError("rate_a and rate_b must be in (0, 1)")
    if not (0 < alpha < 1 and 0 < power < 1):
        raise ValueError("alpha and power must be in (0, 1)")
    if discordance is None:
        psi = independent_discordance(rate_a, rate_b)
        source = "assumed: outcomes independent across versions on a seed (no measured discordance)"
    else:
        psi, source = discordance, "given"
    pairs = connor_pairs(rate_a=rate_a, rate_b=rate_b, discordance=psi, alpha=alpha, power=power)
    if pairs > MAX_PLANNED_PAIRS:
        raise ValueError("the comparison needs more than 10 million seeds")
    per_version = math.ceil(
        float(samplesize_proportions_2indep_onetail(rate_b - rate_a, rate_a, power, ratio=1, alpha=alpha)) - 1e-9
    )
    statement = (
        f"Run {pairs:,} seeds with both versions ({2 * pairs:,} episodes) to detect {rate_b:.0%} vs {rate_a:.0%} "
        f"with {power:.0%} power at {alpha:g} two-sided, expecting {psi:.0%} of seeds to be decided differently; "
        f"two independent samples would need {per_version:,} episodes per version ({2 * per_version:,})."
    )
    method = (
        "Connor (1987) sample size for McNemar's test (paired); statsmodels samplesize_proportions_2indep_onetail "
        "(unpaired)"
    )
    return PairedPlan(
        rate_a, rate_b, psi, source, alpha, power, pairs, 2 * pairs, per_version, 2 * per_version, statement, method
    )
