"""One JSON error shape for the whole API, so integrators' scripts parse every failure the same way:

    {"detail": "<summary>", "code": "<machine code>", "errors": {<field>: ["<message>", ...], ...}}

`errors` appears only for validation failures; bulk endpoints key it by the item's index
(`{"errors": {"3": {"cycle_time_s": ["..."]}}}`). Bad input is always a 4xx: Django validation errors,
missing rows, oversize bodies and constraint violations are translated here instead of surfacing as 500s.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "payload_too_large"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "Conflict with the recorded state."
    default_code = "conflict"

    def __init__(self, detail: str | None = None, *, errors: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.errors = errors or {}


def _translate(exc: Exception) -> Exception:
    """Map Django-level exceptions onto DRF ones so they get a 4xx and the common shape."""
    if isinstance(exc, DjangoValidationError):
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return exceptions.ValidationError(errors)
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge(str(exc))
    if isinstance(exc, ObjectDoesNotExist):
        return exceptions.NotFound()
    if isinstance(exc, IntegrityError):
        # A constraint the validation did not foresee (e.g. a concurrent duplicate): the request, not the
        # server, is at fault and a retry may succeed.
        return Conflict("The request conflicts with recorded data (a constraint was violated); retry or change it.")
    return exc


def _shape(data: Any, *, code: str, default: str) -> dict[str, Any]:
    if isinstance(data, dict) and set(data) <= {"detail"}:
        return {"detail": str(data.get("detail", default)), "code": code}
    if isinstance(data, list):
        return {"detail": default, "code": code, "errors": {"non_field_errors": data}}
    return {"detail": default, "code": code, "errors": data}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF EXCEPTION_HANDLER. Returns a JSON response for every exception (unexpected ones as a logged 500)."""
    exc = _translate(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled API error in %s", context.get("view"), exc_info=exc)
        return Response(
            {"detail": "Internal server error; it has been logged.", "code": "server_error"},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    code = "error"
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
    default = "Invalid input." if isinstance(exc, exceptions.ValidationError) else str(exc)
    response.data = _shape(response.data, code=str(code), default=default)
    if isinstance(exc, Conflict) and exc.errors:
        response.data["errors"] = exc.errors
    return response
