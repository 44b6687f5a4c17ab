"""Query parameters of the statistics API (reports/stats/api.py): validated here so bad input is a 400 that
names the field, never a 500."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from common.ids import MAX_ID
from core.stats import CONFIDENCE
from trials.models import EpisodeSource


class TrialStatsQuerySerializer(serializers.Serializer[dict[str, Any]]):
    """?acceptable=, ?rejectable= of GET /api/v1/trials/{id}/stats/ (the sequential test's levels)."""

    acceptable = serializers.FloatField(
        required=False,
        min_value=0.0001,
        max_value=0.9999,
        help_text="SPRT: success rate that should pass; given only with `rejectable`, and greater than it. "
        "Default: halfway from the rejectable level to 100%.",
    )
    rejectable = serializers.FloatField(
        required=False,
        min_value=0.0001,
        max_value=0.9999,
        help_text="SPRT: success rate that must not pass. Default: the strictest success lower bound of the "
        "task's acceptance criteria, else 0.8.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        acceptable, rejectable = attrs.get("acceptable"), attrs.get("rejectable")
        if acceptable is not None and rejectable is not None and not rejectable < acceptable:
            raise serializers.ValidationError({"acceptable": ["Must be greater than rejectable."]})
        if acceptable is not None and rejectable is None:
            raise serializers.ValidationError({"rejectable": ["Give rejectable with acceptable."]})
        return attrs


class CompareQuerySerializer(serializers.Serializer[dict[str, Any]]):
    """?a=, ?b=, ?source= of GET /api/v1/trials/compare/."""

    a = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="Trial A (the baseline).")
    b = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text="Trial B, of the same task; not a (a = b is a 400)."
    )
    source = serializers.ChoiceField(  # type: ignore[assignment]  # the parameter shares Field.source's name
        choices=EpisodeSource.choices, required=False, help_text="Compare only episodes of this source."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["a"] == attrs["b"]:
            raise serializers.ValidationError({"b": ["Choose a trial other than a."]})
        return attrs


class PlanQuerySerializer(serializers.Serializer[dict[str, Any]]):
    """?target=, ?confidence=, ?failures=, ?source= of GET /api/v1/tasks/{id}/plan/."""

    target = serializers.FloatField(min_value=0.0001, max_value=0.9999, help_text="Success rate to show, e.g. 0.9.")
    confidence = serializers.FloatField(min_value=0.5, max_value=0.9999, default=CONFIDENCE)
    failures = serializers.IntegerField(min_value=0, max_value=10_000, default=0, help_text="Failures allowed.")
    source = serializers.ChoiceField(  # type: ignore[assignment]  # the parameter shares Field.source's name
        choices=EpisodeSource.choices,
        required=False,
        help_text="Whose measured cycle time gives the robot-hours. Default: robot agent, integrator upload, "
        "then simulation (first with episodes).",
    )


class PairedPlanQuerySerializer(serializers.Serializer[dict[str, Any]]):
    """?rate_a=, ?rate_b=, ?discordance=, ?power=, ?alpha= of GET /api/v1/plan/paired/."""

    rate_a = serializers.FloatField(min_value=0.0001, max_value=0.9999, help_text="Success rate of A, e.g. 0.6.")
    rate_b = serializers.FloatField(min_value=0.0001, max_value=0.9999, help_text="Success rate of B to detect.")
    discordance = serializers.FloatField(
        min_value=0.0001,
        max_value=0.9999,
        required=False,
        help_text="Share of seeds A and B would decide differently (measured on a pilot). Default: the value "
        "if their outcomes on a seed were independent.",
    )
    power = serializers.FloatField(min_value=0.5, max_value=0.9999, default=0.8)
    alpha = serializers.FloatField(min_value=0.0001, max_value=0.5, default=0.05, help_text="Two-sided.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["rate_a"] == attrs["rate_b"]:
            raise serializers.ValidationError({"rate_b": ["Must differ from rate_a."]})
        return attrs
