"""CSV layout for episode uploads (integrators whose rigs log CSV). No ORM here: parsing turns rows into
the same dictionaries the JSON bulk endpoint takes, so both share one validation and one idempotency rule.

Layout: UTF-8, a header row, comma-separated, one row per event. An episode without events is one row
with the event columns empty; an episode with k events is k rows that repeat the episode columns
(identically) and differ in the event columns. Rows of one episode share its `external_id`.

| column | required | meaning |
|---|---|---|
| external_id | yes | the rig's id of the episode (idempotency key, up to 200 characters) |
| index | no | 0-based position in the trial; empty = next free |
| outcome | yes | success, failure or aborted |
| cycle_time_s | yes | seconds, >= 0 |
| started_at | yes | ISO 8601 with a required offset, e.g. 2026-11-25T08:00:00Z |
| ended_at | no | ISO 8601; empty = started_at + cycle_time_s |
| event_t_offset_s | per event | seconds since the episode start, <= its duration, non-decreasing |
| event_kind | per event | intervention, fault or exception |
| event_category | per event | grasp_miss, drop, collision, timeout, e_stop, perception, safety_stop, policy_unreachable, other |
| event_severity | no | info, warning (default), error, critical |
| event_message | no | free text |
| metric_<name> | no | extra numeric columns (finite numbers), stored in the episode's metrics as <name> |

Metric names follow core.episode_rules (at most 64, each a letter then up to 63 of [A-Za-z0-9_.-]). A cell
holds at most MAX_CELL_CHARS characters. All rows of one episode are contiguous.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from core.episode_rules import MAX_METRICS, metric_name_problem, metric_value_problem

EPISODE_COLUMNS = ("external_id", "index", "outcome", "cycle_time_s", "started_at", "ended_at")
EVENT_COLUMNS = ("event_t_offset_s", "event_kind", "event_category", "event_severity", "event_message")
CSV_COLUMNS = EPISODE_COLUMNS + EVENT_COLUMNS
REQUIRED_COLUMNS = ("external_id", "outcome", "cycle_time_s", "started_at")
METRIC_PREFIX = "metric_"
# The longest valid cell is an event message (2,000 characters); a bigger one is a wrong column or an attack.
MAX_CELL_CHARS = 10_000

TEMPLATE_ROWS = (
    ("rig3-000001", "", "success", "11.8", "2026-11-25T08:00:00Z", "", "", "", "", "", ""),
    (
        "rig3-000002",
        "",
        "failure",
        "14.2",
        "2026-11-25T08:00:15Z",
        "",
        "3.5",
        "intervention",
        "grasp_miss",
        "warning",
        "re-seated part",
    ),
    (
        "rig3-000002",
        "",
        "failure",
        "14.2",
        "2026-11-25T08:00:15Z",
        "",
        "9.0",
        "fault",
        "drop",
        "error",
        "part fell off the tray",
    ),
)


class CsvFormatError(ValueError):
    """The file is not in the documented layout. `errors` maps "line N" (or "header") to field -> messages."""

    def __init__(self, errors: dict[str, dict[str, list[str]]]) -> None:
        super().__init__("CSV does not follow the documented layout")
        self.errors = errors


def template_csv() -> str:
    """Returns the template file: the header and three example rows (two episodes, one with two events)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(TEMPLATE_ROWS)
    return out.getvalue()


def _blank(value: str | None) -> bool:
    return value is None or value.strip() == ""


def parse_episodes_csv(text: str) -> tuple[list[dict[str, Any]], list[int], list[list[int]]]:
    """Parse a CSV upload into episode dictionaries in the JSON bulk format (values kept as strings, to be
    validated by the same serializer). Returns (episodes, the first line of each episode, the line of each
    event per episode) so validation errors can be reported by line. Raises CsvFormatError on a missing,
    unknown or repeated header column, a cell over MAX_CELL_CHARS, rows of one episode that disagree or are
    not contiguous, a metric column breaking core.episode_rules, or text the csv module cannot read."""
    # The csv module's own cell limit (131,072) raises an error naming no column; lift it to the text's
    # size (bounded by the request body limit) and report oversize cells by line and column below.
    if csv.field_size_limit() < len(text) + 1:
        csv.field_size_limit(len(text) + 1)
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    try:
        return _parse(reader)
    except csv.Error as exc:  # e.g. a stray carriage return inside an unquoted cell
        # The reader raises before counting the line it could not read.
        raise CsvFormatError({f"line {reader.line_num + 1}": {"row": [f"not CSV: {exc}"]}}) from exc


def _header_problems(header: list[str]) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    for column in REQUIRED_COLUMNS:
        if column not in header:
            problems[column] = ["required column is missing from the header"]
    metric_columns = 0
    for column in header:
        if column.startswith(METRIC_PREFIX):
            metric_columns += 1
            why = metric_name_problem(column[len(METRIC_PREFIX) :])
            if why:
                problems[column[:80]] = [why]
        elif column not in CSV_COLUMNS:
            problems[column[:80] or "(empty)"] = [
                f"unknown column; expected {', '.join(CSV_COLUMNS)} or {METRIC_PREFIX}<name>"
            ]
    if metric_columns > MAX_METRICS:
        problems["header"] = [f"{metric_columns} metric columns; at most {MAX_METRICS}"]
    duplicates = sorted({c for c in header if header.count(c) > 1})
    for column in duplicates:
        problems[column[:80]] = ["column appears more than once"]
    return problems


def _parse(reader: csv.DictReader[str]) -> tuple[list[dict[str, Any]], list[int], list[list[int]]]:
    header = [h.strip() for h in (reader.fieldnames or [])]
    problems = _header_problems(header)
    if problems:
        raise CsvFormatError({"header": problems})
    reader.fieldnames = header
    metric_columns = [c for c in header if c.startswith(METRIC_PREFIX)]

    episodes: list[dict[str, Any]] = []
    first_lines: list[int] = []
    event_lines: list[list[int]] = []
    by_external_id: dict[str, int] = {}
    errors: dict[str, dict[str, list[str]]] = {}
    for row in reader:
        line = reader.line_num
        if None in row:  # more cells than header columns
            errors[f"line {line}"] = {"row": [f"{len(header) + len(row[None])} cells for {len(header)} columns"]}
            continue
        if all(_blank(v) for v in row.values()):
            continue
        oversize = {
            c: [f"longer than {MAX_CELL_CHARS} characters"] for c, v in row.items() if len(v or "") > MAX_CELL_CHARS
        }
        if oversize:
            errors[f"line {line}"] = oversize
            continue
        fields = {c: (row.get(c) or "").strip() for c in EPISODE_COLUMNS}
        external_id = fields["external_id"]
        metrics: dict[str, float] = {}
        for column in metric_columns:
            if _blank(row.get(column)):
                continue
            try:
                value = float(row[column])
            except ValueError:
                errors.setdefault(f"line {line}", {})[column] = [f"{row[column][:50]!r} is not a number"]
                continue
            why = metric_value_problem(value)  # float() reads "nan", "inf" and 1e999 (as inf)
            if why:
                errors.setdefault(f"line {line}", {})[column] = [why]
                continue
            metrics[column[len(METRIC_PREFIX) :]] = value
        episode: dict[str, Any] = {
            "external_id": external_id,
            "outcome": fields["outcome"],
            "cycle_time_s": fields["cycle_time_s"],
            "started_at": fields["started_at"],
            "metrics": metrics,
            "events": [],
        }
        if fields["index"]:
            episode["index"] = fields["index"]
        if fields["ended_at"]:
            episode["ended_at"] = fields["ended_at"]

        position = by_external_id.get(external_id) if external_id else None
        if position is not None and position != len(episodes) - 1:
            # Merging rows a, b, a into one episode would hide a sorting mistake or two episodes sharing an id.
            errors.setdefault(f"line {line}", {})["external_id"] = [
                f"rows of episode {external_id!r} must be contiguous; it started at line {first_lines[position]} "
                "and another episode's rows came in between"
            ]
            continue
        if position is None:
            position = len(episodes)
            if external_id:
                by_external_id[external_id] = position
            episodes.append(episode)
            first_lines.append(line)
            event_lines.append([])
        else:
            known = episodes[position]
            differing = [
                c
                for c in ("outcome", "cycle_time_s", "started_at", "index", "ended_at", "metrics")
                if known.get(c) != episode.get(c)
            ]
            if differing:
                errors.setdefault(f"line {line}", {})["external_id"] = [
                    f"rows of episode {external_id!r} disagree with line {first_lines[position]} on "
                    + ", ".join(differing)
                ]
                continue
        event_cells = {c: (row.get(c) or "").strip() for c in EVENT_COLUMNS}
        if any(event_cells.values()):
            event: dict[str, Any] = {
                "t_offset_s": event_cells["event_t_offset_s"],
                "kind": event_cells["event_kind"],
                "category": event_cells["event_category"],
                "message": event_cells["event_message"],
            }
            if event_cells["event_severity"]:
                event["severity"] = event_cells["event_severity"]
            episodes[position]["events"].append(event)
            event_lines[position].append(line)
    if errors:
        raise CsvFormatError(errors)
    return episodes, first_lines, event_lines
