"""A robot agent uploads its episode's recording after completing the job, and reports how far the episode
got (stages) with the completion: scoping by robot and lease, retry-safe uploads, refused files keep the episode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from robots.models import Robot, RobotKind
from robots.services import robot_agent_token_issue
from tests.factories import RobotFactory, TrialFactory
from tests.trials.media_support import mp4_bytes, trajectory_bytes
from trials.agents.services import agent_jobs_create
from trials.models import Episode, EpisodeMedia, Trial

pytestmark = pytest.mark.django_db
STAGES = ["reached", "grasped", "placed"]


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"


def _agent(robot: Robot) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {robot_agent_token_issue(robot=robot)}")
    return client


@pytest.fixture
def robot() -> Robot:
    return RobotFactory(kind=RobotKind.PHYSICAL, sim_cell_key="")


@pytest.fixture
def trial(robot: Robot) -> Trial:
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
        **extra,
    }
    return client.post(f"/api/v1/agent/jobs/{job['id']}/complete/", body, format="json")


def _upload(client: APIClient, job: dict[str, Any], tail: str, data: bytes, token: str | None = None) -> Any:
    return client.put(
        f"/api/v1/agent/jobs/{job['id']}/media/{tail}",
        data=data,
        content_type="application/octet-stream",
        HTTP_X_LEASE_TOKEN=job["lease_token"] if token is None else token,
    )


def test_completed_job_uploads_video_and_trajectory_once(robot: Robot, trial: Trial, tmp_path: Path) -> None:
    client = _agent(robot)
    job = _claim(client)
    assert job["stages"] == []
    assert _complete(client, job).status_code == 201
    video = mp4_bytes(tmp_path, frames=5)
    first = _upload(client, job, "video/front/", video)
    assert first.status_code == 201 and first.json()["frames"] == 5, first.content
    retried = _upload(client, job, "video/front/", video)
    assert retried.status_code == 200 and retried.json()["created"] is False
    assert _upload(client, job, "trajectory/", trajectory_bytes(tmp_path)).status_code == 201
    episode = Episode.objects.get(trial=trial, index=job["index"])
    assert sorted(EpisodeMedia.objects.filter(episode=episode).values_list("kind", "name")) == [
        ("trajectory", ""),
        ("video", "front"),
    ]


def test_upload_before_completion_or_with_another_lease_is_a_409(robot: Robot, trial: Trial, tmp_path: Path) -> None:
    client = _agent(robot)
    job = _claim(client)
    video = mp4_bytes(tmp_path)
    early = _upload(client, job, "video/front/", video)
    assert early.status_code == 409 and "complete" in early.json()["detail"]
    assert _complete(client, job).status_code == 201
    assert _upload(client, job, "video/front/", video, token="ab" * 16).status_code == 409
    missing = _upload(client, job, "video/front/", video, token="")
    assert missing.status_code == 400 and "X-Lease-Token" in missing.json()["errors"]
    assert not EpisodeMedia.objects.exists()


def test_another_robots_job_is_a_404(robot: Robot, trial: Trial, tmp_path: Path) -> None:
    client = _agent(robot)
    job = _claim(client)
    assert _complete(client, job).status_code == 201
    stranger = _agent(RobotFactory(kind=RobotKind.PHYSICAL, sim_cell_key="", organization=robot.organization))
    assert _upload(stranger, job, "video/front/", mp4_bytes(tmp_path)).status_code == 404


def test_a_bad_video_is_a_400_and_the_episode_is_kept(robot: Robot, trial: Trial) -> None:
    client = _agent(robot)
    job = _claim(client)
    assert _complete(client, job).status_code == 201
    refused = _upload(client, job, "video/front/", b"<html>not a video</html>")
    assert refused.status_code == 400 and list(refused.json()["errors"]) == ["file"]
    episode = Episode.objects.get(trial=trial, index=job["index"])
    assert episode.outcome == "success" and not EpisodeMedia.objects.exists()


def test_stages_reported_with_the_completion_set_the_trials_stages(robot: Robot, trial: Trial) -> None:
    client = _agent(robot)
    job = _claim(client)
    done = _complete(client, job, stages=STAGES, stage_reached=2, stage_times_s=[1.5, 4.0])
    assert done.status_code == 201, done.content
    episode = Episode.objects.get(pk=done.json()["episode"])
    assert (episode.stage_reached, episode.stage_times_s) == (2, [1.5, 4.0])
    assert episode.progress == pytest.approx(2 / 3)
    trial.refresh_from_db()
    assert trial.stages == STAGES
    second = _claim(client)
    assert second["stages"] == STAGES  # the next job says which stages to report
    assert _complete(client, second, stage_reached=3, stage_times_s=[1, 2, 3], progress=1.0).status_code == 201


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"stage_reached": 1, "stage_times_s": [1.0]}, "stage_reached"),  # the trial has no stages yet
        ({"stages": STAGES, "stage_reached": 4, "stage_times_s": [1, 2, 3, 4]}, "stage_reached"),
        ({"stages": STAGES, "stage_reached": 2, "stage_times_s": [1.0]}, "stage_times_s"),
        ({"stages": STAGES, "stage_reached": 2, "stage_times_s": [3.0, 1.0]}, "stage_times_s"),
        ({"stages": STAGES, "stage_reached": 1, "stage_times_s": [99.0]}, "stage_times_s"),  # after the end
        ({"stages": ["a", "a"], "stage_reached": 0}, "stages"),
        ({"stage_times_s": [1.0]}, "stage_times_s"),
        ({"stages": STAGES, "progress": 1.5}, "progress"),
    ],
)
def test_inconsistent_stage_reports_are_a_400_naming_the_field_and_nothing_is_recorded(
    robot: Robot, trial: Trial, extra: dict[str, Any], field: str
) -> None:
    client = _agent(robot)
    job = _claim(client)
    refused = _complete(client, job, **extra)
    assert refused.status_code == 400 and field in refused.json()["errors"], refused.content
    assert not Episode.objects.filter(trial=trial).exists()
    trial.refresh_from_db()
    assert trial.stages == []


def test_stages_that_differ_from_the_trials_are_refused(robot: Robot, trial: Trial) -> None:
    Trial.objects.filter(pk=trial.pk).update(stages=STAGES)
    client = _agent(robot)
    job = _claim(client)
    refused = _complete(client, job, stages=["other"], stage_reached=1, stage_times_s=[1.0])
    assert refused.status_code == 400 and "stages" in refused.json()["errors"]
