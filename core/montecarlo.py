"""Monte Carlo of the ROI: how sure the trials let us be about payback and NPV.

Each draw takes a plausible truth given what the trials measured and the cost model's ranges, and runs
the same vectorised core as the single-scenario ROI (`core.roi.evaluate`) on all draws at once:

- success rate from its Beta posterior under the Jeffreys prior, Beta(k + 1/2, n - k + 1/2);
- intervention rate from its Gamma posterior under the Jeffreys prior for a Poisson rate,
  Gamma(shape = count + 1/2, rate = autonomous hours);
- mean attempt cycle time bootstrapped from the measured episode cycle times (resample with replacement,
  take the mean);
- each cost input with a [low, high] range from a PERT (beta, weighted 4:1 to the base value) or a
  triangular distribution around its base value.

Posterior draws use the inverse CDF of one uniform per draw ("common random numbers"): with the same seed,
a better measured success rate moves every draw up, never down, so two scenarios or two trials compare
draw for draw and their percentiles move the right way. Every input draws from its own child of
`np.random.SeedSequence(seed)`, so adding a range to one input leaves the others' draws unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special, stats

from core.results import JsonResult, finite_or_none
from core.roi import (
    PARAMS,
    FloatArray,
    MeasuredPerformance,
    RoiInputError,
    RoiInputs,
    base_params,
    evaluate,
)

DEFAULT_DRAWS = 10_000
# Bootstrap budget: resampled values per Monte Carlo run. Below it every draw gets its own bootstrap
# resample; above it (long trials) B = budget / n resamples are drawn and the draws pick among them,
# which bounds the bootstrap to a few milliseconds at any number of episodes.
BOOTSTRAP_BUDGET = 200_000
MIN_BOOTSTRAP_RESAMPLES = 100
QUANTILES = (0.1, 0.5, 0.9)

# Inputs the trials measure: drawn from their posteriors, never from a cost-model range.
_MEASURED_FROM_EVIDENCE = frozenset({"success_rate", "attempt_cycle_time_s", "interventions_per_hour"})


@dataclass(frozen=True, kw_only=True)
class TrialEvidence:
    """What the trials of one task recorded: the raw counts the posteriors need.

    Aborted episodes count as failures (the part was not made). `autonomous_hours` is the robot's running
    time (sum of episode cycle times); `cycle_times_s` the attempt cycle time of every episode.
    """

    successes: int
    failures: int
    interventions: int
    autonomous_hours: float
    cycle_times_s: tuple[float, ...]
    # Of the episodes, how many a person reviewed (their outcome above is the reviewed one): shown beside the ROI.
    reviewed: int = 0

    def __post_init__(self) -> None:
        if self.successes < 0 or self.failures < 0 or self.interventions < 0:
            raise RoiInputError("Episode and intervention counts cannot be negative.")
        if self.successes + self.failures == 0:
            raise RoiInputError("No episodes recorded yet: run a trial of this task before computing its ROI.")
        if self.successes == 0:
            raise RoiInputError(
                f"No successful episode in {self.successes + self.failures}: the robot never completed the task, "
                "so it frees no labour and no payback exists."
            )
        if not self.cycle_times_s:
            raise RoiInputError("No episode cycle times recorded: the cycle time cannot be estimated.")
        if not self.autonomous_hours > 0:
            raise RoiInputError("The trials ran for no time: the intervention rate cannot be estimated.")

    @property
    def episodes(self) -> int:
        return self.successes + self.failures

    def measured(self, *, recovery_time_s: float) -> MeasuredPerformance:
        """Point estimates for the single-scenario ROI: observed success rate, mean cycle time, count/hours."""
        return MeasuredPerformance(
            success_rate=self.successes / self.episodes,
            attempt_cycle_time_s=float(np.mean(self.cycle_times_s)),
            interventions_per_hour=self.interventions / self.autonomous_hours,
            recovery_time_s=recovery_time_s,
            episodes=self.episodes,
        )


@dataclass(frozen=True, kw_only=True)
class Distribution(JsonResult):
    """Percentiles (None when infinite: not within the horizon), mean of the finite draws, and a histogram
    of the finite draws (`counts[i]` draws in [edges[i], edges[i + 1]))."""

    p10: float | None
    p50: float | None
    p90: float | None
    mean: float | None
    histogram_edges: tuple[float, ...]
    histogram_counts: tuple[int, ...]


@dataclass(frozen=True, kw_only=True)
class MonteCarloResult(JsonResult):
    """Payback and NPV distributions over the draws; probabilities are shares of draws."""

    draws: int
    seed: int
    target_payback_months: float
    npv: Distribution
    payback_months: Distribution
    expected_npv: float
    p_payback_within_target: float
    p_never_pays_back: float  # within the horizon
    p_npv_negative: float
    success_rate: Distribution  # the drawn inputs, for the page's "why"
    interventions_per_hour: Distribution
    attempt_cycle_time_s: Distribution
    robots_needed_p50: float


def _distribution(values: FloatArray, *, bins: int, hist_range: tuple[float, float] | None = None) -> Distribution:
    # inverted_cdf picks actual draws, so an infinite payback stays infinite instead of poisoning the
    # interpolation with inf - inf.
    p10, p50, p90 = np.quantile(values, QUANTILES, method="inverted_cdf")
    finite = values[np.isfinite(values)]
    if finite.size:
        counts, edges = np.histogram(finite, bins=bins, range=hist_range)
        mean: float | None = float(finite.mean())
    else:
        counts, edges, mean = np.zeros(0, dtype=int), np.zeros(0), None
    return Distribution(
        p10=finite_or_none(float(p10)),
        p50=finite_or_none(float(p50)),
        p90=finite_or_none(float(p90)),
        mean=mean,
        histogram_edges=tuple(float(e) for e in edges),
        histogram_counts=tuple(int(c) for c in counts),
    )


# The posterior quantile functions are tabulated at this many probabilities, evenly spaced in logit(u) from
# 1.5e-8 to 1 - 1.5e-8 (dense in both tails), and interpolated: exact at the nodes, monotone like the true
# inverse CDF, within a few 1e-6 of it for the posteriors seen here, and 5-10x faster than 10,000 exact
# scipy ppf calls.
QUANTILE_NODES = 1025
_LOGIT_NODES = np.linspace(-18.0, 18.0, QUANTILE_NODES)


def posterior_quantiles(ppf: Callable[[FloatArray], FloatArray], uniforms: FloatArray) -> FloatArray:
    """Inverse CDF `ppf` (e.g. scipy.stats.beta.ppf with its shapes) at `uniforms`, interpolated from a table
    of QUANTILE_NODES values. (Not a frozen distribution: freezing costs milliseconds of docstring work.)"""
    table = ppf(special.expit(_LOGIT_NODES))
    with np.errstate(divide="ignore"):
        quantiles: FloatArray = np.interp(special.logit(uniforms), _LOGIT_NODES, table)
    return quantiles


def bootstrap_means(values: FloatArray, *, draws: int, rng: np.random.Generator) -> FloatArray:
    """`draws` bootstrap means of `values` (each the mean of a resample of len(values) with replacement).

    Work is bounded by BOOTSTRAP_BUDGET resampled values: up to it each draw has its own resample; beyond
    it B = budget / n resamples (at least MIN_BOOTSTRAP_RESAMPLES) are made and each draw takes one at
    random. Past budget / MIN_BOOTSTRAP_RESAMPLES episodes the resamples are m-out-of-n (m = that bound)
    and their deviation from the sample mean is shrunk by sqrt(m / n), which keeps the bootstrap's shape
    and its n-episode spread (s / sqrt(n)) at a bounded cost, even for a million episodes.
    """
    n = values.size
    largest = BOOTSTRAP_BUDGET // MIN_BOOTSTRAP_RESAMPLES
    size = min(n, largest)
    resamples = draws if draws * size <= BOOTSTRAP_BUDGET else max(MIN_BOOTSTRAP_RESAMPLES, BOOTSTRAP_BUDGET // size)
    means: FloatArray = values[rng.integers(0, n, size=(resamples, size))].mean(axis=1)
    if size < n:
        centre = float(values.mean())
        means = centre + (means - centre) * np.sqrt(size / n)
    if resamples == draws:
        return means
    drawn: FloatArray = means[rng.integers(0, resamples, size=draws)]
    return drawn


def _range_draws(
    *, low: float, mode: float, high: float, distribution: str, draws: int, rng: np.random.Generator
) -> FloatArray:
    """Draws of one ranged input: PERT (beta with shape 1 + 4 (m - a)/(b - a), 1 + 4 (b - m)/(b - a)) or triangular."""
    if high == low:
        return np.full(draws, low)
    if distribution == "triangular":
        return rng.triangular(low, mode, high, size=draws)
    alpha = 1 + 4 * (mode - low) / (high - low)
    beta = 1 + 4 * (high - mode) / (high - low)
    return low + (high - low) * rng.beta(alpha, beta, size=draws)


def run_monte_carlo(
    *,
    inputs: RoiInputs,
    evidence: TrialEvidence,
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    target_payback_months: float | None = None,
    bins: int = 30,
) -> MonteCarloResult:
    """Payback and NPV distributions over `draws` vectorised draws (seeded: same seed, same result).

    `inputs` supplies the costs, the task and the recovery time (its measured success rate, cycle time
    and intervention rate are replaced by the posterior draws from `evidence`); ranged cost inputs come
    from `inputs.costs.ranges`. Returns a MonteCarloResult. Raises RoiInputError on unusable evidence, a
    range that does not contain its base value, or a range on a measured input.
    """
    if draws < 1:
        raise RoiInputError("The Monte Carlo needs at least one draw.")
    target = inputs.costs.payback_target_months if target_payback_months is None else target_payback_months
    base = base_params(inputs)
    ranges = sorted(inputs.costs.ranges, key=lambda r: r.name)
    for r in ranges:
        if r.name not in PARAMS:
            raise RoiInputError(f"Unknown input {r.name!r} in the cost model's ranges.")
        if r.name in _MEASURED_FROM_EVIDENCE:
            raise RoiInputError(f"{r.name} is measured by the trials; it cannot carry a cost-model range.")
        if not 0 <= r.low <= base[r.name] <= r.high:
            raise RoiInputError(
                f"The range of {r.name} [{r.low:g}, {r.high:g}] must contain its base value {base[r.name]:g}."
            )

    children = np.random.SeedSequence(seed).spawn(3 + len(ranges))
    rng_success, rng_interventions, rng_cycle = (np.random.default_rng(c) for c in children[:3])
    params: dict[str, Any] = dict(base)
    params["success_rate"] = posterior_quantiles(
        lambda q: stats.beta.ppf(q, evidence.successes + 0.5, evidence.failures + 0.5), rng_success.random(draws)
    )
    params["interventions_per_hour"] = posterior_quantiles(
        lambda q: stats.gamma.ppf(q, evidence.interventions + 0.5, scale=1 / evidence.autonomous_hours),
        rng_interventions.random(draws),
    )
    params["attempt_cycle_time_s"] = bootstrap_means(
        np.asarray(evidence.cycle_times_s, dtype=float), draws=draws, rng=rng_cycle
    )
    for r, child in zip(ranges, children[3:], strict=True):
        params[r.name] = _range_draws(
            low=r.low,
            mode=base[r.name],
            high=r.high,
            distribution=inputs.costs.range_distribution,
            draws=draws,
            rng=np.random.default_rng(child),
        )

    ev = evaluate(params, horizon_years=inputs.costs.horizon_years)
    horizon_months = 12.0 * inputs.costs.horizon_years
    payback = ev.payback_months
    return MonteCarloResult(
        draws=draws,
        seed=seed,
        target_payback_months=float(target),
        npv=_distribution(ev.npv, bins=bins),
        payback_months=_distribution(payback, bins=bins, hist_range=(0.0, horizon_months)),
        expected_npv=float(ev.npv.mean()),
        p_payback_within_target=float(np.mean(payback <= target)),
        p_never_pays_back=float(np.mean(~np.isfinite(payback))),
        p_npv_negative=float(np.mean(ev.npv < 0)),
        success_rate=_distribution(params["success_rate"], bins=bins, hist_range=(0.0, 1.0)),
        interventions_per_hour=_distribution(params["interventions_per_hour"], bins=bins),
        attempt_cycle_time_s=_distribution(params["attempt_cycle_time_s"], bins=bins),
        robots_needed_p50=float(np.quantile(ev.robots_needed, 0.5, method="inverted_cdf")),
    )


__all__ = [
    "DEFAULT_DRAWS",
    "Distribution",
    "MonteCarloResult",
    "TrialEvidence",
    "bootstrap_means",
    "posterior_quantiles",
    "run_monte_carlo",
]
