"""REST API for sites and robots: read-only, scoped to the caller's organization (others' are 404)."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets

from accounts.requests import AuthenticatedApiRequest
from common.api_support import READ_ERRORS, ApiViewMixin, IntFilter, SinceFilterSet
from robots.models import Robot, Site
from robots.selectors import robot_list_for_user, site_list_for_user
from robots.serializers import RobotSerializer, SiteSerializer


class SiteFilter(SinceFilterSet):
    class Meta:
        model = Site
        fields = ["country"]


class RobotFilter(SinceFilterSet):
    since_fields = ("created_at", "last_heartbeat_at")
    site = IntFilter(field_name="site_id")

    class Meta:
        model = Robot
        fields = ["kind", "status"]


@extend_schema_view(
    list=extend_schema(summary="List your organization's sites", responses={200: SiteSerializer, **READ_ERRORS}),
    retrieve=extend_schema(summary="Read a site", responses={200: SiteSerializer, **READ_ERRORS}),
)
class SiteViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet[Site]):
    """Factory locations of your organization."""

    queryset = Site.objects.none()  # for the schema generator; requests use get_queryset()
    request: AuthenticatedApiRequest  # IsAuthenticated (DEFAULT_PERMISSION_CLASSES) refuses anonymous callers

    serializer_class = SiteSerializer
    filterset_class = SiteFilter
    ordering_fields = ["created_at", "id", "name"]

    def get_queryset(self) -> QuerySet[Site]:
        return site_list_for_user(user=self.request.user)


@extend_schema_view(
    list=extend_schema(summary="List your organization's robots", responses={200: RobotSerializer, **READ_ERRORS}),
    retrieve=extend_schema(summary="Read a robot", responses={200: RobotSerializer, **READ_ERRORS}),
)
class RobotViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet[Robot]):
    """Physical robots (agents over REST) and simulated cells of your organization."""

    queryset = Robot.objects.none()  # for the schema generator; requests use get_queryset()
    request: AuthenticatedApiRequest  # IsAuthenticated (DEFAULT_PERMISSION_CLASSES) refuses anonymous callers

    serializer_class = RobotSerializer
    filterset_class = RobotFilter
    ordering_fields = ["created_at", "id", "name"]

    def get_queryset(self) -> QuerySet[Robot]:
        return robot_list_for_user(user=self.request.user)
