"""Recording files attached to a recorded episode over the API: the raw bytes in a PUT body (not multipart:
a 200 MB video streams to a spool without a form parser, and a retry is the same request again).

    PUT /api/v1/trials/<trial>/episodes/<index>/media/video/<camera>/     H.264 MP4
    PUT /api/v1/trials/<trial>/episodes/<index>/media/<kind>/            trajectory | poster | manifest
    GET /api/v1/trials/<trial>/episodes/<index>/media/                    what is stored

Integrators use these with their API token (engineers and integrators of the organization whose robot runs
the trial, as for uploading episodes); robot agents use the same reading and checks through
trials.agents.api. The file is checked by decoding it (trials.media_ingest); a bad or oversized file is a
4xx naming the field and changes nothing, the episode included."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied, UnsupportedMediaType
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import CanRunTrials
from accounts.requests import AuthenticatedApiRequest
from common.api_support import ERRORS, MAX_ID, ErrorSerializer, error_responses
from common.throttling import IngestRateThrottle, TokenRateThrottle
from trials.media_ingest import (
    MediaRejected,
    MediaTarget,
    episode_media_ingest,
    media_max_bytes,
    media_spool,
    media_target,
)
from trials.models import Episode, EpisodeMedia, EpisodeOutcome, MediaKind, Trial
from trials.selectors import trial_list_for_user, trial_list_writable_by_user

# Any of these; the bytes are checked as the URL's kind says, whatever the header claims.
UPLOAD_CONTENT_TYPES = (
    "application/octet-stream",
    "video/mp4",
    "application/vnd.apache.parquet",
    "image/jpeg",
    "application/json",
)
FILE_KINDS = (MediaKind.TRAJECTORY, MediaKind.POSTER, MediaKind.MANIFEST)


class EpisodeMediaSerializer(serializers.ModelSerializer[EpisodeMedia]):
    index = serializers.IntegerField(source="episode.index", read_only=True)

    class Meta:
        model = EpisodeMedia
        fields = [
            "id",
            "episode",
            "index",
            "kind",
            "name",
            "content_type",
            "size_bytes",
            "sha256",
            "frames",
            "fps",
            "width",
            "height",
            "duration_s",
            "created_at",
        ]
        read_only_fields = fields


class MediaStoredSerializer(EpisodeMediaSerializer):
    created = serializers.BooleanField(help_text="False when these bytes were stored already (a retried upload).")

    class Meta(EpisodeMediaSerializer.Meta):
        fields = [*EpisodeMediaSerializer.Meta.fields, "created"]
        read_only_fields = fields


MEDIA_UPLOAD_REQUEST = {content_type: OpenApiTypes.BINARY for content_type in UPLOAD_CONTENT_TYPES}
MEDIA_UPLOAD_RESPONSES: dict[int, Any] = {
    201: MediaStoredSerializer,
    200: OpenApiResponse(MediaStoredSerializer, description="The same bytes were stored already: nothing changed."),
    400: OpenApiResponse(
        ErrorSerializer,
        description="The file is empty, or not what its kind says (decoded: an H.264 MP4 video, a Parquet "
        "trajectory, a JPEG poster, a JSON manifest); `errors` names `file`, `name` or `kind`.",
    ),
    413: OpenApiResponse(
        ErrorSerializer, description="Larger than EPISODE_MEDIA_MAX_BYTES (or the kind's own limit); `errors.file`."
    ),
    415: ERRORS[415],
}


def media_rejected_response(exc: MediaRejected) -> Response:
    """The API's error shape for a refused upload: 413 when too large, else 400, naming the field."""
    code, http = ("payload_too_large", 413) if exc.too_large else ("invalid", 400)
    return Response({"detail": f"{exc.field}: {exc.message}", "code": code, "errors": {exc.field: [exc.message]}}, http)


def _declared_bytes(request: Request) -> int | None:
    try:
        return int(request.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None


def media_upload(request: Request, *, episode: Episode, kind: str, name: str = "") -> Response:
    """Read, check and store the request body as `episode`'s (kind, name) file; 201 stored (or replaced),
    200 the same bytes again. A refused file is a 400/413/415 and nothing is written."""
    try:
        target: MediaTarget = media_target(kind=kind, name=name)
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        if content_type and content_type not in UPLOAD_CONTENT_TYPES:
            raise UnsupportedMediaType(
                content_type, f"Send the file's bytes as one of: {', '.join(UPLOAD_CONTENT_TYPES)}."
            )
        spool = media_spool(
            request.stream, declared_bytes=_declared_bytes(request), max_bytes=media_max_bytes(target.kind)
        )
        with spool:
            media, created = episode_media_ingest(episode=episode, target=target, handle=spool)
    except MediaRejected as exc:
        return media_rejected_response(exc)
    body = {**EpisodeMediaSerializer(media).data, "created": created}
    return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def _bounded(value: int) -> int:
    if not 0 <= value <= MAX_ID:
        raise NotFound()
    return value


def _counted_episode(trial: Trial, index: int) -> Episode:
    """The episode counted at `index` (not a lost attempt). Raises NotFound naming the index."""
    episode = Episode.objects.filter(trial=trial, index=_bounded(index)).exclude(outcome=EpisodeOutcome.LOST).first()
    if episode is None:
        raise NotFound(f"Trial {trial.pk} has no recorded episode at index {index}; upload the episode first.")
    return episode


_INDEX_PARAMS = [
    OpenApiParameter("trial_pk", OpenApiTypes.INT, OpenApiParameter.PATH, description="Trial id"),
    OpenApiParameter("index", OpenApiTypes.INT, OpenApiParameter.PATH, description="The episode's index"),
]


class _TrialEpisodeMediaView(APIView):
    permission_classes = [permissions.IsAuthenticated, CanRunTrials]
    request: AuthenticatedApiRequest

    def get_throttles(self) -> list[Any]:
        if self.request.method == "PUT":
            return [TokenRateThrottle(), IngestRateThrottle()]
        return [TokenRateThrottle()]

    def writable_episode(self, trial_pk: int, index: int) -> Episode:
        """The counted episode at `index` of a trial the caller may upload to: 404 when the trial is not
        visible, 403 when visible but on another organization's robot."""
        trial = get_object_or_404(trial_list_for_user(user=self.request.user), pk=_bounded(trial_pk))
        if not trial_list_writable_by_user(user=self.request.user).filter(pk=trial.pk).exists():
            raise PermissionDenied("Only the organization that owns the trial's robot may attach recordings to it.")
        return _counted_episode(trial, index)


class TrialEpisodeMediaListView(_TrialEpisodeMediaView):
    @extend_schema(
        summary="List the recording files stored for an episode",
        parameters=_INDEX_PARAMS,
        responses={200: EpisodeMediaSerializer(many=True), **error_responses(401, 404, 429)},
        tags=["media"],
    )
    def get(self, request: AuthenticatedApiRequest, trial_pk: int, index: int) -> Response:
        trial = get_object_or_404(trial_list_for_user(user=request.user), pk=_bounded(trial_pk))
        episode = _counted_episode(trial, index)
        rows = EpisodeMedia.objects.filter(episode=episode).select_related("episode")
        return Response(EpisodeMediaSerializer(rows, many=True).data)


class TrialEpisodeVideoView(_TrialEpisodeMediaView):
    @extend_schema(
        summary="Attach a camera's video (H.264 MP4) to an episode (retry-safe)",
        description="The raw bytes of the file are the body (e.g. `curl -T front.mp4 -H 'Content-Type: video/mp4'`). "
        "Every frame is decoded before it is stored. The same bytes again: 200, nothing changes; other bytes "
        "replace the camera's video.",
        parameters=[
            *_INDEX_PARAMS,
            OpenApiParameter(
                "name",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                description="Camera name, e.g. front",
                pattern=r"^[A-Za-z0-9_-]{1,64}$",
            ),
        ],
        request=MEDIA_UPLOAD_REQUEST,
        responses={**MEDIA_UPLOAD_RESPONSES, **error_responses(401, 403, 404, 429)},
        tags=["media"],
    )
    def put(self, request: AuthenticatedApiRequest, trial_pk: int, index: int, name: str) -> Response:
        episode = self.writable_episode(trial_pk, index)
        return media_upload(request, episode=episode, kind=MediaKind.VIDEO, name=name)


class TrialEpisodeFileView(_TrialEpisodeMediaView):
    @extend_schema(
        summary="Attach an episode's trajectory (Parquet), poster (JPEG) or manifest (JSON) (retry-safe)",
        description="The raw bytes of the file are the body. A trajectory has the columns t_s, state and action "
        "(core/recording/trajectory.py) and is read under row and size limits before it is stored.",
        parameters=[
            *_INDEX_PARAMS,
            OpenApiParameter("kind", OpenApiTypes.STR, OpenApiParameter.PATH, enum=[str(k) for k in FILE_KINDS]),
        ],
        request=MEDIA_UPLOAD_REQUEST,
        responses={**MEDIA_UPLOAD_RESPONSES, **error_responses(401, 403, 404, 429)},
        tags=["media"],
    )
    def put(self, request: AuthenticatedApiRequest, trial_pk: int, index: int, kind: str) -> Response:
        episode = self.writable_episode(trial_pk, index)
        return media_upload(request, episode=episode, kind=kind)
