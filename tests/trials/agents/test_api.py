"""The robot agent protocol over the test client: auth and scoping, leases, idempotent completion."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from robots.models import AgentJob, AgentJobStatus, Robot, RobotKind, RobotStatus
from robots.services import robot_agent_token_issue, robot_agent_token_revoke, robots_mark_stale
from tests.factories import RobotFactory, TrialFactory
from trials.agents.services import agent_jobs_create
from trials.models import Episode, EpisodeEvent, TrialStatus
from trials.services import trial_cancel

pytestmark = pytest.mark.django_db


def _agent(robot: Robot, *, ttl_days: float | None = None) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {robot_agent_token_issue(robot=robot, ttl_days=ttl_days)}")
    return client


@pytest.fixture
def robot() -> Robot:
    return RobotFactory(kind=RobotKind.PHYSICAL, sim_cell_key="")


@pytest.fixture
def trial(robot: Robot) -> Any:
    trial = TrialFactory(robot=robot, task__organization=robot.organization, episodes_planned=2)
    agent_jobs_create(trial=trial)
    return trial


def _claim(client: APIClient) -> dict[str, Any]:
    job = client.get("/api/v1/agent/jobs/next/").json()
    claimed = client.post(f"/api/v1/agent/jobs/{job['id']}/claim/")
    assert claimed.status_code == 200, claimed.content
    return claimed.json()


def _complete(client: APIClient, job: dict[str, Any], **extra: Any) -> Any:
    body = {
        "lease_token": job["lease_token"],
        "outcome": "success",
        "cycle_time_s": 12.5,
        "started_at": "2026-11-25T08:00:00Z",
        "events": [{"kind": "intervention", "category": "grasp_miss", "t_offset_s": 3.0}],
        **extra,
    }
    return client.post(f"/api/v1/agent/jobs/{job['id']}/complete/", body, format="json")


def test_heartbeat_marks_robot_online_and_reports_lease(robot: Robot) -> None:
    reply = _agent(robot).post("/api/v1/agent/heartbeat/", {"status": "idle", "software_version": "1.2"}, format="json")
    assert reply.status_code == 200 and reply.json()["robot"] == robot.pk
    robot.refresh_from_db()
    assert robot.status == RobotStatus.IDLE and robot.software_version == "1.2" and robot.last_heartbeat_at


def test_full_job_cycle_records_one_episode_with_streamed_and_final_events(trial: Any, robot: Robot) -> None:
    client = _agent(robot)
    job = _claim(client)
    assert job["seed"] == trial.seed + job["index"] and job["instruction"] == trial.instruction
    pushed = client.post(
        f"/api/v1/agent/jobs/{job['id']}/events/",
        {"lease_token": job["lease_token"], "events": [{"kind": "fault", "category": "collision", "t_offset_s": 1.0}]},
        format="json",
    )
    assert pushed.status_code == 202
    first = _complete(client, job)
    assert first.status_code == 201 and first.json()["created"] is True
    episode = Episode.objects.get(pk=first.json()["episode"])
    assert episode.source == "robot_agent" and episode.index == job["index"]
    assert sorted(EpisodeEvent.objects.filter(episode=episode).values_list("category", flat=True)) == [
        "collision",
        "grasp_miss",
    ]
    trial.refresh_from_db()
    assert trial.status == TrialStatus.RUNNING


def test_retried_complete_returns_same_episode_without_duplicate(trial: Any, robot: Robot) -> None:
    client = _agent(robot)
    job = _claim(client)
    first = _complete(client, job)
    again = _complete(client, job)
    assert again.status_code == 200 and again.json() == {**first.json(), "created": False}
    assert Episode.objects.filter(trial=trial).count() == 1


def test_expired_lease_goes_back_to_queue_and_old_lease_cannot_complete(trial: Any, robot: Robot) -> None:
    client = _agent(robot)
    job = _claim(client)
    AgentJob.objects.filter(pk=job["id"]).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    retaken = _claim(client)
    assert retaken["id"] == job["id"] and retaken["lease_token"] != job["lease_token"] and retaken["attempts"] == 2
    assert _complete(client, job).status_code == 409
    assert _complete(client, retaken).status_code == 201
    assert Episode.objects.filter(trial=trial).count() == 1


def test_robot_cannot_see_claim_or_complete_another_robots_job(trial: Any, robot: Robot) -> None:
    other = RobotFactory(kind=RobotKind.PHYSICAL, sim_cell_key="", organization=robot.organization)
    job = _claim(_agent(robot))
    intruder = _agent(other)
    assert intruder.get("/api/v1/agent/jobs/next/").status_code == 204
    assert intruder.post(f"/api/v1/agent/jobs/{job['id']}/claim/").status_code == 404
    assert _complete(intruder, job).status_code == 404
    assert not Episode.objects.exists()


@pytest.mark.parametrize("how", ["revoked", "expired", "garbage", "user-token"])
def test_bad_robot_tokens_are_401(robot: Robot, how: str) -> None:
    client = APIClient()
    if how == "revoked":
        raw = robot_agent_token_issue(robot=robot)
        robot_agent_token_revoke(robot=robot)
    elif how == "expired":
        raw = robot_agent_token_issue(robot=robot, ttl_days=1)
        Robot.objects.filter(pk=robot.pk).update(agent_token_expires_at=timezone.now() - timedelta(seconds=1))
    elif how == "garbage":
        raw = "rb_not-a-token"
    else:
        from accounts.services import api_token_create
        from tests.factories import UserFactory

        _, raw = api_token_create(user=UserFactory(organization=robot.organization), name="person")
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    assert client.post("/api/v1/agent/heartbeat/", {"status": "idle"}, format="json").status_code == 401
    assert APIClient().get("/api/v1/agent/jobs/next/").status_code == 401


def test_abort_records_aborted_episode_with_reason(trial: Any, robot: Robot) -> None:
    client = _agent(robot)
    job = _claim(client)
    reply = client.post(
        f"/api/v1/agent/jobs/{job['id']}/abort/",
        {
            "lease_token": job["lease_token"],
            "reason": "operator pressed e-stop",
            "category": "e_stop",
            "elapsed_s": 4.0,
        },
        format="json",
    )
    assert reply.status_code == 201
    episode = Episode.objects.get(pk=reply.json()["episode"])
    assert episode.outcome == "aborted"
    assert episode.events.get().category == "e_stop"


def test_bad_input_is_400_with_field_errors(trial: Any, robot: Robot) -> None:
    client = _agent(robot)
    job = _claim(client)
    reply = _complete(client, job, cycle_time_s=-1, outcome="maybe")
    assert reply.status_code == 400
    body = reply.json()
    text = str(body)
    assert "cycle_time_s" in text and "outcome" in text
    assert client.get("/api/v1/agent/jobs/next/?wait=soon").status_code == 400
    # Not a number of seconds either: NaN compared false with every deadline, so the long poll never ended.
    for wait in ("nan", "inf", "-nan"):
        reply = client.get(f"/api/v1/agent/jobs/next/?wait={wait}")
        assert reply.status_code == 400 and "wait" in reply.json()["errors"], wait


def test_cancelled_trial_offers_no_more_jobs(trial: Any, robot: Robot) -> None:
    client = _agent(robot)
    trial_cancel(trial_id=trial.pk)
    assert client.get("/api/v1/agent/jobs/next/").status_code == 204
    assert set(AgentJob.objects.filter(trial=trial).values_list("status", flat=True)) == {AgentJobStatus.CANCELLED}


def test_sweep_marks_silent_robot_offline_and_requeues_its_lease(trial: Any, robot: Robot) -> None:
    client = _agent(robot)
    client.post("/api/v1/agent/heartbeat/", {"status": "busy"}, format="json")
    job = _claim(client)
    later = timezone.now() + timedelta(minutes=10)
    offline, requeued = robots_mark_stale(now=later)
    assert (offline, requeued) == (1, 1)
    robot.refresh_from_db()
    assert robot.status == RobotStatus.OFFLINE
    assert AgentJob.objects.get(pk=job["id"]).status == AgentJobStatus.PENDING


def test_robot_token_command_prints_a_working_token(robot: Robot) -> None:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("robot_token", str(robot.pk), stdout=out)
    raw = next(line for line in out.getvalue().splitlines() if line.startswith("rb_"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    assert client.post("/api/v1/agent/heartbeat/", {"status": "idle"}, format="json").status_code == 200


def test_admin_issue_token_action_shows_token_once(robot: Robot, admin_client) -> None:  # type: ignore[no-untyped-def]
    response = admin_client.post(
        "/admin/robots/robot/", {"action": "issue_agent_token", "_selected_action": [robot.pk]}, follow=True
    )
    assert "rb_" in response.content.decode()
    robot.refresh_from_db()
    assert robot.agent_token_sha256


def test_robot_page_shows_online_state_and_job_queue(
    trial: Any, robot: Robot, client, django_assert_max_num_queries
) -> None:  # type: ignore[no-untyped-def]
    from accounts.models import Role
    from tests.factories import UserFactory

    user = UserFactory(organization=robot.organization, role=Role.ENGINEER)
    client.force_login(user)
    agent = _agent(robot)
    page = client.get(f"/robots/{robot.pk}/").content.decode()
    assert "offline" in page and "2 pending" in page
    agent.post("/api/v1/agent/heartbeat/", {"status": "idle"}, format="json")
    _claim(agent)
    with django_assert_max_num_queries(20):
        page = client.get(f"/robots/{robot.pk}/").content.decode()
    assert "online" in page and "1 pending, 1 leased" in page


def test_lost_episode_goes_back_to_the_queue_and_is_counted_nowhere(trial: Any, robot: Robot, settings) -> None:
    settings.TRIAL_LOST_EPISODE_RETRIES = 1
    client = _agent(robot)
    job = _claim(client)
    lost = _complete(
        client,
        job,
        outcome="lost",
        events=[{"kind": "exception", "category": "policy_unreachable", "t_offset_s": 0.5, "message": "refused"}],
    )
    assert lost.status_code == 201, lost.content
    assert _complete(client, job, outcome="lost", events=[
        {"kind": "exception", "category": "policy_unreachable", "t_offset_s": 0.5, "message": "refused"}
    ]).json()["created"] is False  # fmt: skip
    assert AgentJob.objects.get(pk=job["id"]).status == AgentJobStatus.PENDING
    again = _claim(client)
    assert (again["id"], again["seed"]) == (job["id"], job["seed"])  # the same episode, the same seed
    assert _complete(client, again).status_code == 201
    assert AgentJob.objects.get(pk=job["id"]).status == AgentJobStatus.DONE
    assert list(Episode.objects.filter(trial=trial, index=job["index"]).values_list("outcome", flat=True)) == [
        "lost",
        "success",
    ]
    from trials.selectors import trial_summary

    summary = trial_summary(trial=trial)
    assert (summary["done"], summary["success"], summary["lost"]) == (1, 1, 1)


def test_abort_for_an_agent_crash_is_lost_and_gives_up_after_the_limit(trial: Any, robot: Robot, settings) -> None:
    settings.TRIAL_LOST_EPISODE_RETRIES = 0
    client = _agent(robot)
    job = _claim(client)
    reply = client.post(
        f"/api/v1/agent/jobs/{job['id']}/abort/",
        {"lease_token": job["lease_token"], "reason": "robot driver crashed", "category": "agent_crash"},
        format="json",
    )
    assert reply.status_code == 201
    episode = Episode.objects.get(pk=reply.json()["episode"])
    assert episode.outcome == "lost" and episode.events.get().category == "agent_crash"
    assert AgentJob.objects.get(pk=job["id"]).status == AgentJobStatus.DONE  # no retries left
