"""The dashboard's row cache on a real Redis (the production CACHES from config.settings.cache_settings):
rows one process computed are hits for another process's cache client."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

from accounts.models import Role
from config.settings import cache_settings
from reports.roi import dashboard
from reports.roi.dashboard import task_roi_dashboard
from tests.factories import CostModelFactory, EpisodeFactory, RobotFactory, TaskFactory, TrialFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.redis]


@pytest.fixture
def redis_caches(redis_url: str, settings: Any) -> Iterator[tuple[RedisCache, RedisCache]]:
    """Two independent Redis cache clients (as two web processes would hold) on their own database: clear()
    flushes a whole database, and the broker tests share this redis-server."""
    settings.CACHES = cache_settings(redis_url=redis_url.rsplit("/", 1)[0] + "/7")
    first, second = caches.create_connection("default"), caches.create_connection("default")
    first.clear()
    yield first, second
    first.clear()
    first.close()
    second.close()


@pytest.fixture
def manager() -> Any:
    task = TaskFactory(takt_time_s=30, manual_cycle_time_s=26, labour_cost_per_hour=Decimal("40"))
    CostModelFactory(task=task)
    trial = TrialFactory(task=task, robot=RobotFactory(organization=task.organization))
    for i in range(30):
        EpisodeFactory(trial=trial, cycle_time_s=10.0 + i / 10, outcome="failure" if i % 5 == 0 else "success")
    return UserFactory(organization=task.organization, role=Role.MANAGER)


def test_settings_choose_redis_with_a_url_and_local_memory_without() -> None:
    assert cache_settings(redis_url="redis://127.0.0.1:6379/1")["default"]["BACKEND"].endswith("RedisCache")
    assert cache_settings(redis_url="")["default"]["BACKEND"].endswith("LocMemCache")


def test_rows_computed_through_one_client_are_hits_through_another(
    redis_caches: tuple[RedisCache, RedisCache],
    manager: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_assert_num_queries: Any,
) -> None:
    first, second = redis_caches
    assert first is not second and first._cache is not second._cache  # separate clients and pools

    monkeypatch.setattr(dashboard, "cache", first)
    computed = task_roi_dashboard(user=manager)
    assert computed[0].monte_carlo is not None

    monkeypatch.setattr(dashboard, "cache", second)
    with django_assert_num_queries(3):  # tasks, cost models, summary rows: nothing recomputed
        again = task_roi_dashboard(user=manager)
    assert again == computed

    second.clear()  # an empty shared cache: the next load recomputes (and reads the cycle times again)
    with django_assert_num_queries(4):
        assert task_roi_dashboard(user=manager) == computed
