"""The API's JSON parser (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]). Loaded by DRF's APIView class body, so
it imports nothing that imports DRF's views (common/errors.py, not common/exceptions.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.utils import json

from common.errors import PayloadTooLarge
from core.json_depth import json_too_deep_path

# No input of the API nests anywhere near this; it only bounds the path quoted in the error.
MAX_JSON_DEPTH = 64


class LimitedJSONParser(parsers.JSONParser):
    """JSONParser that reads at most API_MAX_BODY_BYTES, so a chunked body without a Content-Length
    cannot exhaust memory either; raises PayloadTooLarge (413) beyond it, and a 400 naming the field where
    a body nests too deeply for Python's parser (RecursionError)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        limit = settings.API_MAX_BODY_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(f"Request body exceeds the limit of {limit} bytes (API_MAX_BODY_BYTES).")
        text = ""
        try:
            text = raw.decode("utf-8")
            return json.loads(text, parse_constant=json.strict_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        except RecursionError as exc:
            raise ValidationError(_too_deep_errors(text)) from exc


def _too_deep_errors(text: str) -> dict[str, Any]:
    """Errors naming the field (bulk: position, then field) where a body nests too deeply to parse."""
    path = json_too_deep_path(text, max_depth=MAX_JSON_DEPTH) or []
    message = f"nested too deeply (more than {MAX_JSON_DEPTH} levels)"
    if path and isinstance(path[0], int) and len(path) > 1:
        return {str(path[0]): {str(path[1]): [message]}}
    return {str(path[0]) if path else "non_field_errors": [message]}
