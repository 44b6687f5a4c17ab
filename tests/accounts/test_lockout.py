"""Login lockout (django-axes, issue 14 item 9): repeated wrong passwords lock that username from that
address with a clear message; other addresses, other users, API tokens and robot tokens are unaffected."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client, RequestFactory
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.lockout import client_ip
from accounts.services import api_token_create
from robots.models import RobotKind
from robots.services import robot_agent_token_issue
from tests.factories import RobotFactory, UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests-123"  # tests/factories.UserFactory's


def _login(username: str, password: str, *, ip: str = "10.0.0.1", path: str = "") -> object:
    return Client().post(path or reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def _fail(username: str, times: int, *, ip: str = "10.0.0.1") -> None:
    for _ in range(times):
        # 200 with the form's error; 429 once the limit-th failure has locked the pair.
        assert _login(username, "wrong-password", ip=ip).status_code in (200, 429)


def _logged_in(response: object) -> bool:
    return response.status_code == 302 and "_auth_user_id" in response.wsgi_request.session  # type: ignore[attr-defined]


def test_right_password_after_the_failure_limit_is_refused_with_a_clear_429() -> None:
    user = UserFactory()
    _fail(user.username, settings.AXES_FAILURE_LIMIT - 1)
    assert _login(user.username, "wrong-password").status_code == 429  # the limit-th failure locks
    response = _login(user.username, PASSWORD)
    page = response.content.decode()
    assert response.status_code == 429 and not _logged_in(response)
    assert (
        "Too many failed log-ins" in page
        and f"{round(settings.AXES_COOLOFF_TIME.total_seconds() / 60)} minutes" in page
    )


def test_failures_below_the_limit_do_not_lock_and_success_resets_the_count() -> None:
    user = UserFactory()
    _fail(user.username, settings.AXES_FAILURE_LIMIT - 1)
    assert _logged_in(_login(user.username, PASSWORD))
    _fail(user.username, settings.AXES_FAILURE_LIMIT - 1)
    assert _logged_in(_login(user.username, PASSWORD))


def test_lockout_is_per_username_and_address() -> None:
    victim, colleague = UserFactory(), UserFactory()
    _fail(victim.username, settings.AXES_FAILURE_LIMIT)
    assert _login(victim.username, PASSWORD).status_code == 429
    assert _logged_in(_login(victim.username, PASSWORD, ip="10.0.0.2"))  # the real user, elsewhere
    assert _logged_in(_login(colleague.username, PASSWORD))  # another user at the same address


def test_lockout_ends_after_the_cool_off() -> None:
    user = UserFactory()
    _fail(user.username, settings.AXES_FAILURE_LIMIT)
    assert _login(user.username, PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16))
    assert _logged_in(_login(user.username, PASSWORD))


def test_admin_login_is_locked_too() -> None:
    user = UserFactory(is_staff=True, is_superuser=True)
    admin_login = reverse("admin:login")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(user.username, "wrong-password", path=admin_login)
    assert _login(user.username, PASSWORD, path=admin_login).status_code == 429


def test_api_and_robot_tokens_keep_working_for_a_locked_out_user() -> None:
    user = UserFactory()
    _, raw = api_token_create(user=user, name="ci")
    robot = RobotFactory(organization=user.organization, kind=RobotKind.PHYSICAL, sim_cell_key="")
    robot_raw = robot_agent_token_issue(robot=robot)
    _fail(user.username, settings.AXES_FAILURE_LIMIT)
    assert _login(user.username, PASSWORD).status_code == 429
    api = APIClient(REMOTE_ADDR="10.0.0.1")
    api.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    assert api.get("/api/v1/tasks/").status_code == 200
    agent = APIClient(REMOTE_ADDR="10.0.0.1")
    agent.credentials(HTTP_AUTHORIZATION=f"Token {robot_raw}")
    assert agent.post("/api/v1/agent/heartbeat/", {"status": "idle"}, format="json").status_code == 200


def test_wrong_api_tokens_do_not_lock_the_login() -> None:
    user = UserFactory()
    api = APIClient(REMOTE_ADDR="10.0.0.1")
    api.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    for _ in range(settings.AXES_FAILURE_LIMIT + 2):
        assert api.get("/api/v1/tasks/").status_code == 401
    assert _logged_in(_login(user.username, PASSWORD))


def test_client_address_behind_a_proxy_is_the_hop_the_proxy_saw(settings) -> None:  # type: ignore[no-untyped-def]
    request = RequestFactory().get("/", REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7")
    settings.AXES_TRUSTED_PROXY_COUNT = 0
    assert client_ip(request) == "10.9.9.9"
    settings.AXES_TRUSTED_PROXY_COUNT = 1
    assert client_ip(request) == "203.0.113.7"  # "1.2.3.4" is whatever the client claimed
