"""What an episode sent from outside may hold, checked the same way on every path that writes one (JSON bulk,
CSV over the API and in the browser, the robot agent's `events/` and `complete/`). No Django here: the
serializers, the CSV parser and the services call these and turn the messages into 400s naming the field.

`metrics` is a flat JSON object: at most MAX_METRICS names, each matching METRIC_NAME (a letter, then up to
63 letters, digits, `_`, `.` or `-`), each value a finite number within +-2**53 (where integers are still exact
as floats; booleans, strings, null, lists and objects are refused). Names the server
writes itself (RESERVED_METRIC_NAMES) cannot be sent.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

MAX_METRICS = 64
MAX_EVENTS_PER_EPISODE = 500
# A day: longer is not a cycle time but a unit mistake (ms sent as s), and it keeps date arithmetic in range.
MAX_EPISODE_SECONDS = 86_400.0
METRIC_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,63}")
# Written by TrialBench, not by clients: the runner's GIF path (served as a file), the agent's robot,
# attempt and abort reason. A client sending them could spoof provenance or point `video` at a file.
RESERVED_METRIC_NAMES = frozenset({"video", "robot_id", "attempt", "abort_reason"})
MAX_EXACT_INT = 2**53

# Rigs' clocks drift and sit in other time zones; a day ahead is skew, more is a wrong clock or a wrong unit.
MAX_CLOCK_AHEAD = timedelta(days=1)
EARLIEST_START = datetime(2000, 1, 1, tzinfo=UTC)
# Offsets are floats from rigs' clocks: an event stamped a few milliseconds after the recorded end is
# rounding, not an error.
EVENT_END_TOLERANCE_S = 1e-3


def metric_name_problem(name: Any) -> str | None:
    """Why `name` cannot be a metric name, or None."""
    if type(name) is not str or not METRIC_NAME.fullmatch(name):
        return (
            "metric names are 1-64 characters: a letter, then letters, digits, '_', '.' or '-' "
            f"({str(name)[:70]!r} is not)"
        )
    if name in RESERVED_METRIC_NAMES:
        return f"{name!r} is written by TrialBench and cannot be sent"
    return None


def metric_value_problem(value: Any) -> str | None:
    """Why `value` cannot be a metric value, or None. Never recurses, so any nesting depth is cheap."""
    if isinstance(value, bool):
        return "must be a number, not a boolean"
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number (not NaN or infinity)"
    if isinstance(value, int | float):
        # One bound for integers and floats alike, so the API schema can state it (minimum/maximum).
        return None if -MAX_EXACT_INT <= value <= MAX_EXACT_INT else "must lie within +-2**53"
    return f"must be a number, not {_json_type(value)}"


def metrics_problems(metrics: Any) -> dict[str, list[str]]:
    """Problems of a `metrics` value keyed by metric name ("" for the object as a whole); empty when valid."""
    if not isinstance(metrics, Mapping):
        return {"": [f"must be an object of names to numbers, not {_json_type(metrics)}"]}
    if len(metrics) > MAX_METRICS:
        return {"": [f"{len(metrics)} metrics; at most {MAX_METRICS}"]}
    problems: dict[str, list[str]] = {}
    for name, value in metrics.items():
        why = metric_name_problem(name) or metric_value_problem(value)
        if why:
            problems[str(name)[:70]] = [why]
    return problems


def recorded_metrics_problems(metrics: Mapping[str, Any]) -> dict[str, list[str]]:
    """metrics_problems for what TrialBench itself records: the reserved names are allowed, with the types it
    writes (text for `video` and `abort_reason`, integers for `robot_id` and `attempt`)."""
    reserved = {k: v for k, v in metrics.items() if k in RESERVED_METRIC_NAMES}
    problems = metrics_problems({k: v for k, v in metrics.items() if k not in RESERVED_METRIC_NAMES})
    if len(metrics) > MAX_METRICS + len(RESERVED_METRIC_NAMES):
        problems.setdefault("", []).append(f"{len(metrics)} metrics; at most {MAX_METRICS}")
    for name, value in reserved.items():
        wanted = str if name in {"video", "abort_reason"} else int
        if not isinstance(value, wanted) or isinstance(value, bool):
            problems[name] = [f"must be {'text' if wanted is str else 'an integer'}"]
    return problems


def instant_problem(value: datetime, *, now: datetime) -> str | None:
    """Why an episode's start or end instant is implausible, or None. `value` must be aware."""
    if value.tzinfo is None or value.utcoffset() is None:
        return "must include a UTC offset, e.g. 2026-11-25T08:00:00Z or +01:00"
    if value < EARLIEST_START:
        return f"is before {EARLIEST_START:%Y-%m-%d}; check the rig's clock"
    if value > now + MAX_CLOCK_AHEAD:
        return "is more than a day in the future; check the rig's clock"
    return None


def event_offset_problems(
    offsets: Iterable[float], *, duration_s: float | None, after_s: float = 0.0
) -> dict[int, str]:
    """Problems by position of event offsets that must be non-decreasing, not before `after_s` (the last
    offset already kept) and, when `duration_s` is known, not after the episode's end."""
    problems: dict[int, str] = {}
    previous = after_s
    for position, offset in enumerate(offsets):
        if offset < previous:
            problems[position] = f"events must be in time order: {offset} < {previous}"
        elif duration_s is not None and offset > duration_s + EVENT_END_TOLERANCE_S:
            problems[position] = f"{offset} s is after the episode's end ({duration_s} s)"
        previous = max(previous, offset)
    return problems


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__
