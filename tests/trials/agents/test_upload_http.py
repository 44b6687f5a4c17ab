"""The simulated robot agent records its episodes and uploads them over real HTTP: a real agent process
(Django not importable in it, as on a robot PC) against pytest-django's live server; then a retried upload
of the same file through the agent's own client is a no-op."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from core.agent.cli import AgentClient, Job
from core.recording.trajectory import trajectory_read
from core.recording.video import video_probe
from core.sim import cell_make
from robots.models import AgentJob, RobotKind
from robots.services import robot_agent_token_issue
from tests.factories import RobotFactory, TaskFactory, TrialFactory
from tests.no_django import python_without_django
from tests.support import ROOT
from tests.trials.runner_support import FAST_CELL, reach_policy_version
from trials import runner
from trials.models import Episode, EpisodeMedia, TrialStatus

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"


def test_agent_records_and_uploads_every_episode_over_http(live_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    robot = RobotFactory(kind=RobotKind.PHYSICAL, sim_cell_key="", name="rig-rec")
    trial = TrialFactory(
        task=TaskFactory(organization=robot.organization, instruction="reach the target"),
        robot=robot,
        policy_version=reach_policy_version(),
        episodes_planned=2,
        episode_timeout_s=1.5,
        seed=11,
    )
    runner.trial_start(trial_id=trial.pk)
    token = robot_agent_token_issue(robot=robot)
    cache = tmp_path / "agent-cache"
    args = python_without_django(
        "core.agent",
        *("--server", live_server.url, "--token", token, "--cell", FAST_CELL),
        *("--poll-wait", "1", "--exit-when-idle", "--cache-dir", str(cache), "--overview-px", "48"),
    )
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL"}}
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False)  # noqa: S603
    assert done.returncode == 0, done.stderr[-3000:]
    trial.refresh_from_db()
    assert trial.status == TrialStatus.COMPLETED
    cell_stages = list(cell_make(FAST_CELL).stages())
    assert trial.stages == cell_stages  # set by the first completion that reported stages
    for episode in Episode.objects.filter(trial=trial).order_by("index"):
        media = {(m.kind, m.name): m for m in EpisodeMedia.objects.filter(episode=episode)}
        assert set(media) == {
            ("video", "top"),
            ("video", "overview"),
            ("trajectory", ""),
            ("poster", ""),
            ("manifest", ""),
        }, episode.index
        steps = episode.metrics["steps"]
        policy_video = media[("video", "top")]
        with policy_video.file.open("rb") as handle:
            decoded = video_probe(handle.read())
        assert decoded.frames == steps == policy_video.frames  # every frame the policy saw
        local = tmp_path / f"traj-{episode.index}.parquet"
        with media[("trajectory", "")].file.open("rb") as handle:
            local.write_bytes(handle.read())
        assert trajectory_read(local).rows == steps
        assert episode.stage_reached is not None and len(episode.stage_times_s) == episode.stage_reached
        assert episode.progress == pytest.approx(episode.stage_reached / len(cell_stages))
    assert not any((cache / "recordings").iterdir())  # uploaded files are not kept on the robot PC

    # A retried upload (the reply was lost) of the same bytes: 200, no second row.
    job_row = AgentJob.objects.get(trial=trial, index=0)
    client = AgentClient(live_server.url, token, retries=0)
    job = Job(
        id=job_row.pk, trial=trial.pk, index=0, instruction="", seed=0, episode_timeout_s=1.0, policy_version={},
        lease_token=job_row.lease_token,
    )  # fmt: skip
    stored = EpisodeMedia.objects.get(episode=job_row.episode, kind="video", name="top")
    copy = tmp_path / "top.mp4"
    with stored.file.open("rb") as handle:
        copy.write_bytes(handle.read())
    reply = client.upload(job, "video/top", copy, "video/mp4")
    assert reply["created"] is False and reply["id"] == stored.pk
    assert EpisodeMedia.objects.filter(episode=job_row.episode).count() == 5
