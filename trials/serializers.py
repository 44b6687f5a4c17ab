"""REST input and output shapes for tasks, trials, episodes and events. Input serializers only
validate; writes go through trials/services.py."""

from __future__ import annotations

import math
from datetime import UTC, timedelta
from typing import Any, TypeGuard

from django.db import models
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import MediaRetention, Organization, User
from common.api_support import StrictCharField, StrictModelSerializer
from core.episode_rules import (
    MAX_EPISODE_SECONDS,
    MAX_EVENTS_PER_EPISODE,
    MAX_EXACT_INT,
    MAX_METRICS,
    METRIC_NAME,
    RESERVED_METRIC_NAMES,
    event_offset_problems,
    instant_problem,
    metrics_problems,
)
from policies.models import PolicyVersion
from policies.selectors import policy_version_list_for_user
from robots.models import Robot
from robots.selectors import robot_list_for_user, site_list_for_user
from trials.models import (
    DEFAULT_OVERVIEW_FPS,
    DEFAULT_OVERVIEW_PX,
    MAX_EPISODES_PER_TRIAL,
    OVERVIEW_FPS_MAX,
    OVERVIEW_PX_MAX,
    OVERVIEW_PX_MIN,
    Episode,
    EpisodeEvent,
    EpisodeOutcome,
    EventCategory,
    EventKind,
    EventSeverity,
    Task,
    Trial,
)
from trials.selectors import task_commercial_visible, task_list_for_user
from trials.services import TASK_WRITABLE_FIELDS, EpisodeInput, EventInput

MAX_EPISODES_PER_REQUEST = 1000


def _finite(value: float) -> None:
    if not math.isfinite(value):
        raise serializers.ValidationError("must be a finite number")


def _limit_choices(field: serializers.Field[Any, Any, Any, Any], queryset: QuerySet[Any]) -> None:
    """Accept only rows of `queryset` in a related field (Serializer.fields types its values as plain Fields)."""
    if not isinstance(field, serializers.RelatedField):
        raise TypeError(f"{field!r} is not a related field")
    # The stubs declare `queryset` as QuerySet | Manager and check Manager's descriptor on assignment.
    field.queryset = queryset  # type: ignore[arg-type]


def _user(serializer: serializers.Serializer[Any]) -> User | None:
    """The requesting user, or None when there is no request (the schema generator instantiates serializers)."""
    request = serializer.context.get("request")
    return getattr(request, "user", None)


class StrictFloatField(serializers.FloatField):
    """A finite number: a JSON number or a decimal string (CSV cells arrive as strings), never a boolean,
    which DRF's FloatField would store as 1.0 or 0.0."""

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool):
            self.fail("invalid")
        value = super().to_internal_value(data)
        _finite(value)
        return value


class EpisodeInstantField(serializers.DateTimeField):
    """An ISO 8601 instant with a UTC offset and a plausible date (core.episode_rules.instant_problem).
    DRF's DateTimeField would read a time without an offset in the server's time zone."""

    def to_internal_value(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise serializers.ValidationError("must be an ISO 8601 string, e.g. 2026-11-25T08:00:00Z")
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
        if parsed is None:
            self.fail("invalid", format="ISO 8601, e.g. 2026-11-25T08:00:00Z")
        problem = instant_problem(parsed, now=timezone.now())
        if problem:
            raise serializers.ValidationError(problem)
        # Stored in UTC: RFC 3339 allows offsets up to +-23:59, PostgreSQL's timestamptz only +-15:59.
        return parsed.astimezone(UTC)


@extend_schema_field(
    {
        "type": "object",
        "maxProperties": MAX_METRICS,
        # patternProperties rather than propertyNames, which schema-driven generators ignore; the reserved
        # names (RESERVED_METRIC_NAMES) are said in the description.
        "patternProperties": {
            f"^{METRIC_NAME.pattern}$": {"type": "number", "minimum": -MAX_EXACT_INT, "maximum": MAX_EXACT_INT}
        },
        "additionalProperties": False,
        "description": "Flat object of up to 64 names to finite numbers within +-2**53; names written by "
        f"TrialBench ({', '.join(sorted(RESERVED_METRIC_NAMES))}) cannot be sent.",
    }
)
class MetricsField(serializers.Field):
    """Numbers measured in an episode; the rules are core.episode_rules (errors keyed by metric name)."""

    default_error_messages = {"invalid": "must be an object of names to numbers"}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "help_text", "Flat object of up to 64 names ([A-Za-z][A-Za-z0-9_.-]{0,63}) to finite numbers."
        )
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> dict[str, int | float]:
        problems = metrics_problems(data)
        if problems:
            raise serializers.ValidationError(problems.pop("") if "" in problems else problems)
        return dict(data)

    def to_representation(self, value: Any) -> Any:
        return value


# --- Tasks ---------------------------------------------------------------------------------------


class TaskSerializer(StrictModelSerializer[Task]):
    trial_count = serializers.IntegerField(read_only=True)
    labour_cost_per_hour = serializers.DecimalField(
        max_digits=10,
        decimal_places=2,
        read_only=True,
        allow_null=True,
        help_text="Loaded labour cost per operator hour, in `currency`; null for an integrator engaged "
        "on another organization's task (commercial terms stay with the task's organization).",
    )

    currency = serializers.CharField(
        source="organization.currency",
        read_only=True,
        help_text="ISO 4217 code of the task's money figures (labour cost, cost model, ROI): its organization's.",
    )

    def to_representation(self, instance: Task) -> dict[str, Any]:
        data = super().to_representation(instance)
        user = _user(self)
        if user is not None and not task_commercial_visible(user=user, task=instance):
            data["labour_cost_per_hour"] = None
        return data

    class Meta:
        model = Task
        fields = [
            "id",
            "organization",
            "currency",
            *TASK_WRITABLE_FIELDS,
            "fit_factors",
            "fit_score",
            "trial_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class TaskWriteSerializer(StrictModelSerializer[Task]):
    """Input for creating (all required fields) or patching (any subset) a task of the caller's organization."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.FloatField: StrictFloatField,
    }

    class Meta:
        model = Task
        fields = list(TASK_WRITABLE_FIELDS)
        extra_kwargs = {
            "manual_cycle_time_s": {"min_value": 0.001},
            "takt_time_s": {"min_value": 0.001},
            "labour_cost_per_hour": {
                "min_value": 0,
                "help_text": "Loaded labour cost per operator hour (wage x 1.3-1.6), in the organization's currency.",
            },
            "operators_per_shift": {"min_value": 0},
        }
        # Name uniqueness per organization is checked by the service (organization is not an input).
        validators: list[Any] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _limit_choices(self.fields["integrator"], Organization.objects.filter(kind=Organization.Kind.INTEGRATOR))
        user = _user(self)
        if user is not None:
            _limit_choices(self.fields["site"], site_list_for_user(user=user))

    def validate_manual_cycle_time_s(self, value: float) -> float:
        _finite(value)
        return value

    def validate_takt_time_s(self, value: float) -> float:
        _finite(value)
        return value

    def validate_hours_per_shift(self, value: float) -> float:
        _finite(value)
        return value


# --- Trials --------------------------------------------------------------------------------------


class TrialSerializer(StrictModelSerializer[Trial]):
    scheduled_by = serializers.CharField(source="scheduled_by.username", read_only=True, allow_null=True)
    # A plain string in the schema: "" (the organization's setting) is a value here, which the generated
    # enum of the model's choices would not list.
    media_retention = serializers.CharField(
        read_only=True, help_text="keep_all, failures_first_n or keep_none; blank: the organization's setting."
    )

    class Meta:
        model = Trial
        fields = [
            "id",
            "task",
            "policy_version",
            "robot",
            "episodes_planned",
            "seed",
            "instruction",
            "episode_timeout_s",
            "variation",
            "sweep",
            "sweep_label",
            "status",
            "status_message",
            "scheduled_by",
            "created_at",
            "started_at",
            "finished_at",
            "overview_px",
            "overview_fps",
            "media_retention",
            "media_keep_successes",
            "stages",
            "preflight",
        ]
        read_only_fields = fields


class TrialProgressSerializer(serializers.Serializer[dict[str, int]]):
    done = serializers.IntegerField()
    success = serializers.IntegerField()
    failure = serializers.IntegerField()
    aborted = serializers.IntegerField()
    lost = serializers.IntegerField(help_text="Attempts lost to infrastructure: not in `done` nor in any rate.")


class TrialDetailSerializer(TrialSerializer):
    progress = TrialProgressSerializer(read_only=True, source="progress_counts")

    class Meta(TrialSerializer.Meta):
        fields = [*TrialSerializer.Meta.fields, "progress"]
        read_only_fields = fields


class TrialCreateSerializer(serializers.Serializer[dict[str, Any]]):
    """Schedule a trial of a visible task on one of the caller's organization's robots."""

    # Querysets are narrowed to what the caller may see in __init__: others' objects "do not exist".
    task = serializers.PrimaryKeyRelatedField(queryset=Task.objects.none())
    policy_version = serializers.PrimaryKeyRelatedField(queryset=PolicyVersion.objects.none())
    robot = serializers.PrimaryKeyRelatedField(queryset=Robot.objects.none())
    episodes_planned = serializers.IntegerField(min_value=1, max_value=MAX_EPISODES_PER_TRIAL)
    seed = serializers.IntegerField(min_value=0, max_value=2**63 - 1, default=0)
    instruction = StrictCharField(max_length=500, required=False, allow_blank=True, default="")
    episode_timeout_s = StrictFloatField(min_value=0.001, max_value=86_400, default=60.0)
    overview_px = serializers.IntegerField(
        min_value=OVERVIEW_PX_MIN,
        max_value=OVERVIEW_PX_MAX,
        default=DEFAULT_OVERVIEW_PX,
        help_text="Recording: the overview camera's square image size in pixels.",
    )
    overview_fps = StrictFloatField(
        min_value=0.0,
        max_value=OVERVIEW_FPS_MAX,
        default=DEFAULT_OVERVIEW_FPS,
        help_text="Recording: overview frames per simulated second (0: no overview).",
    )
    media_retention = serializers.ChoiceField(
        choices=MediaRetention.choices,
        allow_blank=True,
        default="",
        help_text="Which recordings to keep; blank: the organization's setting.",
    )
    media_keep_successes = serializers.IntegerField(
        min_value=0,
        max_value=MAX_EPISODES_PER_TRIAL,
        allow_null=True,
        default=None,
        help_text="N for 'failures and the first N successes'; null: the organization's.",
    )
    start_runner = serializers.BooleanField(
        default=False,
        help_text="false (default): the trial waits for your uploads. true: TrialBench runs it "
        "(simulated cell or the robot's agent).",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        user = _user(self)
        if user is None:
            return
        fields: dict[str, QuerySet[Any]] = {
            "task": task_list_for_user(user=user),
            "policy_version": policy_version_list_for_user(user=user),
            "robot": robot_list_for_user(user=user),
        }
        for name, queryset in fields.items():
            _limit_choices(self.fields[name], queryset)

    def validate_episode_timeout_s(self, value: float) -> float:
        _finite(value)
        return value


# --- Episodes and events -------------------------------------------------------------------------


class EventSerializer(StrictModelSerializer[EpisodeEvent]):
    class Meta:
        model = EpisodeEvent
        fields = ["id", "episode", "kind", "category", "severity", "t_offset_s", "message"]
        read_only_fields = fields


class EpisodeEventNestedSerializer(StrictModelSerializer[EpisodeEvent]):
    class Meta:
        model = EpisodeEvent
        fields = ["kind", "category", "severity", "t_offset_s", "message"]
        read_only_fields = fields


class EpisodeSerializer(StrictModelSerializer[Episode]):
    events = EpisodeEventNestedSerializer(many=True, read_only=True)
    # A plain string: "" until a review (the choices' enum would not list it in the schema).
    detected_outcome = serializers.CharField(
        read_only=True, help_text="The outcome as reported, kept once a review changed it; empty before any review."
    )

    class Meta:
        model = Episode
        fields = [
            "id",
            "trial",
            "index",
            "external_id",
            "outcome",
            "cycle_time_s",
            "started_at",
            "ended_at",
            "source",
            "metrics",
            "events",
            "detected_outcome",
            "review_state",
            "reviewed_at",
            "stage_reached",
            "stage_times_s",
            "progress",
            "created_at",
        ]
        read_only_fields = fields


# Fast path for well-formed uploads. DRF validates ~25 fields per episode at ~25 us each, which would
# dominate a 1,000-episode request. Input that is plainly valid (exact JSON types, known choices, ASCII
# text with nothing to trim) is converted directly, with the same result DRF would give
# (tests/api/test_serializers_fast_path.py checks that); anything else takes DRF's path, which produces
# the field errors.
_KINDS = frozenset(EventKind.values)
_CATEGORIES = frozenset(EventCategory.values)
_SEVERITIES = frozenset(EventSeverity.values)
_OUTCOMES = frozenset(EpisodeOutcome.values)


def _plain_text(value: Any, *, max_length: int, allow_blank: bool) -> bool:
    return (
        type(value) is str
        and len(value) <= max_length
        and value.isascii()
        and "\x00" not in value
        and value == value.strip()
        and (allow_blank or value != "")
    )


def _plain_seconds(value: Any) -> TypeGuard[float]:
    """A JSON number (not a bool) in 0..MAX_EPISODE_SECONDS."""
    return type(value) in (float, int) and 0 <= value <= MAX_EPISODE_SECONDS


def _event_fast(data: dict[str, Any]) -> dict[str, Any] | None:
    kind, category = data.get("kind"), data.get("category")
    severity, offset = data.get("severity", EventSeverity.WARNING.value), data.get("t_offset_s")
    message = data.get("message", "")
    if (
        # Type first: a JSON object or list is unhashable, so a set lookup alone would raise (a 500).
        type(kind) is str
        and type(category) is str
        and type(severity) is str
        and kind in _KINDS
        and category in _CATEGORIES
        and severity in _SEVERITIES
        and _plain_seconds(offset)
        and _plain_text(message, max_length=2000, allow_blank=True)
    ):
        return {
            "kind": kind,
            "category": category,
            "severity": severity,
            "t_offset_s": float(offset),
            "message": message,
        }
    return None


class EventInputSerializer(serializers.Serializer[dict[str, Any]]):
    kind = serializers.ChoiceField(choices=EventKind.choices)
    category = serializers.ChoiceField(choices=EventCategory.choices)
    severity = serializers.ChoiceField(choices=EventSeverity.choices, default=EventSeverity.WARNING)
    t_offset_s = StrictFloatField(
        min_value=0, max_value=MAX_EPISODE_SECONDS, help_text="Seconds since the episode start."
    )
    message = StrictCharField(max_length=2000, required=False, allow_blank=True, default="")

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        fast = _event_fast(data) if type(data) is dict else None
        return fast if fast is not None else super().to_internal_value(data)


def episode_times_check(attrs: dict[str, Any]) -> dict[str, Any]:
    """Fill `ended_at` (default started_at + cycle_time_s) and check it and the events' offsets against the
    start; shared by the integrator's and the agent's input. Returns attrs; raises ValidationError."""
    started = attrs["started_at"]
    try:
        ended = attrs.get("ended_at") or started + timedelta(seconds=attrs["cycle_time_s"])
    except OverflowError as exc:
        raise serializers.ValidationError({"started_at": ["too close to the end of the calendar"]}) from exc
    if ended < started:
        raise serializers.ValidationError({"ended_at": ["must not be before started_at"]})
    problem = instant_problem(ended, now=timezone.now())
    if problem:
        raise serializers.ValidationError(
            {"ended_at" if "ended_at" in attrs else "cycle_time_s": [f"the end {problem}"]}
        )
    attrs["ended_at"] = ended
    duration = (ended - started).total_seconds()
    problems = event_offset_problems((e["t_offset_s"] for e in attrs["events"]), duration_s=duration)
    if problems:
        raise serializers.ValidationError({"events": {str(p): {"t_offset_s": [m]} for p, m in problems.items()}})
    return attrs


class EpisodeInputSerializer(serializers.Serializer[dict[str, Any]]):
    """One uploaded episode. `external_id` is the idempotency key: re-sending the same content returns the
    recorded episode; different content under the same id is a 409."""

    external_id = StrictCharField(max_length=200, help_text="Your id of this episode; unique per trial.")
    index = serializers.IntegerField(
        min_value=0, max_value=MAX_EPISODES_PER_TRIAL - 1, required=False, allow_null=True, default=None
    )
    outcome = serializers.ChoiceField(choices=EpisodeOutcome.choices)
    cycle_time_s = StrictFloatField(
        min_value=0, max_value=MAX_EPISODE_SECONDS, help_text="Seconds from start to end of the attempt (<= 1 day)."
    )
    started_at = EpisodeInstantField(help_text="ISO 8601 with a UTC offset, from 2000 to a day ahead of now.")
    ended_at = EpisodeInstantField(required=False, help_text="Defaults to started_at + cycle_time_s.")
    metrics = MetricsField(required=False, default=dict)
    # many_init is what many=True calls; the stubs type only the child's arguments on the constructor.
    events = EventInputSerializer.many_init(required=False, default=list, max_length=MAX_EVENTS_PER_EPISODE)

    def _fast(self, data: dict[str, Any]) -> dict[str, Any] | None:
        """The validated attrs of a plainly well-formed episode, or None to take DRF's path."""
        index = data.get("index")
        events = data.get("events", [])
        metrics = data.get("metrics", {})
        if not (
            _plain_text(data.get("external_id"), max_length=200, allow_blank=False)
            and (index is None or (type(index) is int and 0 <= index < MAX_EPISODES_PER_TRIAL))
            and data.get("outcome") in _OUTCOMES
            and _plain_seconds(data.get("cycle_time_s"))
            and type(data.get("started_at")) is str
            and type(data.get("ended_at", "")) is str
            and type(metrics) is dict
            and not metrics_problems(metrics)
            and type(events) is list
            and len(events) <= MAX_EVENTS_PER_EPISODE
        ):
            return None
        parsed_events = []
        for event in events:
            parsed = _event_fast(event) if type(event) is dict else None
            if parsed is None:
                return None
            parsed_events.append(parsed)
        try:
            attrs = {"started_at": self.fields["started_at"].to_internal_value(data["started_at"])}
            if "ended_at" in data:
                attrs["ended_at"] = self.fields["ended_at"].to_internal_value(data["ended_at"])
        except serializers.ValidationError:
            return None
        attrs.update(
            external_id=data["external_id"],
            index=index,
            outcome=data["outcome"],
            cycle_time_s=float(data["cycle_time_s"]),
            metrics=dict(metrics),
            events=parsed_events,
        )
        return attrs

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        fast = self._fast(data) if type(data) is dict else None
        return fast if fast is not None else super().to_internal_value(data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return episode_times_check(attrs)

    @staticmethod
    def to_input(attrs: dict[str, Any]) -> EpisodeInput:
        """Returns the service's EpisodeInput for validated attrs (source: integrator upload)."""
        return EpisodeInput(
            outcome=attrs["outcome"],
            cycle_time_s=attrs["cycle_time_s"],
            started_at=attrs["started_at"],
            ended_at=attrs["ended_at"],
            source=Episode.Source.INTEGRATOR_UPLOAD,
            index=attrs["index"],
            external_id=attrs["external_id"],
            metrics=attrs["metrics"],
            events=tuple(EventInput(**event) for event in attrs["events"]),
        )


class IngestItemResultSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.IntegerField()
    index = serializers.IntegerField()
    external_id = StrictCharField()
    status = serializers.ChoiceField(choices=["created", "existing"])


class IngestResultSerializer(serializers.Serializer[dict[str, Any]]):
    created = serializers.IntegerField(help_text="Episodes written by this request.")
    existing = serializers.IntegerField(help_text="Identical re-sends: returned, not duplicated.")
    episodes = IngestItemResultSerializer(many=True, help_text="One entry per sent episode, in request order.")


class CsvUploadSerializer(serializers.Serializer[dict[str, Any]]):
    file = serializers.FileField(help_text="CSV in the documented layout (GET /api/v1/episodes/csv-template/).")
