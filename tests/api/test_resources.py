"""Tasks, trials, sites, robots, policies, episodes, events and tokens: happy paths, validation, scoping
across two organizations (404, not 403), roles, auth, throttling, filters, ordering and cursor pages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken, Organization, Role, User
from accounts.services import api_token_create, api_token_revoke
from tests.api.conftest import token_client
from tests.factories import (
    EpisodeEventFactory,
    EpisodeFactory,
    OrganizationFactory,
    PolicyFactory,
    PolicyVersionFactory,
    RobotFactory,
    SiteFactory,
    TaskFactory,
    UserFactory,
)
from trials.models import Task, Trial, TrialStatus

pytestmark = pytest.mark.django_db

TASK_BODY = {
    "name": "Kit brackets",
    "station": "Line 2 / kitting",
    "part": "Bracket B-17",
    "instruction": "place the bracket in the tray",
    "manual_cycle_time_s": 14.5,
    "takt_time_s": 18,
    "annual_volume": 120000,
    "labour_cost_per_hour": "48.50",
}


@pytest.fixture
def engineer() -> User:
    return UserFactory(role=Role.ENGINEER)


@pytest.fixture
def engineer_client(engineer: User) -> APIClient:
    return token_client(engineer)


# --- Authentication --------------------------------------------------------------------------------


def test_no_token_bad_token_revoked_or_expired_token_is_401(engineer: User) -> None:
    anonymous = APIClient()
    assert anonymous.get("/api/v1/tasks/").status_code == 401
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token tb_not-a-real-token")
    assert bad.get("/api/v1/tasks/").status_code == 401
    token, raw = api_token_create(user=engineer, name="x")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    assert client.get("/api/v1/tasks/").status_code == 200
    api_token_revoke(token=token)
    revoked = client.get("/api/v1/tasks/")
    assert revoked.status_code == 401 and revoked.json()["code"] == "authentication_failed"
    _, raw_expired = api_token_create(user=engineer, name="y", expires_at=timezone.now() - timedelta(seconds=1))
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw_expired}")
    assert client.get("/api/v1/tasks/").status_code == 401


def test_token_api_shows_the_secret_once_and_revoking_it_locks_it_out(engineer_client: APIClient) -> None:
    created = engineer_client.post("/api/v1/tokens/", {"name": "rig 3"}, format="json")
    assert created.status_code == 201
    secret = created.json()["secret"]
    listed = engineer_client.get("/api/v1/tokens/").json()["results"]
    assert {t["name"] for t in listed} == {"tests", "rig 3"} and all("secret" not in t for t in listed)
    rig = APIClient()
    rig.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    assert rig.get("/api/v1/me/").json()["roles"] == ["engineer"]
    revoked = engineer_client.post(f"/api/v1/tokens/{created.json()['id']}/revoke/")
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    assert rig.get("/api/v1/me/").status_code == 401


def test_token_expiry_must_be_in_the_future_and_others_tokens_are_404(engineer_client: APIClient) -> None:
    past = (timezone.now() - timedelta(days=1)).isoformat()
    response = engineer_client.post("/api/v1/tokens/", {"name": "old", "expires_at": past}, format="json")
    assert response.status_code == 400 and "expires_at" in response.json()["errors"]
    other, _ = api_token_create(user=UserFactory(), name="theirs")
    assert engineer_client.post(f"/api/v1/tokens/{other.pk}/revoke/").status_code == 404
    other.refresh_from_db()
    assert other.revoked_at is None


@override_settings(
    REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api": "3/min", "ingest": "1/min"}}
)
def test_throttling_is_per_token_with_retry_after(engineer: User) -> None:
    first, second = token_client(engineer), token_client(engineer)
    statuses = [first.get("/api/v1/me/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    throttled = first.get("/api/v1/me/")
    assert throttled.json()["code"] == "throttled" and int(throttled["Retry-After"]) > 0
    assert second.get("/api/v1/me/").status_code == 200  # another token has its own budget


# --- Tasks ---------------------------------------------------------------------------------------


def test_engineer_creates_and_patches_a_task_of_their_organization(engineer: User, engineer_client: APIClient) -> None:
    created = engineer_client.post("/api/v1/tasks/", TASK_BODY, format="json")
    assert created.status_code == 201, created.json()
    task = Task.objects.get(pk=created.json()["id"])
    assert task.organization_id == engineer.organization_id and task.created_by == engineer
    patched = engineer_client.patch(f"/api/v1/tasks/{task.pk}/", {"takt_time_s": 20}, format="json")
    assert patched.status_code == 200 and patched.json()["takt_time_s"] == 20
    duplicate = engineer_client.post("/api/v1/tasks/", TASK_BODY, format="json")
    assert duplicate.status_code == 409 and list(duplicate.json()["errors"]) == ["name"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"manual_cycle_time_s": 0}, "manual_cycle_time_s"),
        ({"takt_time_s": -1}, "takt_time_s"),
        ({"shifts_per_day": 4}, "shifts_per_day"),
        ({"hours_per_shift": 25}, "hours_per_shift"),
        ({"labour_cost_per_hour": "-1"}, "labour_cost_per_hour"),
        ({"status": "dreaming"}, "status"),
        ({"annual_volume": "many"}, "annual_volume"),
        ({"name": None}, "name"),
        ({"shifts_per_day": 3, "hours_per_shift": 24}, "hours_per_shift"),
    ],
)
def test_task_validation_names_the_field_and_saves_nothing(
    engineer_client: APIClient, change: dict[str, Any], field: str
) -> None:
    body = {k: v for k, v in {**TASK_BODY, **change}.items() if v is not None}
    response = engineer_client.post("/api/v1/tasks/", body, format="json")
    assert response.status_code == 400 and field in response.json()["errors"]
    assert not Task.objects.exists()


def test_task_site_of_another_organization_is_rejected(engineer_client: APIClient) -> None:
    response = engineer_client.post("/api/v1/tasks/", {**TASK_BODY, "site": SiteFactory().pk}, format="json")
    assert response.status_code == 400 and "site" in response.json()["errors"]


def test_integrator_reads_an_engaged_task_but_may_not_write_tasks(client_a: APIClient, integrator: User) -> None:
    task = TaskFactory(integrator=integrator.organization)
    assert client_a.get(f"/api/v1/tasks/{task.pk}/").status_code == 200
    assert client_a.patch(f"/api/v1/tasks/{task.pk}/", {"takt_time_s": 1}, format="json").status_code == 403
    assert client_a.post("/api/v1/tasks/", TASK_BODY, format="json").status_code == 403


def test_another_organizations_task_is_404(engineer_client: APIClient) -> None:
    task = TaskFactory()
    assert engineer_client.get(f"/api/v1/tasks/{task.pk}/").status_code == 404
    assert engineer_client.patch(f"/api/v1/tasks/{task.pk}/", {"takt_time_s": 1}, format="json").status_code == 404
    assert engineer_client.get("/api/v1/tasks/").json()["results"] == []


# --- Trials --------------------------------------------------------------------------------------


def trial_body(task: Task, robot_id: int, **kw: Any) -> dict[str, Any]:
    return {
        "task": task.pk,
        "policy_version": PolicyVersionFactory().pk,
        "robot": robot_id,
        "episodes_planned": 20,
        **kw,
    }


def test_integrator_schedules_a_trial_on_its_robot_for_an_engaged_task(
    client_a: APIClient, integrator: User, django_capture_on_commit_callbacks: Any
) -> None:
    task = TaskFactory(integrator=integrator.organization)
    robot = RobotFactory(organization=integrator.organization)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client_a.post("/api/v1/trials/", trial_body(task, robot.pk, seed=7), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "queued" and body["seed"] == 7 and body["progress"]["done"] == 0
    assert body["instruction"] == task.instruction and body["scheduled_by"] == integrator.username
    assert callbacks == []  # an upload trial is not handed to the runner


def test_start_runner_hands_the_trial_to_the_runner(
    client_a: APIClient, integrator: User, django_capture_on_commit_callbacks: Any
) -> None:
    task = TaskFactory(integrator=integrator.organization)
    robot = RobotFactory(organization=integrator.organization)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client_a.post("/api/v1/trials/", trial_body(task, robot.pk, start_runner=True), format="json")
    assert response.status_code == 201 and len(callbacks) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"episodes_planned": 0}, "episodes_planned"),
        ({"episodes_planned": 10_001}, "episodes_planned"),
        ({"episode_timeout_s": -5}, "episode_timeout_s"),
        ({"seed": -1}, "seed"),
        ({"task": 999_999}, "task"),
    ],
)
def test_trial_validation_names_the_field(
    client_a: APIClient, integrator: User, change: dict[str, Any], field: str
) -> None:
    task = TaskFactory(integrator=integrator.organization)
    robot = RobotFactory(organization=integrator.organization)
    response = client_a.post("/api/v1/trials/", {**trial_body(task, robot.pk), **change}, format="json")
    assert response.status_code == 400 and field in response.json()["errors"]
    assert not Trial.objects.exists()


def test_trial_on_another_organizations_robot_or_unengaged_task_is_refused(
    client_a: APIClient, integrator: User
) -> None:
    engaged = TaskFactory(integrator=integrator.organization)
    foreign_robot = RobotFactory()
    response = client_a.post("/api/v1/trials/", trial_body(engaged, foreign_robot.pk), format="json")
    assert response.status_code == 400 and "robot" in response.json()["errors"]
    own_robot = RobotFactory(organization=integrator.organization)
    response = client_a.post("/api/v1/trials/", trial_body(TaskFactory(), own_robot.pk), format="json")
    assert response.status_code == 400 and "task" in response.json()["errors"]
    assert not Trial.objects.exists()


def test_trial_read_and_cancel_are_scoped(client_a: APIClient, client_b: APIClient, trial_a: Trial) -> None:
    EpisodeFactory(trial=trial_a, index=0)
    detail = client_a.get(f"/api/v1/trials/{trial_a.pk}/")
    assert detail.status_code == 200 and detail.json()["progress"]["done"] == 1
    assert client_b.get(f"/api/v1/trials/{trial_a.pk}/").status_code == 404
    assert client_b.post(f"/api/v1/trials/{trial_a.pk}/cancel/").status_code == 404
    assert client_b.get("/api/v1/trials/").json()["results"] == []
    cancelled = client_a.post(f"/api/v1/trials/{trial_a.pk}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    trial_a.refresh_from_db()
    assert trial_a.status == TrialStatus.CANCELLED


# --- Sites, robots, policies ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "own", "foreign"),
    [
        ("sites", lambda org: SiteFactory(organization=org), lambda: SiteFactory()),
        ("robots", lambda org: RobotFactory(organization=org), lambda: RobotFactory()),
        (
            "policies",
            lambda org: PolicyFactory(organization=org),
            lambda: PolicyFactory(organization=OrganizationFactory()),
        ),
        (
            "policy-versions",
            lambda org: PolicyVersionFactory(policy__organization=org),
            lambda: PolicyVersionFactory(policy__organization=OrganizationFactory()),
        ),
    ],
)
def test_read_only_resources_show_own_objects_and_404_others(
    engineer: User, engineer_client: APIClient, path: str, own: Callable[[Any], Any], foreign: Callable[[], Any]
) -> None:
    mine, theirs = own(engineer.organization), foreign()
    listed = engineer_client.get(f"/api/v1/{path}/")
    assert listed.status_code == 200 and [r["id"] for r in listed.json()["results"]] == [mine.pk]
    assert engineer_client.get(f"/api/v1/{path}/{mine.pk}/").status_code == 200
    assert engineer_client.get(f"/api/v1/{path}/{theirs.pk}/").status_code == 404
    assert engineer_client.post(f"/api/v1/{path}/", {}, format="json").status_code == 405


def test_shared_policies_are_visible_to_everyone(engineer_client: APIClient) -> None:
    shared = PolicyVersionFactory(policy__organization=None)
    assert engineer_client.get(f"/api/v1/policy-versions/{shared.pk}/").status_code == 200


def test_robot_agent_token_hash_is_never_exposed(engineer: User, engineer_client: APIClient) -> None:
    robot = RobotFactory(organization=engineer.organization, agent_token_sha256="a" * 64)
    assert "a" * 64 not in engineer_client.get(f"/api/v1/robots/{robot.pk}/").content.decode()


# --- Episodes and events: filters, ordering, cursor pages, since -------------------------------


def test_episode_list_filters_orders_and_pages_with_a_cursor(client_a: APIClient, trial_a: Trial) -> None:
    for index in range(7):
        EpisodeFactory(trial=trial_a, index=index, outcome="failure" if index % 2 else "success")
    seen: list[int] = []
    url: str | None = f"/api/v1/trials/{trial_a.pk}/episodes/?page_size=3"
    while url:
        page = client_a.get(url).json()
        seen += [e["index"] for e in page["results"]]
        url = page["next"]
    assert seen == list(range(7))
    failures = client_a.get(f"/api/v1/episodes/?trial={trial_a.pk}&outcome=failure&ordering=-index").json()
    assert [e["index"] for e in failures["results"]] == [5, 3, 1]


def test_since_returns_only_newer_rows_and_rejects_a_bad_timestamp(client_a: APIClient, trial_a: Trial) -> None:
    EpisodeFactory(trial=trial_a, index=0)
    later = timezone.now() + timedelta(seconds=1)
    assert client_a.get("/api/v1/episodes/", {"since": later.isoformat()}).json()["results"] == []
    earlier = (timezone.now() - timedelta(hours=1)).isoformat()
    assert len(client_a.get("/api/v1/episodes/", {"since": earlier}).json()["results"]) == 1
    assert len(client_a.get("/api/v1/trials/", {"since": earlier}).json()["results"]) == 1
    bad = client_a.get("/api/v1/episodes/", {"since": "last tuesday"})
    assert bad.status_code == 400 and "since" in bad.json()["errors"]


def test_unknown_ordering_is_ignored_and_bad_cursor_is_404_json(client_a: APIClient, trial_a: Trial) -> None:
    assert client_a.get("/api/v1/episodes/?ordering=secret_field").status_code == 200
    response = client_a.get("/api/v1/episodes/?cursor=garbage")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_huge_ids_in_filters_and_paths_are_4xx(client_a: APIClient) -> None:
    assert client_a.get("/api/v1/episodes/?trial=99999999999999999999999").status_code == 400
    assert client_a.get("/api/v1/trials/99999999999999999999999/").status_code == 404


def test_events_are_listed_and_filtered_within_scope(client_a: APIClient, client_b: APIClient, trial_a: Trial) -> None:
    episode = EpisodeFactory(trial=trial_a, index=0)
    EpisodeEventFactory(episode=episode, category="drop", kind="fault")
    EpisodeEventFactory(episode=episode, category="grasp_miss")
    drops = client_a.get(f"/api/v1/events/?trial={trial_a.pk}&category=drop").json()["results"]
    assert [e["category"] for e in drops] == ["drop"]
    assert client_b.get("/api/v1/events/").json()["results"] == []
    assert client_b.get(f"/api/v1/episodes/{episode.pk}/").status_code == 404


def test_episode_list_query_count_does_not_grow_with_rows(
    client_a: APIClient, trial_a: Trial, django_assert_max_num_queries: Any
) -> None:
    for index in range(30):
        EpisodeEventFactory(episode=EpisodeFactory(trial=trial_a, index=index))
    with django_assert_max_num_queries(6):
        response = client_a.get(f"/api/v1/trials/{trial_a.pk}/episodes/?page_size=30")
    assert len(response.json()["results"]) == 30


def test_token_last_used_is_recorded(engineer: User) -> None:
    client = token_client(engineer)
    client.get("/api/v1/me/")
    assert ApiToken.objects.get(user=engineer).last_used_at is not None


@override_settings(
    REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api": "100/min", "ingest": "1/min"}}
)
def test_uploads_have_their_own_smaller_budget(client_a: APIClient, trial_a: Trial) -> None:
    from tests.api.conftest import episode_payload

    url = f"/api/v1/trials/{trial_a.pk}/episodes/"
    assert client_a.post(url, episode_payload(0), format="json").status_code == 201
    throttled = client_a.post(url, episode_payload(1), format="json")
    assert throttled.status_code == 429 and "Retry-After" in throttled
    assert client_a.get(url).status_code == 200  # reading is not an upload


def test_non_numeric_ids_in_paths_are_404_not_500(client_a: APIClient) -> None:
    for path in ("trials/-/cancel/", "trials/abc/episodes/", "trials/x/", "episodes/-/", "tokens/-/revoke/"):
        method = client_a.post if path.endswith(("cancel/", "revoke/")) else client_a.get
        assert method(f"/api/v1/{path}").status_code == 404, path


def test_task_api_hides_labour_cost_from_the_engaged_integrator() -> None:
    customer, integrator_org = OrganizationFactory(), OrganizationFactory(kind=Organization.Kind.INTEGRATOR)
    task = TaskFactory(organization=customer, integrator=integrator_org, labour_cost_per_hour=Decimal("47.50"))
    owner = token_client(UserFactory(organization=customer, role=Role.MANAGER)).get(f"/api/v1/tasks/{task.pk}/")
    assert owner.status_code == 200 and owner.json()["labour_cost_per_hour"] == "47.50"
    integrator = UserFactory(organization=integrator_org, role=Role.INTEGRATOR)
    response = token_client(integrator).get(f"/api/v1/tasks/{task.pk}/")
    assert response.status_code == 200 and response.json()["labour_cost_per_hour"] is None
    listed = token_client(integrator).get("/api/v1/tasks/").json()["results"]
    assert [t["labour_cost_per_hour"] for t in listed] == [None]
