"""Input and output of the review API (trials/reviews/api.py)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from common.api_support import StrictCharField, StrictModelSerializer
from common.ids import EPISODE_INDEX_MAX
from trials.models import EpisodeReview
from trials.reviews.services import BULK_MAX_EPISODES, REASON_MAX_CHARS, REVIEWABLE_OUTCOMES


class EpisodeReviewSerializer(StrictModelSerializer[EpisodeReview]):
    """One row of an episode's audit trail."""

    episode_index = serializers.IntegerField(source="episode.index", read_only=True)
    reviewer = serializers.CharField(source="reviewer.username", read_only=True)

    class Meta:
        model = EpisodeReview
        fields = ["id", "episode_index", "reviewer", "created_at", "outcome_before", "outcome_after", "reason"]
        read_only_fields = fields


class ReviewInputSerializer(serializers.Serializer[dict[str, Any]]):
    outcome = serializers.ChoiceField(
        choices=list(REVIEWABLE_OUTCOMES),
        help_text="The episode's outcome as reviewed: the same as now confirms it, another overrides it.",
    )
    reason = StrictCharField(
        max_length=REASON_MAX_CHARS, required=False, allow_blank=True, default="", help_text="Required to override."
    )


class BulkReviewInputSerializer(ReviewInputSerializer):
    indexes = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=EPISODE_INDEX_MAX),
        min_length=1,
        max_length=BULK_MAX_EPISODES,
        help_text="Episode indexes of the trial; all get the outcome and reason, or none does.",
    )
