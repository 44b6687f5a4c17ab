"""Ranking policy versions from pairwise results: a Bradley-Terry model with bootstrap intervals. Pure.

A pairwise result is one seed (or condition) run by two versions: the one that succeeded where the other
failed wins, and a seed both succeeded or both failed on is a tie that counts half a win to each (as in
chess ratings), so a version is not rewarded for seeds that told the two apart no better than a coin.

Model: P(i beats j) = s_i / (s_i + s_j) (Bradley & Terry 1952), fitted by maximum likelihood with Hunter's
MM algorithm (Hunter DR (2004) "MM algorithms for generalized Bradley-Terry models", Annals of Statistics
32:384-406): s_i <- W_i / sum_j n_ij / (s_i + s_j), W_i the wins of i (ties half) and n_ij the games of
i and j. MM was chosen over a general optimiser (scipy.optimize) because every step provably raises the
likelihood, it needs no gradient or step size, and each step is two small matrix operations, so a
bootstrap of a thousand refits stays well under a second for the handful of versions a task has.

The MLE does not exist when a version won (or lost) every game (its strength runs to infinity), so each
compared pair also gets one virtual tie (half a win each way), a weak prior that shrinks towards equal
strength and is negligible beside tens of real games. Strengths are reported on the log scale, centred so
their mean is 0 (only differences are identified).

Intervals: a nonparametric bootstrap that resamples the pairwise results with replacement (numpy,
seeded), refits, and takes percentiles of each version's log-strength and of its rank. The definitions are
in docs/metrics.md (in this repository).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from core.results import JsonResult
from core.stats import CONFIDENCE, Interval

BOOTSTRAP_RESAMPLES: Final = 1000
PRIOR_TIES_PER_PAIR: Final = 1.0
MM_TOLERANCE: Final = 1e-10
MM_MAX_ITERATIONS: Final = 10_000
METHOD: Final = (
    "Bradley-Terry, maximum likelihood by Hunter's (2004) MM algorithm, ties half a win, one virtual tie per "
    "compared pair; percentile bootstrap of the pairwise results"
)


@dataclass(frozen=True)
class RankedItem(JsonResult):
    label: str
    rank: int  # 1 = strongest, by the point estimate
    strength: float  # log-strength, centred: mean 0 over the items
    strength_interval: Interval | None
    rank_low: int  # best rank within the bootstrap interval
    rank_high: int  # worst rank within the bootstrap interval
    games: int
    wins: float  # ties count half
    win_probability_vs_average: float  # P(beats an item of strength 0)


@dataclass(frozen=True)
class Ranking(JsonResult):
    items: tuple[RankedItem, ...]  # strongest first
    n_results: int
    resamples: int
    seed: int
    confidence: float
    connected: bool  # every item compared with every other, directly or through others
    note: str | None
    method: str


FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _wins_and_games(
    k: int, first: IntArray, second: IntArray, score: FloatArray, weights: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """(wins[b, i, j] of i over j with ties half, games[b, i, j]) from kinds of results: `weights[b, r]`
    is how many times result kind r counts in resample b."""
    pair = first * k + second
    # Sum each result's weight into its (first, second) cell: one matrix product for all resamples.
    onehot = np.zeros((first.size, k * k))
    onehot[np.arange(first.size), pair] = 1.0
    won = (weights * score) @ onehot
    lost = (weights * (1.0 - score)) @ onehot
    wins = won.reshape(-1, k, k) + np.swapaxes(lost.reshape(-1, k, k), -1, -2)
    return wins, wins + np.swapaxes(wins, -1, -2)


def fit_bradley_terry(wins: FloatArray, games: FloatArray) -> FloatArray:
    """Centred log-strengths maximising the Bradley-Terry likelihood of `wins` (i over j) by MM, with
    PRIOR_TIES_PER_PAIR virtual ties added to every pair that played. Batched: `wins` and `games` may be
    (..., k, k), e.g. one matrix per bootstrap resample, all fitted together."""
    played = games > 0
    w = wins + played * (PRIOR_TIES_PER_PAIR / 2)
    n = games + played * PRIOR_TIES_PER_PAIR
    total_wins = w.sum(axis=-1)
    s = np.ones(wins.shape[:-1])
    for _ in range(MM_MAX_ITERATIONS):
        denominator = (n / (s[..., :, None] + s[..., None, :])).sum(axis=-1)
        # An item that never played keeps its strength (no information moves it).
        updated = np.where(denominator > 0, total_wins / np.where(denominator > 0, denominator, 1.0), s)
        updated /= np.exp(np.log(updated).mean(axis=-1, keepdims=True))
        done = np.max(np.abs(np.log(updated) - np.log(s))) < MM_TOLERANCE
        s = updated
        if done:
            break
    log_s = np.log(s)
    return np.asarray(log_s - log_s.mean(axis=-1, keepdims=True), dtype=np.float64)


def _connected(games: FloatArray) -> bool:
    k = int(games.shape[0])
    seen, frontier = {0}, [0]
    while frontier:
        i = frontier.pop()
        for j in np.flatnonzero(games[i] > 0).tolist():
            if j not in seen:
                seen.add(j)
                frontier.append(j)
    return bool(len(seen) == k)


def _ranks(strengths: FloatArray) -> IntArray:
    """Rank 1 for the largest strength, along the last axis."""
    order = np.argsort(-strengths, axis=-1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(1, strengths.shape[-1] + 1), axis=-1)
    return ranks


def bradley_terry(
    *,
    labels: Sequence[str],
    first: Sequence[int] | IntArray,
    second: Sequence[int] | IntArray,
    score_first: Sequence[float] | FloatArray,
    resamples: int = BOOTSTRAP_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> Ranking:
    """Rank `labels` from pairwise results: result r is item first[r] against second[r], scored 1 (first
    won), 0 (second won) or 0.5 (a tie). Returns the items strongest first with the log-strength, its
    percentile bootstrap interval and the range of ranks over the bootstrap at `confidence`.

    Raises ValueError on mismatched lengths, an index outside labels, an item against itself, a score
    outside [0, 1], or fewer than two labels.
    """
    k = len(labels)
    i, j = np.asarray(first, dtype=np.int64).ravel(), np.asarray(second, dtype=np.int64).ravel()
    score = np.asarray(score_first, dtype=np.float64).ravel()
    if k < 2:
        raise ValueError("need at least two items to rank")
    if not i.size == j.size == score.size:
        raise ValueError("first, second and score_first must have the same length")
    if i.size and (min(i.min(), j.min()) < 0 or max(i.max(), j.max()) >= k):
        raise ValueError("an item index is outside labels")
    if np.any(i == j):
        raise ValueError("an item cannot be compared with itself")
    if np.any((score < 0) | (score > 1)):
        raise ValueError("scores must be in [0, 1]")
    # Results only differ by (first, second, score): resampling results with replacement is a multinomial
    # draw over those few kinds, which keeps memory at (resamples x kinds) however many seeds were run.
    kinds, counts = np.unique(np.stack([i, j, score]), axis=1, return_counts=True)
    ki, kj, kscore = kinds[0].astype(np.int64), kinds[1].astype(np.int64), kinds[2]
    wins, games = _wins_and_games(k, ki, kj, kscore, counts[None, :].astype(np.float64))
    wins, games = wins[0], games[0]
    strengths = fit_bradley_terry(wins, games)
    connected = _connected(games)
    rng = np.random.default_rng(seed)
    if resamples and i.size:
        drawn = rng.multinomial(i.size, counts / i.size, size=resamples).astype(np.float64)
        boot = fit_bradley_terry(*_wins_and_games(k, ki, kj, kscore, drawn))
    else:
        boot = np.repeat(strengths[None, :], max(resamples, 1), axis=0)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(boot, [tail, 100 - tail], axis=0)
    boot_ranks = _ranks(boot)
    rank_low = np.floor(np.percentile(boot_ranks, tail, axis=0)).astype(int)
    rank_high = np.ceil(np.percentile(boot_ranks, 100 - tail, axis=0)).astype(int)
    point_ranks = _ranks(strengths)
    played = games.sum(axis=1)
    interval_method = f"percentile bootstrap, {resamples} resamples of the pairwise results, seed {seed}"
    items = sorted(
        (
            RankedItem(
                label=labels[x],
                rank=int(point_ranks[x]),
                strength=float(strengths[x]),
                strength_interval=Interval(float(low[x]), float(high[x]), confidence, interval_method)
                if resamples
                else None,
                rank_low=int(rank_low[x]),
                rank_high=int(rank_high[x]),
                games=int(round(played[x])),
                wins=float(wins[x].sum()),
                win_probability_vs_average=float(1 / (1 + np.exp(-strengths[x]))),
            )
            for x in range(k)
        ),
        key=lambda item: item.rank,
    )
    note = None
    if i.size == 0:
        note = "No pairwise result: every item ranks alike."
    elif not connected:
        note = "Some items were never compared with the others, directly or through others: their ranks are not comparable."
    return Ranking(tuple(items), int(i.size), resamples, seed, confidence, connected, note, METHOD)
