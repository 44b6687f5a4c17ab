"""REST API of the episode review.

GET  /api/v1/trials/{trial_pk}/episodes/{index}/reviews/   the episode's audit trail, oldest first
POST /api/v1/trials/{trial_pk}/episodes/{index}/reviews/   confirm or override its outcome
POST /api/v1/trials/{trial_pk}/reviews/                    the same outcome and reason for several, all or nothing
GET  /api/v1/trials/{trial_pk}/review-queue/               the episodes most worth a review, with why

Reading needs only the trial's visibility (another organization's trial: 404); reviewing needs
accounts.permissions.can_review_episodes (403). Bad input is a 400 naming the field."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.exceptions import PermissionDenied as ApiPermissionDenied
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import can_review_episodes
from accounts.requests import AuthenticatedApiRequest
from common.api_support import error_responses, path_number
from common.ids import EPISODE_INDEX_MAX
from common.throttling import TokenRateThrottle
from trials.models import Episode, Trial
from trials.reviews.selectors import episode_review_history, review_queue
from trials.reviews.serializers import BulkReviewInputSerializer, EpisodeReviewSerializer, ReviewInputSerializer
from trials.reviews.services import episode_review, episodes_review_bulk
from trials.selectors import episode_at_index, trial_list_for_user
from trials.services import TrialRuleError

TRIAL_PARAM = OpenApiParameter("trial_pk", OpenApiTypes.INT, OpenApiParameter.PATH, description="Trial id")
INDEX_PARAM = OpenApiParameter("index", OpenApiTypes.INT, OpenApiParameter.PATH, description="Episode index")


def _visible_trial(request: AuthenticatedApiRequest, trial_pk: str) -> Trial:
    return get_object_or_404(trial_list_for_user(user=request.user), pk=path_number(trial_pk))


def _may_review(request: AuthenticatedApiRequest, trial: Trial) -> None:
    if not can_review_episodes(
        request.user, robot_organization_id=trial.robot.organization_id, task_organization_id=trial.task.organization_id
    ):
        raise ApiPermissionDenied("Only engineers and reviewers of the trial's organizations may review its episodes.")


def _episode(trial: Trial, index: str) -> Episode:
    """The counted episode at `index`; an index holding only lost attempts is a 400 (nothing to review)."""
    number = path_number(index, low=0, high=EPISODE_INDEX_MAX)
    episode = Episode.objects.counted().filter(trial=trial, index=number).first()
    if episode is not None:
        return episode
    if Episode.objects.lost().filter(trial=trial, index=number).exists():
        raise ValidationError({"episode": [f"episode {index} was lost to infrastructure: it is not reviewed."]})
    raise NotFound("Not found.")


def _rule_error(exc: TrialRuleError) -> ValidationError:
    return ValidationError({exc.field or "non_field_errors": [str(exc)]})


class EpisodeReviewsView(APIView):
    permission_classes = [permissions.IsAuthenticated]
    throttle_classes = [TokenRateThrottle]

    @extend_schema(
        summary="An episode's review history (the audit trail)",
        parameters=[TRIAL_PARAM, INDEX_PARAM],
        responses={200: EpisodeReviewSerializer(many=True), **error_responses(401, 404, 429)},
    )
    def get(self, request: AuthenticatedApiRequest, trial_pk: str, index: str) -> Response:
        trial = _visible_trial(request, trial_pk)
        episode = episode_at_index(trial=trial, index=path_number(index, low=0, high=EPISODE_INDEX_MAX))
        if episode is None:
            raise NotFound("Not found.")
        return Response(EpisodeReviewSerializer(episode_review_history(episode=episode), many=True).data)

    @extend_schema(
        summary="Confirm or override an episode's outcome",
        description="The same outcome confirms it; another of success, failure, aborted overrides it (a reason is "
        "then required). The episode's `outcome` becomes the reviewed one, which every figure counts; the "
        "reported one stays in `detected_outcome`. A lost episode cannot be reviewed (400, field `episode`).",
        parameters=[TRIAL_PARAM, INDEX_PARAM],
        request=ReviewInputSerializer,
        responses={201: EpisodeReviewSerializer, **error_responses(400, 401, 403, 404, 429)},
    )
    def post(self, request: AuthenticatedApiRequest, trial_pk: str, index: str) -> Response:
        trial = _visible_trial(request, trial_pk)
        _may_review(request, trial)
        episode = _episode(trial, index)
        data = ReviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            review = episode_review(episode=episode, reviewer=request.user, **data.validated_data)
        except TrialRuleError as exc:
            raise _rule_error(exc) from exc
        return Response(EpisodeReviewSerializer(review).data, status=status.HTTP_201_CREATED)


class TrialReviewsBulkView(APIView):
    permission_classes = [permissions.IsAuthenticated]
    throttle_classes = [TokenRateThrottle]

    @extend_schema(
        summary="Review several episodes of a trial at once (all or nothing)",
        parameters=[TRIAL_PARAM],
        request=BulkReviewInputSerializer,
        responses={201: EpisodeReviewSerializer(many=True), **error_responses(400, 401, 403, 404, 429)},
    )
    def post(self, request: AuthenticatedApiRequest, trial_pk: str) -> Response:
        trial = _visible_trial(request, trial_pk)
        _may_review(request, trial)
        data = BulkReviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            reviews = episodes_review_bulk(trial=trial, reviewer=request.user, **data.validated_data)
        except TrialRuleError as exc:
            raise _rule_error(exc) from exc
        return Response(EpisodeReviewSerializer(reviews, many=True).data, status=status.HTTP_201_CREATED)


class TrialReviewQueueView(APIView):
    permission_classes = [permissions.IsAuthenticated]
    throttle_classes = [TokenRateThrottle]

    @extend_schema(
        summary="The review queue: a trial's episodes most worth a look, with why",
        description="Successes near the time limit (>= 90 % of the episode timeout), successes with fault "
        "events, failures without a fault event, and unreviewed episodes like those a reviewer overrode "
        "before in this task; unreviewed first, at most 50.",
        parameters=[TRIAL_PARAM],
        responses={200: OpenApiTypes.OBJECT, **error_responses(401, 404, 429)},
    )
    def get(self, request: AuthenticatedApiRequest, trial_pk: str) -> Response:
        trial = _visible_trial(request, trial_pk)
        items: list[dict[str, Any]] = [
            {
                "index": i.episode.index,
                "outcome": i.episode.outcome,
                "review_state": i.episode.review_state,
                "reasons": i.reasons,
            }
            for i in review_queue(trial=trial)
        ]
        return Response({"trial_id": trial.pk, "episodes": items})
