"""GET /api/v1/shortlist/: the shortlist page's figures (reports.shortlist.selectors) as JSON."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.requests import AuthenticatedApiRequest
from common.api_support import error_responses
from common.throttling import TokenRateThrottle
from reports.shortlist.selectors import shortlist_for_user


class ShortlistView(APIView):
    throttle_classes = [TokenRateThrottle]

    @extend_schema(
        summary="Which policy for which task",
        description="Per task whose commercial terms the caller may read: the policy versions ranked by a "
        "Bradley-Terry model on the scenes two versions both ran (same cell, instruction, timeout and episode "
        "seed; a tie, both succeeded or both failed, counts half), with bootstrap intervals of strength and "
        "rank, each beside its base-case ROI (the task report's figures), and for each pair of neighbours "
        "not yet told apart the paired seeds that would settle it. Versions never run on a shared scene have "
        "`rank` null.",
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="reports.shortlist.selectors.Shortlist",
                examples=[
                    OpenApiExample(
                        "Example",
                        value={
                            "tasks": [
                                {
                                    "task_id": 3,
                                    "entries": [{"label": "pi0 v2", "rank": 1, "rank_low": 1, "rank_high": 2}],
                                    "ties": [{"label_a": "pi0 v2", "label_b": "pi0 v1", "more_seeds": 480}],
                                    "statement": "…",
                                }
                            ],
                            "method": "…",
                        },
                    )
                ],
            ),
            **error_responses(401, 429),
        },
    )
    def get(self, request: AuthenticatedApiRequest) -> Response:
        return Response(shortlist_for_user(user=request.user).to_dict())
