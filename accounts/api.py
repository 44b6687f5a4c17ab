"""REST API for the caller's own account: who am I, and personal API tokens (create, list, revoke).
Also tells drf-spectacular how ApiTokenAuthentication works, so Swagger's "Authorize" sends the header."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ApiToken, User
from accounts.requests import AuthenticatedApiRequest
from accounts.services import api_token_create, api_token_revoke
from common.api_support import READ_ERRORS, ApiViewMixin, StrictCharField, StrictModelSerializer, error_responses
from common.throttling import TokenRateThrottle


class ApiTokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <secret>`; create a token on the API tokens page (/account/tokens/).",
        }


class MeSerializer(StrictModelSerializer[User]):
    organization = serializers.CharField(source="organization.name", allow_null=True, read_only=True)
    organization_id = serializers.IntegerField(allow_null=True, read_only=True)
    roles = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "organization_id", "organization", "roles"]
        read_only_fields = fields

    def get_roles(self, user: User) -> list[str]:
        return sorted(user.roles)


class ApiTokenSerializer(StrictModelSerializer[ApiToken]):
    active = serializers.SerializerMethodField()

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "expires_at", "revoked_at", "last_used_at", "active"]
        read_only_fields = fields

    def get_active(self, token: ApiToken) -> bool:
        now = timezone.now()
        return token.revoked_at is None and (token.expires_at is None or token.expires_at > now)


class ApiTokenCreateSerializer(serializers.Serializer[dict[str, Any]]):
    name = StrictCharField(max_length=100, help_text="What the token is for, e.g. 'rig 3 uploader'.")
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)

    def validate_expires_at(self, value: Any) -> Any:
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("must be in the future")
        return value


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    secret = serializers.CharField(read_only=True, help_text="Shown only in this response; store it now.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class MeView(APIView):
    throttle_classes = [TokenRateThrottle]

    @extend_schema(
        summary="Who am I (user, organization, roles)", responses={200: MeSerializer, **error_responses(401)}
    )
    def get(self, request: AuthenticatedApiRequest) -> Response:
        return Response(MeSerializer(request.user).data)


@extend_schema_view(
    list=extend_schema(summary="List your API tokens", responses={200: ApiTokenSerializer, **READ_ERRORS}),
    retrieve=extend_schema(summary="Read one of your API tokens", responses={200: ApiTokenSerializer, **READ_ERRORS}),
)
class ApiTokenViewSet(
    ApiViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[ApiToken]
):
    """Your personal API tokens. The secret is shown once, when the token is created."""

    queryset = ApiToken.objects.none()  # for the schema generator; requests use get_queryset()
    request: AuthenticatedApiRequest  # IsAuthenticated (DEFAULT_PERMISSION_CLASSES) refuses anonymous callers

    serializer_class = ApiTokenSerializer
    filterset_fields: list[str] = []

    def get_queryset(self) -> QuerySet[ApiToken]:
        return ApiToken.objects.filter(user=self.request.user)

    @extend_schema(
        summary="Create an API token (the secret is in this response only)",
        request=ApiTokenCreateSerializer,
        responses={201: ApiTokenCreatedSerializer, **error_responses(400, 401, 429)},
    )
    def create(self, request: AuthenticatedApiRequest) -> Response:
        serializer = ApiTokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, raw = api_token_create(user=request.user, **serializer.validated_data)
        token.secret = raw  # type: ignore[attr-defined]  # read once by ApiTokenCreatedSerializer; never stored
        return Response(ApiTokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Revoke one of your API tokens (revoking twice keeps the first time)",
        request=None,
        responses={200: ApiTokenSerializer, **error_responses(401, 404, 429)},
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        token = api_token_revoke(token=self.get_object())
        return Response(ApiTokenSerializer(token).data)
