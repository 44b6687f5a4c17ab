"""Configuration checks: each fires on the value it guards and stays quiet on the defaults."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import checks as django_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from common import checks


def _ids(messages: list[Any]) -> list[str]:
    return [m.id for m in messages]


def test_the_default_settings_pass_every_check(settings: Any) -> None:
    # pytest-django runs with DEBUG off; only the tests' short key would be a warning.
    settings.SECRET_KEY = "k3v-9Qz_" * 8
    assert django_checks.run_checks(tags=[checks.TAG]) == []


def test_checks_are_registered_under_their_tag() -> None:
    registered = django_checks.registry.registry.get_checks()
    assert set(checks.ALL_CHECKS) <= set(registered)
    assert django_checks.registry.registry.tag_exists(checks.TAG)


@pytest.mark.parametrize("key", [checks.DEV_SECRET_KEY, checks.EXAMPLE_SECRET_KEY])
def test_production_refuses_the_dev_or_example_secret_key(settings: Any, key: str) -> None:
    settings.DEBUG = False
    settings.SECRET_KEY = key
    assert _ids(checks.secret_key_check()) == ["trialbench.E001"]


def test_production_warns_on_a_short_secret_key(settings: Any) -> None:
    settings.DEBUG = False
    settings.SECRET_KEY = "short-key"
    assert _ids(checks.secret_key_check()) == ["trialbench.W002"]
    settings.SECRET_KEY = "x" * 60
    assert _ids(checks.secret_key_check()) == ["trialbench.W002"]  # long but one character
    settings.SECRET_KEY = "k3v-9Qz_" * 8
    assert checks.secret_key_check() == []


def test_debug_allows_the_dev_key_and_no_hosts(settings: Any) -> None:
    settings.DEBUG = True
    settings.SECRET_KEY = checks.DEV_SECRET_KEY
    settings.ALLOWED_HOSTS = []
    assert checks.secret_key_check() == [] and checks.allowed_hosts_check() == []


def test_production_without_allowed_hosts_is_an_error(settings: Any) -> None:
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = []
    assert _ids(checks.allowed_hosts_check()) == ["trialbench.E003"]
    settings.ALLOWED_HOSTS = ["trialbench.example.com"]
    assert checks.allowed_hosts_check() == []


def test_broker_and_cache_urls_must_be_redis(settings: Any) -> None:
    settings.REDIS_URL = "amqp://guest@localhost//"
    settings.CACHE_REDIS_URL = "127.0.0.1:6379"
    messages = checks.redis_urls_check()
    assert _ids(messages) == ["trialbench.E004", "trialbench.E004"]
    assert "REDIS_URL" in messages[0].msg and "CACHE_REDIS_URL" in messages[1].msg
    settings.REDIS_URL, settings.CACHE_REDIS_URL = "rediss://cache.example.com:6380/0", "unix:///run/redis.sock"
    assert checks.redis_urls_check() == []
    settings.REDIS_URL = settings.CACHE_REDIS_URL = ""
    assert checks.redis_urls_check() == []


@pytest.mark.parametrize("rate", ["1200", "fast/min", "10/week", "/min"])
def test_a_throttle_rate_drf_cannot_parse_is_an_error(settings: Any, rate: str) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api": rate, "ingest": "300/min"}}
    messages = checks.throttle_rates_check()
    assert _ids(messages) == ["trialbench.E005"] and "API_THROTTLE_RATE" in messages[0].msg


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TRIAL_CHUNK_EPISODES", 0),
        ("TRIAL_CHUNK_LEASE_S", 0.0),
        ("TRIAL_CHUNK_QUEUED_LEASE_S", -1.0),
        ("TRIAL_LOST_EPISODE_RETRIES", -1),
        ("AGENT_LEASE_S", 0.0),
        ("AGENT_OFFLINE_AFTER_S", 0.0),
        ("AGENT_LONG_POLL_MAX_S", -5.0),
    ],
)
def test_a_lease_or_count_out_of_range_is_an_error(settings: Any, name: str, value: float) -> None:
    setattr(settings, name, value)
    messages = checks.lease_settings_check()
    assert _ids(messages) == ["trialbench.E010"] and name in messages[0].msg


def test_first_retry_delay_above_its_maximum_is_an_error(settings: Any) -> None:
    settings.TRIAL_LOST_RETRY_DELAY_S, settings.TRIAL_LOST_RETRY_MAX_DELAY_S = 60.0, 30.0
    assert _ids(checks.lease_settings_check()) == ["trialbench.E011"]


def test_queued_lease_shorter_than_running_lease_warns(settings: Any) -> None:
    settings.TRIAL_CHUNK_LEASE_S, settings.TRIAL_CHUNK_QUEUED_LEASE_S = 120.0, 60.0
    assert _ids(checks.lease_settings_check()) == ["trialbench.W012"]


def test_offline_threshold_within_a_heartbeat_interval_warns(settings: Any) -> None:
    settings.AGENT_LEASE_S, settings.AGENT_OFFLINE_AFTER_S = 120.0, 30.0  # heartbeats every 30 s
    assert _ids(checks.lease_settings_check()) == ["trialbench.W013"]


def test_long_poll_at_gunicorn_timeout_warns(settings: Any) -> None:
    settings.AGENT_LONG_POLL_MAX_S = 30.0
    assert _ids(checks.lease_settings_check()) == ["trialbench.W014"]


def test_redis_visibility_timeout_within_the_chunk_lease_warns(settings: Any) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 30}
    assert _ids(checks.lease_settings_check()) == ["trialbench.W015"]
    settings.REDIS_URL = ""  # the embedded broker has no visibility timeout
    assert checks.lease_settings_check() == []


def test_manage_py_check_stops_on_a_configuration_error(settings: Any) -> None:
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = []
    with pytest.raises(SystemCheckError, match="trialbench.E003"):
        call_command("check", tags=[checks.TAG])
