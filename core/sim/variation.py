"""Variation factors: the documented, seeded conditions a cell can vary (light, camera, distractors, ...).

A cell lists its factors (`Cell.factors()`); a trial or a sweep condition names a level for some of them
(`Levels`, factor key -> number or category). Unnamed factors stay at their nominal level, and all-nominal
levels reproduce the cell's default distribution exactly: same seed, same episode. A factor's own random
draws (where its distractors go, which phrasing of a set is used) come from a stream derived from the
episode seed and the factor key (`factor_rng`), never from the cell's main stream, so setting one factor
changes nothing else about the episode: that is what makes conditions of a sweep paired.
"""

from __future__ import annotations

import enum
import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

Level = float | str
Levels = Mapping[str, Level]


class FactorKind(enum.StrEnum):
    NUMBER = "number"  # a value in [low, high] (integer when `integer`)
    CATEGORY = "category"  # one of `choices`


@dataclass(frozen=True)
class Factor:
    """One variation factor a cell understands.

    `key` is stable (stored with trials and sweeps); `unit` is what a level is measured in ("x nominal",
    "m", "deg", "steps", "parts"); `nominal` is the level that reproduces the default scene."""

    key: str
    title: str
    unit: str
    nominal: Level
    kind: FactorKind = FactorKind.NUMBER
    low: float | None = None
    high: float | None = None
    integer: bool = False
    choices: tuple[str, ...] = field(default_factory=tuple)
    description: str = ""

    def __post_init__(self) -> None:
        if self.kind is FactorKind.NUMBER:
            if self.low is None or self.high is None or not self.low <= float(self.nominal) <= self.high:
                raise ValueError(f"factor {self.key!r}: nominal must lie in [low, high]")
        elif self.nominal not in self.choices:
            raise ValueError(f"factor {self.key!r}: nominal must be one of its choices")


class VariationError(ValueError):
    """A level a cell cannot take; `field` names the factor (for a 4xx that says which)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def level_validate(factor: Factor, level: object) -> Level:
    """The level as the factor stores it, or VariationError saying what is wrong with it."""
    if factor.kind is FactorKind.CATEGORY:
        if not isinstance(level, str) or level not in factor.choices:
            raise VariationError(factor.key, f"must be one of {', '.join(factor.choices)}; got {level!r}")
        return level
    if isinstance(level, bool) or not isinstance(level, int | float):
        raise VariationError(factor.key, f"must be a number in {factor.unit}; got {level!r}")
    value = float(level)
    low, high = float(factor.low or 0.0), float(factor.high or 0.0)  # both set: Factor.__post_init__
    if not math.isfinite(value) or not low <= value <= high:
        raise VariationError(factor.key, f"must be between {factor.low:g} and {factor.high:g} {factor.unit}")
    if factor.integer:
        if value != round(value):
            raise VariationError(factor.key, f"must be a whole number of {factor.unit}")
        return float(round(value))
    return value


def levels_validate(factors: Sequence[Factor], levels: Levels | None) -> dict[str, Level]:
    """Every factor's level: the given ones checked, the rest nominal. Unknown keys are refused."""
    by_key = {f.key: f for f in factors}
    given = dict(levels or {})
    unknown = sorted(set(given) - set(by_key))
    if unknown:
        raise VariationError(unknown[0], f"not a factor of this cell; known: {', '.join(sorted(by_key))}")
    return {key: level_validate(f, given[key]) if key in given else f.nominal for key, f in by_key.items()}


def levels_are_nominal(factors: Sequence[Factor], levels: Levels | None) -> bool:
    return all(levels_validate(factors, levels)[f.key] == f.nominal for f in factors)


def factor_rng(seed: int, factor_key: str) -> np.random.Generator:
    """A random stream for one factor's draws in one episode, independent of the cell's main stream."""
    digest = hashlib.sha256(factor_key.encode()).digest()
    return np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])
