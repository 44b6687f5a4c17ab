"""LeRobotDataset v3.0 export and import over the API.

    POST /api/v1/trials/<id>/lerobot-exports/                    {"outcome": "failure", ...} -> 202, the job
    GET  /api/v1/trials/<id>/lerobot-exports/                    the trial's exports
    GET  /api/v1/trials/<id>/lerobot-exports/<export>/           status, progress
    GET  /api/v1/trials/<id>/lerobot-exports/<export>/download/  the zip (byte ranges; 410 once expired)
    POST /api/v1/trials/<id>/lerobot-imports/[?success_field=]   the zip as the body, or multipart `file`
    POST/GET /api/v1/sweeps/<id>/lerobot-exports/[<export>/[download/]]  the same for a sweep: one
         dataset of every condition trial's episodes, the condition in each episode's metadata

Exports: anyone who may read the trial or sweep (it is their view of its recordings). Imports: engineers and
integrators of the organization whose robot runs the trial, as for the episode upload API."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import parsers, permissions, serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied, UnsupportedMediaType
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import CanRunTrials
from accounts.requests import AuthenticatedApiRequest
from common.api_support import MAX_ID, LimitedJSONParser, StrictCharField, error_responses
from common.errors import Gone
from common.throttling import IngestRateThrottle, TokenRateThrottle
from trials.lerobot_export import (
    ExportExpired,
    ExportRequestError,
    dataset_export_request,
    export_expires_at,
    sweep_export_request,
)
from trials.lerobot_import import ImportRejected, import_summary_data
from trials.lerobot_views import export_download_response, import_run
from trials.models import DatasetExport, EventCategory, ReviewState, Sweep, Trial
from trials.selectors import trial_list_for_user, trial_list_writable_by_user
from trials.services import EpisodeConflictError, TrialRuleError
from trials.sweep_selectors import sweep_list_for_user

ZIP_CONTENT_TYPES = ("application/zip", "application/x-zip-compressed", "application/octet-stream")


class DatasetExportSerializer(serializers.ModelSerializer[DatasetExport]):
    download_url = serializers.SerializerMethodField()
    expires_at = serializers.SerializerMethodField(
        help_text="When a done export's zip is removed (then `status` is expired and the download 410)."
    )

    class Meta:
        model = DatasetExport
        fields = [
            "id",
            "trial",
            "sweep",
            "filters",
            "status",
            "episodes_done",
            "episodes_total",
            "frames",
            "size_bytes",
            "error",
            "created_at",
            "finished_at",
            "expires_at",
            "expired_at",
            "download_url",
        ]
        read_only_fields = fields

    def get_download_url(self, export: DatasetExport) -> str | None:
        if export.status != DatasetExport.Status.DONE:
            return None
        owner = f"trials/{export.trial_id}" if export.trial_id is not None else f"sweeps/{export.sweep_id}"
        return f"/api/v1/{owner}/lerobot-exports/{export.pk}/download/"

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_expires_at(self, export: DatasetExport) -> str | None:
        expires = export_expires_at(export)
        return None if expires is None else serializers.DateTimeField().to_representation(expires)


class ExportRequestSerializer(serializers.Serializer[dict[str, Any]]):
    """The trial page grid's filters; blank or absent: any. Unknown keys are ignored."""

    outcome = serializers.ChoiceField(choices=["success", "failure"], required=False, allow_blank=True)
    review_state = serializers.ChoiceField(choices=ReviewState.values, required=False, allow_blank=True)
    # The pattern puts the rule in the schema too (a count of stages, or "none").
    stage_reached = serializers.RegexField(
        r"^(none|[0-9]{1,5})?$",
        required=False,
        allow_blank=True,
        max_length=6,
        help_text="A count of stages, or 'none'.",
    )
    category = serializers.ChoiceField(
        choices=EventCategory.values,
        required=False,
        allow_blank=True,
        help_text="Episodes with an event of this category.",
    )


class ImportUploadSerializer(serializers.Serializer[dict[str, Any]]):
    file = serializers.FileField(help_text="The zipped LeRobotDataset v3.0 folder.")
    success_field = StrictCharField(required=False, allow_blank=True, max_length=200)


class ImportResultSerializer(serializers.Serializer[dict[str, Any]]):
    dataset = serializers.CharField(help_text="The dataset's digest, in each episode's external_id.")
    created = serializers.IntegerField()
    existing = serializers.IntegerField()
    frames = serializers.IntegerField()
    videos = serializers.IntegerField()
    episodes = serializers.ListField(child=serializers.DictField())


def _visible_trial(request: AuthenticatedApiRequest, trial_pk: int) -> Trial:
    if not 0 <= trial_pk <= MAX_ID:
        raise NotFound()
    return get_object_or_404(trial_list_for_user(user=request.user), pk=trial_pk)


def _visible_sweep(request: AuthenticatedApiRequest, sweep_pk: int) -> Sweep:
    if not 0 <= sweep_pk <= MAX_ID:
        raise NotFound()
    return get_object_or_404(sweep_list_for_user(user=request.user), pk=sweep_pk)


def _export_refused(exc: ExportRequestError) -> Response:
    return Response({"detail": str(exc), "code": "invalid", "errors": {exc.field: [exc.message]}}, status=400)


def _download(request: AuthenticatedApiRequest, export: DatasetExport) -> Any:
    try:
        return export_download_response(request._request, export)
    except ExportExpired as exc:
        raise Gone(str(exc)) from None


def _rejected(exc: ImportRejected) -> Response:
    code = {400: "invalid", 413: "payload_too_large"}.get(exc.status, "invalid")
    where = f"{exc.file}: {exc.field}" if exc.file else exc.field
    errors: dict[str, Any] = {exc.field: [exc.message]}
    if exc.file:
        errors = {"file": [exc.file], exc.field: [exc.message]}
    return Response({"detail": f"{where}: {exc.message}", "code": code, "errors": errors}, exc.status)


class LeRobotExportListView(APIView):
    parser_classes = [LimitedJSONParser]
    request: AuthenticatedApiRequest

    @extend_schema(
        summary="List a trial's LeRobotDataset exports",
        responses={200: DatasetExportSerializer(many=True), **error_responses(401, 404, 429)},
        tags=["lerobot"],
    )
    def get(self, request: AuthenticatedApiRequest, trial_pk: int) -> Response:
        trial = _visible_trial(request, trial_pk)
        return Response(DatasetExportSerializer(DatasetExport.objects.filter(trial=trial)[:50], many=True).data)

    @extend_schema(
        summary="Export a trial's recorded episodes as a LeRobotDataset v3.0 zip (a background job)",
        description="Filters as the trial page's grid: outcome, review_state, stage_reached, category. "
        "Answers 202 with the job; poll it until `status` is done, then GET its `download_url`.",
        request=ExportRequestSerializer,
        responses={202: DatasetExportSerializer, **error_responses(400, 401, 404, 429)},
        tags=["lerobot"],
    )
    def post(self, request: AuthenticatedApiRequest, trial_pk: int) -> Response:
        trial = _visible_trial(request, trial_pk)
        filters = ExportRequestSerializer(data=request.data)
        filters.is_valid(raise_exception=True)
        try:
            export = dataset_export_request(trial=trial, user=request.user, filters=dict(filters.validated_data))
        except ExportRequestError as exc:
            return _export_refused(exc)
        return Response(DatasetExportSerializer(export).data, status=status.HTTP_202_ACCEPTED)


_EXPORT_PARAMS = [
    OpenApiParameter("trial_pk", OpenApiTypes.INT, OpenApiParameter.PATH, description="Trial id"),
    OpenApiParameter("export_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Export id"),
]


class LeRobotExportDetailView(APIView):
    request: AuthenticatedApiRequest

    @extend_schema(
        summary="Read an export's status and progress",
        parameters=_EXPORT_PARAMS,
        responses={200: DatasetExportSerializer, **error_responses(401, 404, 429)},
        tags=["lerobot"],
    )
    def get(self, request: AuthenticatedApiRequest, trial_pk: int, export_id: int) -> Response:
        trial = _visible_trial(request, trial_pk)
        export = get_object_or_404(DatasetExport.objects.filter(trial=trial), pk=min(export_id, MAX_ID))
        return Response(DatasetExportSerializer(export).data)


class LeRobotExportDownloadView(APIView):
    request: AuthenticatedApiRequest

    @extend_schema(
        summary="Download a finished export's zip (byte ranges supported; 410 once expired)",
        parameters=_EXPORT_PARAMS,
        responses={
            (200, "application/zip"): OpenApiTypes.BINARY,
            (206, "application/zip"): OpenApiTypes.BINARY,
            **error_responses(401, 404, 410, 429),
        },
        tags=["lerobot"],
    )
    def get(self, request: AuthenticatedApiRequest, trial_pk: int, export_id: int) -> Any:
        trial = _visible_trial(request, trial_pk)
        export = get_object_or_404(DatasetExport.objects.filter(trial=trial), pk=min(export_id, MAX_ID))
        return _download(request, export)


_SWEEP_EXPORT_PARAMS = [
    OpenApiParameter("sweep_pk", OpenApiTypes.INT, OpenApiParameter.PATH, description="Sweep id"),
    OpenApiParameter("export_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Export id"),
]


class SweepLeRobotExportListView(APIView):
    parser_classes = [LimitedJSONParser]
    request: AuthenticatedApiRequest

    @extend_schema(
        summary="List a sweep's LeRobotDataset exports",
        parameters=_SWEEP_EXPORT_PARAMS[:1],
        responses={200: DatasetExportSerializer(many=True), **error_responses(401, 404, 429)},
        tags=["lerobot"],
    )
    def get(self, request: AuthenticatedApiRequest, sweep_pk: int) -> Response:
        sweep = _visible_sweep(request, sweep_pk)
        return Response(DatasetExportSerializer(DatasetExport.objects.filter(sweep=sweep)[:50], many=True).data)

    @extend_schema(
        summary="Export every condition of a sweep as one LeRobotDataset v3.0 zip (a background job)",
        description="The filters apply to each condition trial. Each episode's row in meta/episodes names its "
        "condition: `condition`, `condition_index` (0 = nominal), `condition_levels` (JSON), `trial`, and "
        "`factor/<key>` per swept factor. Answers 202 with the job; poll it until `status` is done.",
        parameters=_SWEEP_EXPORT_PARAMS[:1],
        request=ExportRequestSerializer,
        responses={202: DatasetExportSerializer, **error_responses(400, 401, 404, 429)},
        tags=["lerobot"],
    )
    def post(self, request: AuthenticatedApiRequest, sweep_pk: int) -> Response:
        sweep = _visible_sweep(request, sweep_pk)
        filters = ExportRequestSerializer(data=request.data)
        filters.is_valid(raise_exception=True)
        try:
            export = sweep_export_request(sweep=sweep, user=request.user, filters=dict(filters.validated_data))
        except ExportRequestError as exc:
            return _export_refused(exc)
        return Response(DatasetExportSerializer(export).data, status=status.HTTP_202_ACCEPTED)


class SweepLeRobotExportDetailView(APIView):
    request: AuthenticatedApiRequest

    @extend_schema(
        summary="Read a sweep export's status and progress",
        parameters=_SWEEP_EXPORT_PARAMS,
        responses={200: DatasetExportSerializer, **error_responses(401, 404, 429)},
        tags=["lerobot"],
    )
    def get(self, request: AuthenticatedApiRequest, sweep_pk: int, export_id: int) -> Response:
        sweep = _visible_sweep(request, sweep_pk)
        export = get_object_or_404(DatasetExport.objects.filter(sweep=sweep), pk=min(export_id, MAX_ID))
        return Response(DatasetExportSerializer(export).data)


class SweepLeRobotExportDownloadView(APIView):
    request: AuthenticatedApiRequest

    @extend_schema(
        summary="Download a finished sweep export's zip (byte ranges supported; 410 once expired)",
        parameters=_SWEEP_EXPORT_PARAMS,
        responses={
            (200, "application/zip"): OpenApiTypes.BINARY,
            (206, "application/zip"): OpenApiTypes.BINARY,
            **error_responses(401, 404, 410, 429),
        },
        tags=["lerobot"],
    )
    def get(self, request: AuthenticatedApiRequest, sweep_pk: int, export_id: int) -> Any:
        sweep = _visible_sweep(request, sweep_pk)
        export = get_object_or_404(DatasetExport.objects.filter(sweep=sweep), pk=min(export_id, MAX_ID))
        return _download(request, export)


class LeRobotImportView(APIView):
    permission_classes = [permissions.IsAuthenticated, CanRunTrials]
    parser_classes = [parsers.MultiPartParser]
    request: AuthenticatedApiRequest

    def get_throttles(self) -> list[Any]:
        return [TokenRateThrottle(), IngestRateThrottle()]

    @extend_schema(
        summary="Import a LeRobotDataset v3.0 zip of evaluation episodes into a trial (idempotent)",
        description="The zip is the body (`curl --data-binary @ds.zip -H 'Content-Type: application/zip'`) or "
        "a multipart `file`. Outcome from the per-episode success label (episodes `success`/`outcome`, else "
        "`next.success` at the last frame); without one, name a column with `success_field`. Re-importing "
        "the same dataset adds nothing. A bad dataset is a 400 naming `file` and the field.",
        parameters=[
            OpenApiParameter("trial_pk", OpenApiTypes.INT, OpenApiParameter.PATH, description="Trial id"),
            OpenApiParameter(
                "success_field",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                required=False,
                description="Episodes-metadata column holding the success label (bool, 0/1, success/failure).",
            ),
        ],
        request={"application/zip": OpenApiTypes.BINARY, "multipart/form-data": ImportUploadSerializer},
        responses={
            201: ImportResultSerializer,
            200: OpenApiResponse(ImportResultSerializer, description="Every episode was imported already."),
            **error_responses(400, 401, 403, 404, 409, 413, 415, 429),
        },
        tags=["lerobot"],
    )
    def post(self, request: AuthenticatedApiRequest, trial_pk: int) -> Response:
        trial = _visible_trial(request, trial_pk)
        if not trial_list_writable_by_user(user=request.user).filter(pk=trial.pk).exists():
            raise PermissionDenied("Only the organization that owns the trial's robot may import episodes into it.")
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        success_field = str(request.query_params.get("success_field", "")).strip()
        if content_type == "multipart/form-data":
            upload = request.FILES.get("file")
            if upload is None:
                return Response({"detail": "file: missing", "code": "invalid", "errors": {"file": ["missing"]}}, 400)
            form = request.data if isinstance(request.data, dict) else {}
            success_field = success_field or str(form.get("success_field", "")).strip()
            handle: Any = upload
        elif content_type in ZIP_CONTENT_TYPES or not request.META.get("CONTENT_LENGTH"):
            # An empty body has no content type to check: it is answered as an empty file.
            handle = request.stream
        else:
            raise UnsupportedMediaType(content_type, "Send the zip as application/zip or a multipart `file`.")
        try:
            summary = import_run(trial=trial, handle=handle, success_field=success_field)
        except ImportRejected as exc:
            return _rejected(exc)
        except TrialRuleError as exc:
            field = exc.field or "trial"
            return Response({"detail": str(exc), "code": "invalid", "errors": {field: [str(exc)]}}, 400)
        except EpisodeConflictError as exc:
            return Response({"detail": str(exc), "code": "conflict", "errors": {}}, 409)
        body = import_summary_data(summary)
        return Response(body, status=status.HTTP_201_CREATED if summary.created else status.HTTP_200_OK)
