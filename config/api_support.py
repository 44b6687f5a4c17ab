"""Building blocks shared by the apps' REST views: cursor pagination, size-limited parsing, the
`since` filter, and the default throttles. Kept here so robots/, policies/ and trials/ APIs behave alike."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.conf import settings
from django.db.models import Q, QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse
from rest_framework import filters, parsers, serializers
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.utils import json

from config.exceptions import PayloadTooLarge
from config.json_depth import json_too_deep_path
from config.throttling import TokenRateThrottle


class ErrorSerializer(serializers.Serializer[dict[str, Any]]):
    """The one error shape of the API (config/exceptions.py)."""

    detail = serializers.CharField()
    code = serializers.CharField()
    errors = serializers.DictField(required=False, help_text="Field -> messages; bulk: index -> field -> messages.")


ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input: `errors` names every field at fault."),
    401: OpenApiResponse(ErrorSerializer, description="Missing, invalid, expired or revoked token."),
    403: OpenApiResponse(ErrorSerializer, description="Visible, but your role or organization may not change it."),
    404: OpenApiResponse(ErrorSerializer, description="Not found, or not visible to your organization."),
    409: OpenApiResponse(ErrorSerializer, description="Conflicts with recorded data; nothing was written."),
    413: OpenApiResponse(ErrorSerializer, description="Body larger than API_MAX_BODY_BYTES (8 MiB by default)."),
    429: OpenApiResponse(ErrorSerializer, description="Throttled; retry after the `Retry-After` header's seconds."),
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """The documented error responses for these status codes (for @extend_schema `responses`)."""
    return {code: ERRORS[code] for code in codes}


READ_ERRORS = error_responses(400, 401, 404, 429)


class ApiCursorPagination(CursorPagination):
    """Stable pages for sync clients: `?cursor=` from `next`, `?page_size=` up to 1000."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
    ordering = "-created_at"


def body_limit_check(request: Request) -> None:
    """Raises PayloadTooLarge (413) when the declared body size exceeds API_MAX_BODY_BYTES."""
    limit = settings.API_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise PayloadTooLarge(f"Request body is {declared} bytes; the limit is {limit} bytes (API_MAX_BODY_BYTES).")


class LimitedJSONParser(parsers.JSONParser):
    """JSONParser that reads at most API_MAX_BODY_BYTES, so a chunked body without a Content-Length
    cannot exhaust memory either; raises PayloadTooLarge (413) beyond it."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict[str, Any] | None = None) -> Any:
        limit = settings.API_MAX_BODY_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(f"Request body exceeds the limit of {limit} bytes (API_MAX_BODY_BYTES).")
        try:
            text = raw.decode("utf-8")
            return json.loads(text, parse_constant=json.strict_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        except RecursionError as exc:
            raise ValidationError(_too_deep_errors(text)) from exc


# No input of the API nests anywhere near this; it only bounds the path quoted in the error.
MAX_JSON_DEPTH = 64


def _too_deep_errors(text: str) -> dict[str, Any]:
    """Errors naming the field (bulk: position, then field) where a body nests too deeply to parse."""
    path = json_too_deep_path(text, max_depth=MAX_JSON_DEPTH) or []
    message = f"nested too deeply (more than {MAX_JSON_DEPTH} levels)"
    if path and isinstance(path[0], int) and len(path) > 1:
        return {str(path[0]): {str(path[1]): [message]}}
    return {str(path[0]) if path else "non_field_errors": [message]}


class IntFilter(django_filters.Filter):
    """An integer filter bounded to the database's BIGINT range, so a fuzzed 10**30 is a 400, not a 500."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


class SinceFilterSet(django_filters.FilterSet):
    """Adds `?since=<ISO 8601>`: rows created or changed at or after that instant (for sync).
    Subclasses list the timestamp fields in `since_fields`."""

    since_fields: tuple[str, ...] = ("created_at",)

    since = django_filters.IsoDateTimeFilter(
        method="filter_since",
        label="Only rows created or changed at or after this ISO 8601 instant (e.g. 2026-11-25T00:00:00Z).",
    )

    def filter_since(self, queryset: QuerySet[Any], name: str, value: Any) -> QuerySet[Any]:
        condition = Q()
        for field in self.since_fields:
            condition |= Q(**{f"{field}__gte": value})
        return queryset.filter(condition)


class ApiViewMixin:
    """Defaults for every TrialBench API view: filtering, ordering, cursor pages, per-token throttle."""

    filter_backends = [DjangoFilterBackend, filters.OrderingFilter]
    pagination_class = ApiCursorPagination
    throttle_classes = [TokenRateThrottle]
    ordering_fields = ["created_at", "id"]
    ordering = ["-created_at"]
