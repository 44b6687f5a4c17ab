"""Issue 14 items 2-4 on the robot agent's `events/` and `complete/`: the same episode rules as the integrator
path (one validator), a 400 naming the field, nothing recorded."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from robots.models import AgentJob, Robot, RobotKind
from robots.services import robot_agent_token_issue
from tests.factories import RobotFactory, TrialFactory
from trials.agents.services import agent_jobs_create
from trials.models import Episode

pytestmark = pytest.mark.django_db


@pytest.fixture
def robot() -> Robot:
    return RobotFactory(kind=RobotKind.PHYSICAL, sim_cell_key="")


@pytest.fixture
def client(robot: Robot) -> APIClient:
    trial = TrialFactory(robot=robot, task__organization=robot.organization, episodes_planned=2)
    agent_jobs_create(trial=trial)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {robot_agent_token_issue(robot=robot)}")
    return client


@pytest.fixture
def job(client: APIClient) -> dict[str, Any]:
    job = client.get("/api/v1/agent/jobs/next/").json()
    return client.post(f"/api/v1/agent/jobs/{job['id']}/claim/").json()


def _body(job: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "lease_token": job["lease_token"],
        "outcome": "success",
        "cycle_time_s": 12.5,
        "started_at": "2026-11-25T08:00:00Z",
        **extra,
    }


def _complete(client: APIClient, job: dict[str, Any], **extra: Any) -> Any:
    return client.post(f"/api/v1/agent/jobs/{job['id']}/complete/", _body(job, **extra), format="json")


def _push(client: APIClient, job: dict[str, Any], *offsets: float) -> Any:
    events = [{"kind": "fault", "category": "collision", "t_offset_s": t} for t in offsets]
    return client.post(
        f"/api/v1/agent/jobs/{job['id']}/events/", {"lease_token": job["lease_token"], "events": events}, format="json"
    )


def _nested(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


@pytest.mark.parametrize("depth", [3, 1000, 5000])
def test_complete_with_nested_metrics_is_400_naming_metrics(client: APIClient, job: dict[str, Any], depth: int) -> None:
    raw = json.dumps(_body(job)).rstrip("}") + f', "metrics": {_nested(depth)}}}'
    response = client.generic("POST", f"/api/v1/agent/jobs/{job['id']}/complete/", raw, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert "metrics" in response.json()["errors"]
    assert not Episode.objects.exists()


@pytest.mark.parametrize("depth", [1000, 5000])
def test_events_push_nested_too_deeply_is_400_naming_events(client: APIClient, job: dict[str, Any], depth: int) -> None:
    raw = json.dumps({"lease_token": job["lease_token"], "events": []}).rstrip("]}") + _nested(depth) + "]}"
    response = client.generic("POST", f"/api/v1/agent/jobs/{job['id']}/events/", raw, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert "events" in response.json()["errors"]


@pytest.mark.parametrize(
    "metrics", [{"x": float("1e308") * 10}, {"x": "fast"}, {"x": True}, {"attempt": 99}, {"bad name": 1}]
)
def test_complete_metrics_follow_the_episode_rules(client: APIClient, job: dict[str, Any], metrics: Any) -> None:
    body = json.dumps(_body(job, metrics=metrics), allow_nan=True)
    response = client.generic(
        "POST", f"/api/v1/agent/jobs/{job['id']}/complete/", body, content_type="application/json"
    )
    assert response.status_code == 400, response.json()
    assert not Episode.objects.exists()


def test_complete_near_the_end_of_the_calendar_is_400(client: APIClient, job: dict[str, Any]) -> None:
    response = _complete(client, job, started_at="9999-12-31T23:59:00Z", cycle_time_s=86_000)
    assert response.status_code == 400, response.content[:300]
    assert "started_at" in response.json()["errors"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cycle_time_s", True),
        ("started_at", "2026-11-25T08:00:00"),
        ("started_at", "0001-01-01T00:00:00Z"),
        ("cycle_time_s", 7 * 24 * 3600),
    ],
)
def test_complete_loose_types_are_400_naming_the_field(
    client: APIClient, job: dict[str, Any], field: str, value: Any
) -> None:
    response = _complete(client, job, **{field: value})
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]
    assert not Episode.objects.exists()


def test_events_out_of_order_within_a_push_are_400(client: APIClient, job: dict[str, Any]) -> None:
    response = _push(client, job, 3.0, 1.0)
    assert response.status_code == 400
    assert "1" in response.json()["errors"]["events"]


def test_events_out_of_order_across_pushes_are_400_and_not_kept(client: APIClient, job: dict[str, Any]) -> None:
    assert _push(client, job, 5.0).status_code == 202
    response = _push(client, job, 2.0)
    assert response.status_code == 400, response.json()
    assert "events" in response.json()["errors"]
    assert [e["t_offset_s"] for e in AgentJob.objects.get(pk=job["id"]).streamed_events] == [5.0]


def test_a_retried_push_is_accepted_once(client: APIClient, job: dict[str, Any]) -> None:
    assert _push(client, job, 1.0, 2.0).status_code == 202
    assert _push(client, job, 1.0, 2.0).status_code == 202
    assert _push(client, job, 2.0, 3.0).status_code == 202
    assert [e["t_offset_s"] for e in AgentJob.objects.get(pk=job["id"]).streamed_events] == [1.0, 2.0, 3.0]


def test_complete_shorter_than_streamed_events_is_400(client: APIClient, job: dict[str, Any]) -> None:
    assert _push(client, job, 30.0).status_code == 202
    response = _complete(client, job, cycle_time_s=10.0)
    assert response.status_code == 400, response.json()
    assert "cycle_time_s" in response.json()["errors"]
    assert not Episode.objects.exists()


def test_complete_shorter_than_its_own_events_is_400(client: APIClient, job: dict[str, Any]) -> None:
    events = [{"kind": "fault", "category": "drop", "t_offset_s": 20.0}]
    response = _complete(client, job, cycle_time_s=10.0, events=events)
    assert response.status_code == 400
    assert "events" in response.json()["errors"]


def test_valid_completion_with_streamed_events_still_records(client: APIClient, job: dict[str, Any]) -> None:
    assert _push(client, job, 1.0).status_code == 202
    response = _complete(client, job, metrics={"steps": 40, "policy_latency_median_ms": 3.5})
    assert response.status_code == 201, response.json()
    episode = Episode.objects.get()
    assert episode.metrics["steps"] == 40 and episode.metrics["attempt"] == 1


def test_heartbeat_with_a_job_id_beyond_the_database_range_is_400(client: APIClient) -> None:
    response = client.post("/api/v1/agent/heartbeat/", {"status": "busy", "current_job": 10**30}, format="json")
    assert response.status_code == 400
    assert "current_job" in response.json()["errors"]


def test_agent_streams_events_in_time_order_and_survives_a_refused_push() -> None:
    import requests

    from core.agent.cli import AgentClient, Job

    sent: list[Any] = []

    class Refuses(requests.Session):
        def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
            sent.append(kwargs["json"])
            response = requests.Response()
            response.status_code = 400
            response._content = b'{"detail": "Invalid input.", "code": "invalid"}'
            return response

    client = AgentClient("http://127.0.0.1:9", token="unused", retries=0)
    client.session = Refuses()
    job = Job(id=1, trial=1, index=0, instruction="", seed=0, episode_timeout_s=10.0, policy_version={})
    events = [{"kind": "fault", "category": "drop", "t_offset_s": t} for t in (2.0, 1.0)]
    client.push_events(job, events)  # a 400 on a push is not fatal
    assert [e["t_offset_s"] for e in sent[0]["events"]] == [1.0, 2.0]
