"""Blind A/B comparisons of two policy versions on one robot: pure, ORM-free.

The order. Episodes run in pairs: pair i is one episode of A and one of B, back to back, on the same seed
(seed + i). Within each pair the order is random, and across the pairs A runs first in exactly half of
them (one more or less for an odd count), shuffled from the seed: permuted blocks of size two, balanced
on position. Why pairs and not a balanced permutation of all 2n episodes: a permutation may put most of
A early and most of B late, so whatever drifts over a day on a real cell (light, wear, the operator's
attention, a battery) would be read as a difference between the versions; inside a pair both versions
meet the same moment of the day and the same scene, the pair is the unit McNemar's test counts, and a
trial cancelled half way still holds only complete, balanced pairs. Balancing the first position cancels
a carry-over from the previous episode (a part left in a gripper, a warmer motor).

The seed of the order is not the episodes' seed: the agent and every page see the episodes' seeds, and
anyone holding the order's seed can recompute the order, so the server draws it as a secret.

What the agent sees. Each version is an arm, "arm-1" or "arm-2"; which version is arm-1 is drawn from the
seed too, so the arm's number says nothing about which version the engineer entered first.

Unblinding. Each complete pair's outcomes make a PairedTable for core.paired (McNemar's exact test,
Newcombe's paired interval of B - A); the operator's preferences (A, B or tie per pair) are tallied, with
an exact two-sided sign test of the non-tie preferences (scipy.stats.binomtest at 1/2) and the
Clopper-Pearson interval of the share preferring B.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from scipy import stats as sps

from core.paired import PairedSuccessComparison, PairedTable, compare_success_paired
from core.results import JsonResult
from core.stats import CONFIDENCE, Interval

Version = Literal["A", "B"]
ARMS: Final = ("arm-1", "arm-2")
CHOICES: Final = ("A", "B", "tie")
POSITIONS: Final = ("first", "second")
PREFERRED: Final = (*POSITIONS, "tie")  # what the operator answers: the pair's episode as it ran, or a tie
METHOD_PREFERENCE: Final = (
    "exact two-sided sign test of the non-tie preferences at 1/2 (scipy.stats.binomtest); "
    "Clopper-Pearson interval of the share preferring B"
)


def blind_order(*, pairs: int, seed: int) -> tuple[Version, ...]:
    """Which version runs first in each of `pairs` pairs: A first in pairs // 2 of them, B first in as
    many, the odd pair's first drawn by a coin, all shuffled; the same seed gives the same order.
    Raises ValueError when pairs < 1 or seed < 0."""
    if pairs < 1:
        raise ValueError("a blind comparison needs at least one pair")
    if seed < 0:
        raise ValueError("the seed must be zero or positive")
    # Reproducible from the seed by design (a string seed: stable across Python versions); the secret is the
    # seed itself, which the server draws with `secrets` and shows no one before unblinding.
    rng = random.Random(f"blind-order:{seed}")  # noqa: S311
    a: Version = "A"
    b: Version = "B"
    firsts: list[Version] = [a] * (pairs // 2) + [b] * (pairs // 2)
    if pairs % 2:
        firsts.append(rng.choice((a, b)))
    rng.shuffle(firsts)
    return tuple(firsts)


def blind_arm_of_a(*, seed: int) -> str:
    """The neutral arm name version A runs under ("arm-1" or "arm-2"), drawn from the seed."""
    return random.Random(f"blind-arm:{seed}").choice(ARMS)  # noqa: S311  (as blind_order: the seed is the secret)


def other_arm(arm: str) -> str:
    """The other of the two arm names. Raises ValueError for a name that is not an arm."""
    if arm not in ARMS:
        raise ValueError(f"not an arm: {arm!r}")
    return ARMS[1] if arm == ARMS[0] else ARMS[0]


def run_sequence(*, order: Sequence[str], pair: int, version: str) -> int:
    """The position (0-based) of `version`'s episode of `pair` in the whole run: 2 x pair, + 1 when it is
    the pair's second."""
    return 2 * pair + (0 if order[pair] == version else 1)


def version_at(*, order: Sequence[str], pair: int, position: str) -> Version:
    """The version that ran at `position` ("first" or "second") of `pair`.
    Raises ValueError for an unknown position, IndexError for a pair outside the order."""
    if position not in POSITIONS:
        raise ValueError(f"position must be one of {', '.join(POSITIONS)}")
    first = order[pair]
    if first not in ("A", "B"):
        raise ValueError(f"the order holds {first!r}, not A or B")
    if position == "first":
        return "A" if first == "A" else "B"
    return "B" if first == "A" else "A"


@dataclass(frozen=True)
class PreferenceTally(JsonResult):
    """The operator's preferences over the pairs, and whether the non-tie ones lean to one version."""

    prefer_a: int
    prefer_b: int
    ties: int
    share_b: float | None  # of the non-tie preferences
    share_b_ci: Interval | None
    p_value: float | None  # None with no non-tie preference
    statement: str
    method: str

    @property
    def recorded(self) -> int:
        return self.prefer_a + self.prefer_b + self.ties


def preference_tally(choices: Sequence[str], *, confidence: float = CONFIDENCE) -> PreferenceTally:
    """Tally "A", "B" and "tie" choices; sign test and interval on the non-tie ones.
    Raises ValueError for another choice."""
    unknown = sorted({c for c in choices if c not in CHOICES})
    if unknown:
        raise ValueError(f"choices must be A, B or tie, not {', '.join(unknown)}")
    a, b, ties = choices.count("A"), choices.count("B"), choices.count("tie")
    decided = a + b
    if decided == 0:
        statement = f"No preference for either version ({ties} ties)." if ties else "No preference recorded."
        return PreferenceTally(a, b, ties, None, None, None, statement, METHOD_PREFERENCE)
    test = sps.binomtest(b, decided, 0.5, alternative="two-sided")
    ci = test.proportion_ci(confidence_level=confidence, method="exact")
    interval = Interval(float(ci.low), float(ci.high), confidence, "Clopper-Pearson (scipy.stats.binomtest)")
    p = min(1.0, float(test.pvalue))
    lean = "B" if b > a else "A"
    statement = f"The operator preferred B in {b} and A in {a} of {decided} pairs with a preference ({ties} ties): " + (
        f"a lean to {lean} (sign test p = {p:.3g})."
        if p < 1 - confidence
        else f"no evidence of a preference (sign test p = {p:.3g})."
    )
    return PreferenceTally(a, b, ties, b / decided, interval, p, statement, METHOD_PREFERENCE)


@dataclass(frozen=True)
class PairOutcome:
    """One pair's outcomes by version: True success, False failure or abort, None not counted (lost or
    not run)."""

    a: bool | None
    b: bool | None

    @property
    def complete(self) -> bool:
        return self.a is not None and self.b is not None


@dataclass(frozen=True)
class BlindResult(JsonResult):
    """The unblinded comparison: the complete pairs' table and paired test, and the preference tally."""

    pairs_planned: int
    pairs_complete: int
    table: PairedTable
    paired: PairedSuccessComparison
    preferences: PreferenceTally


def blind_result(
    *, pairs: Sequence[PairOutcome], choices: Sequence[str], alpha: float = 0.05, labels: tuple[str, str] = ("A", "B")
) -> BlindResult:
    """The comparison of the complete pairs (those where both episodes counted) by core.paired, and the
    tally of the preferences."""
    complete = [p for p in pairs if p.complete]
    table = PairedTable.from_outcomes([bool(p.a) for p in complete], [bool(p.b) for p in complete])
    return BlindResult(
        pairs_planned=len(pairs),
        pairs_complete=len(complete),
        table=table,
        paired=compare_success_paired(table, alpha=alpha, labels=labels),
        preferences=preference_tally(choices, confidence=1 - alpha),
    )
