"""Exports: streamed CSV of a trial's episodes and events.

CSV rows come from one values_list query read with .iterator() and written row by row, so a trial of a
million episodes streams in constant memory.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import QuerySet

from trials.models import Episode, EpisodeEvent, Trial

EPISODE_CSV_COLUMNS = (
    "trial_id",
    "index",
    "external_id",
    "outcome",
    "source",
    "cycle_time_s",
    "started_at",
    "ended_at",
)
EVENT_CSV_COLUMNS = (
    "trial_id",
    "episode_index",
    "episode_external_id",
    "t_offset_s",
    "kind",
    "category",
    "severity",
    "message",
)
CHUNK_ROWS = 5_000


class _Echo:
    """A file-like object whose write() returns the line, so csv.writer feeds a generator."""

    def write(self, value: str) -> str:
        return value


# A text cell starting with one of these is a formula to Excel/LibreOffice (CSV injection, OWASP);
# messages and external ids come from integrators' rigs, so they are neutralised with a leading quote.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


def _csv_lines(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([_cell(v) for v in row])


def episode_rows(*, trial: Trial) -> QuerySet[Episode, tuple[Any, ...]]:
    """The trial's episodes as EPISODE_CSV_COLUMNS tuples, by index."""
    return (
        Episode.objects.filter(trial=trial)
        .order_by("index")
        .values_list("trial_id", "index", "external_id", "outcome", "source", "cycle_time_s", "started_at", "ended_at")
    )


def event_rows(*, trial: Trial) -> QuerySet[EpisodeEvent, tuple[Any, ...]]:
    """The trial's events as EVENT_CSV_COLUMNS tuples, by episode index then time in the episode."""
    return (
        EpisodeEvent.objects.filter(episode__trial=trial)
        .order_by("episode__index", "t_offset_s", "pk")
        .values_list(
            "episode__trial_id",
            "episode__index",
            "episode__external_id",
            "t_offset_s",
            "kind",
            "category",
            "severity",
            "message",
        )
    )


def episodes_csv(*, trial: Trial) -> Iterator[str]:
    """CSV lines (header first) of the trial's episodes; one query, streamed."""
    return _csv_lines(EPISODE_CSV_COLUMNS, episode_rows(trial=trial).iterator(chunk_size=CHUNK_ROWS))


def events_csv(*, trial: Trial) -> Iterator[str]:
    """CSV lines (header first) of the trial's events; one query, streamed."""
    return _csv_lines(EVENT_CSV_COLUMNS, event_rows(trial=trial).iterator(chunk_size=CHUNK_ROWS))
