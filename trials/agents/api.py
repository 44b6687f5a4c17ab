"""The robot agent protocol: /api/v1/agent/. Every call is authenticated by the robot's own token
and sees only that robot's jobs (another robot's job is a 404)."""

from __future__ import annotations

import math
import re
import time
from typing import Any

from django.conf import settings
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api_support import LimitedJSONParser
from policies.models import PolicyVersion
from robots.agent_auth import RobotTokenAuthentication
from robots.models import AgentJob, Robot
from robots.services import agent_heartbeat
from trials.agents import services
from trials.agents.serializers import (
    AbortSerializer,
    AgentJobSerializer,
    CompleteSerializer,
    EpisodeRefSerializer,
    EventsPushSerializer,
    HeartbeatReplySerializer,
    HeartbeatSerializer,
    PreferenceReplySerializer,
    PreferenceSerializer,
)
from trials.blind import services as blind_services
from trials.media_api import FILE_KINDS, MEDIA_UPLOAD_REQUEST, MEDIA_UPLOAD_RESPONSES, media_upload
from trials.models import BlindComparison, Episode, MediaKind, Trial
from trials.services import EventInput, TrialRuleError

LONG_POLL_STEP_S = 0.25
LEASE_TOKEN = re.compile(r"^[0-9a-f]{1,64}$")  # as the claim issues it (LeaseSerializer)


class AgentView(APIView):
    authentication_classes = [RobotTokenAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes: list[Any] = []  # one agent per token, paced by long-polling; not a bulk client
    # Bounded body, and a body nested too deeply is a 400 naming the field (DRF's parser lets it be a 500).
    parser_classes = [LimitedJSONParser]

    @property
    def robot(self) -> Robot:
        return self.request.auth  # type: ignore[return-value]


def _job_or_404(robot: Robot, job_id: int) -> None:
    if not AgentJob.objects.filter(pk=job_id, robot=robot).exists():
        raise NotFound("No such job for this robot.")


def _conflict(exc: Exception) -> Response:
    return Response({"detail": str(exc), "code": "conflict"}, status=status.HTTP_409_CONFLICT)


class HeartbeatView(AgentView):
    @extend_schema(request=HeartbeatSerializer, responses={200: HeartbeatReplySerializer}, tags=["agent"])
    def post(self, request: Request) -> Response:
        data = HeartbeatSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        robot = agent_heartbeat(
            robot=self.robot,
            status=data.validated_data["status"],
            software_version=data.validated_data["software_version"],
            current_job_id=data.validated_data["current_job"],
        )
        reply = {
            "robot": robot.pk,
            "name": robot.name,
            "server_time": timezone.now(),
            "lease_s": settings.AGENT_LEASE_S,
        }
        return Response(HeartbeatReplySerializer(reply).data)


class NextJobView(AgentView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "wait", float, description="Long-poll up to this many seconds (max AGENT_LONG_POLL_MAX_S)."
            )
        ],
        responses={200: AgentJobSerializer, 204: OpenApiResponse(description="No job within the wait.")},
        tags=["agent"],
    )
    def get(self, request: Request) -> Response:
        try:
            asked = float(request.query_params.get("wait", 0))
        except ValueError as exc:
            raise ValidationError({"wait": ["must be a number of seconds"]}) from exc
        if not math.isfinite(asked):  # NaN compares false with any deadline: the poll would never end
            raise ValidationError({"wait": ["must be a finite number of seconds"]})
        wait = min(max(asked, 0.0), settings.AGENT_LONG_POLL_MAX_S)
        deadline = time.monotonic() + wait
        while True:
            job = services.agent_job_next(robot=self.robot)
            if job is not None:
                return Response(AgentJobSerializer(job).data)
            if time.monotonic() >= deadline:
                return Response(status=status.HTTP_204_NO_CONTENT)
            time.sleep(LONG_POLL_STEP_S)


class ClaimView(AgentView):
    @extend_schema(
        request=None,
        responses={200: AgentJobSerializer, 409: OpenApiResponse(description="Not pending.")},
        tags=["agent"],
    )
    def post(self, request: Request, job_id: int) -> Response:
        _job_or_404(self.robot, job_id)
        try:
            job = services.agent_job_claim(robot=self.robot, job_id=job_id)
        except services.AgentJobError as exc:
            return _conflict(exc)
        return Response(AgentJobSerializer(job).data)


class EventsView(AgentView):
    @extend_schema(
        request=EventsPushSerializer,
        responses={202: OpenApiResponse(description="Kept."), 409: OpenApiResponse(description="Lease lost.")},
        tags=["agent"],
    )
    def post(self, request: Request, job_id: int) -> Response:
        _job_or_404(self.robot, job_id)
        data = EventsPushSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            services.agent_job_events_append(
                robot=self.robot, job_id=job_id, lease_token=data.validated_data["lease_token"], events=data.to_inputs()
            )
        except services.AgentJobError as exc:
            return _conflict(exc)
        except services.AgentInputError as exc:
            raise ValidationError(exc.errors) from exc
        return Response({"accepted": len(data.validated_data["events"])}, status=status.HTTP_202_ACCEPTED)


# Completing and aborting both answer with the episode recorded: 201 the first time, 200 on a retry.
_EPISODE_REPLIES = {
    201: EpisodeRefSerializer,
    200: EpisodeRefSerializer,
    409: OpenApiResponse(description="Lease lost."),
}


class CompleteView(AgentView):
    @extend_schema(
        request=CompleteSerializer,
        responses=_EPISODE_REPLIES,
        tags=["agent"],
    )
    def post(self, request: Request, job_id: int) -> Response:
        _job_or_404(self.robot, job_id)
        data = CompleteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        result = services.AgentResult(
            outcome=v["outcome"],
            cycle_time_s=v["cycle_time_s"],
            started_at=v["started_at"],
            ended_at=v["ended_at"],
            metrics=v["metrics"],
            events=tuple(EventInput(**e) for e in v["events"]),
            stages=tuple(v["stages"]),
            stage_reached=v["stage_reached"],
            stage_times_s=tuple(v["stage_times_s"]),
            progress=v["progress"],
            preference=v["preference"],
        )
        try:
            episode, created = services.agent_job_complete(
                robot=self.robot, job_id=job_id, lease_token=v["lease_token"], result=result
            )
        except services.AgentJobError as exc:
            return _conflict(exc)
        except services.AgentInputError as exc:
            raise ValidationError(exc.errors) from exc
        return _episode_reply(episode, created)


class AbortView(AgentView):
    @extend_schema(
        request=AbortSerializer,
        responses=_EPISODE_REPLIES,
        tags=["agent"],
    )
    def post(self, request: Request, job_id: int) -> Response:
        _job_or_404(self.robot, job_id)
        data = AbortSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        try:
            episode, created = services.agent_job_abort(
                robot=self.robot,
                job_id=job_id,
                lease_token=v["lease_token"],
                reason=v["reason"],
                category=v["category"],
                elapsed_s=v["elapsed_s"],
            )
        except services.AgentJobError as exc:
            return _conflict(exc)
        return _episode_reply(episode, created)


def _episode_reply(episode: Any, created: bool) -> Response:
    body = {"episode": episode.pk, "trial": episode.trial_id, "index": episode.index, "created": created}
    return Response(EpisodeRefSerializer(body).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class ArtifactView(AgentView):
    @extend_schema(
        responses={(200, "application/octet-stream"): OpenApiResponse(description="The ONNX file.")}, tags=["agent"]
    )
    def get(self, request: Request, version_id: int) -> FileResponse:
        # Only versions this robot has (or had) a job for: a robot token is not a key to every model.
        # A blind comparison's sealed arms are left out: their files come through the job's own URL, so
        # the version's id and checksum never meet the arm's name.
        version = get_object_or_404(
            PolicyVersion.objects.filter(
                trials__in=Trial.objects.unsealed().filter(agent_jobs__robot=self.robot), kind="onnx"
            ).distinct(),
            pk=version_id,
        )
        if not version.artifact:
            raise NotFound("This version has no artifact file.")
        return FileResponse(version.artifact.open("rb"), as_attachment=True, filename=f"{version.sha256}.onnx")


class JobArtifactView(AgentView):
    @extend_schema(
        summary="The ONNX file of a job's policy, under the job's own URL (a blind job's file names no version)",
        responses={
            (200, "application/octet-stream"): OpenApiResponse(description="The ONNX file."),
            404: OpenApiResponse(description="No such job for this robot, or its policy has no file."),
        },
        tags=["agent"],
    )
    def get(self, request: Request, job_id: int) -> FileResponse:
        job = get_object_or_404(AgentJob.objects.select_related("trial__policy_version"), pk=job_id, robot=self.robot)
        version = job.trial.policy_version
        if version.kind != "onnx" or not version.artifact:
            raise NotFound("This job's policy has no artifact file.")
        name = f"{job.trial.blind_arm}.onnx" if job.trial.blind_arm else f"{version.sha256}.onnx"
        return FileResponse(version.artifact.open("rb"), as_attachment=True, filename=name)


class PreferenceView(AgentView):
    @extend_schema(
        summary="The operator's preference over a pair of a blind comparison (first, second or tie; replaces an earlier one)",
        request=PreferenceSerializer,
        responses={
            200: PreferenceReplySerializer,
            400: OpenApiResponse(description="A field is wrong (named)."),
            404: OpenApiResponse(description="No such comparison on this robot."),
            409: OpenApiResponse(description="The pair has not run both episodes, or the comparison is unblinded."),
        },
        tags=["agent"],
    )
    def post(self, request: Request, comparison_id: int, pair: int) -> Response:
        comparison = get_object_or_404(BlindComparison.objects.filter(robot=self.robot), pk=comparison_id)
        data = PreferenceSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            preference = blind_services.blind_preference_record(
                comparison=comparison,
                pair=pair,
                preferred=data.validated_data["preferred"],
                robot=self.robot,
                operator=data.validated_data["operator"],
            )
        except TrialRuleError as exc:
            raise ValidationError({exc.field or "non_field_errors": [str(exc)]}) from exc
        except blind_services.BlindConflict as exc:
            return _conflict(exc)
        reply = {
            "comparison": comparison.pk,
            "pair": pair,
            "preferred": data.validated_data["preferred"],
            "recorded_at": preference.recorded_at,
        }
        return Response(PreferenceReplySerializer(reply).data)


# --- Recording files of a completed job's episode -------------------------------------------------

LEASE_HEADER = OpenApiParameter(
    "X-Lease-Token",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description="The lease_token of the claim the job was completed with (lowercase hex).",
    pattern=r"^[0-9a-f]{1,64}$",
)
_MEDIA_REPLIES = {
    **MEDIA_UPLOAD_RESPONSES,
    404: OpenApiResponse(description="No such job for this robot."),
    409: OpenApiResponse(description="The job is not completed, or was completed with another lease token."),
}


class _JobMediaView(AgentView):
    def completed_episode(self, request: Request, job_id: int) -> Episode:
        """The episode the job recorded, for the attempt whose lease token the request carries."""
        _job_or_404(self.robot, job_id)
        token = request.headers.get("X-Lease-Token", "")
        if not LEASE_TOKEN.match(token):
            raise ValidationError({"X-Lease-Token": ["the claim's lease_token (lowercase hex) is required"]})
        return services.agent_job_episode(robot=self.robot, job_id=job_id, lease_token=token)


class JobVideoView(_JobMediaView):
    @extend_schema(
        summary="Upload a camera's video (H.264 MP4) of a completed job's episode (retry-safe)",
        description="The raw bytes of the file are the body. Every frame is decoded before it is stored; the "
        "same bytes again are a 200 that changes nothing. A refused file leaves the episode as recorded.",
        parameters=[
            LEASE_HEADER,
            OpenApiParameter("name", OpenApiTypes.STR, OpenApiParameter.PATH, pattern=r"^[A-Za-z0-9_-]{1,64}$"),
        ],
        request=MEDIA_UPLOAD_REQUEST,
        responses=_MEDIA_REPLIES,
        tags=["agent"],
    )
    def put(self, request: Request, job_id: int, name: str) -> Response:
        try:
            episode = self.completed_episode(request, job_id)
        except services.AgentJobError as exc:
            return _conflict(exc)
        return media_upload(request, episode=episode, kind=MediaKind.VIDEO, name=name)


class JobFileView(_JobMediaView):
    @extend_schema(
        summary="Upload the trajectory (Parquet), poster (JPEG) or manifest (JSON) of a completed job's episode",
        description="The raw bytes of the file are the body; checked by reading it as its kind. Retry-safe.",
        parameters=[
            LEASE_HEADER,
            OpenApiParameter("kind", OpenApiTypes.STR, OpenApiParameter.PATH, enum=[str(k) for k in FILE_KINDS]),
        ],
        request=MEDIA_UPLOAD_REQUEST,
        responses=_MEDIA_REPLIES,
        tags=["agent"],
    )
    def put(self, request: Request, job_id: int, kind: str) -> Response:
        try:
            episode = self.completed_episode(request, job_id)
        except services.AgentJobError as exc:
            return _conflict(exc)
        return media_upload(request, episode=episode, kind=kind)
