"""REST API for tasks, trials, episodes and events. Thin: parse, call one selector or service, serialize.

Visibility comes from trials/selectors.py: another organization's object is absent from the queryset,
so it is a 404. A visible object the caller may not change (a customer's view of an integrator's trial,
a manager) is a 403."""

from __future__ import annotations

import re
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, parsers, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.generics import get_object_or_404  # answers 404, not 500, to a non-numeric id
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Role, User
from common.api_support import (
    ERRORS,
    READ_ERRORS,
    ApiViewMixin,
    ErrorSerializer,
    LimitedJSONParser,
    body_limit_check,
    error_responses,
)
from common.exceptions import Conflict
from common.throttling import IngestRateThrottle, TokenRateThrottle
from core import episode_csv
from trials.filters import EpisodeFilter, EventFilter, TaskFilter, TrialFilter
from trials.models import Episode, EpisodeEvent, Task, Trial
from trials.selectors import (
    episode_list_for_user,
    event_list_for_user,
    task_list_for_user,
    trial_list_for_user,
    trial_list_writable_by_user,
    trial_progress,
)
from trials.serializers import (
    MAX_EPISODES_PER_REQUEST,
    CsvUploadSerializer,
    EpisodeInputSerializer,
    EpisodeSerializer,
    EventSerializer,
    IngestResultSerializer,
    TaskSerializer,
    TaskWriteSerializer,
    TrialCreateSerializer,
    TrialDetailSerializer,
    TrialSerializer,
)
from trials.services import (
    EpisodeConflictError,
    EpisodeInput,
    TrialRuleError,
    episodes_record,
    task_create,
    task_update,
    trial_cancel,
    trial_schedule,
)


def _has_any_role(user: User, roles: tuple[Role, ...]) -> bool:
    if user.is_superuser:
        return True
    return user.groups.filter(name__in=[str(r) for r in roles]).exists()


class CanWriteTasks(permissions.BasePermission):
    message = "Only engineers may create or change tasks."

    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method in permissions.SAFE_METHODS or _has_any_role(request.user, (Role.ENGINEER,))


class CanRunTrials(permissions.BasePermission):
    message = "Only engineers and integrators may schedule trials, cancel them or upload episodes."

    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method in permissions.SAFE_METHODS or _has_any_role(
            request.user, (Role.ENGINEER, Role.INTEGRATOR)
        )


# --- Tasks ---------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List tasks visible to you", responses={200: TaskSerializer, **READ_ERRORS}),
    retrieve=extend_schema(summary="Read a task", responses={200: TaskSerializer, **READ_ERRORS}),
)
class TaskViewSet(ApiViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Task]):
    """Candidate manufacturing tasks: your organization's, and those you are engaged on as integrator."""

    queryset = Task.objects.none()  # for the schema generator; requests use get_queryset()

    serializer_class = TaskSerializer
    filterset_class = TaskFilter
    permission_classes = [permissions.IsAuthenticated, CanWriteTasks]
    ordering_fields = ["created_at", "updated_at", "id", "name"]

    def get_queryset(self) -> QuerySet[Task]:
        return task_list_for_user(user=self.request.user)

    @extend_schema(
        summary="Create a task (engineers)",
        request=TaskWriteSerializer,
        responses={201: TaskSerializer, **error_responses(400, 401, 403, 429)},
    )
    def create(self, request: Request) -> Response:
        if request.user.organization_id is None:
            raise PermissionDenied("Your account belongs to no organization.")
        serializer = TaskWriteSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        task = task_create(
            organization_id=request.user.organization_id,
            created_by=request.user,
            fields=dict(serializer.validated_data),
        )
        return Response(TaskSerializer(self.get_queryset().get(pk=task.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a task of your organization (engineers)",
        request=TaskWriteSerializer,
        responses={200: TaskSerializer, **error_responses(400, 401, 403, 404, 429)},
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        task = self.get_object()
        if not request.user.is_superuser and task.organization_id != request.user.organization_id:
            raise PermissionDenied("Only the owner organization's engineers may change this task.")
        serializer = TaskWriteSerializer(data=request.data, partial=True, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        task_update(task=task, fields=dict(serializer.validated_data))
        return Response(TaskSerializer(self.get_queryset().get(pk=task.pk)).data)


# --- Trials --------------------------------------------------------------------------------------


def _writable_trial(request: Request, pk: Any) -> Trial:
    """The trial if the caller may write to it. Raises Http404 when it is not visible at all,
    PermissionDenied when visible but on another organization's robot."""
    trial = get_object_or_404(trial_list_for_user(user=request.user), pk=pk)
    if not trial_list_writable_by_user(user=request.user).filter(pk=trial.pk).exists():
        raise PermissionDenied("Only the organization that owns the trial's robot may change it or upload to it.")
    return trial


@extend_schema_view(
    list=extend_schema(summary="List trials visible to you", responses={200: TrialSerializer, **READ_ERRORS}),
    retrieve=extend_schema(
        summary="Read a trial with its progress", responses={200: TrialDetailSerializer, **READ_ERRORS}
    ),
)
class TrialViewSet(ApiViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Trial]):
    """Trials of a policy version on a robot. Create one on your organization's robot, then upload its episodes."""

    queryset = Trial.objects.none()  # for the schema generator; requests use get_queryset()

    serializer_class = TrialSerializer
    filterset_class = TrialFilter
    permission_classes = [permissions.IsAuthenticated, CanRunTrials]

    def get_queryset(self) -> QuerySet[Trial]:
        return trial_list_for_user(user=self.request.user).select_related("scheduled_by")

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        trial = self.get_object()
        trial.progress_counts = trial_progress(trial=trial)  # type: ignore[attr-defined]
        return Response(TrialDetailSerializer(trial).data)

    @extend_schema(
        summary="Schedule a trial on one of your organization's robots",
        request=TrialCreateSerializer,
        responses={201: TrialDetailSerializer, **error_responses(400, 401, 403, 429)},
    )
    def create(self, request: Request) -> Response:
        serializer = TrialCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        try:
            trial = trial_schedule(scheduled_by=request.user, **serializer.validated_data)
        except TrialRuleError as exc:
            raise ValidationError({exc.field or "non_field_errors": [str(exc)]}) from exc
        trial.progress_counts = trial_progress(trial=trial)  # type: ignore[attr-defined]
        return Response(TrialDetailSerializer(trial).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Cancel a queued or running trial (finished trials are returned unchanged)",
        request=None,
        responses={200: TrialDetailSerializer, **error_responses(401, 403, 404, 429)},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        trial = _writable_trial(request, pk)
        trial = trial_cancel(trial_id=trial.pk, reason=f"cancelled by {request.user.username} (API)")
        trial.progress_counts = trial_progress(trial=trial)  # type: ignore[attr-defined]
        return Response(TrialDetailSerializer(trial).data)


# --- Episode ingest ------------------------------------------------------------------------------

_POSITION = re.compile(r"^#(\d+): ")


def _indexerror_responses(items: list[Any]) -> dict[str, Any]:
    """Errors of one list keyed by position (as strings), only for items that have errors."""
    return {str(i): e for i, e in enumerate(items) if e}


def validate_episode_batch(*, trial: Trial, items: list[Any]) -> list[EpisodeInput]:
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
            if index >= trial.episodes_planned:
                problems["index"] = [f"outside the trial's 0..{trial.episodes_planned - 1}"]
            elif seen_index.setdefault(index, position) != position:
                problems["index"] = [f"repeated in this request (also at {seen_index[index]})"]
        if problems:
            errors[str(position)] = problems
    if errors:
        raise ValidationError(errors)
    return [EpisodeInputSerializer.to_input(attrs) for attrs in valid]


def record_batch(*, trial: Trial, episodes: list[EpisodeInput], position_names: list[str] | None = None) -> Response:
    """Record validated episodes through the service and answer with what was created or already there.
    `position_names` renames positions in errors (the CSV view names lines). Raises ValidationError (400)
    or Conflict (409) with errors keyed by position."""

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
    rows = []
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
    body = {"created": len(result.created), "existing": len(result.existing), "episodes": rows}
    return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


EPISODE_UPLOAD = PolymorphicProxySerializer(
    component_name="EpisodeUpload",
    serializers=[
        EpisodeInputSerializer,
        EpisodeInputSerializer(many=True, min_length=1, max_length=MAX_EPISODES_PER_REQUEST),
    ],
    resource_type_field_name=None,
    many=False,
)
INGEST_ERRORS = {
    **error_responses(400, 401, 403, 404, 429),
    409: OpenApiResponse(
        ErrorSerializer,
        description="An external_id was already recorded with different content, an index is taken, or the trial "
        "is cancelled/failed. Nothing was written; `errors` names each position.",
    ),
    413: ERRORS[413],
}


@extend_schema(
    parameters=[OpenApiParameter("trial_pk", OpenApiTypes.INT, OpenApiParameter.PATH, description="Trial id")]
)
class TrialEpisodesViewSet(ApiViewMixin, viewsets.GenericViewSet[Episode]):
    """Episodes of one trial: list them, or upload one or many (idempotent by external_id)."""

    queryset = Episode.objects.none()  # for the schema generator; requests use get_queryset()

    serializer_class = EpisodeSerializer
    filterset_class = EpisodeFilter
    permission_classes = [permissions.IsAuthenticated, CanRunTrials]
    ordering_fields = ["index", "created_at", "id"]
    ordering = ["index"]
    parser_classes = [LimitedJSONParser]

    def get_throttles(self) -> list[Any]:
        if self.request.method == "POST":
            return [TokenRateThrottle(), IngestRateThrottle()]
        return super().get_throttles()

    def get_queryset(self) -> QuerySet[Episode]:
        return episode_list_for_user(user=self.request.user).filter(trial_id=self.kwargs["trial_pk"])

    @extend_schema(
        summary="List a trial's episodes with their events", responses={200: EpisodeSerializer, **READ_ERRORS}
    )
    def list(self, request: Request, trial_pk: str) -> Response:
        get_object_or_404(trial_list_for_user(user=request.user), pk=trial_pk)
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(EpisodeSerializer(page, many=True).data)

    @extend_schema(
        summary=f"Upload one episode or a list of up to {MAX_EPISODES_PER_REQUEST} (idempotent by external_id)",
        description="The whole batch is validated first and written in one transaction: one bad episode and "
        'nothing is written; `errors` is keyed by position, e.g. `{"3": {"cycle_time_s": ["..."]}}`. '
        "Re-sending an episode with the same external_id and content returns it (status `existing`) "
        "without a duplicate; the same external_id with different content is a 409. Events must be in "
        "time order and within the episode. 201 when something was created, 200 when all already existed.",
        request=EPISODE_UPLOAD,
        responses={201: IngestResultSerializer, 200: IngestResultSerializer, **INGEST_ERRORS},
    )
    def create(self, request: Request, trial_pk: str) -> Response:
        body_limit_check(request)
        trial = _writable_trial(request, trial_pk)
        data = request.data
        items = [data] if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ValidationError({"non_field_errors": ["Expected an episode object or a list of them."]})
        if not items:
            raise ValidationError({"non_field_errors": ["The list is empty."]})
        if len(items) > MAX_EPISODES_PER_REQUEST:
            raise ValidationError(
                {"non_field_errors": [f"{len(items)} episodes; send at most {MAX_EPISODES_PER_REQUEST} per request."]}
            )
        episodes = validate_episode_batch(trial=trial, items=items)
        return record_batch(trial=trial, episodes=episodes)

    @extend_schema(
        summary="Upload episodes as CSV (same validation and idempotency as JSON)",
        description="Multipart form with a `file` field in the layout of GET /api/v1/episodes/csv-template/: one "
        "row per event, episode columns repeated. Errors are keyed by line (`line 4`).",
        request={"multipart/form-data": CsvUploadSerializer},
        responses={201: IngestResultSerializer, 200: IngestResultSerializer, **INGEST_ERRORS},
    )
    @action(detail=False, methods=["post"], url_path="csv", parser_classes=[parsers.MultiPartParser])
    def upload_csv(self, request: Request, trial_pk: str) -> Response:
        body_limit_check(request)
        trial = _writable_trial(request, trial_pk)
        upload = CsvUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        return ingest_csv(trial=trial, raw=upload.validated_data["file"].read())


def ingest_csv(*, trial: Trial, raw: bytes) -> Response:
    """Parse, validate and record a CSV upload (API and the browser upload page). Returns the ingest
    response. Raises ValidationError (errors keyed by line) or Conflict (409), nothing written on either."""
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
        episodes = validate_episode_batch(trial=trial, items=items)
    except ValidationError as exc:
        raise ValidationError(_errors_by_line(exc.detail, line_names, event_lines)) from exc
    return record_batch(trial=trial, episodes=episodes, position_names=line_names)


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


# --- Episodes and events (read) ------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List episodes visible to you", responses={200: EpisodeSerializer, **READ_ERRORS}),
    retrieve=extend_schema(summary="Read an episode and its events", responses={200: EpisodeSerializer, **READ_ERRORS}),
)
class EpisodeViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet[Episode]):
    """Episodes across the trials you can read (filter by `trial`, `outcome`, `since`...)."""

    queryset = Episode.objects.none()  # for the schema generator; requests use get_queryset()

    serializer_class = EpisodeSerializer
    filterset_class = EpisodeFilter
    ordering_fields = ["created_at", "id", "index"]

    def get_queryset(self) -> QuerySet[Episode]:
        return episode_list_for_user(user=self.request.user)

    @extend_schema(
        summary="Download the CSV upload template",
        responses={(200, "text/csv"): OpenApiTypes.STR, **error_responses(401, 429)},
        filters=False,
    )
    @action(detail=False, methods=["get"], url_path="csv-template", pagination_class=None, filter_backends=[])
    def csv_template(self, request: Request) -> HttpResponse:
        response = HttpResponse(episode_csv.template_csv(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="trialbench-episodes-template.csv"'
        return response


@extend_schema_view(
    list=extend_schema(summary="List episode events visible to you", responses={200: EventSerializer, **READ_ERRORS}),
    retrieve=extend_schema(summary="Read an event", responses={200: EventSerializer, **READ_ERRORS}),
)
class EventViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet[EpisodeEvent]):
    """Interventions, faults and exceptions inside episodes (filter by `trial`, `category`...)."""

    queryset = EpisodeEvent.objects.none()  # for the schema generator; requests use get_queryset()

    serializer_class = EventSerializer
    filterset_class = EventFilter
    ordering_fields = ["id", "t_offset_s"]
    ordering = ["-id"]

    def get_queryset(self) -> QuerySet[EpisodeEvent]:
        return event_list_for_user(user=self.request.user)
