"""The upload serializers' fast path must give exactly what DRF's field-by-field path gives, and must
decline (fall back to DRF, which reports the errors) whenever the input is not plainly well-formed."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework import serializers

from trials.models import EpisodeOutcome, EventCategory, EventKind, EventSeverity
from trials.serializers import EpisodeInputSerializer, EventInputSerializer, _event_fast

text = st.text(min_size=0, max_size=30)
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**20), 10**20), st.booleans(), text, st.none()
)
events = st.fixed_dictionaries(
    {
        "kind": st.one_of(st.sampled_from(EventKind.values), text),
        "category": st.one_of(st.sampled_from(EventCategory.values), text),
        "t_offset_s": numbers,
    },
    optional={"severity": st.one_of(st.sampled_from(EventSeverity.values), text), "message": text},
)
timestamps = st.one_of(
    st.datetimes().map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    st.sampled_from(["2026-11-25T08:00:00+02:00", "2026-11-25 08:00", "yesterday", ""]),
    st.integers(),
)
episodes = st.fixed_dictionaries(
    {
        "external_id": st.one_of(text, st.integers()),
        "outcome": st.one_of(st.sampled_from(EpisodeOutcome.values), text),
        "cycle_time_s": numbers,
        "started_at": timestamps,
    },
    optional={
        "index": st.one_of(st.none(), st.integers(-5, 10_005), text),
        "ended_at": timestamps,
        "metrics": st.one_of(st.dictionaries(text, st.integers()), st.lists(st.integers())),
        "events": st.one_of(st.lists(events, max_size=4), text),
    },
)


def _drf(serializer: serializers.Serializer[Any], data: Any) -> Any:
    """DRF's own field-by-field result, or its errors."""
    try:
        return serializers.Serializer.to_internal_value(serializer, data)
    except serializers.ValidationError as exc:
        return ("errors", exc.detail)


@settings(max_examples=400, deadline=None)
@given(data=events)
def test_event_fast_path_agrees_with_drf(data: dict[str, Any]) -> None:
    fast = _event_fast(data)
    if fast is not None:
        assert fast == _drf(EventInputSerializer(), data)


@settings(max_examples=400, deadline=None)
@given(data=episodes)
def test_episode_fast_path_agrees_with_drf(data: dict[str, Any]) -> None:
    serializer = EpisodeInputSerializer()
    fast = serializer._fast(data)
    if fast is not None:
        expected = _drf(serializer, data)
        assert expected == fast


@pytest.mark.parametrize(
    "data",
    [
        {"kind": "fault", "category": "drop", "t_offset_s": True},
        {"kind": "fault", "category": "drop", "t_offset_s": "1.5"},
        {"kind": "fault", "category": "drop", "t_offset_s": 1, "message": " padded "},
        {"kind": "fault", "category": "drop", "t_offset_s": 1, "message": "naïve"},
        {"kind": "fault", "category": "nope", "t_offset_s": 1},
    ],
)
def test_event_fast_path_declines_anything_drf_would_transform_or_reject(data: dict[str, Any]) -> None:
    assert _event_fast(data) is None


def test_typical_episode_takes_the_fast_path() -> None:
    data = {
        "external_id": "rig-1",
        "outcome": "success",
        "cycle_time_s": 11,
        "started_at": "2026-11-25T08:00:00Z",
        "events": [{"kind": "fault", "category": "drop", "t_offset_s": 2}],
    }
    fast = EpisodeInputSerializer()._fast(data)
    assert fast is not None and fast["cycle_time_s"] == 11.0 and fast["events"][0]["severity"] == "warning"
