"""The API's error codes and its own exception types, in a module that imports no DRF view, so parsers and
settings-loaded classes can use them without an import cycle (common/exceptions.py imports DRF's views,
whose class body loads REST_FRAMEWORK's parser classes)."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, status

# The machine-readable `code` of every error, by the status it comes with (the ErrorSerializer's enum).
CODE_BY_STATUS = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "throttled",
    500: "server_error",
}
# Besides those: a malformed body (400) and a token that was sent but is wrong, expired or revoked (401).
ERROR_CODES = (*CODE_BY_STATUS.values(), "parse_error", "authentication_failed")


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "payload_too_large"


class Gone(exceptions.APIException):
    status_code = status.HTTP_410_GONE
    default_detail = "It was here and has been removed."
    default_code = "gone"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "Conflict with the recorded state."
    default_code = "conflict"

    def __init__(self, detail: str | None = None, *, errors: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.errors = errors or {}
