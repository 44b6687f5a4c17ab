"""Shapes of the robot agent protocol (/api/v1/agent/)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.api_support import StrictCharField, StrictModelSerializer
from core.blind import PREFERRED
from core.episode_rules import MAX_EPISODE_SECONDS, MAX_EVENTS_PER_EPISODE, event_offset_problems
from robots.models import AgentJob, RobotStatus
from trials.models import EpisodeOutcome, EventCategory
from trials.serializers import (
    EpisodeInstantField,
    EventInputSerializer,
    MetricsField,
    StrictFloatField,
    episode_times_check,
)
from trials.services import EventInput

MAX_STAGES = 32
MAX_STAGE_NAME = 64


class HeartbeatSerializer(serializers.Serializer[dict[str, Any]]):
    status = serializers.ChoiceField(choices=[RobotStatus.IDLE, RobotStatus.BUSY, RobotStatus.MAINTENANCE])
    software_version = StrictCharField(max_length=100, required=False, allow_blank=True, default="")
    # Bounded to BIGINT: a larger id would overflow the database driver (a 500) instead of matching nothing.
    current_job = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=2**63 - 1
    )


class HeartbeatReplySerializer(serializers.Serializer[dict[str, Any]]):
    robot = serializers.IntegerField()
    name = serializers.CharField()
    server_time = serializers.DateTimeField()
    lease_s = serializers.FloatField()


class PolicyRefSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.IntegerField(allow_null=True, help_text="null in a blind comparison's job.")
    name = serializers.CharField(source="policy.name", help_text="The arm's neutral name in a blind job.")
    version = serializers.CharField()
    kind = serializers.CharField()
    sha256 = serializers.CharField(
        help_text="Of the file; in a blind job, of digest_salt's bytes followed by the file (no page shows it)."
    )
    digest_salt = serializers.CharField(
        default="", help_text="Hex; non-empty in a blind job: sha256 is then sha256(salt bytes + file)."
    )
    io_spec = serializers.JSONField()
    endpoint_url = serializers.CharField()
    remote_config = serializers.JSONField()
    artifact_path = serializers.SerializerMethodField(help_text="GET this (same token) for the ONNX file.")

    def get_artifact_path(self, version: Any) -> str | None:
        return f"/api/v1/agent/policy-versions/{version.pk}/artifact/" if version.kind == "onnx" else None


def blind_policy_ref(job: AgentJob) -> dict[str, Any]:
    """What a blind comparison's job says of its policy: the arm's neutral name, the file through the
    job's own URL and a salted digest; no version id, name, policy name or checksum a page shows."""
    trial = job.trial
    digest = trial.blind.arm_digests[trial.blind_arm]  # type: ignore[union-attr]  # a blind job's trial
    return {
        "id": None,
        "name": trial.blind_arm,
        "version": trial.blind_arm,
        "kind": "onnx",
        "sha256": digest["sha256"],
        "digest_salt": digest["salt"],
        "io_spec": trial.policy_version.io_spec,
        "endpoint_url": "",
        "remote_config": {},
        "artifact_path": f"/api/v1/agent/jobs/{job.pk}/artifact/",
    }


class BlindJobSerializer(serializers.Serializer[dict[str, Any]]):
    comparison = serializers.IntegerField()
    pair = serializers.IntegerField(help_text="The pair this episode belongs to (both run seed + pair).")
    position = serializers.ChoiceField(choices=["first", "second"], help_text="Its place in the pair's run order.")
    arm = serializers.CharField(help_text="The neutral arm name (arm-1, arm-2): not which version.")


def blind_job_ref(job: AgentJob) -> dict[str, Any] | None:
    if job.trial.blind_id is None or job.run_sequence is None:
        return None
    return {
        "comparison": job.trial.blind_id,
        "pair": job.index,
        "position": "first" if job.run_sequence % 2 == 0 else "second",
        "arm": job.trial.blind_arm,
    }


class AgentJobSerializer(StrictModelSerializer[AgentJob]):
    task = serializers.CharField(source="trial.task.name")
    instruction = serializers.CharField(source="trial.instruction")
    seed = serializers.SerializerMethodField(help_text="Trial seed + episode index: reset the cell with it.")
    episode_timeout_s = serializers.FloatField(source="trial.episode_timeout_s")
    policy_version = serializers.SerializerMethodField()
    blind = serializers.SerializerMethodField(
        help_text="In a blind A/B comparison: the pair, the place in it and the neutral arm; else null."
    )
    overview_px = serializers.IntegerField(
        source="trial.overview_px", help_text="Record the overview camera at this size (px x px)."
    )
    overview_fps = serializers.FloatField(
        source="trial.overview_fps", help_text="... and this rate (fps of simulated time; 0: no overview)."
    )
    stages = serializers.ListField(
        source="trial.stages",
        child=serializers.CharField(),
        help_text="The trial's ordered stage names (empty until set: the first completion reporting `stages` sets them).",
    )

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
            "overview_px",
            "overview_fps",
            "stages",
            "blind",
            "lease_token",
            "lease_expires_at",
            "attempts",
        ]
        read_only_fields = fields

    def get_seed(self, job: AgentJob) -> int:
        return int(job.trial.seed) + job.index

    @extend_schema_field(PolicyRefSerializer)
    def get_policy_version(self, job: AgentJob) -> dict[str, Any]:
        if job.trial.blind_id is not None:
            return blind_policy_ref(job)
        return dict(PolicyRefSerializer(job.trial.policy_version).data)  # type: ignore[arg-type]  # reads a model

    @extend_schema_field(BlindJobSerializer(allow_null=True))
    def get_blind(self, job: AgentJob) -> dict[str, Any] | None:
        return blind_job_ref(job)


class LeaseSerializer(serializers.Serializer[dict[str, Any]]):
    # Hex as the claim issued it: checked here, since compare_digest raises on non-ASCII text (a 500).
    lease_token = serializers.RegexField(
        r"^[0-9a-f]{1,64}$", max_length=64, help_text="The lease_token of the claim (lowercase hex)."
    )


class EventsPushSerializer(LeaseSerializer):
    # many_init is what many=True calls; the stubs type only the child's arguments on the constructor.
    events = EventInputSerializer.many_init(max_length=MAX_EVENTS_PER_EPISODE)

    def validate_events(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        problems = event_offset_problems((e["t_offset_s"] for e in events), duration_s=None)
        if problems:
            raise serializers.ValidationError({str(p): {"t_offset_s": [m]} for p, m in problems.items()})
        return events

    def to_inputs(self) -> list[EventInput]:
        return [EventInput(**e) for e in self.validated_data["events"]]


class CompleteSerializer(LeaseSerializer):
    # `lost`: the policy server, the robot interface or the agent failed, not the policy; the episode is
    # counted in no figure and the job goes back to the queue (same seed) up to TRIAL_LOST_EPISODE_RETRIES.
    outcome = serializers.ChoiceField(choices=[EpisodeOutcome.SUCCESS, EpisodeOutcome.FAILURE, EpisodeOutcome.LOST])
    # The same fields and checks as an integrator's upload (trials.serializers, core.episode_rules).
    cycle_time_s = StrictFloatField(min_value=0, max_value=MAX_EPISODE_SECONDS)
    started_at = EpisodeInstantField()
    ended_at = EpisodeInstantField(required=False)
    metrics = MetricsField(required=False, default=dict)
    events = EventInputSerializer.many_init(required=False, default=list, max_length=MAX_EVENTS_PER_EPISODE)
    # How far it got (checked against the trial's stages by the service).
    stages = serializers.ListField(
        child=StrictCharField(min_length=1, max_length=MAX_STAGE_NAME),
        required=False,
        default=list,
        max_length=MAX_STAGES,
        help_text="The task's stage names in order; only needed while the trial has none (the job's `stages`).",
    )
    stage_reached = serializers.IntegerField(
        min_value=0, max_value=MAX_STAGES, required=False, allow_null=True, default=None,
        help_text="How many of the stages the episode reached (null: not reported).",
    )  # fmt: skip
    stage_times_s = serializers.ListField(
        child=StrictFloatField(min_value=0, max_value=MAX_EPISODE_SECONDS),
        required=False,
        default=list,
        max_length=MAX_STAGES,
        help_text="Seconds from the start at which each stage reached was first reached (one per stage, in order).",
    )
    progress = StrictFloatField(
        min_value=0, max_value=1, required=False, allow_null=True, default=None,
        help_text="Progress in [0, 1]; default: stages reached / stages.",
    )  # fmt: skip

    preference = serializers.ChoiceField(
        choices=PREFERRED, required=False, allow_null=True, default=None,
        help_text="A blind pair's second episode only: the episode of the pair the operator preferred, as they ran.",
    )  # fmt: skip

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return episode_times_check(attrs)


class AbortSerializer(LeaseSerializer):
    reason = StrictCharField(max_length=2000)
    category = serializers.ChoiceField(choices=EventCategory.choices, default=EventCategory.OTHER)
    elapsed_s = StrictFloatField(min_value=0, max_value=MAX_EPISODE_SECONDS, default=0.0)


class EpisodeRefSerializer(serializers.Serializer[dict[str, Any]]):
    episode = serializers.IntegerField()
    trial = serializers.IntegerField()
    index = serializers.IntegerField()
    created = serializers.BooleanField()


class PreferenceSerializer(serializers.Serializer[dict[str, Any]]):
    preferred = serializers.ChoiceField(
        choices=PREFERRED,
        help_text="The pair's episode the operator preferred, in the order they ran (or tie).",
    )
    operator = StrictCharField(max_length=100, required=False, allow_blank=True, default="")


class PreferenceReplySerializer(serializers.Serializer[dict[str, Any]]):
    comparison = serializers.IntegerField()
    pair = serializers.IntegerField()
    preferred = serializers.CharField()
    recorded_at = serializers.DateTimeField()
