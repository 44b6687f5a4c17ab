"""The one base of the pure cores' result types (statistics, ROI, Monte Carlo) and of the reports built on
them: frozen dataclasses that pages read as attributes and the API serialises with `to_dict()`."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any


def finite_or_none(value: float) -> float | None:
    """JSON-friendly: None for inf/nan (never paid back, undefined IRR, an open upper bound)."""
    return float(value) if math.isfinite(value) else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, float):
        return finite_or_none(value)
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


class JsonResult:
    """Mixin of the frozen result dataclasses: `to_dict()` gives their JSON."""

    def to_dict(self) -> dict[str, Any]:
        """The result as plain JSON-serialisable values: nested results become dicts, tuples lists, and a
        figure that is infinite or undefined None (strict JSON has no Infinity or NaN)."""
        result: dict[str, Any] = _jsonable(asdict(self))  # type: ignore[call-overload]  # a dataclass instance
        return result
