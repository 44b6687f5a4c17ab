"""Input of the ROI endpoint (query parameters); the output is reports.roi.report.TaskRoiReport.to_dict()."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.montecarlo import DEFAULT_DRAWS
from reports.models import CostScenario
from trials.models import EpisodeSource

MIN_API_DRAWS = 100


class TaskRoiQuerySerializer(serializers.Serializer[dict[str, Any]]):
    """?scenario=, ?source=, ?draws=, ?seed= of GET /api/v1/tasks/{id}/roi/."""

    scenario = serializers.ChoiceField(choices=CostScenario.choices, default=CostScenario.BASE)
    source = serializers.ChoiceField(  # type: ignore[assignment]  # the parameter shares Field.source's name
        choices=[*EpisodeSource.values, "real"],
        required=False,
        help_text="Evidence: one episode source or 'real' (robot agent + integrator upload). Default: real "
        "episodes when the task has any, else simulation; never mixed.",
    )
    draws = serializers.IntegerField(min_value=MIN_API_DRAWS, max_value=DEFAULT_DRAWS, default=DEFAULT_DRAWS)
    seed = serializers.IntegerField(min_value=0, max_value=2**32 - 1, default=0)
