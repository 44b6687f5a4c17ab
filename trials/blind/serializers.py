"""Shapes of the blind-comparison API. While sealed a comparison says nothing that tells its arms apart:
no version, no trial id, no figure per arm; `unblinded` is null until both arms have ended."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.api_support import StrictCharField, StrictModelSerializer
from policies.models import PolicyVersion
from policies.selectors import policy_version_list_for_user
from robots.models import Robot
from robots.selectors import robot_list_for_user
from trials.blind.selectors import blind_comparison_progress, blind_comparison_unblinded
from trials.models import MAX_EPISODES_PER_TRIAL, BlindComparison, Task
from trials.selectors import task_list_for_user
from trials.serializers import StrictFloatField, _limit_choices, _user


class BlindProgressSerializer(serializers.Serializer[dict[str, Any]]):
    pairs = serializers.IntegerField()
    pairs_done = serializers.IntegerField(help_text="Pairs whose two episodes are both counted.")
    episodes_done = serializers.IntegerField(help_text="Counted episodes, both arms together.")
    episodes_lost = serializers.IntegerField(help_text="Attempts lost to infrastructure (re-run), both arms.")
    preferences = serializers.IntegerField(help_text="Pairs with an operator's preference.")
    status = serializers.CharField(help_text="running, or how the arms ended (completed, cancelled, ...).")


class UnblindedSerializer(serializers.Serializer[dict[str, Any]]):
    arms = serializers.DictField(
        child=serializers.DictField(), help_text="A and B: policy_version, label, the arm name the agent saw, trial."
    )
    order = serializers.ListField(child=serializers.CharField(), help_text="Per pair, the version run first.")
    pairs = serializers.ListField(
        child=serializers.DictField(), help_text="Per pair: seed, first, outcome_a, outcome_b, preference."
    )
    result = serializers.DictField(
        help_text="core.blind.BlindResult: the table of pairs, McNemar and Newcombe, the preference tally."
    )


class BlindComparisonListSerializer(StrictModelSerializer[BlindComparison]):
    """A row of the list: read one comparison for its progress and, once unblinded, its figures."""

    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True)

    class Meta:
        model = BlindComparison
        fields = ["id", "task", "robot", "pairs", "created_by", "created_at", "unblinded_at"]
        read_only_fields = fields


class BlindComparisonSerializer(BlindComparisonListSerializer):
    progress = serializers.SerializerMethodField()
    unblinded = serializers.SerializerMethodField()

    class Meta(BlindComparisonListSerializer.Meta):
        fields = [*BlindComparisonListSerializer.Meta.fields, "progress", "unblinded"]
        read_only_fields = fields

    @extend_schema_field(BlindProgressSerializer)
    def get_progress(self, comparison: BlindComparison) -> dict[str, Any]:
        return dict(blind_comparison_progress(comparison=comparison).__dict__)

    @extend_schema_field(UnblindedSerializer(allow_null=True))
    def get_unblinded(self, comparison: BlindComparison) -> dict[str, Any] | None:
        view = blind_comparison_unblinded(comparison=comparison)
        if view is None:
            return None
        arms = {}
        for name, trial in (("A", view.trial_a), ("B", view.trial_b)):
            version = trial.policy_version
            arms[name] = {
                "policy_version": version.pk,
                "label": f"{version.policy.name} {version.version}",
                "arm": trial.blind_arm,
                "trial": trial.pk,
            }
        return {
            "arms": arms,
            "order": list(comparison.order),
            "pairs": [row.__dict__ for row in view.rows],
            "result": view.result.to_dict(),
        }


class BlindComparisonCreateSerializer(serializers.Serializer[dict[str, Any]]):
    """Schedule a blind A/B of two ONNX versions on one of the caller's organization's physical robots."""

    task = serializers.PrimaryKeyRelatedField(queryset=Task.objects.none())
    version_a = serializers.PrimaryKeyRelatedField(queryset=PolicyVersion.objects.none())
    version_b = serializers.PrimaryKeyRelatedField(queryset=PolicyVersion.objects.none())
    robot = serializers.PrimaryKeyRelatedField(queryset=Robot.objects.none())
    pairs = serializers.IntegerField(
        min_value=1, max_value=MAX_EPISODES_PER_TRIAL, help_text="Pairs of episodes: one of A and one of B each."
    )
    seed = serializers.IntegerField(
        min_value=0, max_value=2**63 - 1, default=0, help_text="Pair i runs seed + i (both of its episodes)."
    )
    instruction = StrictCharField(max_length=500, required=False, allow_blank=True, default="")
    episode_timeout_s = StrictFloatField(min_value=0.001, max_value=86_400, default=60.0)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        user = _user(self)
        if user is None:
            return
        versions = policy_version_list_for_user(user=user)
        fields: dict[str, QuerySet[Any]] = {
            "task": task_list_for_user(user=user),
            "version_a": versions,
            "version_b": versions,
            "robot": robot_list_for_user(user=user),
        }
        for name, queryset in fields.items():
            _limit_choices(self.fields[name], queryset)
