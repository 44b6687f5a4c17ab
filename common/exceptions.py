"""One JSON error shape for the whole API, so integrators' scripts parse every failure the same way:

    {"detail": "<summary>", "code": "<machine code>", "errors": {<field>: ["<message>", ...], ...}}

`errors` appears only for validation failures; bulk endpoints key it by the item's index
(`{"errors": {"3": {"cycle_time_s": ["..."]}}}`). Bad input is always a 4xx: Django validation errors,
missing rows, oversize bodies and constraint violations are translated here instead of surfacing as 500s.
`code` is one of ERROR_CODES, one per HTTP status except 401, which tells a missing credential from a bad one.
Requests under /api/ that no view handles (no route, or Django's own 400/403/404/500) get the same shape
from the views at the end of this module instead of Django's HTML pages.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from common.errors import CODE_BY_STATUS, ERROR_CODES, Conflict, PayloadTooLarge

__all__ = ["CODE_BY_STATUS", "ERROR_CODES", "Conflict", "PayloadTooLarge", "api_exception_handler"]

logger = logging.getLogger(__name__)


def _translate(exc: Exception) -> Exception:
    """Map Django-level exceptions onto DRF ones so they get a 4xx and the common shape."""
    if isinstance(exc, DjangoValidationError):
        return _translate_validation(exc)
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge(str(exc))
    if isinstance(exc, ObjectDoesNotExist | Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, IntegrityError):
        # A constraint the validation did not foresee (e.g. a concurrent duplicate): the request, not the
        # server, is at fault and a retry may succeed.
        return Conflict("The request conflicts with recorded data (a constraint was violated); retry or change it.")
    return exc


_UNIQUE_CODES = {"unique", "unique_together"}


def _translate_validation(exc: DjangoValidationError) -> Exception:
    """A model's full_clean() errors as DRF's, keyed like DRF's (`non_field_errors`, not Django's `__all__`).
    A duplicate of a recorded row (unique, unique_together) is a 409 keyed by the field that makes it one,
    e.g. a task's `name` within its organization: the input is well formed, the recorded data conflicts."""
    if not hasattr(exc, "error_dict"):
        return exceptions.ValidationError({"non_field_errors": exc.messages})
    errors: dict[str, list[str]] = {}
    unique = True
    for field, field_errors in exc.error_dict.items():
        for error in field_errors:
            key = "non_field_errors" if field == "__all__" else field
            if error.code in _UNIQUE_CODES:
                fields = (error.params or {}).get("unique_check") or ()
                key = fields[-1] if field == "__all__" and fields else key
            else:
                unique = False
            errors.setdefault(key, []).extend(error.messages)
    if unique:
        return Conflict("Already recorded: " + " ".join(m for ms in errors.values() for m in ms), errors=errors)
    return exceptions.ValidationError(errors)


def _code(exc: Exception, status_code: int) -> str:
    """The exception's own code when it is one of ERROR_CODES, else the status's (a third-party or ad-hoc
    code must not widen the set clients switch on)."""
    own = getattr(exc, "default_code", None)
    if own in ERROR_CODES:
        return str(own)
    return CODE_BY_STATUS.get(status_code, "invalid" if status_code < 500 else "server_error")


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
    default = "Invalid input." if isinstance(exc, exceptions.ValidationError) else str(exc)
    response.data = _shape(response.data, code=_code(exc, response.status_code), default=default)
    if isinstance(exc, Conflict) and exc.errors:
        response.data["errors"] = exc.errors
    return response


def error_response(status_code: int, detail: str, *, code: str | None = None) -> JsonResponse:
    """The API's error shape outside DRF (URL resolution, Django's error handlers)."""
    return JsonResponse({"detail": detail, "code": code or CODE_BY_STATUS[status_code]}, status=status_code)


@csrf_exempt  # it changes nothing; without this, a POST with a session cookie got Django's HTML 403 instead
def api_route_not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Catch-all of /api/: a path no API route matches is a JSON 404, whatever the method and DEBUG.
    Since the catch-all stops APPEND_SLASH from redirecting, the reply names the slashed path if that exists."""
    detail = f"No API route matches {request.path}."
    if not request.path.endswith("/"):
        try:
            match = resolve(request.path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_route_not_found:
            detail += f" Did you mean {request.path}/ (API paths end with a slash)?"
    return error_response(404, detail)


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def handler400(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return error_response(400, "Bad request.")
    return defaults.bad_request(request, exception)


def handler403(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return error_response(403, "You do not have permission to perform this action.")
    return defaults.permission_denied(request, exception)


def handler404(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return error_response(404, "Not found.")
    return defaults.page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return error_response(500, "Internal server error; it has been logged.")
    return defaults.server_error(request)
