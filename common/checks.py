"""Configuration checks (Django system checks, run by `manage.py check`, `runserver`, `migrate` and the
test runner). config/env.py already refuses a value it cannot parse at import; these catch values that
parse but cannot work, alone or together: production without a real key or hosts, a broker or cache URL
of the wrong scheme, leases that contradict each other.

Errors stop `runserver`/`migrate`; warnings are printed. IDs are `trialbench.E0xx` / `trialbench.W0xx`,
so one can be silenced with SILENCED_SYSTEM_CHECKS if a deployment means it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks

TAG = "settings"
DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"  # noqa: S105 - the value config/settings.py falls back to
EXAMPLE_SECRET_KEY = "change-me-to-50-random-characters"  # noqa: S105 - the placeholder in .env.example
REDIS_SCHEMES = ("redis", "rediss", "unix")
THROTTLE_PERIODS = ("s", "m", "h", "d")  # what DRF's SimpleRateThrottle.parse_rate reads: the first letter
# gunicorn's default worker timeout: a long-poll that outlasts it is killed mid-request.
GUNICORN_TIMEOUT_S = 30.0

CheckFunction = Callable[..., list[checks.CheckMessage]]


def secret_key_check(**_: Any) -> list[checks.CheckMessage]:
    if settings.DEBUG:
        return []
    key = str(settings.SECRET_KEY)
    if key in (DEV_SECRET_KEY, EXAMPLE_SECRET_KEY):
        return [
            checks.Error(
                "SECRET_KEY is the development or example value while DEBUG is off.",
                hint="Set SECRET_KEY to 50+ random characters (python -c 'import secrets; print(secrets.token_urlsafe(50))').",
                id="trialbench.E001",
            )
        ]
    if len(key) < 50 or len(set(key)) < 5:
        return [
            checks.Warning(
                "SECRET_KEY is short or repetitive (under 50 characters or under 5 distinct ones).",
                hint="Use 50+ random characters.",
                id="trialbench.W002",
            )
        ]
    return []


def allowed_hosts_check(**_: Any) -> list[checks.CheckMessage]:
    if settings.DEBUG or settings.ALLOWED_HOSTS:
        return []
    return [
        checks.Error(
            "ALLOWED_HOSTS is empty while DEBUG is off: every request would be refused (400).",
            hint="Set ALLOWED_HOSTS to the comma-separated host names the site is served on.",
            id="trialbench.E003",
        )
    ]


def redis_urls_check(**_: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    for name in ("REDIS_URL", "CACHE_REDIS_URL"):
        url = str(getattr(settings, name, "") or "")
        if url and urlsplit(url).scheme not in REDIS_SCHEMES:
            errors.append(
                checks.Error(
                    f"{name} must be a Redis URL ({', '.join(s + '://' for s in REDIS_SCHEMES)}), got {url!r}.",
                    hint=f"e.g. {name}=redis://127.0.0.1:6379/0; leave it unset for the embedded default.",
                    id="trialbench.E004",
                )
            )
    return errors


def throttle_rates_check(**_: Any) -> list[checks.CheckMessage]:
    """DRF parses a rate only on the first throttled request; a bad one would be a 500 there, not here."""
    errors: list[checks.CheckMessage] = []
    rest_framework: Mapping[str, Any] = settings.REST_FRAMEWORK
    rates: Mapping[str, Any] = rest_framework.get("DEFAULT_THROTTLE_RATES") or {}
    env_names = {"api": "API_THROTTLE_RATE", "ingest": "API_INGEST_THROTTLE_RATE"}
    for scope, rate in rates.items():
        if rate is None:
            continue
        count, _slash, period = str(rate).partition("/")
        if not (count.isdigit() and period[:1] in THROTTLE_PERIODS):
            errors.append(
                checks.Error(
                    f"{env_names.get(scope, scope)} must look like 1200/min (a count, '/', s, min, hour or day), got {rate!r}.",
                    id="trialbench.E005",
                )
            )
    return errors


def _number(name: str) -> float:
    return float(getattr(settings, name))


def lease_settings_check(**_: Any) -> list[checks.CheckMessage]:
    """Each lease and retry setting alone, then the pairs that must agree."""
    messages: list[checks.CheckMessage] = []
    at_least = {
        "TRIAL_CHUNK_EPISODES": 1.0,
        "TRIAL_LOST_EPISODE_RETRIES": 0.0,
        "TRIAL_LOST_RETRY_DELAY_S": 0.0,
        "AGENT_LONG_POLL_MAX_S": 0.0,
    }
    for name, low in at_least.items():
        if _number(name) < low:
            messages.append(
                checks.Error(f"{name} must be at least {low:g}, got {_number(name):g}.", id="trialbench.E010")
            )
    for name in ("TRIAL_CHUNK_LEASE_S", "TRIAL_CHUNK_QUEUED_LEASE_S", "AGENT_LEASE_S", "AGENT_OFFLINE_AFTER_S"):
        if _number(name) <= 0:
            messages.append(checks.Error(f"{name} must be positive, got {_number(name):g}.", id="trialbench.E010"))
    if messages:
        return messages  # the comparisons below assume sane values

    if _number("TRIAL_LOST_RETRY_DELAY_S") > _number("TRIAL_LOST_RETRY_MAX_DELAY_S"):
        messages.append(
            checks.Error(
                "TRIAL_LOST_RETRY_DELAY_S is above TRIAL_LOST_RETRY_MAX_DELAY_S: the first re-run would wait longer than the maximum.",
                id="trialbench.E011",
            )
        )
    if _number("TRIAL_CHUNK_QUEUED_LEASE_S") < _number("TRIAL_CHUNK_LEASE_S"):
        messages.append(
            checks.Warning(
                "TRIAL_CHUNK_QUEUED_LEASE_S is below TRIAL_CHUNK_LEASE_S: a chunk merely waiting behind busy workers "
                "would be re-enqueued sooner than one whose worker died, doubling messages under load.",
                id="trialbench.W012",
            )
        )
    # The agent heartbeats every AGENT_LEASE_S / 4 (core/agent/cli.py, at least every second).
    heartbeat_s = max(1.0, _number("AGENT_LEASE_S") / 4)
    if _number("AGENT_OFFLINE_AFTER_S") <= heartbeat_s:
        messages.append(
            checks.Warning(
                f"AGENT_OFFLINE_AFTER_S ({_number('AGENT_OFFLINE_AFTER_S'):g} s) is not above the agents' heartbeat "
                f"interval (AGENT_LEASE_S / 4 = {heartbeat_s:g} s): a working robot would show offline between heartbeats.",
                id="trialbench.W013",
            )
        )
    if _number("AGENT_LONG_POLL_MAX_S") >= GUNICORN_TIMEOUT_S:
        messages.append(
            checks.Warning(
                f"AGENT_LONG_POLL_MAX_S is {_number('AGENT_LONG_POLL_MAX_S'):g} s: at or above gunicorn's default "
                f"{GUNICORN_TIMEOUT_S:g} s worker timeout, a long-poll would be killed mid-request.",
                hint="Keep it below the proxy's and gunicorn's request timeouts.",
                id="trialbench.W014",
            )
        )
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout")
    if settings.REDIS_URL and isinstance(visibility, int | float) and visibility <= _number("TRIAL_CHUNK_LEASE_S"):
        messages.append(
            checks.Warning(
                "CELERY_VISIBILITY_TIMEOUT is not above TRIAL_CHUNK_LEASE_S: Redis would hand a running chunk to a "
                "second worker before its lease could even lapse.",
                id="trialbench.W015",
            )
        )
    return messages


ALL_CHECKS: Sequence[CheckFunction] = (
    secret_key_check,
    allowed_hosts_check,
    redis_urls_check,
    throttle_rates_check,
    lease_settings_check,
)


def register_all() -> None:
    for check in ALL_CHECKS:
        checks.register(check, TAG)
