"""Building blocks shared by the apps' REST views: cursor pagination, size-limited parsing, the
`since` filter, and the default throttles. Kept here so robots/, policies/ and trials/ APIs behave alike."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, TypeVar

import django_filters
from django import forms
from django.conf import settings
from django.db import models
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import filters, serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.filters import BaseFilterBackend
from rest_framework.pagination import BasePagination, CursorPagination
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from common.errors import ERROR_CODES, PayloadTooLarge
from common.ids import MAX_ID, number_from_text
from common.parsers import LimitedJSONParser
from common.throttling import TokenRateThrottle

if TYPE_CHECKING:
    from rest_framework.generics import BaseFilterProtocol  # stub-only: the type GenericAPIView declares

__all__ = ["LimitedJSONParser"]  # re-exported: the apps' views import it from here

# Database ids are BIGINT primary keys from 1; a larger or smaller id names nothing.

_M = TypeVar("_M", bound=models.Model)


class StrictCharField(serializers.CharField):
    """Text that was sent as text: DRF's CharField would turn 7 into "7"."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError("must be a string")
        return super().to_internal_value(data)


class StrictModelSerializer(serializers.ModelSerializer[_M]):
    """ModelSerializer whose text fields take only JSON strings: DRF's CharField would store 0 as "0"."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
    }


class ErrorSerializer(serializers.Serializer[dict[str, Any]]):
    """The one error shape of the API (common/exceptions.py)."""

    detail = serializers.CharField()
    code = serializers.ChoiceField(
        choices=ERROR_CODES,
        help_text="One per status (400 invalid, 403 permission_denied, 404 not_found, 405 method_not_allowed, "
        "409 conflict, 410 gone, 413 payload_too_large, 415 unsupported_media_type, 429 throttled), except 400 "
        "parse_error (the body is not JSON) and 401: not_authenticated (no token) or authentication_failed "
        "(a wrong, expired or revoked token).",
    )
    # A declared field, not Serializer.errors: DRF's serializer metaclass takes declared fields off the class.
    errors = serializers.DictField(  # type: ignore[assignment]
        required=False, help_text="Field -> messages; bulk: index -> field -> messages."
    )


ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input: `errors` names every field at fault."),
    401: OpenApiResponse(ErrorSerializer, description="Missing, invalid, expired or revoked token."),
    403: OpenApiResponse(ErrorSerializer, description="Visible, but your role or organization may not change it."),
    404: OpenApiResponse(ErrorSerializer, description="Not found, or not visible to your organization."),
    409: OpenApiResponse(ErrorSerializer, description="Conflicts with recorded data; nothing was written."),
    410: OpenApiResponse(ErrorSerializer, description="It existed and has been removed (e.g. an expired export)."),
    413: OpenApiResponse(ErrorSerializer, description="Body larger than API_MAX_BODY_BYTES (8 MiB by default)."),
    415: OpenApiResponse(
        ErrorSerializer, description="Body not of a documented content type (JSON, CSV upload: multipart)."
    ),
    429: OpenApiResponse(ErrorSerializer, description="Throttled; retry after the `Retry-After` header's seconds."),
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """The documented error responses for these status codes (for @extend_schema `responses`)."""
    return {code: ERRORS[code] for code in codes}


READ_ERRORS = error_responses(400, 401, 404, 429)


class ApiCursorPagination(CursorPagination):
    """Stable pages for sync clients: `?cursor=` from `next`, `?page_size=` from 1 to 1000.
    Unlike DRF's, a page size that is not such an integer is a 400 naming the parameter, not silently the
    default page. A cursor this API did not make is DRF's 404 (no such page)."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
    ordering = "-created_at"

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not re.fullmatch(r"[0-9]{1,9}", raw) or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError({self.page_size_query_param: [f"Must be an integer from 1 to {self.max_page_size}."]})
        return int(raw)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Opaque position from a `next` or `previous` link; any other value is a 404.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Results per page (default {self.page_size}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size, "default": self.page_size},
            },
        ]


def path_number(value: str | int, *, low: int = 1, high: int = MAX_ID) -> int:
    """A number from a URL path (an id, an episode index) as an int; anything else is a 404, as a row that
    does not exist (common.ids.number_from_text says what a number is)."""
    number = number_from_text(str(value), low=low, high=high)
    if number is None:
        raise NotFound("Not found.")
    return number


def query_validated(serializer_class: type[serializers.Serializer[Any]], request: Request) -> dict[str, Any]:
    """A query string read by a serializer, strictly: a parameter given empty (`?alpha=`) is a 400 naming it.
    DRF reads a QueryDict like an HTML form, where an empty optional field means "left out": the query would
    silently answer with the default the caller meant to replace. One value per name (the last, as Django)."""
    query = serializer_class(data=request.query_params.dict())
    query.is_valid(raise_exception=True)
    return dict(query.validated_data)


def body_limit_check(request: HttpRequest | Request) -> None:
    """Raises PayloadTooLarge (413) when the declared body size exceeds API_MAX_BODY_BYTES."""
    limit = settings.API_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise PayloadTooLarge(f"Request body is {declared} bytes; the limit is {limit} bytes (API_MAX_BODY_BYTES).")


class IntFilter(django_filters.Filter):
    """An integer filter, by default an id (1 to the BIGINT maximum), so a fuzzed 10**30 is a 400, not a 500;
    its bounds are in the schema."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)
        extend_schema_field({"type": "integer", "minimum": kwargs["min_value"], "maximum": kwargs["max_value"]})(self)


# RFC 3339 date-time (what OpenAPI's `format: date-time` means): a date, a time and an offset, nothing less.
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)


class InstantField(forms.Field):
    """An RFC 3339 instant as an aware UTC datetime. A time without an offset is rejected: the server's zone
    is no guess to make for a sync client. Instants beyond datetime's range after applying the offset
    (year 1 at +01:00) become its first or last representable instant, which filters the same."""

    default_error_messages = {"invalid": "Enter an RFC 3339 date-time with an offset, e.g. 2026-11-25T08:00:00Z."}

    def to_python(self, value: Any) -> datetime | None:
        if value in self.empty_values:
            return None
        match = _RFC3339.fullmatch(str(value).strip())
        if match is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
        fraction, zulu, sign, offset_h, offset_m = match.groups()[6:]
        try:
            offset = timedelta(hours=int(offset_h or 0), minutes=int(offset_m or 0))
            local = datetime(
                year,
                month,
                day,
                hour,
                minute,
                min(second, 59),  # a leap second (:60) is its minute's last second here
                int((fraction or "0")[:6].ljust(6, "0")),
                tzinfo=timezone(-offset if sign == "-" else offset),
            )
        except ValueError as exc:  # day 31 of a 30-day month, hour 25, offset of 24 h or more
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from exc
        try:
            return local.astimezone(UTC)
        except OverflowError:
            return datetime.min.replace(tzinfo=UTC) if year == 1 else datetime.max.replace(tzinfo=UTC)


@extend_schema_field({"type": "string", "format": "date-time"})
class InstantFilter(django_filters.Filter):
    field_class = InstantField


class SinceFilterSet(django_filters.FilterSet):
    """Adds `?since=<RFC 3339>`: rows created or changed at or after that instant (for sync).
    Subclasses list the timestamp fields in `since_fields`."""

    since_fields: tuple[str, ...] = ("created_at",)

    since = InstantFilter(
        method="filter_since",
        label="Only rows created or changed at or after this instant: RFC 3339 with an offset "
        "(e.g. 2026-11-25T00:00:00Z).",
    )

    def is_valid(self) -> bool:
        """Also rejects a parameter given with an empty value unless it is a free-text one: `?kind=` or
        `?site=` names no kind and no site, and silently meaning "all" would hide a client's bug."""
        valid = super().is_valid()
        for name, declared in self.filters.items():
            if self.data.get(name) == "" and not isinstance(declared, django_filters.CharFilter):
                if name in self.form.fields and name not in self.form.errors:
                    self.form.add_error(name, "Give a value, or leave the parameter out.")
                valid = False
        return valid

    def filter_since(self, queryset: QuerySet[Any], name: str, value: Any) -> QuerySet[Any]:
        condition = Q()
        for field in self.since_fields:
            condition |= Q(**{f"{field}__gte": value})
        return queryset.filter(condition)


class ApiViewMixin:
    """Defaults for every TrialBench API view: filtering, ordering, cursor pages, per-token throttle."""

    # Typed as GenericAPIView and APIView declare them, so a view may list this mixin first.
    filter_backends: Sequence[type[BaseFilterBackend | BaseFilterProtocol[Any]]] = [
        DjangoFilterBackend,
        filters.OrderingFilter,
    ]
    pagination_class: type[BasePagination] | None = ApiCursorPagination
    throttle_classes: Sequence[type[BaseThrottle]] = [TokenRateThrottle]
    ordering_fields = ["created_at", "id"]
    ordering = ["-created_at"]
