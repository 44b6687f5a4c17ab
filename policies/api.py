"""REST API for policies and versions: read-only; shared policies and the caller's organization's."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets

from accounts.requests import AuthenticatedApiRequest
from common.api_support import READ_ERRORS, ApiViewMixin, IntFilter, SinceFilterSet
from policies.models import Policy, PolicyVersion
from policies.selectors import policy_list_for_user, policy_version_list_for_user
from policies.serializers import PolicySerializer, PolicyVersionSerializer


class PolicyFilter(SinceFilterSet):
    class Meta:
        model = Policy
        fields = ["name"]


class PolicyVersionFilter(SinceFilterSet):
    policy = IntFilter(field_name="policy_id")

    class Meta:
        model = PolicyVersion
        fields = ["kind", "version"]


@extend_schema_view(
    list=extend_schema(summary="List policies visible to you", responses={200: PolicySerializer, **READ_ERRORS}),
    retrieve=extend_schema(summary="Read a policy", responses={200: PolicySerializer, **READ_ERRORS}),
)
class PolicyViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet[Policy]):
    """VLA policies: shared ones (no owner) and your organization's."""

    queryset = Policy.objects.none()  # for the schema generator; requests use get_queryset()
    request: AuthenticatedApiRequest  # IsAuthenticated (the default) refuses anonymous callers

    serializer_class = PolicySerializer
    filterset_class = PolicyFilter
    ordering_fields = ["created_at", "id", "name"]

    def get_queryset(self) -> QuerySet[Policy]:
        return policy_list_for_user(user=self.request.user)


@extend_schema_view(
    list=extend_schema(
        summary="List policy versions visible to you", responses={200: PolicyVersionSerializer, **READ_ERRORS}
    ),
    retrieve=extend_schema(summary="Read a policy version", responses={200: PolicyVersionSerializer, **READ_ERRORS}),
)
class PolicyVersionViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet[PolicyVersion]):
    """Versions (ONNX artifacts or remote servers) a trial can run; filter by `policy`."""

    queryset = PolicyVersion.objects.none()  # for the schema generator; requests use get_queryset()
    request: AuthenticatedApiRequest  # IsAuthenticated (the default) refuses anonymous callers

    serializer_class = PolicyVersionSerializer
    filterset_class = PolicyVersionFilter

    def get_queryset(self) -> QuerySet[PolicyVersion]:
        return policy_version_list_for_user(user=self.request.user)
