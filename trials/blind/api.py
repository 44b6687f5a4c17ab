"""REST API for blind A/B comparisons (/api/v1/blind-comparisons/): schedule, read (sealed, then
unblinded), cancel. Thin: parse, call a blind service or selector, serialize. Another organization's
comparison is absent from the queryset (404); scheduling and cancelling need the trial-running role and the
robot's organization."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import CanRunTrials, acts_for_organization
from accounts.requests import AuthenticatedApiRequest
from common.api_support import READ_ERRORS, ApiViewMixin, error_responses
from trials.blind.selectors import blind_comparison_list_for_user
from trials.blind.serializers import (
    BlindComparisonCreateSerializer,
    BlindComparisonListSerializer,
    BlindComparisonSerializer,
)
from trials.blind.services import blind_comparison_cancel, blind_comparison_schedule
from trials.models import BlindComparison
from trials.services import TrialRuleError


@extend_schema_view(
    list=extend_schema(
        summary="List blind A/B comparisons visible to you",
        responses={200: BlindComparisonListSerializer, **READ_ERRORS},
    ),
    retrieve=extend_schema(
        summary="Read a blind comparison: its progress while sealed, the arms and figures once unblinded",
        responses={200: BlindComparisonSerializer, **READ_ERRORS},
    ),
)
class BlindComparisonViewSet(
    ApiViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[BlindComparison]
):
    """Blind A/B comparisons of two policy versions on a physical robot."""

    queryset = BlindComparison.objects.none()  # for the schema generator; requests use get_queryset()
    request: AuthenticatedApiRequest

    serializer_class = BlindComparisonListSerializer
    permission_classes = [permissions.IsAuthenticated, CanRunTrials]

    def get_queryset(self) -> QuerySet[BlindComparison]:
        return blind_comparison_list_for_user(user=self.request.user)

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(BlindComparisonSerializer(self.get_object()).data)

    @extend_schema(
        summary="Schedule a blind A/B of two ONNX versions on one of your organization's physical robots",
        request=BlindComparisonCreateSerializer,
        responses={201: BlindComparisonSerializer, **error_responses(400, 401, 403, 429)},
    )
    def create(self, request: AuthenticatedApiRequest) -> Response:
        serializer = BlindComparisonCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        try:
            comparison = blind_comparison_schedule(created_by=request.user, **serializer.validated_data)
        except TrialRuleError as exc:
            raise ValidationError({exc.field or "non_field_errors": [str(exc)]}) from exc
        return Response(BlindComparisonSerializer(comparison).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Cancel a blind comparison: its remaining episodes are not run, and it is unblinded",
        request=None,
        responses={200: BlindComparisonSerializer, **error_responses(401, 403, 404, 429)},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        comparison = self.get_object()
        if not acts_for_organization(request.user, comparison.robot.organization_id):
            raise PermissionDenied("Only the robot's organization may cancel its comparison.")
        return Response(BlindComparisonSerializer(blind_comparison_cancel(comparison=comparison)).data)
