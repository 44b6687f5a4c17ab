from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.models import Role, User
from accounts.services import api_token_create
from tests.factories import (
    OrganizationFactory,
    PolicyVersionFactory,
    RobotFactory,
    TaskFactory,
    TrialFactory,
    UserFactory,
)
from trials.models import Trial

T0 = datetime.fromisoformat("2026-11-25T08:00:00+00:00")


@pytest.fixture(autouse=True)
def _fresh_throttle_counts() -> Iterator[None]:
    """Throttle counters live in the cache; each test starts from zero."""
    cache.clear()
    yield
    cache.clear()


def token_client(user: User) -> APIClient:
    """An APIClient authenticating with a fresh personal token of `user`, as an integrator's script would."""
    _, raw = api_token_create(user=user, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


@pytest.fixture
def integrator() -> User:
    return UserFactory(organization=OrganizationFactory(kind="integrator"), role=Role.INTEGRATOR)


@pytest.fixture
def other_integrator() -> User:
    return UserFactory(organization=OrganizationFactory(kind="integrator"), role=Role.INTEGRATOR)


@pytest.fixture
def client_a(integrator: User) -> APIClient:
    return token_client(integrator)


@pytest.fixture
def client_b(other_integrator: User) -> APIClient:
    return token_client(other_integrator)


@pytest.fixture
def trial_a(integrator: User) -> Trial:
    """A trial on the integrator's own robot of a customer task it is engaged on."""
    task = TaskFactory(integrator=integrator.organization)
    robot = RobotFactory(organization=integrator.organization, kind="physical", sim_cell_key="")
    return TrialFactory(task=task, robot=robot, policy_version=PolicyVersionFactory(), episodes_planned=50)


def episode_payload(n: int, *, prefix: str = "ep", events: int = 1, **overrides: Any) -> dict[str, Any]:
    """One upload item: episode `n` starting n*20 s after T0, with `events` events in time order."""
    cycle = 10.0 + n % 5
    body: dict[str, Any] = {
        "external_id": f"{prefix}-{n:05d}",
        "outcome": "success" if n % 3 else "failure",
        "cycle_time_s": cycle,
        "started_at": (T0 + timedelta(seconds=20 * n)).isoformat(),
        "events": [
            {"kind": "intervention", "category": "grasp_miss", "t_offset_s": 1.0 + i, "message": f"e{i}"}
            for i in range(events)
        ],
    }
    body.update(overrides)
    return body


@pytest.fixture
def make_batch() -> Callable[..., list[dict[str, Any]]]:
    def make(count: int, *, start: int = 0, **kw: Any) -> list[dict[str, Any]]:
        return [episode_payload(n, **kw) for n in range(start, start + count)]

    return make
