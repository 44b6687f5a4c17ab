"""Connected robots end to end: a real agent process over real HTTP, killed mid-episode and restarted
(in a process where Django and the apps cannot be imported, as on a robot PC); and trials whose policy
is served by a real `manage.py policy_serve` process, including one that dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.policy import onnx_runtime
from policies.models import PolicyVersion
from robots.models import AgentJob, AgentJobStatus, RobotKind, RobotStatus
from robots.services import robot_agent_token_issue
from tests.factories import RobotFactory, TaskFactory, TrialFactory
from tests.no_django import python_without_django
from tests.support import ROOT, free_port, subprocess_env, wait_until
from tests.trials.runner_support import FAST_CELL, reach_policy_version
from trials import queue, runner
from trials.models import Episode, EpisodeEvent, Trial, TrialChunk, TrialStatus

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"
    onnx_runtime.cache_clear()


class Proc:
    def __init__(self, args: list[str], log: Path, env: dict[str, str]) -> None:
        self.log_path = log
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._log.close()


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    yield started
    for proc in started:
        proc.kill()


def test_agent_runs_trial_over_http_and_survives_being_killed_mid_episode(
    live_server, settings, tmp_path, procs
) -> None:  # type: ignore[no-untyped-def]
    settings.AGENT_LEASE_S = 3.0  # the web server runs in this process: a dead agent's lease lapses in 3 s
    robot = RobotFactory(kind=RobotKind.PHYSICAL, sim_cell_key="", name="rig-1")
    trial = TrialFactory(
        task=TaskFactory(organization=robot.organization, instruction="put the part in the tray"),
        robot=robot,
        policy_version=reach_policy_version(),
        episodes_planned=10,
        episode_timeout_s=2.0,
        seed=7,
    )
    runner.trial_start(trial_id=trial.pk)
    assert AgentJob.objects.filter(trial=trial, status=AgentJobStatus.PENDING).count() == 10
    token = robot_agent_token_issue(robot=robot)
    args = python_without_django(
        "core.agent",
        "--server",
        live_server.url,
        "--token",
        token,
        "--cell",
        FAST_CELL,
        "--realtime",
        "0.5",
        "--poll-wait",
        "1",
        "--cache-dir",
        str(tmp_path / "agent-cache"),
    )
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL"}}
    first = Proc(args, tmp_path / "agent-1.log", env)
    procs.append(first)

    def some_done_and_one_running() -> bool:
        return (
            Episode.objects.filter(trial=trial).count() >= 3
            and AgentJob.objects.filter(trial=trial, status=AgentJobStatus.LEASED).exists()
        )

    try:
        wait_until(some_done_and_one_running, timeout=90, what="agent progress")
    except TimeoutError:
        pytest.fail(f"agent made no progress; its log:\n{first.log()[-3000:]}")
    first.kill()  # SIGKILL in the middle of an episode: no complete, no abort, the lease just lapses
    (orphan,) = AgentJob.objects.filter(trial=trial, status=AgentJobStatus.LEASED)
    done_before = Episode.objects.filter(trial=trial).count()
    assert done_before < 10

    second = Proc([*args, "--exit-when-idle"], tmp_path / "agent-2.log", env)
    procs.append(second)

    def finished() -> bool:
        trial.refresh_from_db()
        return trial.status == TrialStatus.COMPLETED

    try:
        wait_until(finished, timeout=120, what="the trial to complete")
    except TimeoutError:
        pytest.fail(f"trial did not complete; restarted agent's log:\n{second.log()[-3000:]}")
    episodes = list(Episode.objects.filter(trial=trial).order_by("index"))
    assert [e.index for e in episodes] == list(range(10))
    assert {e.source for e in episodes} == {"robot_agent"}
    orphan.refresh_from_db()
    assert orphan.status == AgentJobStatus.DONE and orphan.attempts == 2
    assert all(e.metrics["inferences"] > 0 for e in episodes)
    assert EpisodeEvent.objects.filter(episode__trial=trial).exists()
    robot.refresh_from_db()
    assert robot.last_heartbeat_at is not None and robot.status in (RobotStatus.IDLE, RobotStatus.BUSY)
    second.proc.wait(timeout=60)
    assert second.proc.returncode == 0, second.log()[-3000:]


def test_revoked_agent_token_stops_the_agent(live_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    robot = RobotFactory(kind=RobotKind.PHYSICAL, sim_cell_key="")
    robot_agent_token_issue(robot=robot)
    result = subprocess.run(  # noqa: S603
        python_without_django(
            "core.agent", "--server", live_server.url, "--token", "rb_wrong", "--cell", FAST_CELL, "--exit-when-idle"
        ),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2 and "refused the token" in result.stderr


def _serve(version: PolicyVersion, tmp_path: Path, settings, procs: list[Proc]) -> str:  # type: ignore[no-untyped-def]
    port = free_port()
    proc = Proc(
        [sys.executable, "manage.py", "policy_serve", str(version.pk), "--port", str(port)],
        tmp_path / f"serve-{port}.log",
        subprocess_env(MEDIA_ROOT=str(settings.MEDIA_ROOT)),
    )
    procs.append(proc)
    wait_until(lambda: "ready" in proc.log() or proc.proc.poll() is not None, timeout=60, what="policy server")
    assert proc.proc.poll() is None, proc.log()
    return f"ws://127.0.0.1:{port}"


def _run_sim_trial(version: PolicyVersion, episodes: int, monkeypatch) -> Trial:  # type: ignore[no-untyped-def]
    task = TaskFactory(instruction="put the part in the tray")
    trial = TrialFactory(
        task=task,
        robot=RobotFactory(organization=task.organization, sim_cell_key=FAST_CELL),
        policy_version=version,
        episodes_planned=episodes,
        episode_timeout_s=2.0,
    )
    monkeypatch.setattr(queue, "chunks_enqueue", lambda *, chunk_ids: None)  # chunks are run here, synchronously
    runner.trial_start(trial_id=trial.pk)
    for chunk in TrialChunk.objects.filter(trial=trial):
        runner.chunk_run(chunk_id=chunk.pk)
    trial.refresh_from_db()
    return trial


def test_trial_with_remote_openpi_policy_completes_and_dead_server_loses_episodes_cleanly(
    settings,
    tmp_path,
    procs,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    onnx_version = reach_policy_version()
    url = _serve(onnx_version, tmp_path, settings, procs)
    remote = PolicyVersion.objects.create(
        policy=onnx_version.policy,
        version="served",
        kind=PolicyVersion.Kind.OPENPI,
        endpoint_url=url,
        remote_config={
            "observation_keys": {"observation/image": "camera:top", "observation/state": "state", "prompt": "prompt"}
        },
    )
    served = _run_sim_trial(remote, 4, monkeypatch)
    assert served.status == TrialStatus.COMPLETED
    episodes = list(Episode.objects.filter(trial=served))
    assert len(episodes) == 4 and all(
        e.metrics["inferences"] > 0 and "server_infer_median_ms" in e.metrics for e in episodes
    )
    assert not EpisodeEvent.objects.filter(episode__trial=served, category="policy_unreachable").exists()

    procs[-1].kill()  # the GPU box goes away: its episodes are lost, re-run, then given up, never failures
    settings.TRIAL_LOST_EPISODE_RETRIES = 1
    settings.TRIAL_LOST_RETRY_DELAY_S = 0.0
    orphaned = _run_sim_trial(remote, 3, monkeypatch)
    assert orphaned.status == TrialStatus.COMPLETED
    assert "3 lost to infrastructure" in orphaned.status_message
    outcomes = list(Episode.objects.filter(trial=orphaned).values_list("outcome", flat=True))
    assert outcomes == ["lost"] * 6
    assert EpisodeEvent.objects.filter(episode__trial=orphaned, category="policy_unreachable").count() == 6
