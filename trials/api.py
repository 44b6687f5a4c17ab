"""REST API for tasks, trials, episodes and events. Thin: parse, call one selector or service, serialize.

Visibility comes from trials/selectors.py: another organization's object is absent from the queryset,
so it is a 404. A visible object the caller may not change (a customer's view of an integrator's trial,
a manager) is a 403."""

from __future__ import annotations

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

from accounts.permissions import CanRunTrials, CanWriteTasks, acts_for_organization
from accounts.requests import AuthenticatedApiRequest
from common.api_support import (
    ERRORS,
    READ_ERRORS,
    ApiViewMixin,
    ErrorSerializer,
    LimitedJSONParser,
    body_limit_check,
    error_responses,
)
from common.throttling import IngestRateThrottle, TokenRateThrottle
from core import episode_csv
from trials.filters import EpisodeFilter, EventFilter, TaskFilter, TrialFilter
from trials.ingest import IngestSummary, episodes_ingest, episodes_ingest_csv
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
    TrialRuleError,
    task_create,
    task_update,
    trial_cancel,
    trial_schedule,
)

# --- Tasks ---------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List tasks visible to you", responses={200: TaskSerializer, **READ_ERRORS}),
    retrieve=extend_schema(summary="Read a task", responses={200: TaskSerializer, **READ_ERRORS}),
)
class TaskViewSet(ApiViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Task]):
    """Candidate manufacturing tasks: your organization's, and those you are engaged on as integrator."""

    queryset = Task.objects.none()  # for the schema generator; requests use get_queryset()
    request: AuthenticatedApiRequest  # IsAuthenticated (the default) refuses anonymous callers

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
    def create(self, request: AuthenticatedApiRequest) -> Response:
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
    def partial_update(self, request: AuthenticatedApiRequest, pk: str | None = None) -> Response:
        task = self.get_object()
        if not acts_for_organization(request.user, task.organization_id):
            raise PermissionDenied("Only the owner organization's engineers may change this task.")
        serializer = TaskWriteSerializer(data=request.data, partial=True, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        task_update(task=task, fields=dict(serializer.validated_data))
        return Response(TaskSerializer(self.get_queryset().get(pk=task.pk)).data)


# --- Trials --------------------------------------------------------------------------------------


def _writable_trial(request: AuthenticatedApiRequest, pk: Any) -> Trial:
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
    request: AuthenticatedApiRequest  # IsAuthenticated (the default) refuses anonymous callers

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
    def create(self, request: AuthenticatedApiRequest) -> Response:
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
    def cancel(self, request: AuthenticatedApiRequest, pk: str | None = None) -> Response:
        trial = _writable_trial(request, pk)
        trial = trial_cancel(trial_id=trial.pk, reason=f"cancelled by {request.user.username} (API)")
        trial.progress_counts = trial_progress(trial=trial)  # type: ignore[attr-defined]
        return Response(TrialDetailSerializer(trial).data)


# --- Episode ingest ------------------------------------------------------------------------------

EPISODE_UPLOAD = PolymorphicProxySerializer(
    component_name="EpisodeUpload",
    serializers=[
        EpisodeInputSerializer,
        # many=True hands min/max_length to the ListSerializer; the stubs type only the child's arguments.
        EpisodeInputSerializer(many=True, min_length=1, max_length=MAX_EPISODES_PER_REQUEST),  # type: ignore[call-arg]
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
    request: AuthenticatedApiRequest  # IsAuthenticated (the default) refuses anonymous callers

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
    def list(self, request: AuthenticatedApiRequest, trial_pk: str) -> Response:
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
    def create(self, request: AuthenticatedApiRequest, trial_pk: str) -> Response:
        body_limit_check(request)
        trial = _writable_trial(request, trial_pk)
        return _ingest_reply(episodes_ingest(trial=trial, data=request.data))

    @extend_schema(
        summary="Upload episodes as CSV (same validation and idempotency as JSON)",
        description="Multipart form with a `file` field in the layout of GET /api/v1/episodes/csv-template/: one "
        "row per event, episode columns repeated. Errors are keyed by line (`line 4`).",
        request={"multipart/form-data": CsvUploadSerializer},
        responses={201: IngestResultSerializer, 200: IngestResultSerializer, **INGEST_ERRORS},
    )
    @action(detail=False, methods=["post"], url_path="csv", parser_classes=[parsers.MultiPartParser])
    def upload_csv(self, request: AuthenticatedApiRequest, trial_pk: str) -> Response:
        body_limit_check(request)
        trial = _writable_trial(request, trial_pk)
        upload = CsvUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        return _ingest_reply(episodes_ingest_csv(trial=trial, raw=upload.validated_data["file"].read()))


def _ingest_reply(summary: IngestSummary) -> Response:
    return Response(summary, status=status.HTTP_201_CREATED if summary["created"] else status.HTTP_200_OK)


# --- Episodes and events (read) ------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List episodes visible to you", responses={200: EpisodeSerializer, **READ_ERRORS}),
    retrieve=extend_schema(summary="Read an episode and its events", responses={200: EpisodeSerializer, **READ_ERRORS}),
)
class EpisodeViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet[Episode]):
    """Episodes across the trials you can read (filter by `trial`, `outcome`, `since`...)."""

    queryset = Episode.objects.none()  # for the schema generator; requests use get_queryset()
    request: AuthenticatedApiRequest  # IsAuthenticated (the default) refuses anonymous callers

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
    request: AuthenticatedApiRequest  # IsAuthenticated (the default) refuses anonymous callers

    serializer_class = EventSerializer
    filterset_class = EventFilter
    ordering_fields = ["id", "t_offset_s"]
    ordering = ["-id"]

    def get_queryset(self) -> QuerySet[EpisodeEvent]:
        return event_list_for_user(user=self.request.user)
