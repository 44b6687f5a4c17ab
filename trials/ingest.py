"""Episode ingest: an integrator's batch (JSON or CSV) validated whole, then recorded all or nothing.

Both the REST API (trials.api) and the browser upload page (trials.upload_views) call these and get
plain data back. Input is checked with the API's serializers, so the errors raised are DRF's:
ValidationError (400) and Conflict (409), each with `errors` keyed by position (or by CSV line)."""

from __future__ import annotations

import re
from typing import Any, TypedDict

from rest_framework.exceptions import ValidationError

from common.errors import Conflict
from core import episode_csv
from trials.models import Trial
from trials.serializers import MAX_EPISODES_PER_REQUEST, EpisodeInputSerializer
from trials.services import (
    EpisodeConflictError,
    EpisodeInput,
    TrialRuleError,
    episode_index_problem,
    episodes_record,
)

_POSITION = re.compile(r"^#(\d+): ")


class IngestedEpisode(TypedDict):
    id: int
    index: int
    external_id: str | None
    status: str  # "created" or "existing"


class IngestSummary(TypedDict):
    created: int
    existing: int
    episodes: list[IngestedEpisode]


def _indexerror_responses(items: list[Any]) -> dict[str, Any]:
    """Errors of one list keyed by position (as strings), only for items that have errors."""
    return {str(i): e for i, e in enumerate(items) if e}


def episode_batch_validate(*, trial: Trial, items: list[Any]) -> list[EpisodeInput]:
    """Validate every episode of a batch before anything is written. Returns the service inputs.
    Raises ValidationError whose detail maps each failing position to its field errors."""
    serializer = EpisodeInputSerializer(data=items, many=True)
    errors: dict[str, Any] = {}
    if not serializer.is_valid():
        detail = serializer.errors
        if isinstance(detail, dict):  # not a list at all, or the list itself is wrong
            raise ValidationError(detail)
        errors = _indexerror_responses(detail)
        for error in errors.values():
            if isinstance(error, dict) and isinstance(error.get("events"), list):
                error["events"] = _indexerror_responses(error["events"])
    valid = [] if errors else serializer.validated_data
    seen_external: dict[str, int] = {}
    seen_index: dict[int, int] = {}
    for position, attrs in enumerate(valid):
        problems: dict[str, list[str]] = {}
        first = seen_external.setdefault(attrs["external_id"], position)
        if first != position:
            problems["external_id"] = [f"repeated in this request (also at {first})"]
        index = attrs["index"]
        if index is not None:
            outside = episode_index_problem(index=index, episodes_planned=trial.episodes_planned)
            if outside:
                problems["index"] = [outside]
            elif seen_index.setdefault(index, position) != position:
                problems["index"] = [f"repeated in this request (also at {seen_index[index]})"]
        if problems:
            errors[str(position)] = problems
    if errors:
        raise ValidationError(errors)
    return [EpisodeInputSerializer.to_input(attrs) for attrs in valid]


def episode_batch_record(
    *, trial: Trial, episodes: list[EpisodeInput], position_names: list[str] | None = None
) -> IngestSummary:
    """Record validated episodes through the service. Returns what was created or already there, per
    episode. `position_names` renames positions in errors (the CSV names lines). Raises ValidationError
    (400) or Conflict (409) with errors keyed by position; nothing is written on either."""

    def name(position: int) -> str:
        return position_names[position] if position_names else str(position)

    try:
        result = episodes_record(trial_id=trial.pk, episodes=episodes)
    except EpisodeConflictError as exc:
        errors: dict[str, Any] = {}
        for conflict in exc.conflicts:
            errors.setdefault(name(conflict.position), {}).setdefault("external_id", []).append(conflict.reason)
        raise Conflict(
            f"{len(exc.conflicts)} episode(s) were already recorded with different content under the same "
            "external_id; nothing was written. Send them with new external_ids, or resend the recorded content.",
            errors=errors,
        ) from exc
    except TrialRuleError as exc:
        if exc.field == "trial":
            raise Conflict(str(exc), errors={"trial": [str(exc)]}) from exc
        match = _POSITION.match(str(exc))
        if match and exc.field == "metrics":  # bad input, not a conflict (the serializers catch it first)
            raise ValidationError({name(int(match.group(1))): {"metrics": [str(exc)[match.end() :]]}}) from exc
        if match:
            position = int(match.group(1))
            reason = str(exc)[match.end() :]
            raise Conflict(
                f"{name(position)}: {reason}; nothing was written.",
                errors={name(position): {exc.field or "index": [reason]}},
            ) from exc
        raise ValidationError({exc.field or "non_field_errors": [str(exc)]}) from exc
    status_by_id = {e.pk: "created" for e in result.created} | {e.pk: "existing" for e in result.existing}
    by_external = {e.external_id: e for e in [*result.created, *result.existing]}
    rows: list[IngestedEpisode] = []
    for item in episodes:
        episode = by_external[item.external_id]
        rows.append(
            {
                "id": episode.pk,
                "index": episode.index,
                "external_id": item.external_id,
                "status": status_by_id[episode.pk],
            }
        )
    return {"created": len(result.created), "existing": len(result.existing), "episodes": rows}


def episodes_ingest(*, trial: Trial, data: Any) -> IngestSummary:
    """Validate and record a JSON upload: one episode object or a list of up to MAX_EPISODES_PER_REQUEST.
    Returns the summary. Raises ValidationError (400) or Conflict (409), nothing written on either."""
    items = [data] if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ValidationError({"non_field_errors": ["Expected an episode object or a list of them."]})
    if not items:
        raise ValidationError({"non_field_errors": ["The list is empty."]})
    if len(items) > MAX_EPISODES_PER_REQUEST:
        raise ValidationError(
            {"non_field_errors": [f"{len(items)} episodes; send at most {MAX_EPISODES_PER_REQUEST} per request."]}
        )
    episodes = episode_batch_validate(trial=trial, items=items)
    return episode_batch_record(trial=trial, episodes=episodes)


def episodes_ingest_csv(*, trial: Trial, raw: bytes) -> IngestSummary:
    """Parse, validate and record a CSV upload (API and the browser upload page). Returns the summary.
    Raises ValidationError (errors keyed by line) or Conflict (409), nothing written on either."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError({"file": ["The file is not UTF-8 text."]}) from exc
    try:
        items, first_lines, event_lines = episode_csv.parse_episodes_csv(text)
    except episode_csv.CsvFormatError as exc:
        raise ValidationError(exc.errors) from exc
    if not items:
        raise ValidationError({"file": ["No episode rows after the header."]})
    if len(items) > MAX_EPISODES_PER_REQUEST:
        raise ValidationError({"file": [f"{len(items)} episodes; send at most {MAX_EPISODES_PER_REQUEST} per file."]})
    line_names = [f"line {n}" for n in first_lines]
    try:
        episodes = episode_batch_validate(trial=trial, items=items)
    except ValidationError as exc:
        raise ValidationError(_errors_by_line(exc.detail, line_names, event_lines)) from exc
    return episode_batch_record(trial=trial, episodes=episodes, position_names=line_names)


def _errors_by_line(detail: Any, line_names: list[str], event_lines: list[list[int]]) -> Any:
    """Re-key position errors of a CSV batch by the line of the episode (or of the event) at fault."""
    if not isinstance(detail, dict) or not all(str(k).isdigit() for k in detail):
        return detail
    by_line: dict[str, Any] = {}
    for key, error in detail.items():
        position = int(key)
        if isinstance(error, dict) and isinstance(error.get("events"), dict):
            for event_key, event_error in error.pop("events").items():
                line = f"line {event_lines[position][int(event_key)]}"
                for column, messages in event_error.items():
                    by_line.setdefault(line, {})[f"event_{column}"] = messages
        if error:
            by_line.setdefault(line_names[position], {}).update(error)
    return by_line
