"""Shapes of the robot agent protocol (/api/v1/agent/)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rest_framework import serializers

from robots.models import AgentJob, RobotStatus
from trials.models import EpisodeOutcome, EventCategory
from trials.serializers import MAX_EVENTS_PER_EPISODE, EventInputSerializer
from trials.services import EventInput


class HeartbeatSerializer(serializers.Serializer[dict[str, Any]]):
    status = serializers.ChoiceField(choices=[RobotStatus.IDLE, RobotStatus.BUSY, RobotStatus.MAINTENANCE])
    software_version = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    current_job = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)


class HeartbeatReplySerializer(serializers.Serializer[dict[str, Any]]):
    robot = serializers.IntegerField()
    name = serializers.CharField()
    server_time = serializers.DateTimeField()
    lease_s = serializers.FloatField()


class PolicyRefSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.IntegerField()
    name = serializers.CharField(source="policy.name")
    version = serializers.CharField()
    kind = serializers.CharField()
    sha256 = serializers.CharField()
    io_spec = serializers.JSONField()
    endpoint_url = serializers.CharField()
    remote_config = serializers.JSONField()
    artifact_path = serializers.SerializerMethodField(help_text="GET this (same token) for the ONNX file.")

    def get_artifact_path(self, version: Any) -> str | None:
        return f"/api/v1/agent/policy-versions/{version.pk}/artifact/" if version.kind == "onnx" else None


class AgentJobSerializer(serializers.ModelSerializer[AgentJob]):
    task = serializers.CharField(source="trial.task.name")
    instruction = serializers.CharField(source="trial.instruction")
    seed = serializers.SerializerMethodField(help_text="Trial seed + episode index: reset the cell with it.")
    episode_timeout_s = serializers.FloatField(source="trial.episode_timeout_s")
    policy_version = PolicyRefSerializer(source="trial.policy_version")

    class Meta:
        model = AgentJob
        fields = [
            "id",
            "trial",
            "index",
            "status",
            "task",
            "instruction",
            "seed",
            "episode_timeout_s",
            "policy_version",
            "lease_token",
            "lease_expires_at",
            "attempts",
        ]
        read_only_fields = fields

    def get_seed(self, job: AgentJob) -> int:
        return int(job.trial.seed) + job.index


class LeaseSerializer(serializers.Serializer[dict[str, Any]]):
    lease_token = serializers.CharField(max_length=64)


class EventsPushSerializer(LeaseSerializer):
    events = EventInputSerializer(many=True, max_length=MAX_EVENTS_PER_EPISODE)

    def to_inputs(self) -> list[EventInput]:
        return [EventInput(**e) for e in self.validated_data["events"]]


class CompleteSerializer(LeaseSerializer):
    # `lost`: the policy server, the robot interface or the agent failed, not the policy; the episode is
    # counted in no figure and the job goes back to the queue (same seed) up to TRIAL_LOST_EPISODE_RETRIES.
    outcome = serializers.ChoiceField(choices=[EpisodeOutcome.SUCCESS, EpisodeOutcome.FAILURE, EpisodeOutcome.LOST])
    cycle_time_s = serializers.FloatField(min_value=0, max_value=7 * 24 * 3600)
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(required=False)
    metrics = serializers.DictField(required=False, default=dict)
    events = EventInputSerializer(many=True, required=False, default=list, max_length=MAX_EVENTS_PER_EPISODE)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs["ended_at"] = attrs.get("ended_at") or attrs["started_at"] + timedelta(seconds=attrs["cycle_time_s"])
        if attrs["ended_at"] < attrs["started_at"]:
            raise serializers.ValidationError({"ended_at": ["must not be before started_at"]})
        return attrs


class AbortSerializer(LeaseSerializer):
    reason = serializers.CharField(max_length=2000)
    category = serializers.ChoiceField(choices=EventCategory.choices, default=EventCategory.OTHER)
    elapsed_s = serializers.FloatField(min_value=0, max_value=7 * 24 * 3600, default=0.0)


class EpisodeRefSerializer(serializers.Serializer[dict[str, Any]]):
    episode = serializers.IntegerField()
    trial = serializers.IntegerField()
    index = serializers.IntegerField()
    created = serializers.BooleanField()
