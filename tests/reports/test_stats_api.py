"""Statistics API: /api/v1/trials/{id}/stats/, /acceptance/, /trials/compare/, /tasks/{id}/stats/ and /plan/.
Same figures as the selectors, 404 across organizations, 400 naming the field, token auth, OpenAPI
schema, query-count guards."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import Organization, Role, User
from accounts.services import api_token_create
from reports.models import AcceptanceCriteria
from reports.stats import selectors
from tests.factories import (
    EpisodeEventFactory,
    OrganizationFactory,
    RobotFactory,
    TaskFactory,
    TrialFactory,
    UserFactory,
    episodes_make,
)
from trials.models import EpisodeSource, EventKind, TrialStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> dict[str, Any]:
    org_a = OrganizationFactory()
    org_b = OrganizationFactory(kind=Organization.Kind.INTEGRATOR)
    task = TaskFactory(organization=org_a, integrator=org_b, takt_time_s=12.0)
    robot = RobotFactory(organization=org_a)
    trial = TrialFactory(task=task, robot=robot, episodes_planned=40, status=TrialStatus.COMPLETED)
    episodes = episodes_make(trial, 40, successes=36)
    EpisodeEventFactory(episode=episodes[2], kind=EventKind.INTERVENTION)
    baseline = TrialFactory(task=task, robot=robot, status=TrialStatus.COMPLETED)
    episodes_make(baseline, 20, successes=12)
    real = TrialFactory(task=task, robot=robot, policy_version=trial.policy_version, status=TrialStatus.COMPLETED)
    episodes_make(real, 15, successes=12, source=EpisodeSource.ROBOT_AGENT)
    AcceptanceCriteria.objects.create(task=task, name="fat", min_success_lower_bound=0.7)
    return {
        "task": task,
        "trial": trial,
        "baseline": baseline,
        "real": real,
        "engineer": UserFactory(organization=org_a, role=Role.ENGINEER),
        "integrator": UserFactory(organization=org_b, role=Role.INTEGRATOR),
        "outsider": UserFactory(organization=OrganizationFactory(), role=Role.ENGINEER),
    }


def _api(user: User) -> APIClient:
    client = APIClient()
    _, secret = api_token_create(user=user, name="tests")
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    return client


def test_token_required(world: dict[str, Any]) -> None:
    response = APIClient().get(reverse("api-trial-stats", args=[world["trial"].pk]))
    assert response.status_code == 401


def test_trial_stats_match_the_selector(world: dict[str, Any], django_assert_max_num_queries: Any) -> None:
    client = _api(world["engineer"])
    url = reverse("api-trial-stats", args=[world["trial"].pk])
    client.get(url)
    with django_assert_max_num_queries(12):
        response = client.get(url)
    assert response.status_code == 200
    body = response.json()
    expected = selectors.trial_statistics(trial_id=world["trial"].pk).to_dict()
    assert body["statistics"]["sources"][0]["success"] == expected["sources"][0]["success"]
    block = body["statistics"]["sources"][0]
    assert block["source"] == "simulation" and block["success"]["n"] == 40 and block["success"]["successes"] == 36
    assert block["success"]["interval"]["method"].startswith("Wilson")
    # The FAT bound of 70% sets the SPRT's rejectable level; 36/40 passes.
    assert body["levels"]["rejectable_success"] == 0.7
    assert body["sequential"]["sources"][0]["verdict"]["verdict"] == "pass"
    assert body["acceptance"][0]["name"] == "fat" and body["acceptance"][0]["passed"] is True


def test_trial_stats_levels_and_bad_levels(world: dict[str, Any]) -> None:
    client = _api(world["engineer"])
    url = reverse("api-trial-stats", args=[world["trial"].pk])
    ok = client.get(url, {"rejectable": "0.95", "acceptable": "0.99"})
    assert ok.status_code == 200 and ok.json()["sequential"]["sources"][0]["verdict"]["verdict"] == "fail"
    bad = client.get(url, {"rejectable": "0.9", "acceptable": "0.8"})
    assert bad.status_code == 400 and "acceptable" in bad.json()["errors"]
    assert client.get(url, {"rejectable": "x"}).status_code == 400
    assert client.get(url, {"acceptable": "0.9"}).status_code == 400


def test_trial_acceptance(world: dict[str, Any]) -> None:
    response = _api(world["engineer"]).get(reverse("api-trial-acceptance", args=[world["baseline"].pk]))
    assert response.status_code == 200
    fat = response.json()["criteria"][0]
    # 12/20: exact one-sided 95% lower bound 39.4% < 70%.
    assert fat["passed"] is False and fat["sources"][0]["result"]["checks"][0]["passed"] is False
    assert "vs required 70.0%" in fat["sources"][0]["result"]["checks"][0]["evidence"]


@pytest.mark.parametrize("name", ["api-trial-stats", "api-trial-acceptance"])
def test_trial_endpoints_404(world: dict[str, Any], name: str) -> None:
    assert _api(world["outsider"]).get(reverse(name, args=[world["trial"].pk])).status_code == 404
    client = _api(world["engineer"])
    assert client.get(reverse(name, args=["abc"])).status_code == 404
    assert client.get(reverse(name, args=[str(10**30)])).status_code == 404
    assert client.get(reverse(name, args=[999_999])).status_code == 404


def test_compare(world: dict[str, Any]) -> None:
    client = _api(world["engineer"])
    url = reverse("api-trials-compare")
    response = client.get(url, {"a": world["baseline"].pk, "b": world["trial"].pk})
    assert response.status_code == 200
    body = response.json()
    assert body["success"]["significant"] is True and body["success"]["difference"] == pytest.approx(0.3)
    assert "Newcombe" in body["success"]["method"] and "Mann-Whitney" in body["cycle_time"]["method"]
    assert client.get(url, {"a": "1"}).status_code == 400
    same = client.get(url, {"a": world["trial"].pk, "b": world["trial"].pk})
    assert same.status_code == 400 and "b" in same.json()["errors"]
    other_task = TrialFactory(task=TaskFactory(organization=world["task"].organization))
    assert client.get(url, {"a": other_task.pk, "b": world["trial"].pk}).status_code == 400
    assert client.get(url, {"a": world["trial"].pk, "b": world["real"].pk, "source": "moon"}).status_code == 400
    hidden = _api(world["outsider"]).get(url, {"a": world["baseline"].pk, "b": world["trial"].pk})
    assert hidden.status_code == 404


def test_task_stats_sim_to_real_and_plan(world: dict[str, Any], django_assert_max_num_queries: Any) -> None:
    client = _api(world["integrator"])  # engaged integrator reads the task
    url = reverse("api-task-stats", args=[world["task"].pk])
    client.get(url)
    with django_assert_max_num_queries(14):
        response = client.get(url)
    assert response.status_code == 200
    body = response.json()
    assert {b["source"] for b in body["statistics"]["sources"]} == {"simulation", "robot_agent"}
    gap = body["statistics"]["sim_to_real"][0]
    assert gap["real_source"] == "robot_agent" and gap["success_gap"] == pytest.approx(12 / 15 - 36 / 40)
    # Plan for the FAT bound (70% at 95%, no failure): ceil(ln 0.05 / ln 0.7) = 9.
    assert body["plan"]["episodes_needed"] == 9 and body["plan"]["cycle_time_source"] == "robot_agent"
    assert _api(world["outsider"]).get(url).status_code == 404


def test_task_plan(world: dict[str, Any]) -> None:
    client = _api(world["engineer"])
    url = reverse("api-task-plan", args=[world["task"].pk])
    response = client.get(url, {"target": "0.9", "confidence": "0.95", "failures": "0", "source": "simulation"})
    assert response.status_code == 200
    plan = response.json()
    assert plan["episodes_needed"] == 29 and plan["cycle_time_source"] == "simulation"
    mean_attempt = sum(9.0 + (i % 5) * 0.5 for i in range(40)) + sum(9.0 + (i % 5) * 0.5 for i in range(20))
    assert plan["robot_hours"] == pytest.approx(29 * mean_attempt / 60 / 3600)
    for bad in (
        {},
        {"target": "1.5"},
        {"target": "0.9", "failures": "-1"},
        {"target": "0.9", "confidence": "x"},
        {"target": "0.9", "confidence": ""},
    ):
        response = client.get(url, bad)
        assert response.status_code == 400, bad
        assert response.json()["errors"]
    huge = client.get(url, {"target": "0.9999", "confidence": "0.9999", "failures": "10000"})
    assert huge.status_code in (200, 400)  # a claim beyond 10 million episodes is a 400, never a 500
    assert _api(world["outsider"]).get(url, {"target": "0.9"}).status_code == 404


def test_empty_trial_is_not_a_500(world: dict[str, Any]) -> None:
    empty = TrialFactory(task=world["task"], robot=RobotFactory(organization=world["task"].organization))
    client = _api(world["engineer"])
    body = client.get(reverse("api-trial-stats", args=[empty.pk])).json()
    assert body["statistics"]["note"].startswith("No episode recorded yet")
    acceptance = client.get(reverse("api-trial-acceptance", args=[empty.pk])).json()
    assert acceptance["criteria"][0]["passed"] is None


def test_openapi_schema_documents_the_statistics(world: dict[str, Any]) -> None:
    response = _api(world["engineer"]).get(reverse("api-schema"), HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/v1/trials/{id}/stats/",
        "/api/v1/trials/{id}/acceptance/",
        "/api/v1/trials/compare/",
        "/api/v1/tasks/{id}/stats/",
        "/api/v1/tasks/{id}/plan/",
    ):
        assert path in paths, path
        assert {"200", "400", "404"} <= set(paths[path]["get"]["responses"])
    params = {p["name"] for p in paths["/api/v1/tasks/{id}/plan/"]["get"]["parameters"]}
    assert {"target", "confidence", "failures", "source"} <= params
