"""GET /api/v1/tasks/{id}/roi/: the same figures as the page, token-scoped, 400/404/409 JSON, in the schema."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import Organization, Role
from reports.roi.report import task_roi_report
from tests.api.conftest import token_client
from tests.factories import (
    CostModelFactory,
    EpisodeFactory,
    OrganizationFactory,
    RobotFactory,
    TaskFactory,
    TrialFactory,
    UserFactory,
)
from trials.models import EpisodeOutcome, EpisodeSource

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> dict[str, Any]:
    org = OrganizationFactory()
    integrator_org = OrganizationFactory(kind=Organization.Kind.INTEGRATOR)
    task = TaskFactory(organization=org, integrator=integrator_org, labour_cost_per_hour=Decimal("40"))
    CostModelFactory(task=task, input_ranges={"robot_capex": [30000, 45000]})
    CostModelFactory(task=task, scenario="conservative", robot_capex=Decimal("48000"))
    trial = TrialFactory(task=task, robot=RobotFactory(organization=org))
    for i in range(30):
        EpisodeFactory(
            trial=trial,
            index=i,
            outcome=EpisodeOutcome.SUCCESS if i % 6 else EpisodeOutcome.FAILURE,
            cycle_time_s=10.0 + i % 4,
            source=EpisodeSource.SIMULATION,
        )
    return {
        "task": task,
        "bare": TaskFactory(organization=org),
        "engineer": UserFactory(organization=org, role=Role.ENGINEER),
        "integrator": UserFactory(organization=integrator_org, role=Role.INTEGRATOR),
        "outsider": UserFactory(role=Role.ENGINEER),
    }


def _url(task: Any) -> str:
    return f"/api/v1/tasks/{task.pk}/roi/"


def test_roi_json_matches_the_page_functions(world: dict[str, Any]) -> None:
    response = token_client(world["engineer"]).get(_url(world["task"]), {"draws": 2000})
    assert response.status_code == 200
    body = response.json()
    expected = task_roi_report(task=world["task"], draws=2000, details=False).to_dict()
    assert body == expected
    assert body["scenario"] == "base" and body["episodes"] == 30 and body["evidence_sources"] == ["simulation"]
    mc = body["monte_carlo"]
    assert mc["draws"] == 2000 and mc["npv"]["p10"] <= mc["npv"]["p50"] <= mc["npv"]["p90"]
    assert 0 <= mc["p_payback_within_target"] <= 1 and 0 <= mc["p_npv_negative"] <= 1
    assert body["roi"]["robots_needed"] >= 1


def test_scenario_changes_the_figures(world: dict[str, Any]) -> None:
    client = token_client(world["engineer"])
    base = client.get(_url(world["task"]), {"draws": 500}).json()
    conservative = client.get(_url(world["task"]), {"draws": 500, "scenario": "conservative"}).json()
    assert conservative["scenario"] == "conservative"
    assert conservative["roi"]["capex"] > base["roi"]["capex"]


def test_roi_per_role_owner_reads_engaged_integrator_403_other_organization_404(world: dict[str, Any]) -> None:
    assert token_client(world["engineer"]).get(_url(world["task"]), {"draws": 200}).status_code == 200
    # Engaged on the task: it reads the evidence (stats API), not the customer's cost model, NPV or notes.
    response = token_client(world["integrator"]).get(_url(world["task"]), {"draws": 200})
    assert response.status_code == 403
    body = response.content.decode()
    assert "organization" in body and "npv" not in body and "Q-1182" not in body and "robot_capex" not in body
    stats = token_client(world["integrator"]).get(f"/api/v1/tasks/{world['task'].pk}/stats/")
    assert stats.status_code == 200
    assert sum(block["n_episodes"] for block in stats.json()["statistics"]["sources"]) == 30
    response = token_client(world["outsider"]).get(_url(world["task"]))
    assert response.status_code == 404 and "detail" in response.json()
    assert token_client(world["engineer"]).get("/api/v1/tasks/abc/roi/").status_code == 404
    assert token_client(world["engineer"]).get("/api/v1/tasks/999999/roi/").status_code == 404


def test_no_token_is_401(world: dict[str, Any]) -> None:
    assert APIClient().get(_url(world["task"])).status_code == 401


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"scenario": "rosy"}, "scenario"),
        ({"draws": 5}, "draws"),
        ({"draws": "many"}, "draws"),
        ({"source": "dream"}, "source"),
        ({"seed": -1}, "seed"),
        ({"draws": ""}, "draws"),  # empty: not silently the default
    ],
)
def test_bad_query_is_400_with_field_errors(world: dict[str, Any], params: dict[str, Any], field: str) -> None:
    response = token_client(world["engineer"]).get(_url(world["task"]), params)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_task_without_cost_model_or_evidence_is_409_with_the_reason(world: dict[str, Any]) -> None:
    client = token_client(world["engineer"])
    response = client.get(_url(world["bare"]))
    assert response.status_code == 409 and response.json()["code"] == "conflict"
    assert "No base cost model" in response.json()["errors"]["roi"][0]
    CostModelFactory(task=world["bare"])
    response = client.get(_url(world["bare"]))
    assert response.status_code == 409 and "No episodes recorded yet" in response.json()["errors"]["roi"][0]
    response = client.get(_url(world["task"]), {"source": "robot_agent"})
    assert response.status_code == 409 and "robot agent" in response.json()["errors"]["roi"][0]


def test_roi_endpoint_is_in_the_openapi_schema(world: dict[str, Any]) -> None:
    schema = token_client(world["engineer"]).get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/tasks/{id}/roi/"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"id", "scenario", "source", "draws", "seed"} <= names
    assert {"200", "400", "401", "404"} <= set(operation["responses"])
    assert "example" in str(operation["responses"]["200"]) or "examples" in str(operation["responses"]["200"])
