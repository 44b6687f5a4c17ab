"""The API speaks JSON only, in one error shape with one closed set of `code`s (common/exceptions.py), and its
OpenAPI schema states the constraints the server enforces (config/api_schema.py, common/api_support.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client, override_settings
from rest_framework.test import APIClient

from accounts.models import Role, User
from common.errors import ERROR_CODES
from robots.models import AgentJob, RobotKind
from robots.services import robot_agent_token_issue
from tests.api.conftest import token_client
from tests.factories import OrganizationFactory, RobotFactory, TaskFactory, TrialFactory, UserFactory
from trials.agents.services import agent_job_claim, agent_jobs_create
from trials.media_api import UPLOAD_CONTENT_TYPES
from trials.models import Task

pytestmark = pytest.mark.django_db


@pytest.fixture
def engineer() -> User:
    return UserFactory(organization=OrganizationFactory(), role=Role.ENGINEER)


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert body["code"] == code and isinstance(body["detail"], str) and body["detail"], body
    return body


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("path", ["/api/v1/no-such-thing/", "/api/v1/tasks/1/no-such-action/", "/api/v2/", "/api/"])
def test_unrouted_api_path_is_a_json_404(engineer: User, path: str, debug: bool) -> None:
    with override_settings(DEBUG=debug):
        _error(token_client(engineer).get(path), 404, "not_found")
        _error(APIClient().delete(path), 404, "not_found")


def test_unrouted_post_with_a_session_cookie_is_a_json_404_not_a_csrf_page(engineer: User) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(engineer)
    _error(browser.post("/api/v1/tokens/1.5/revoke/"), 404, "not_found")


def test_missing_trailing_slash_is_a_404_naming_the_route(engineer: User) -> None:
    body = _error(token_client(engineer).get("/api/v1/tasks"), 404, "not_found")
    assert "/api/v1/tasks/" in body["detail"]


def test_site_pages_keep_django_html_404(engineer: User) -> None:
    client = Client()
    client.force_login(engineer)
    with override_settings(DEBUG=False):
        response = client.get("/no-such-page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


def test_django_http404_inside_a_view_has_the_not_found_code(engineer: User) -> None:
    # get_object_or_404 raises Django's Http404: its code was "error", unlike DRF's NotFound.
    _error(token_client(engineer).get("/api/v1/trials/999999/episodes/"), 404, "not_found")
    _error(token_client(engineer).get("/api/v1/tasks/999999/roi/"), 404, "not_found")


def test_auth_errors_tell_missing_from_wrong_credentials(engineer: User) -> None:
    _error(APIClient().get("/api/v1/tasks/"), 401, "not_authenticated")
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="Token tb_not-a-token")
    _error(wrong.get("/api/v1/tasks/"), 401, "authentication_failed")
    _error(APIClient().post("/api/v1/agent/heartbeat/", {"status": "idle"}, format="json"), 401, "not_authenticated")
    _error(wrong.post("/api/v1/agent/heartbeat/", {"status": "idle"}, format="json"), 401, "authentication_failed")


def test_undocumented_method_is_a_json_405_with_allow(engineer: User) -> None:
    response = token_client(engineer).delete("/api/v1/tasks/")
    _error(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"] and "POST" in response["Allow"]


def test_a_form_encoded_body_is_415_the_api_reads_json_only(engineer: User) -> None:
    response = token_client(engineer).post("/api/v1/tokens/", {"name": "form"})  # multipart, as a browser form
    _error(response, 415, "unsupported_media_type")
    assert response.wsgi_request.user.api_tokens.filter(name="form").count() == 0


def test_the_api_renders_json_even_to_a_browser(engineer: User) -> None:
    response = token_client(engineer).get("/api/v1/tasks/", HTTP_ACCEPT="text/html")
    assert response.status_code in (200, 406)
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("value", ["abc", "0", "-1", "1001", "2.5", "", "99999999999999999999"])
def test_page_size_must_be_an_integer_from_1_to_1000(engineer: User, value: str) -> None:
    body = _error(token_client(engineer).get("/api/v1/tasks/", {"page_size": value}), 400, "invalid")
    assert "page_size" in body["errors"]


def test_page_size_within_bounds_pages(engineer: User) -> None:
    for _ in range(3):
        TaskFactory(organization=engineer.organization)
    response = token_client(engineer).get("/api/v1/tasks/", {"page_size": "2"})
    assert response.status_code == 200 and len(response.json()["results"]) == 2 and response.json()["next"]


@pytest.mark.parametrize(
    "value",
    ["2026-11-25", "2026-11-25T08:00:00", "yesterday", "2026-02-30T00:00:00Z", "2026-11-25T25:00:00Z", ""],
)
def test_since_must_be_an_rfc3339_instant_with_an_offset(engineer: User, value: str) -> None:
    body = _error(token_client(engineer).get("/api/v1/episodes/", {"since": value}), 400, "invalid")
    assert "since" in body["errors"]


@pytest.mark.parametrize(
    ("value", "count"),
    [
        ("2026-11-25T08:00:00Z", 1),
        ("2026-11-25T09:30:00+01:00", 1),
        ("2026-11-25t08:00:00.123456789z", 1),
        ("0001-01-01T00:00:00+01:00", 1),  # before datetime's range in UTC: was an OverflowError, a 500
        ("9999-12-31T23:59:59-01:00", 0),
        ("2026-12-31T23:59:60Z", 0),  # a leap second
    ],
)
def test_since_accepts_every_rfc3339_instant(engineer: User, value: str, count: int) -> None:
    noon = datetime(2026, 11, 25, 12, tzinfo=UTC)
    Task.objects.filter(pk=TaskFactory(organization=engineer.organization).pk).update(created_at=noon, updated_at=noon)
    response = token_client(engineer).get("/api/v1/tasks/", {"since": value})
    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) == count


@pytest.mark.parametrize(("path", "param"), [("/api/v1/robots/", "kind"), ("/api/v1/episodes/", "trial")])
def test_a_filter_given_without_a_value_is_400(engineer: User, path: str, param: str) -> None:
    body = _error(token_client(engineer).get(path, {param: ""}), 400, "invalid")
    assert param in body["errors"]


@pytest.mark.parametrize(("param", "value"), [("trial", "0"), ("trial", "-3"), ("index_min", "-1")])
def test_id_filters_start_at_1_and_indexes_at_0(engineer: User, param: str, value: str) -> None:
    body = _error(token_client(engineer).get("/api/v1/episodes/", {param: value}), 400, "invalid")
    assert param in body["errors"]
    assert token_client(engineer).get("/api/v1/episodes/", {"index_min": "0"}).status_code == 200


def test_duplicate_task_name_is_a_409_naming_the_field(engineer: User) -> None:
    TaskFactory(organization=engineer.organization, name="Kitting")
    body = {
        "name": "Kitting",
        "station": "Line 1",
        "part": "Bracket",
        "instruction": "place the bracket in the tray",
        "manual_cycle_time_s": 10,
        "takt_time_s": 12,
        "annual_volume": 1000,
        "labour_cost_per_hour": "30.00",
    }
    reply = _error(token_client(engineer).post("/api/v1/tasks/", body, format="json"), 409, "conflict")
    assert list(reply["errors"]) == ["name"]


def test_agent_lease_token_that_is_not_hex_is_a_400_not_a_500() -> None:
    robot = RobotFactory(kind=RobotKind.PHYSICAL, sim_cell_key="")
    agent_jobs_create(trial=TrialFactory(robot=robot, task__organization=robot.organization, episodes_planned=1))
    job = AgentJob.objects.get(robot=robot)
    agent_job_claim(robot=robot, job_id=job.pk)
    agent = APIClient()
    agent.credentials(HTTP_AUTHORIZATION=f"Token {robot_agent_token_issue(robot=robot)}")
    for action, body in [("events", {"events": []}), ("complete", {"outcome": "success", "cycle_time_s": 1.0})]:
        sent = {"lease_token": "é" * 8, "started_at": "2026-11-25T08:00:00Z", **body}
        reply = _error(agent.post(f"/api/v1/agent/jobs/{job.pk}/{action}/", sent, format="json"), 400, "invalid")
        assert "lease_token" in reply["errors"]


# --- The schema says so ---------------------------------------------------------------------------------


@pytest.fixture
def schema(engineer: User) -> dict[str, Any]:
    response = token_client(engineer).get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


def _parameters(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in operation.get("parameters", [])}


def test_schema_documents_every_error_an_operation_can_give(schema: dict[str, Any]) -> None:
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            responses, where = set(operation["responses"]), f"{method.upper()} {path}"
            if operation.get("security") and any(operation["security"]):
                assert "401" in responses, where
            if "{" in path:
                assert "404" in responses, where
            if operation.get("requestBody") or any(p["in"] == "query" for p in operation.get("parameters", [])):
                assert "400" in responses, where
            if operation.get("requestBody"):
                assert {"413", "415"} <= responses, where
            if method != "get":
                assert {"403", "409"} <= responses, where
    for label in ("/api/v1/agent/heartbeat/", "/api/v1/agent/jobs/{job_id}/complete/"):
        assert "401" in schema["paths"][label]["post"]["responses"]


def test_schema_states_ids_page_size_and_since(schema: dict[str, Any]) -> None:
    path_parameters = [
        p
        for item in schema["paths"].values()
        for operation in item.values()
        for p in operation.get("parameters", [])
        if p["in"] == "path"
    ]
    # Row ids from 1, an episode's index from 0; the recording paths' kind and camera name are bounded text.
    ids = [p["schema"] for p in path_parameters if p["name"] not in {"index", "kind", "name"}]
    assert ids and all(s["type"] == "integer" and s["minimum"] == 1 for s in ids), ids
    indexes = [p["schema"] for p in path_parameters if p["name"] == "index"]
    assert indexes and all(s["type"] == "integer" and s["minimum"] == 0 for s in indexes), indexes
    texts = [p["schema"] for p in path_parameters if p["name"] in {"kind", "name"}]
    assert texts and all("enum" in s or "pattern" in s for s in texts), texts
    tasks = _parameters(schema["paths"]["/api/v1/tasks/"]["get"])
    assert tasks["page_size"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}
    assert tasks["since"]["schema"] == {"type": "string", "format": "date-time"}
    assert tasks["site"]["schema"]["minimum"] == 1
    compare = _parameters(schema["paths"]["/api/v1/trials/compare/"]["get"])
    assert compare["a"]["schema"]["minimum"] == 1 and "not a" in compare["b"]["description"]


def test_schema_error_code_is_the_closed_set(schema: dict[str, Any]) -> None:
    code = schema["components"]["schemas"]["Error"]["properties"]["code"]
    assert code["allOf"] == [{"$ref": "#/components/schemas/ErrorCodeEnum"}]
    assert set(schema["components"]["schemas"]["ErrorCodeEnum"]["enum"]) == set(ERROR_CODES)


def test_schema_request_bodies_are_json_only(schema: dict[str, Any]) -> None:
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            content = set(operation.get("requestBody", {}).get("content", {}))
            expected = {"multipart/form-data"} if path.endswith("/episodes/csv/") else {"application/json"}
            if "/media/" in path:  # a recording file: its raw bytes (trials/media_api.py)
                expected = set(UPLOAD_CONTENT_TYPES)
            if path.endswith("/lerobot-imports/"):  # a dataset zip: raw, or a multipart file (trials/lerobot_api.py)
                expected = {"application/zip", "multipart/form-data"}
            assert not content or content == expected, (method, path, content)


# --- Found by schemathesis with every check (issue 14 items 2 and 4) ---


def test_event_kind_of_the_wrong_json_type_is_a_400() -> None:
    robot = RobotFactory(kind=RobotKind.PHYSICAL, sim_cell_key="")
    agent_jobs_create(trial=TrialFactory(robot=robot, task__organization=robot.organization, episodes_planned=1))
    job = agent_job_claim(robot=robot, job_id=AgentJob.objects.get(robot=robot).pk)
    agent = APIClient(raise_request_exception=False)
    agent.credentials(HTTP_AUTHORIZATION=f"Token {robot_agent_token_issue(robot=robot)}")
    event = {"kind": {}, "category": "e_stop", "t_offset_s": 1.0}
    sent = {"lease_token": job.lease_token, "events": [event]}
    assert agent.post(f"/api/v1/agent/jobs/{job.pk}/events/", sent, format="json").status_code == 400


def test_a_number_for_a_text_field_is_a_400() -> None:
    robot = RobotFactory(kind=RobotKind.PHYSICAL, sim_cell_key="")
    agent = APIClient()
    agent.credentials(HTTP_AUTHORIZATION=f"Token {robot_agent_token_issue(robot=robot)}")
    sent = {"status": "busy", "software_version": 0}
    assert agent.post("/api/v1/agent/heartbeat/", sent, format="json").status_code == 400
