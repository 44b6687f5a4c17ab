"""Fit assessment: how well a manual task suits a robot driven by a VLA policy.

Pure and ORM-free: the engineer rates each factor 1-5 on the scale its levels describe; the score is
the weighted mean of each factor's favourability, scaled to 0-100, and every factor says how much it
added and why. Nothing is hidden: the page shows the same numbers this module computes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

RATING_MIN = 1
RATING_MAX = 5


@dataclass(frozen=True)
class FitFactor:
    key: str
    label: str
    question: str
    weight: float
    # True when a higher rating makes the task a better fit (e.g. volume); False when it makes it worse
    # (e.g. precision needed).
    higher_is_better: bool
    levels: tuple[str, str, str, str, str]  # what ratings 1..5 mean, in the engineer's words
    # True when the task's own figures (cycle, takt, shifts) decide the rating: it is computed by
    # fit_ratings_from_figures, never typed, so the score cannot contradict the task's page.
    derived: bool = False


# The weights. Source: the factors are those of the usual integrator feasibility checklists for
# pick-and-place automation (part variation and presentation, precision, payload, cycle time against
# takt, safety, ergonomic value, volume). The relative weights are the team's starting judgement, not a
# fitted model: variation, precision and takt headroom weigh most because they decide whether a learned
# policy can succeed at rate at all; payload and safety are gating but usually solvable with hardware;
# ergonomics and volume drive value rather than feasibility. They sum to 100 so each reads as "points".
# Recalibrate against trial outcomes once enough tasks have been trialled.
FIT_FACTORS: tuple[FitFactor, ...] = (
    FitFactor(
        "part_variation",
        "Part variation",
        "How much do parts, their poses and presentation vary?",
        20,
        False,
        (
            "One part, fixtured",
            "Few variants, fixtured",
            "Several variants, loose",
            "Many variants, random poses",
            "Unstructured, deformable",
        ),
    ),
    FitFactor(
        "precision",
        "Precision needed",
        "How precisely must the part be placed?",
        18,
        False,
        ("> 10 mm", "2-10 mm", "0.5-2 mm", "0.1-0.5 mm", "< 0.1 mm / force fit"),
    ),
    FitFactor(
        "cycle_vs_takt",
        "Cycle time vs takt",
        "How much time does takt leave over today's manual cycle?",
        18,
        True,
        ("Manual cycle ≥ takt", "< 10% headroom", "10-30% headroom", "30-100% headroom", "Takt ≥ 2x manual cycle"),
        derived=True,
    ),
    FitFactor(
        "payload",
        "Payload",
        "How heavy is the part (with its gripper)?",
        10,
        False,
        ("< 0.5 kg", "0.5-2 kg", "2-5 kg", "5-15 kg", "> 15 kg"),
    ),
    FitFactor(
        "safety_exposure",
        "Safety exposure",
        "How close do people work to the robot's motion?",
        12,
        False,
        (
            "Fenced, nobody near",
            "Occasional access",
            "Shared area, low force",
            "Shared, sharp or heavy parts",
            "Hands in the workspace",
        ),
    ),
    FitFactor(
        "ergonomics",
        "Ergonomic value",
        "How much does removing the manual job matter (strain, repetition, hazard)?",
        12,
        True,
        ("Pleasant job", "Light repetition", "Repetitive", "Strain or awkward postures", "Injury risk, hard to staff"),
    ),
    FitFactor(
        "volume",
        "Volume",
        "How much of the year does the task run?",
        10,
        True,
        (
            "Occasional batches (< 500 h a year)",
            "One shift, part-time (500-1,500 h)",
            "One shift (1,500-3,000 h)",
            "Two shifts (3,000-5,000 h)",
            "Around the clock (≥ 5,000 h)",
        ),
        derived=True,
    ),
)

FIT_FACTOR_KEYS = tuple(f.key for f in FIT_FACTORS)
FIT_DERIVED_KEYS = tuple(f.key for f in FIT_FACTORS if f.derived)
FIT_RATED_FACTORS = tuple(f for f in FIT_FACTORS if not f.derived)

# Upper edges of headroom (takt / manual cycle - 1) for ratings 2, 3 and 4, as the levels above say.
_TAKT_HEADROOM_EDGES = (0.10, 0.30, 1.00)
# Upper edges of operating hours a year for volume ratings 1-4, as the levels above say: one full
# shift is about 8 h x 230 days = 1,840 h, three shifts 5,520 h.
_VOLUME_HOURS_EDGES = (500.0, 1_500.0, 3_000.0, 5_000.0)


def fit_ratings_from_figures(
    *,
    manual_cycle_time_s: float,
    takt_time_s: float,
    shifts_per_day: int,
    hours_per_shift: float,
    operating_days_per_year: int,
) -> dict[str, int]:
    """The ratings of the factors the task's figures determine (FIT_DERIVED_KEYS): cycle time vs
    takt from the headroom takt leaves over the manual cycle, volume from the hours a year it runs.
    Raises FitRatingError when a figure needed is not positive."""
    if not manual_cycle_time_s > 0:
        raise FitRatingError("the manual cycle time must be positive", field="manual_cycle_time_s")
    if not takt_time_s > 0:
        raise FitRatingError("the takt time must be positive", field="takt_time_s")
    headroom = takt_time_s / manual_cycle_time_s - 1.0
    if headroom <= 0:
        takt = 1
    else:
        takt = 2 + sum(headroom >= edge for edge in _TAKT_HEADROOM_EDGES)
    hours_a_year = shifts_per_day * hours_per_shift * operating_days_per_year
    volume = 1 + sum(hours_a_year >= edge for edge in _VOLUME_HOURS_EDGES)
    return {"cycle_vs_takt": takt, "volume": volume}


# Score bands shown next to the number; where the lines fall is a judgement, stated so it can be argued.
GOOD_FIT_MIN = 70.0
POSSIBLE_FIT_MIN = 45.0


@dataclass(frozen=True)
class FactorResult:
    key: str
    label: str
    rating: int
    level: str
    weight: float
    favourability: float  # 0 (worst) .. 1 (best)
    points: float  # contribution to the 0-100 score
    max_points: float


@dataclass(frozen=True)
class FitAssessment:
    score: float  # 0-100
    verdict: str
    factors: tuple[FactorResult, ...]
    reasons: tuple[str, ...]  # the strongest helps and hurts (and, short of a good fit, the risks), in plain words


class FitRatingError(ValueError):
    """A rating is missing, unknown or outside 1-5; `field` names the factor."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


def fit_assess(*, ratings: Mapping[str, int]) -> FitAssessment:
    """Score a task from the engineer's 1-5 ratings of every factor in FIT_FACTORS.

    Returns the score (0-100), a verdict, each factor's contribution and the main reasons.
    Raises FitRatingError when a factor is missing, unknown, or rated outside 1-5.
    """
    unknown = set(ratings) - set(FIT_FACTOR_KEYS)
    if unknown:
        key = sorted(unknown)[0]
        raise FitRatingError(f"unknown fit factor {key!r}", field=key)
    total_weight = sum(f.weight for f in FIT_FACTORS)
    results = []
    for factor in FIT_FACTORS:
        if factor.key not in ratings:
            raise FitRatingError(f"{factor.label} needs a rating", field=factor.key)
        rating = ratings[factor.key]
        if isinstance(rating, bool) or not isinstance(rating, int) or not RATING_MIN <= rating <= RATING_MAX:
            raise FitRatingError(f"{factor.label} must be rated {RATING_MIN}-{RATING_MAX}", field=factor.key)
        step = (rating - RATING_MIN) / (RATING_MAX - RATING_MIN)
        favourability = step if factor.higher_is_better else 1.0 - step
        max_points = 100.0 * factor.weight / total_weight
        results.append(
            FactorResult(
                key=factor.key,
                label=factor.label,
                rating=rating,
                level=factor.levels[rating - RATING_MIN],
                weight=factor.weight,
                favourability=favourability,
                points=max_points * favourability,
                max_points=max_points,
            )
        )
    score = round(sum(r.points for r in results), 1)
    if score >= GOOD_FIT_MIN:
        verdict = "Good fit: worth a trial"
    elif score >= POSSIBLE_FIT_MIN:
        verdict = "Possible fit: trial with the risks below in mind"
    else:
        verdict = "Poor fit: trial only with a strong reason"
    reasons = _reasons(results, risks_wanted=score < GOOD_FIT_MIN)
    return FitAssessment(score=score, verdict=verdict, factors=tuple(results), reasons=reasons)


def _reasons(results: list[FactorResult], *, risks_wanted: bool) -> tuple[str, ...]:
    # Rank by points gained or lost against the factor's midpoint, so a heavily weighted factor
    # rated badly is named before a light one.
    def swing(r: FactorResult) -> float:
        return r.points - r.max_points / 2

    helps = sorted((r for r in results if r.favourability > 0.5), key=swing, reverse=True)[:2]
    hurts = sorted((r for r in results if r.favourability < 0.5), key=swing)[:2]
    reasons = [f"Helps: {r.label.lower()} — {r.level} (+{swing(r):.0f} vs neutral)" for r in helps]
    reasons += [f"Hurts: {r.label.lower()} — {r.level} ({swing(r):.0f} vs neutral)" for r in hurts]
    if risks_wanted and not hurts:
        # A verdict short of "good" promises risks; with nothing below neutral they are the factors
        # that lost the most points, so the promise is kept.
        losers = sorted((r for r in results if r.points < r.max_points), key=lambda r: r.points - r.max_points)[:2]
        reasons += [
            f"Risk: {r.label.lower()} — {r.level} (loses {r.max_points - r.points:.0f} of {r.max_points:.0f} points)"
            for r in losers
        ]
    return tuple(reasons) or ("Every factor is rated neutral.",)
