"""The OpenAPI generator of the API (REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]): drf-spectacular's AutoSchema,
plus what every TrialBench view does without saying so in its own annotations, so the schema cannot drift
from the behaviour one view at a time:

- the error responses each operation can give (common/exceptions.py's shape): 401 when it needs a token,
  404 when its path names a row, 400 when it takes parameters or a body, 403 and 409 when it writes, 413 and 415
  when it takes a body, 429 when it is throttled;
- list bodies state their bounds (minItems, maxItems), and a POST or PUT body is required;
- path ids are database ids: integers from 1 to the BIGINT maximum (anything else is a 404); an episode's
  `index` counts from 0;
- text inputs as DRF reads them: surrounding whitespace trimmed before the blank and length checks, and
  no NUL character (DRF rejects it);
- a decimal sent as a string has at least one digit, and no sign when it may not be negative (drf-spectacular's
  own pattern also matches "" and "-", which the server rejects).

An operation's own `@extend_schema(responses=...)` wins over these defaults.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import Direction
from rest_framework import permissions, serializers

from common.api_support import ERRORS, MAX_ID

# What str.strip() removes (DRF trims with it), spelled out: `\s` differs between regex engines (ECMA 262,
# Python's re, and schemathesis, which reads patterns as ASCII).
_SPACE_POINTS = [n for n in range(0x3001) if chr(n).isspace()]
_SPACE = "".join(
    f"\\u{n:04x}" if n - 1 not in _SPACE_POINTS else f"-\\u{n:04x}" if n + 1 not in _SPACE_POINTS else ""
    for n in _SPACE_POINTS
)


class ApiAutoSchema(AutoSchema):
    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path" and parameter["schema"].get("type") == "integer":
                # An episode's index counts from 0 within its trial; every other path integer is a row id.
                parameter["schema"].update(minimum=0 if parameter["name"] == "index" else 1, maximum=MAX_ID)
        if "requestBody" in operation and self.method in ("POST", "PUT"):
            operation["requestBody"]["required"] = True  # every POST body here has required fields
        responses = operation["responses"]
        for status_code in self._error_statuses(operation):
            if str(status_code) not in responses:
                responses[str(status_code)] = self._get_response_for_code(ERRORS[status_code], str(status_code))
        return operation

    def _map_serializer_field(
        self, field: Any, direction: Direction, bypass_extensions: bool = False
    ) -> dict[str, Any]:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, serializers.DecimalField) and schema.get("type") == "string" and "pattern" in schema:
            places = field.decimal_places or 0
            whole = (field.max_digits - places) if field.max_digits is not None else None
            digits = rf"\d{{1,{whole}}}" if whole is not None else r"\d+"
            number = rf"{digits}(?:\.\d{{0,{places}}})?|\.\d{{1,{places}}}" if places else digits
            sign = "" if field.min_value is not None and field.min_value >= 0 else "-?"
            schema["pattern"] = f"^{sign}(?:{number})$"
        return schema

    def _unwrap_list_serializer(self, serializer: Any, direction: Direction) -> dict[str, Any] | None:
        schema = super()._unwrap_list_serializer(serializer, direction)
        if schema is not None and isinstance(serializer, serializers.ListSerializer):
            # Set by ListSerializer.__init__ (DRF 3.14+), but not declared in the DRF stubs.
            min_length: int | None = getattr(serializer, "min_length", None)
            max_length: int | None = getattr(serializer, "max_length", None)
            if min_length is not None:
                schema["minItems"] = min_length
            if max_length is not None:
                schema["maxItems"] = max_length
        return schema

    def _map_basic_serializer(self, serializer: Any, direction: Direction) -> dict[str, Any]:
        self._direction = direction  # for _insert_field_validators, which is not told
        return super()._map_basic_serializer(serializer, direction)

    def _insert_field_validators(self, field: Any, schema: dict[str, Any]) -> None:
        super()._insert_field_validators(field, schema)
        # Subclasses too (the ingest serializers' StrictCharField); those with their own pattern or format
        # (slug, e-mail, URL) are left as drf-spectacular describes them, below.
        if getattr(self, "_direction", None) != "request" or not isinstance(field, serializers.CharField):
            return
        if {"pattern", "format", "enum", "oneOf"} & set(schema):
            return
        if not field.trim_whitespace:
            schema["pattern"] = r"^[^\x00]*$"
            return
        # DRF trims surrounding whitespace before checking blank and length: so says the pattern, which
        # replaces minLength and maxLength (they would count the untrimmed text).
        limit = schema.pop("maxLength", None)
        schema.pop("minLength", None)
        space, text = f"[{_SPACE}]*", rf"[^{_SPACE}\x00]"
        inner = r"[^\x00]*" if limit is None else rf"[^\x00]{{0,{max(limit - 2, 0)}}}"
        core = text if limit == 1 else rf"{text}(?:{inner}{text})?"
        trimmed = f"{space}{core}{space}"
        schema["pattern"] = f"^(?:{space}|{trimmed})$" if field.allow_blank else f"^{trimmed}$"
        rule = "Surrounding whitespace is trimmed" + (f"; then at most {limit} characters." if limit else ".")
        schema["description"] = f"{schema['description']} {rule}" if schema.get("description") else rule

    def _error_statuses(self, operation: dict[str, Any]) -> list[int]:
        parameters = operation.get("parameters", [])
        has_body = "requestBody" in operation
        statuses = []
        if any(requirement for requirement in operation.get("security", [])):
            statuses.append(401)
        # A cursor this API did not make is a 404 as well (DRF's CursorPagination: no such page).
        if any(p["in"] == "path" or p["name"] == "cursor" for p in parameters):
            statuses.append(404)
        if has_body or any(p["in"] == "query" for p in parameters):
            statuses.append(400)
        if self.method not in permissions.SAFE_METHODS:
            # 409: a write may meet a duplicate or a constraint (common/exceptions.py maps both).
            statuses += [403, 409]
        if has_body:
            statuses += [413, 415]
        if self.view.get_throttles():
            statuses.append(429)
        return statuses
