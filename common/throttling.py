"""Throttling per API token (not per user: one user may run several rigs, each with its own token).

Rates come from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] (env API_THROTTLE_RATE, API_INGEST_THROTTLE_RATE),
read at request time so a changed setting applies without re-importing. Counts live in the default
cache, which is per process with LocMemCache; a shared cache (Redis) makes the limit global.
"""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView


class TokenRateThrottle(SimpleRateThrottle):
    """All API calls of one token (or session user, or anonymous address) share the `api` rate."""

    scope = "api"

    def get_rate(self) -> str | None:
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        # A "count/period" string; the DRF stubs type the setting's values as numbers.
        return None if rate is None else str(rate)

    def get_cache_key(self, request: Request, view: APIView) -> str:
        token_id = getattr(request.auth, "key_sha256", None)
        if token_id:
            ident = f"token-{token_id[:16]}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"addr-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class IngestRateThrottle(TokenRateThrottle):
    """Episode uploads (JSON and CSV) additionally share the smaller `ingest` rate."""

    scope = "ingest"
