"""The API's JSON parser (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]). Loaded by DRF's APIView class body, so
it imports nothing that imports DRF's views (config/errors.py, not config/exceptions.py)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils import json

from config.errors import PayloadTooLarge


class LimitedJSONParser(parsers.JSONParser):
    """JSONParser that reads at most API_MAX_BODY_BYTES, so a chunked body without a Content-Length
    cannot exhaust memory either; raises PayloadTooLarge (413) beyond it."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict[str, Any] | None = None) -> Any:
        limit = settings.API_MAX_BODY_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(f"Request body exceeds the limit of {limit} bytes (API_MAX_BODY_BYTES).")
        try:
            return json.loads(raw.decode("utf-8"), parse_constant=json.strict_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
