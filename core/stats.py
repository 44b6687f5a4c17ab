"""Trial statistics: pure, ORM-free, typed functions over numbers and arrays.

Every figure carries its sample size `n` and a `method` string naming how it was computed, so a page or
API can show "86% (Wilson 95%: 70-94%, n = 20)" rather than a bare rate. Functions never raise on small
samples: with 0 or 1 observations they return the figure as None with a `note` saying why.

Definitions follow docs/metrics.md (in this repository); the libraries doing the work are scipy.stats and
statsmodels (the one formula written here is Wald's SPRT likelihood ratio, which no library ships).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
from scipy import stats as sps
from scipy.stats import DegenerateDataWarning
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    test_proportions_2indep,
)
from statsmodels.stats.rates import confint_poisson

from core.results import JsonResult

CONFIDENCE = 0.95
NOT_ENOUGH_DATA: Final = "not enough data"

# BCa needs a jackknife of n medians over n - 1 points (O(n^2)); above this size the exact
# distribution-free order-statistic interval is used instead (it is also tighter to compute, not to state).
BOOTSTRAP_MAX_N = 500
BOOTSTRAP_RESAMPLES = 4999
# Barnard's exact test enumerates every 2x2 table with the observed margins: ~0.2 s at 200 x 200 episodes,
# ~7 s at 1000 x 1000. Above this product of sample sizes the score test (asymptotically exact) is used.
EXACT_TEST_MAX_TABLES = 250 * 250

# Loss categories of the OEE waterfall (issue 7), from the episode event categories of trials/models.py.
LOSS_CATEGORY_BY_EVENT: dict[str, str] = {
    "grasp_miss": "grasp",
    "drop": "grasp",
    "perception": "perception",
    "collision": "robot fault",
    "timeout": "robot fault",
    "policy_unreachable": "robot fault",
    "e_stop": "safety stop",
    "safety_stop": "safety stop",
    "other": "other",
}
UNATTRIBUTED = "unattributed"

FloatArray = npt.NDArray[np.float64]


def _num(value: Any) -> float | None:
    """A plain float for JSON, or None for missing / NaN / infinite values."""
    if value is None:
        return None
    out = float(value)
    return out if math.isfinite(out) else None


def _pct_floor(value: float) -> int:
    """Whole percent rounded down: a lower bound must never be overstated by rounding."""
    return int(math.floor(value * 100 + 1e-9))


def _pct_ceil(value: float) -> int:
    return int(math.ceil(value * 100 - 1e-9))


@dataclass(frozen=True)
class Interval(JsonResult):
    """A two-sided interval; `high` None means unbounded above (e.g. MTBI with no intervention)."""

    low: float | None
    high: float | None
    confidence: float
    method: str


# --------------------------------------------------------------------------------------------------
# Cycle time
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CycleTimeSummary(JsonResult):
    n: int
    mean_s: float | None
    median_s: float | None
    p10_s: float | None
    p90_s: float | None
    p95_s: float | None
    std_s: float | None
    cv: float | None
    min_s: float | None
    max_s: float | None
    median_ci: Interval | None
    method: str
    note: str | None = None


def _as_array(values: Sequence[float] | FloatArray) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64).ravel()
    return arr[np.isfinite(arr)]


def _median_ci(x: FloatArray, *, confidence: float, seed: int) -> Interval | None:
    n = x.size
    if n < 2 or float(np.ptp(x)) == 0.0:
        return None
    if n <= BOOTSTRAP_MAX_N:
        # Heavily tied samples make BCa's acceleration 0/0; that case falls through to the exact interval.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("ignore", DegenerateDataWarning)
            res = sps.bootstrap(
                (x,),
                np.median,
                method="BCa",
                n_resamples=BOOTSTRAP_RESAMPLES,
                confidence_level=confidence,
                vectorized=True,
                axis=-1,
                rng=np.random.default_rng(seed),
            )
        low, high = _num(res.confidence_interval.low), _num(res.confidence_interval.high)
        if low is not None and high is not None:
            return Interval(
                low=low,
                high=high,
                confidence=confidence,
                method=f"BCa bootstrap, {BOOTSTRAP_RESAMPLES} resamples, seed {seed} (scipy.stats.bootstrap)",
            )
    # Large n (or a degenerate bootstrap): exact distribution-free interval from order statistics.
    ci = sps.quantile_test(x, q=float(np.median(x)), p=0.5).confidence_interval(confidence_level=confidence)
    low, high = _num(ci.low), _num(ci.high)
    if low is None or high is None:
        return None
    return Interval(
        low=low,
        high=high,
        confidence=confidence,
        method="distribution-free order-statistic interval, binomial (scipy.stats.quantile_test)",
    )


def cycle_time_summary(
    cycle_times_s: Sequence[float] | FloatArray, *, confidence: float = CONFIDENCE, seed: int = 0
) -> CycleTimeSummary:
    """Summary of cycle times (seconds): n, mean, median, p10/p90/p95, sample std, CV and a 95% CI of the
    median (BCa bootstrap, seeded, up to BOOTSTRAP_MAX_N values; exact order-statistic interval above).

    Returns figures as None when n is too small for them (0: everything; 1: spread and interval).
    """
    x = _as_array(cycle_times_s)
    n = int(x.size)
    method = "percentiles by linear interpolation (numpy), std with n - 1"
    if n == 0:
        return CycleTimeSummary(
            0, None, None, None, None, None, None, None, None, None, median_ci=None, method=method, note=NOT_ENOUGH_DATA
        )
    mean = float(x.mean())
    p10, p50, p90, p95 = (float(v) for v in np.percentile(x, [10, 50, 90, 95]))
    std = float(x.std(ddof=1)) if n >= 2 else None
    cv = std / mean if std is not None and mean > 0 else None
    return CycleTimeSummary(
        n=n,
        mean_s=mean,
        median_s=p50,
        p10_s=p10,
        p90_s=p90,
        p95_s=p95,
        std_s=std,
        cv=cv,
        min_s=float(x.min()),
        max_s=float(x.max()),
        median_ci=_median_ci(x, confidence=confidence, seed=seed),
        method=method,
        note="one episode: no spread or interval" if n == 1 else None,
    )


@dataclass(frozen=True)
class CycleTimeDistribution(JsonResult):
    """Histogram and box-plot figures (Tukey whiskers at 1.5 IQR) for a chart; empty when n = 0."""

    n: int
    bin_edges_s: tuple[float, ...]
    counts: tuple[int, ...]
    q1_s: float | None
    median_s: float | None
    q3_s: float | None
    whisker_low_s: float | None
    whisker_high_s: float | None
    outliers: int
    method: str


MAX_HISTOGRAM_BINS = 40


def cycle_time_distribution(cycle_times_s: Sequence[float] | FloatArray) -> CycleTimeDistribution:
    """Histogram (numpy 'auto' bin width, at most MAX_HISTOGRAM_BINS bins) and box-plot figures: quartiles,
    whiskers at the furthest points within 1.5 IQR of the box (Tukey), and the count of points beyond."""
    x = _as_array(cycle_times_s)
    method = f"numpy.histogram bins='auto' (at most {MAX_HISTOGRAM_BINS}); Tukey box plot, whiskers 1.5 IQR"
    if x.size == 0:
        return CycleTimeDistribution(0, (), (), None, None, None, None, None, 0, method)
    edges = np.histogram_bin_edges(x, bins="auto")
    if edges.size - 1 > MAX_HISTOGRAM_BINS:
        edges = np.histogram_bin_edges(x, bins=MAX_HISTOGRAM_BINS)
    counts, edges = np.histogram(x, bins=edges)
    q1, med, q3 = (float(v) for v in np.percentile(x, [25, 50, 75]))
    iqr = q3 - q1
    inside = x[(x >= q1 - 1.5 * iqr) & (x <= q3 + 1.5 * iqr)]
    return CycleTimeDistribution(
        n=int(x.size),
        bin_edges_s=tuple(float(e) for e in edges),
        counts=tuple(int(c) for c in counts),
        q1_s=q1,
        median_s=med,
        q3_s=q3,
        whisker_low_s=float(inside.min()),
        whisker_high_s=float(inside.max()),
        outliers=int(x.size - inside.size),
        method=method,
    )


TaktVerdictLabel = Literal["meets takt", "misses takt", "inconclusive", "not enough data"]


@dataclass(frozen=True)
class TaktVerdict(JsonResult):
    verdict: TaktVerdictLabel
    takt_time_s: float
    quantile: float
    n: int
    quantile_estimate_s: float | None
    upper_bound_s: float | None
    lower_bound_s: float | None
    p_value_meets: float | None
    share_within_takt: float | None
    share_within_takt_ci: Interval | None
    confidence: float
    min_n_for_claim: int
    statement: str
    method: str


def takt_verdict(
    cycle_times_s: Sequence[float] | FloatArray,
    *,
    takt_time_s: float,
    quantile: float = 0.9,
    confidence: float = CONFIDENCE,
) -> TaktVerdict:
    """Does the `quantile` (default p90) of cycle time meet takt, at `confidence`?

    "meets takt" when the one-sided upper confidence bound of the quantile is <= takt, "misses takt" when
    the one-sided lower bound is > takt, otherwise "inconclusive". The bounds are exact and
    distribution-free (binomial on order statistics, scipy.stats.quantile_test), so they need at least
    `min_n_for_claim` cycles (29 for p90 at 95%). Raises ValueError on a non-positive takt or bad quantile.
    """
    if not takt_time_s > 0:
        raise ValueError("takt_time_s must be positive")
    if not 0 < quantile < 1:
        raise ValueError("quantile must be in (0, 1)")
    x = _as_array(cycle_times_s)
    n = int(x.size)
    # Fewest cycles whose maximum bounds the quantile: the success-run formula with R = quantile.
    min_n = success_run_plan(target_success=quantile, confidence=confidence).episodes_needed
    q_label = f"p{round(quantile * 100)}"
    method = (
        f"one-sided exact order-statistic bounds of {q_label} (scipy.stats.quantile_test); share within takt: Wilson"
    )
    if n == 0:
        return TaktVerdict(
            verdict=NOT_ENOUGH_DATA,
            takt_time_s=takt_time_s,
            quantile=quantile,
            n=0,
            quantile_estimate_s=None,
            upper_bound_s=None,
            lower_bound_s=None,
            p_value_meets=None,
            share_within_takt=None,
            share_within_takt_ci=None,
            confidence=confidence,
            min_n_for_claim=min_n,
            statement=f"No cycle recorded ({NOT_ENOUGH_DATA}); at least {min_n} cycles are needed to bound {q_label} at {confidence:.0%}.",
            method=method,
        )
    less = sps.quantile_test(x, q=takt_time_s, p=quantile, alternative="less")
    greater = sps.quantile_test(x, q=takt_time_s, p=quantile, alternative="greater")
    upper = _num(less.confidence_interval(confidence_level=confidence).high)
    lower = _num(greater.confidence_interval(confidence_level=confidence).low)
    within = int((x <= takt_time_s).sum())
    wl, wh = proportion_confint(within, n, alpha=1 - confidence, method="wilson")
    estimate = float(np.percentile(x, quantile * 100))
    conf = f"{confidence:.0%}"
    if upper is not None and upper <= takt_time_s:
        verdict: TaktVerdictLabel = "meets takt"
        statement = (
            f"Meets takt: {q_label} cycle time is at most {upper:.1f} s <= takt {takt_time_s:.1f} s "
            f"at {conf} confidence (n = {n})."
        )
    elif lower is not None and lower > takt_time_s:
        verdict = "misses takt"
        statement = (
            f"Misses takt: {q_label} cycle time is at least {lower:.1f} s > takt {takt_time_s:.1f} s "
            f"at {conf} confidence (n = {n})."
        )
    else:
        verdict = "inconclusive"
        more = f"; at least {min_n} cycles are needed for a claim" if n < min_n else ""
        statement = (
            f"Inconclusive: {q_label} cycle time {estimate:.1f} s vs takt {takt_time_s:.1f} s cannot be "
            f"separated at {conf} confidence (n = {n}{more})."
        )
    return TaktVerdict(
        verdict=verdict,
        takt_time_s=takt_time_s,
        quantile=quantile,
        n=n,
        quantile_estimate_s=estimate,
        upper_bound_s=upper,
        lower_bound_s=lower,
        p_value_meets=_num(less.pvalue),
        share_within_takt=within / n,
        share_within_takt_ci=Interval(_num(wl), _num(wh), confidence, "Wilson score (statsmodels)"),
        confidence=confidence,
        min_n_for_claim=min_n,
        statement=statement,
        method=method,
    )


# --------------------------------------------------------------------------------------------------
# Reliability
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SuccessRate(JsonResult):
    n: int
    successes: int
    failures: int
    rate: float | None
    interval: Interval | None
    lower_bound: float | None
    lower_bound_confidence: float
    claim: str
    method: str


def wilson_interval(*, successes: int, n: int, confidence: float = CONFIDENCE) -> Interval | None:
    """Wilson score interval of a binomial proportion (statsmodels), or None when n = 0."""
    if n <= 0:
        return None
    low, high = proportion_confint(successes, n, alpha=1 - confidence, method="wilson")
    return Interval(_num(low), _num(high), confidence, "Wilson score (statsmodels proportion_confint)")


def clopper_pearson_lower(*, successes: int, n: int, confidence: float = CONFIDENCE) -> float | None:
    """One-sided exact (Clopper-Pearson) lower confidence bound of a proportion; None when n = 0.

    A one-sided bound at C is the lower end of the two-sided interval at 1 - 2(1 - C).
    """
    if n <= 0:
        return None
    low, _ = proportion_confint(successes, n, alpha=2 * (1 - confidence), method="beta")
    return float(low)


def success_rate(*, successes: int, n: int, confidence: float = CONFIDENCE) -> SuccessRate:
    """Success rate with a Wilson interval (to display) and a one-sided exact lower bound (for claims),
    with the claim as a sentence: "at least 86% success at 95% confidence, exact binomial, n = 20".

    Raises ValueError when successes is outside [0, n].
    """
    if n < 0 or not 0 <= successes <= n:
        raise ValueError("need 0 <= successes <= n")
    method = "Wilson score interval (display); one-sided Clopper-Pearson exact lower bound (claims)"
    if n == 0:
        return SuccessRate(0, 0, 0, None, None, None, confidence, f"No episode recorded: {NOT_ENOUGH_DATA}.", method)
    lower = float(proportion_confint(successes, n, alpha=2 * (1 - confidence), method="beta")[0])
    claim = f"at least {_pct_floor(lower)}% success at {confidence:.0%} confidence, exact binomial, n = {n}"
    return SuccessRate(
        n=n,
        successes=successes,
        failures=n - successes,
        rate=successes / n,
        interval=wilson_interval(successes=successes, n=n, confidence=confidence),
        lower_bound=lower,
        lower_bound_confidence=confidence,
        claim=claim,
        method=method,
    )


@dataclass(frozen=True)
class InterventionRate(JsonResult):
    interventions: int
    operating_hours: float
    per_hour: float | None
    per_hour_ci: Interval | None
    mtbi_h: float | None
    mtbi_ci_h: Interval | None
    mtbi_lower_bound_h: float | None
    confidence: float
    statement: str
    method: str


def intervention_rate(
    *, interventions: int, operating_hours: float, confidence: float = CONFIDENCE
) -> InterventionRate:
    """Interventions per operating hour with the exact chi-square (Garwood) interval, and mean time between
    interventions (MTBI = hours / interventions) with the reciprocal interval and a one-sided lower bound.

    With no intervention, MTBI is unbounded above (None) but still has a lower bound. Returns None figures
    when there are no operating hours. Raises ValueError on negative inputs.
    """
    if interventions < 0 or operating_hours < 0:
        raise ValueError("interventions and operating_hours must be non-negative")
    method = "Poisson exact chi-square interval (statsmodels confint_poisson 'exact-c'); MTBI = hours / interventions"
    if operating_hours == 0:
        return InterventionRate(
            interventions,
            0.0,
            None,
            None,
            None,
            None,
            None,
            confidence,
            f"No operating time: {NOT_ENOUGH_DATA}.",
            method,
        )
    low, high = confint_poisson(interventions, operating_hours, method="exact-c", alpha=1 - confidence)
    low_f, high_f = float(low), float(high)
    # One-sided upper rate bound at C is the two-sided upper bound at 1 - 2(1 - C): chi2(C, 2k + 2) / 2T.
    _, one_sided_high = confint_poisson(interventions, operating_hours, method="exact-c", alpha=2 * (1 - confidence))
    mtbi_lower = 1.0 / float(one_sided_high)
    rate = interventions / operating_hours
    mtbi = operating_hours / interventions if interventions else None
    statement = (
        f"{interventions} interventions in {operating_hours:.2f} operating hours: MTBI at least "
        f"{mtbi_lower:.2f} h at {confidence:.0%} confidence (chi-square)."
    )
    return InterventionRate(
        interventions=interventions,
        operating_hours=operating_hours,
        per_hour=rate,
        per_hour_ci=Interval(_num(low_f), _num(high_f), confidence, "chi-square (exact Poisson)"),
        mtbi_h=mtbi,
        mtbi_ci_h=Interval(
            _num(1.0 / high_f), _num(1.0 / low_f) if low_f > 0 else None, confidence, "reciprocal of the rate interval"
        ),
        mtbi_lower_bound_h=_num(mtbi_lower),
        confidence=confidence,
        statement=statement,
        method=method,
    )


def longest_run(flags: Sequence[bool] | npt.NDArray[np.bool_], *, groups: npt.ArrayLike | None = None) -> int:
    """Length of the longest run of consecutive True values; a run never spans a change of `groups`
    (e.g. trial ids, so runs do not join across trials). Vectorised: O(n) in numpy."""
    f = np.asarray(flags, dtype=bool).ravel()
    if f.size == 0:
        return 0
    idx = np.arange(f.size)
    last_break = np.where(~f, idx, -1)
    if groups is not None:
        g = np.asarray(groups).ravel()
        new_group = np.empty(f.size, dtype=bool)
        new_group[0] = True
        np.not_equal(g[1:], g[:-1], out=new_group[1:])
        # A group start behaves as if the previous position were a break.
        last_break = np.maximum(last_break, np.where(new_group, idx - 1, -1))
    runs = idx - np.maximum.accumulate(last_break)
    return int(runs.max())


@dataclass(frozen=True)
class ParetoBar(JsonResult):
    category: str
    count: int
    share: float
    cumulative_share: float


def pareto(counts: Mapping[str, int]) -> tuple[ParetoBar, ...]:
    """Categories by descending count (ties by name) with share and cumulative share; zero counts dropped."""
    items = sorted(((k, int(v)) for k, v in counts.items() if v > 0), key=lambda kv: (-kv[1], kv[0]))
    total = sum(v for _, v in items)
    bars, cumulative = [], 0
    for category, count in items:
        cumulative += count
        bars.append(ParetoBar(category, count, count / total, cumulative / total))
    return tuple(bars)


# --------------------------------------------------------------------------------------------------
# Throughput and OEE
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Throughput(JsonResult):
    time_per_good_part_s: float | None
    time_per_good_part_range_s: Interval | None
    good_parts_per_hour: float | None
    mean_attempt_cycle_s: float | None
    interventions_per_attempt: float | None
    recovery_time_s: float
    success_rate: float | None
    n: int
    method: str
    note: str | None = None


def effective_throughput(
    *,
    mean_attempt_cycle_s: float | None,
    interventions_per_attempt: float | None,
    recovery_time_s: float,
    success: SuccessRate,
) -> Throughput:
    """Time per good part = (attempt cycle + interventions per attempt x recovery time) / success rate, and
    good parts per hour; the range applies the Wilson interval of the success rate (worst and best case).

    Returns None figures when there is no attempt; time per good part None (and 0 parts/h) with no success.
    """
    method = "(attempt cycle + interventions per attempt x recovery time) / success rate; range from Wilson interval"

    def result(
        per_good: float | None, interval: Interval | None, per_hour: float | None, note: str | None
    ) -> Throughput:
        return Throughput(
            time_per_good_part_s=per_good,
            time_per_good_part_range_s=interval,
            good_parts_per_hour=per_hour,
            mean_attempt_cycle_s=mean_attempt_cycle_s,
            interventions_per_attempt=interventions_per_attempt,
            recovery_time_s=recovery_time_s,
            success_rate=success.rate,
            n=success.n,
            method=method,
            note=note,
        )

    if success.n == 0 or mean_attempt_cycle_s is None or interventions_per_attempt is None:
        return result(None, None, None, NOT_ENOUGH_DATA)
    per_attempt = mean_attempt_cycle_s + interventions_per_attempt * recovery_time_s
    if not success.rate:
        return result(None, None, 0.0, "no successful episode: no good part")
    per_good = per_attempt / success.rate
    interval = None
    if success.interval and success.interval.low is not None and success.interval.high:
        interval = Interval(
            low=per_attempt / success.interval.high,
            high=per_attempt / success.interval.low if success.interval.low > 0 else None,
            confidence=success.interval.confidence,
            method="attempt time divided by the Wilson bounds of the success rate",
        )
    return result(per_good, interval, 3600.0 / per_good if per_good > 0 else None, None)


@dataclass(frozen=True)
class WaterfallStep(JsonResult):
    label: str
    factor: Literal["planned", "availability", "performance", "quality", "result"]
    seconds: float


@dataclass(frozen=True)
class OEEBreakdown(JsonResult):
    availability: float
    performance: float
    quality: float
    oee: float
    planned_time_s: float
    run_time_s: float
    ideal_cycle_time_s: float
    attempts: int
    good: int
    waterfall: tuple[WaterfallStep, ...]
    method: str


def oee_breakdown(
    *,
    attempt_time_s: float,
    attempts: int,
    good: int,
    ideal_cycle_time_s: float,
    downtime_s: float,
    failed_by_category: Mapping[str, int],
) -> OEEBreakdown | None:
    """Availability x performance x quality and a loss waterfall in seconds of planned time.

    Planned time = attempt time + downtime (operator recovery); A = attempt time / planned time;
    P = ideal cycle x attempts / attempt time, capped at 1; Q = good / attempts. The waterfall starts at the
    planned time and subtracts operator recovery (A), speed (P) and failed attempts (Q) split by loss
    category in proportion to `failed_by_category` (any remainder "unattributed"), ending at the good output
    (planned x OEE). Returns None when there is no attempt or no time. Raises ValueError on bad inputs.
    """
    if attempts < 0 or not 0 <= good <= attempts or downtime_s < 0 or attempt_time_s < 0 or ideal_cycle_time_s <= 0:
        raise ValueError("invalid OEE inputs")
    planned = attempt_time_s + downtime_s
    if attempts == 0 or attempt_time_s == 0 or planned == 0:
        return None
    a = attempt_time_s / planned
    p = min(1.0, ideal_cycle_time_s * attempts / attempt_time_s)
    q = good / attempts
    steps = [WaterfallStep("planned time", "planned", planned)]
    steps.append(WaterfallStep("operator recovery", "availability", -planned * (1 - a)))
    steps.append(WaterfallStep("speed", "performance", -planned * a * (1 - p)))
    failed = attempts - good
    quality_loss = planned * a * p * (1 - q)
    if failed:
        counted = {k: v for k, v in failed_by_category.items() if v > 0}
        rest = failed - sum(counted.values())
        if rest > 0:
            counted[UNATTRIBUTED] = counted.get(UNATTRIBUTED, 0) + rest
        total = sum(counted.values())
        for label, count in sorted(counted.items(), key=lambda kv: (-kv[1], kv[0])):
            steps.append(WaterfallStep(label, "quality", -quality_loss * count / total))
    steps.append(WaterfallStep("good output", "result", planned * a * p * q))
    return OEEBreakdown(
        availability=a,
        performance=p,
        quality=q,
        oee=a * p * q,
        planned_time_s=planned,
        run_time_s=attempt_time_s,
        ideal_cycle_time_s=ideal_cycle_time_s,
        attempts=attempts,
        good=good,
        waterfall=tuple(steps),
        method="OEE = A x P x Q; planned = attempts' time + operator recovery; ideal cycle = takt",
    )


# --------------------------------------------------------------------------------------------------
# Planning and stopping
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrialPlan(JsonResult):
    target_success: float
    confidence: float
    failures_allowed: int
    episodes_needed: int
    mean_cycle_time_s: float | None
    robot_hours: float | None
    statement: str
    method: str
    cycle_time_source: str | None = None  # which episodes the mean cycle time came from, when measured
    measured_success: SuccessRate | None = None  # the same source's success so far, when measured


MAX_PLANNED_EPISODES = 10_000_000


def pct_exact(share: float) -> str:
    """A share as a percentage with as many decimals (up to two) as it needs: 0.9 -> '90%',
    0.999 -> '99.9%', 0.9999 -> '99.99%' (never '100%' for a share below 1)."""
    for decimals in range(3):
        text = f"{100 * share:.{decimals}f}"
        if float(text) == round(100 * share, 6) or decimals == 2:
            return f"{text}%"
    return f"{100 * share:.2f}%"


def _claim_met(n: int, *, failures: int, target: float, confidence: float) -> bool:
    # BinomCDF(c; n, 1 - R) <= 1 - C; the tolerance keeps exact ties (e.g. R = 0.5, C = 0.75) on the right side.
    return float(sps.binom.cdf(failures, n, 1 - target)) <= (1 - confidence) * (1 + 1e-12)


def success_run_plan(
    *,
    target_success: float,
    confidence: float = CONFIDENCE,
    failures_allowed: int = 0,
    mean_cycle_time_s: float | None = None,
) -> TrialPlan:
    """Smallest number of episodes that shows success >= `target_success` at `confidence` when at most
    `failures_allowed` of them fail: the smallest n with BinomCDF(c; n, 1 - R) <= 1 - C (c = 0 is the
    success-run formula n = ceil(ln(1 - C) / ln R)). Robot-hours = n x mean cycle time when given.

    Raises ValueError when R or C is outside (0, 1), c < 0, or n would exceed MAX_PLANNED_EPISODES.
    """
    if not 0 < target_success < 1 or not 0 < confidence < 1:
        raise ValueError("target_success and confidence must be in (0, 1)")
    if failures_allowed < 0:
        raise ValueError("failures_allowed must be >= 0")
    c = failures_allowed
    lo, hi = c + 1, c + 1
    while not _claim_met(hi, failures=c, target=target_success, confidence=confidence):
        lo, hi = hi + 1, hi * 2
        if hi > MAX_PLANNED_EPISODES * 2:
            raise ValueError("the claim needs more than 10 million episodes")
    while lo < hi:  # the binomial CDF falls as n grows: bisect for the first n meeting the claim
        mid = (lo + hi) // 2
        if _claim_met(mid, failures=c, target=target_success, confidence=confidence):
            hi = mid
        else:
            lo = mid + 1
    n = lo
    if n > MAX_PLANNED_EPISODES:
        raise ValueError("the claim needs more than 10 million episodes")
    hours = n * mean_cycle_time_s / 3600 if mean_cycle_time_s is not None else None
    # Robot-hours to two decimals everywhere they are shown (the page repeats this figure).
    time_part = (
        f" (about {hours:.2f} robot-hours at {mean_cycle_time_s:.1f} s per episode)" if hours is not None else ""
    )
    statement = (
        f"Run {n:,} episodes{time_part} with {'no failure' if c == 0 else f'at most {c} failures'} to show "
        f"at least {pct_exact(target_success)} success at {pct_exact(confidence)} confidence."
    )
    method = "success-run / binomial: smallest n with BinomCDF(c; n, 1 - R) <= 1 - C (scipy.stats.binom)"
    return TrialPlan(target_success, confidence, c, n, mean_cycle_time_s, hours, statement, method)


SequentialLabel = Literal["pass", "fail", "keep going"]


@dataclass(frozen=True)
class SequentialVerdict(JsonResult):
    verdict: SequentialLabel
    n: int
    successes: int
    failures: int
    acceptable_success: float
    rejectable_success: float
    alpha: float
    beta: float
    log_likelihood_ratio: float
    pass_threshold: float
    fail_threshold: float
    successes_to_pass: int | None
    statement: str
    method: str
    decided_at_n: int | None = None


def sprt_binomial(
    *,
    successes: int,
    failures: int,
    acceptable_success: float,
    rejectable_success: float,
    alpha: float = 0.05,
    beta: float = 0.10,
) -> SequentialVerdict:
    """Wald's sequential probability ratio test (Wald 1945) on episode outcomes so far.

    H0: success = rejectable_success vs H1: success = acceptable_success (> rejectable). "pass" when
    log LR >= ln((1 - beta) / alpha) (a policy at the rejectable level passes with probability <= alpha),
    "fail" when log LR <= ln(beta / (1 - alpha)), else "keep going". Checking after every episode is what
    the test is designed for, so stopping at the first verdict is honest. `successes_to_pass` is how many
    more consecutive successes would reach "pass". Raises ValueError on invalid levels or counts.
    """
    p1, p0 = acceptable_success, rejectable_success
    if not 0 < p0 < p1 < 1:
        raise ValueError("need 0 < rejectable_success < acceptable_success < 1")
    if not 0 < alpha < 1 or not 0 < beta < 1 or alpha + beta >= 1:
        raise ValueError("alpha and beta must be in (0, 1) with alpha + beta < 1")
    if successes < 0 or failures < 0:
        raise ValueError("counts must be non-negative")
    up = math.log(p1 / p0)  # evidence per success (> 0)
    down = math.log((1 - p1) / (1 - p0))  # evidence per failure (< 0)
    llr = successes * up + failures * down
    a_bound = math.log((1 - beta) / alpha)
    b_bound = math.log(beta / (1 - alpha))
    n = successes + failures
    if llr >= a_bound:
        verdict: SequentialLabel = "pass"
        statement = f"Pass: {successes}/{n} successes favour {p1:.0%} over {p0:.0%} (SPRT, alpha {alpha}, beta {beta})."
    elif llr <= b_bound:
        verdict = "fail"
        statement = f"Fail: {successes}/{n} successes favour {p0:.0%} over {p1:.0%} (SPRT, alpha {alpha}, beta {beta})."
    else:
        verdict = "keep going"
        more = math.ceil((a_bound - llr) / up - 1e-12)
        statement = (
            f"Keep going: {successes}/{n} successes do not yet decide between {p1:.0%} and {p0:.0%}; "
            f"{more} more consecutive successes would pass."
        )
    to_pass = None if verdict != "keep going" else math.ceil((a_bound - llr) / up - 1e-12)
    return SequentialVerdict(
        verdict, n, successes, failures, p1, p0, alpha, beta, llr, a_bound, b_bound, to_pass, statement,
        "Wald SPRT for a Bernoulli success probability",
    )  # fmt: skip


def sprt_sequence(
    outcomes: Sequence[bool] | npt.NDArray[np.bool_],
    *,
    acceptable_success: float,
    rejectable_success: float,
    alpha: float = 0.05,
    beta: float = 0.10,
) -> SequentialVerdict:
    """Wald's SPRT replayed over outcomes in the order they were recorded (True = success).

    Returns the verdict at the first episode whose cumulative log likelihood ratio crosses a boundary
    (`decided_at_n` says which): episodes run after that do not change an honest sequential decision.
    If no boundary is crossed, the "keep going" verdict on all outcomes. Raises ValueError like
    `sprt_binomial`.
    """
    flags = np.asarray(outcomes, dtype=bool).ravel()
    current = sprt_binomial(
        successes=int(flags.sum()),
        failures=int(flags.size - flags.sum()),
        acceptable_success=acceptable_success,
        rejectable_success=rejectable_success,
        alpha=alpha,
        beta=beta,
    )
    if flags.size == 0:
        return current
    up = math.log(acceptable_success / rejectable_success)
    down = math.log((1 - acceptable_success) / (1 - rejectable_success))
    path = np.cumsum(np.where(flags, up, down))
    crossed = np.flatnonzero((path >= current.pass_threshold) | (path <= current.fail_threshold))
    if crossed.size == 0:
        return current
    n = int(crossed[0]) + 1
    s = int(flags[:n].sum())
    first = sprt_binomial(
        successes=s,
        failures=n - s,
        acceptable_success=acceptable_success,
        rejectable_success=rejectable_success,
        alpha=alpha,
        beta=beta,
    )
    later = f" (decided at episode {n} of {flags.size})" if n < flags.size else ""
    return replace(first, statement=first.statement + later, decided_at_n=n)


# --------------------------------------------------------------------------------------------------
# Acceptance (FAT / SAT / run-off criteria)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AcceptanceRule(JsonResult):
    """Criteria attached to a task; None means "not required". Cycle time criterion: the `cycle_time_quantile`
    of successful cycles is <= `cycle_time_max_s` at `confidence` (exact order-statistic bound)."""

    min_success_lower_bound: float | None = None
    consecutive_without_intervention: int | None = None
    mtbi_lower_bound_h: float | None = None
    cycle_time_max_s: float | None = None
    cycle_time_quantile: float = 0.9
    confidence: float = CONFIDENCE

    def __post_init__(self) -> None:
        if self.min_success_lower_bound is not None and not 0 < self.min_success_lower_bound < 1:
            raise ValueError("min_success_lower_bound must be in (0, 1)")
        if self.consecutive_without_intervention is not None and self.consecutive_without_intervention < 1:
            raise ValueError("consecutive_without_intervention must be >= 1")
        if self.mtbi_lower_bound_h is not None and not self.mtbi_lower_bound_h > 0:
            raise ValueError("mtbi_lower_bound_h must be positive")
        if self.cycle_time_max_s is not None and not self.cycle_time_max_s > 0:
            raise ValueError("cycle_time_max_s must be positive")
        if not 0 < self.cycle_time_quantile < 1 or not 0 < self.confidence < 1:
            raise ValueError("cycle_time_quantile and confidence must be in (0, 1)")


@dataclass(frozen=True)
class AcceptanceCheck(JsonResult):
    criterion: str
    required: float
    measured: float | None
    passed: bool
    evidence: str


@dataclass(frozen=True)
class AcceptanceResult(JsonResult):
    passed: bool
    n: int
    checks: tuple[AcceptanceCheck, ...]
    statement: str


def acceptance_evaluate(
    *,
    criteria: AcceptanceRule,
    success: SuccessRate,
    interventions: InterventionRate,
    longest_clean_run: int,
    cycle_times_s: Sequence[float] | FloatArray,
) -> AcceptanceResult:
    """Evaluate each required criterion as pass/fail with its evidence sentence. A criterion without enough
    data fails (acceptance needs evidence, not its absence); with no criterion at all the result passes
    vacuously and says so."""
    checks: list[AcceptanceCheck] = []
    conf = criteria.confidence
    if criteria.min_success_lower_bound is not None:
        lower = clopper_pearson_lower(successes=success.successes, n=success.n, confidence=conf)
        need = criteria.min_success_lower_bound
        checks.append(
            AcceptanceCheck(
                "success lower bound",
                need,
                lower,
                lower is not None and lower >= need,
                f"exact one-sided lower bound {lower:.1%} at {conf:.0%} confidence (n = {success.n}) "
                f"vs required {need:.1%}"
                if lower is not None
                else f"no episode: {NOT_ENOUGH_DATA}",
            )
        )
    if criteria.consecutive_without_intervention is not None:
        need_run = criteria.consecutive_without_intervention
        checks.append(
            AcceptanceCheck(
                "consecutive cycles without intervention",
                float(need_run),
                float(longest_clean_run),
                longest_clean_run >= need_run,
                f"longest run of successful cycles without intervention: {longest_clean_run} (required {need_run})",
            )
        )
    if criteria.mtbi_lower_bound_h is not None:
        mtbi = (
            intervention_rate(
                interventions=interventions.interventions,
                operating_hours=interventions.operating_hours,
                confidence=conf,
            )
            if interventions.operating_hours > 0
            else None
        )
        bound = mtbi.mtbi_lower_bound_h if mtbi else None
        need_h = criteria.mtbi_lower_bound_h
        checks.append(
            AcceptanceCheck(
                "MTBI lower bound",
                need_h,
                bound,
                bound is not None and bound >= need_h,
                f"MTBI at least {bound:.2f} h at {conf:.0%} confidence ({interventions.interventions} interventions "
                f"in {interventions.operating_hours:.2f} h, chi-square) vs required {need_h:.2f} h"
                if bound is not None
                else f"no operating time: {NOT_ENOUGH_DATA}",
            )
        )
    if criteria.cycle_time_max_s is not None:
        verdict = takt_verdict(
            cycle_times_s,
            takt_time_s=criteria.cycle_time_max_s,
            quantile=criteria.cycle_time_quantile,
            confidence=conf,
        )
        checks.append(
            AcceptanceCheck(
                f"cycle time p{round(criteria.cycle_time_quantile * 100)} upper bound",
                criteria.cycle_time_max_s,
                verdict.upper_bound_s,
                verdict.verdict == "meets takt",
                verdict.statement.replace("takt", "the limit"),
            )
        )
    passed = all(c.passed for c in checks)
    if not checks:
        statement = "No acceptance criterion set."
    elif passed:
        statement = f"Accepted: all {len(checks)} criteria met (n = {success.n})."
    else:
        failed = ", ".join(c.criterion for c in checks if not c.passed)
        statement = f"Not accepted (n = {success.n}): {failed}."
    return AcceptanceResult(passed=passed, n=success.n, checks=tuple(checks), statement=statement)


# --------------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SuccessComparison(JsonResult):
    n_a: int
    successes_a: int
    n_b: int
    successes_b: int
    rate_a: float | None
    rate_b: float | None
    difference: float | None
    difference_ci: Interval | None
    p_value: float | None
    significant: bool | None
    verdict: str
    method: str


def compare_success(
    *, successes_a: int, n_a: int, successes_b: int, n_b: int, alpha: float = 0.05, labels: tuple[str, str] = ("A", "B")
) -> SuccessComparison:
    """Is B's success rate different from A's? Barnard's exact test (scipy; the score test from statsmodels
    above EXACT_TEST_MAX_TABLES) and a Newcombe hybrid-score interval for the difference B - A.

    The verdict says "no evidence of a difference" unless p < alpha. Needs n >= 1 in both groups,
    otherwise figures are None and the verdict says not enough data.
    """
    la, lb = labels
    if n_a <= 0 or n_b <= 0:
        method = "Barnard's exact test; Newcombe interval"
        return SuccessComparison(
            n_a, successes_a, n_b, successes_b, successes_a / n_a if n_a else None,
            successes_b / n_b if n_b else None, None, None, None, None,
            f"Not enough data: both {la} and {lb} need at least one episode.", method,
        )  # fmt: skip
    rate_a, rate_b = successes_a / n_a, successes_b / n_b
    table = [[successes_b, successes_a], [n_b - successes_b, n_a - successes_a]]
    if n_a * n_b <= EXACT_TEST_MAX_TABLES:
        p_value = _num(sps.barnard_exact(table, alternative="two-sided").pvalue)
        test = "Barnard's exact test (scipy.stats.barnard_exact)"
    else:
        _, p = test_proportions_2indep(successes_b, n_b, successes_a, n_a, method="score", compare="diff")
        p_value = _num(p)
        test = "score test (statsmodels test_proportions_2indep; too many tables for Barnard's exact test)"
    if p_value is None:  # identical degenerate tables (e.g. all successes on both sides)
        p_value = 1.0
    low, high = confint_proportions_2indep(
        successes_b, n_b, successes_a, n_a, method="newcomb", compare="diff", alpha=alpha
    )
    diff = rate_b - rate_a
    interval = Interval(_num(low), _num(high), 1 - alpha, "Newcombe hybrid score (statsmodels, method='newcomb')")
    significant = p_value < alpha
    ci_text = f"95% CI {float(low) * 100:+.0f} to {float(high) * 100:+.0f} points"
    if significant:
        direction = "higher" if diff > 0 else "lower"
        verdict = (
            f"{lb}'s success rate is {direction} than {la}'s: {rate_b:.0%} (n = {n_b}) vs {rate_a:.0%} "
            f"(n = {n_a}), difference {diff * 100:+.0f} points ({ci_text}, p = {p_value:.3g})."
        )
    else:
        verdict = (
            f"No evidence of a difference in success rate: {lb} {rate_b:.0%} (n = {n_b}) vs {la} {rate_a:.0%} "
            f"(n = {n_a}), difference {diff * 100:+.0f} points ({ci_text}, p = {p_value:.3g})."
        )
    return SuccessComparison(
        n_a, successes_a, n_b, successes_b, rate_a, rate_b, diff, interval, p_value, significant, verdict,
        f"{test}; Newcombe interval for {lb} - {la}",
    )  # fmt: skip


@dataclass(frozen=True)
class CycleTimeComparison(JsonResult):
    n_a: int
    n_b: int
    median_a_s: float | None
    median_b_s: float | None
    statistic: float | None
    p_value: float | None
    significant: bool | None
    verdict: str
    method: str
    # Hodges-Lehmann estimate of the shift B - A (median of all pairwise differences) and its
    # distribution-free confidence interval (the Mann-Whitney inversion); None without data.
    shift_s: float | None = None
    shift_interval: Interval | None = None


# Pairwise differences above this count are estimated from an evenly spaced subsample of each group
# (sorted, so every quantile stays represented): 10,000 x 10,000 cycles would need 800 MB.
SHIFT_MAX_PAIRS = 4_000_000


def hodges_lehmann_shift(
    a_s: Sequence[float] | FloatArray, b_s: Sequence[float] | FloatArray, *, confidence: float = CONFIDENCE
) -> tuple[float, Interval] | None:
    """The Hodges-Lehmann shift B - A and its confidence interval: the median of the m x n differences
    b - a, and the k-th smallest and largest of them, with k from the normal approximation of the
    Mann-Whitney statistic, k = floor(mn/2 - z sqrt(mn(m+n+1)/12)) (Hollander, Wolfe & Chicken,
    Nonparametric Statistical Methods, 3rd ed., section 4.3). None when either group is empty."""
    a, b = np.sort(_as_array(a_s)), np.sort(_as_array(b_s))
    if a.size == 0 or b.size == 0:
        return None
    method = "Hodges-Lehmann shift with the Mann-Whitney confidence interval (normal approximation)"
    if a.size * b.size > SHIFT_MAX_PAIRS:
        side = int(np.sqrt(SHIFT_MAX_PAIRS))
        a = a[np.linspace(0, a.size - 1, min(a.size, side)).round().astype(int)]
        b = b[np.linspace(0, b.size - 1, min(b.size, side)).round().astype(int)]
        method += f", from evenly spaced subsamples of {a.size} and {b.size} cycles"
    m, n = a.size, b.size
    diffs = np.sort((b[None, :] - a[:, None]).ravel())
    z = float(sps.norm.ppf(0.5 + confidence / 2))
    k = int(np.floor(m * n / 2 - z * np.sqrt(m * n * (m + n + 1) / 12)))
    if k < 1:
        interval = Interval(None, None, confidence, method + "; too few cycles for an interval")
    else:
        interval = Interval(float(diffs[k - 1]), float(diffs[m * n - k]), confidence, method)
    return float(np.median(diffs)), interval


def compare_cycle_times(
    a_s: Sequence[float] | FloatArray,
    b_s: Sequence[float] | FloatArray,
    *,
    alpha: float = 0.05,
    labels: tuple[str, str] = ("A", "B"),
) -> CycleTimeComparison:
    """Two-sided Mann-Whitney U test of cycle times (scipy.stats.mannwhitneyu) with both medians.
    Needs at least one cycle in each group; the verdict says "no evidence of a difference" unless p < alpha."""
    a, b = _as_array(a_s), _as_array(b_s)
    la, lb = labels
    method = "Mann-Whitney U, two-sided (scipy.stats.mannwhitneyu)"
    med_a = float(np.median(a)) if a.size else None
    med_b = float(np.median(b)) if b.size else None
    if a.size == 0 or b.size == 0:
        return CycleTimeComparison(
            int(a.size), int(b.size), med_a, med_b, None, None, None,
            f"Not enough data: both {la} and {lb} need at least one successful cycle.", method,
        )  # fmt: skip
    res = sps.mannwhitneyu(b, a, alternative="two-sided")
    p_value = _num(res.pvalue)
    p_value = 1.0 if p_value is None else p_value
    significant = p_value < alpha
    med_a, med_b = float(np.median(a)), float(np.median(b))
    if significant:
        direction = "faster" if med_b < med_a else "slower"
        verdict = (
            f"{lb} is {direction} than {la}: median {med_b:.1f} s (n = {b.size}) vs {med_a:.1f} s "
            f"(n = {a.size}), p = {p_value:.3g}."
        )
    else:
        verdict = (
            f"No evidence of a difference in cycle time: median {lb} {med_b:.1f} s (n = {b.size}) vs "
            f"{la} {med_a:.1f} s (n = {a.size}), p = {p_value:.3g}."
        )
    shift = hodges_lehmann_shift(a, b)
    return CycleTimeComparison(
        int(a.size), int(b.size), med_a, med_b, _num(res.statistic), p_value, significant, verdict, method,
        shift_s=shift[0] if shift else None, shift_interval=shift[1] if shift else None,
    )  # fmt: skip


# --------------------------------------------------------------------------------------------------
# Stage funnel: how far episodes got
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunnelStage(JsonResult):
    """Stage `stage` (1-based) of the task: `reached` of the funnel's n episodes got at least this far;
    `stopped_before` reached the previous stage but not this one (where the policy lost them)."""

    stage: int
    name: str
    reached: int
    share: float | None
    interval: Interval | None
    stopped_before: int


@dataclass(frozen=True)
class StageFunnel(JsonResult):
    n: int  # episodes that reported how far they got
    n_unreported: int  # counted episodes without a stage (not in n)
    stages: tuple[FunnelStage, ...]
    progress_n: int
    mean_progress: float | None
    progress_interval: Interval | None
    method: str
    note: str | None


def _stage_name(names: Sequence[str], stage: int) -> str:
    return names[stage - 1] if stage - 1 < len(names) else f"stage {stage}"


def _mean_t_interval(
    *, n: int, total: float, total_sq: float, confidence: float
) -> tuple[float | None, Interval | None]:
    """Mean and Student-t interval of values in [0, 1] from n, their sum and sum of squares."""
    if n == 0:
        return None, None
    mean = total / n
    if n < 2:
        return mean, None
    variance = max((total_sq - n * mean * mean) / (n - 1), 0.0)
    half = float(sps.t.ppf((1 + confidence) / 2, df=n - 1)) * math.sqrt(variance / n)
    method = "Student t on the mean (clipped to [0, 1])"
    return mean, Interval(max(0.0, mean - half), min(1.0, mean + half), confidence, method)


def stage_funnel(
    *,
    stage_counts: Mapping[int, int],
    stage_names: Sequence[str] = (),
    unreported: int = 0,
    progress_n: int = 0,
    progress_sum: float = 0.0,
    progress_sum_sq: float = 0.0,
    confidence: float = CONFIDENCE,
) -> StageFunnel:
    """The stage funnel from {stages reached: episodes} (0 = none reached): for each stage 1..K (K the
    longer of `stage_names` and the highest stage seen) how many episodes reached at least that stage, as a
    share with its Wilson interval, and how many stopped just before it; and mean progress in [0, 1] with a
    Student t interval (from the count, sum and sum of squares of the reported progress values; the mean of
    n >= 30 bounded values is close to normal, and the interval is clipped to [0, 1]).

    Raises ValueError on a negative stage or count.
    """
    if any(stage < 0 or count < 0 for stage, count in stage_counts.items()) or unreported < 0 or progress_n < 0:
        raise ValueError("stages and counts must be >= 0")
    n = sum(stage_counts.values())
    top = max([len(stage_names), *(s for s, c in stage_counts.items() if c)], default=0)
    stages = []
    previous = n
    for stage in range(1, top + 1):
        reached = sum(c for s, c in stage_counts.items() if s >= stage)
        stages.append(
            FunnelStage(
                stage=stage,
                name=_stage_name(stage_names, stage),
                reached=reached,
                share=reached / n if n else None,
                interval=wilson_interval(successes=reached, n=n, confidence=confidence),
                stopped_before=previous - reached,
            )
        )
        previous = reached
    mean, interval = _mean_t_interval(n=progress_n, total=progress_sum, total_sq=progress_sum_sq, confidence=confidence)
    note = None
    if n == 0:
        note = f"No episode reported its stages: {NOT_ENOUGH_DATA}."
    elif unreported:
        note = f"{unreported} episode{'s' if unreported != 1 else ''} reported no stage and {'are' if unreported != 1 else 'is'} not in the funnel."
    return StageFunnel(
        n=n,
        n_unreported=unreported,
        stages=tuple(stages),
        progress_n=progress_n,
        mean_progress=mean,
        progress_interval=interval,
        method="share reaching each stage: Wilson score interval; mean progress: Student t interval",
        note=note,
    )
