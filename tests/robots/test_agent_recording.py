"""The simulated agent's recording of an episode: the files it uploads, its stage report, and a recorder
that fails, which costs the recording, never the episode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.agent.cli import Agent, Job, recording_files
from core.agent.robot import SimulatedRobot
from core.recording.recorder import EpisodeRecorder, OverviewSettings
from core.sim import cell_make


class _Expert:
    """The cell's own expert as a policy: episodes that reach their stages."""

    def __init__(self, robot: SimulatedRobot) -> None:
        self.robot = robot

    def episode(self, *, instruction: str) -> Any:
        robot = self.robot

        class Controller:
            def act(self, obs: Any) -> Any:
                return np.asarray(robot.cell.expert_action(), dtype=np.float32)  # type: ignore[attr-defined]

            def latency_summary(self) -> dict[str, float]:
                return {}

            def close(self) -> None:
                pass

        return Controller()


class _Client:
    def push_events(self, job: Job, events: list[dict[str, Any]]) -> None:
        pass


def _agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Agent, Job]:
    robot = SimulatedRobot(cell_make("tabletop-reach-2d"))
    agent = Agent(_Client(), robot, cache_dir=tmp_path, overview=OverviewSettings(px=32, fps=5.0))  # type: ignore[arg-type]
    monkeypatch.setattr(agent, "policy_for", lambda version: _Expert(robot))
    job = Job(id=4, trial=1, index=0, instruction="reach", seed=3, episode_timeout_s=3.0, policy_version={})
    return agent, job


def test_a_recorded_episode_lists_every_file_to_upload_and_reports_its_stages(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    agent, job = _agent(tmp_path, monkeypatch)
    run = agent.run_job_episode(job)
    assert run.recording is not None and run.body["outcome"] == "success"
    files = recording_files(run.recording)
    assert [(kind, ctype) for kind, _, ctype in files] == [
        ("video/top", "video/mp4"),
        ("video/overview", "video/mp4"),
        ("trajectory", "application/vnd.apache.parquet"),
        ("poster", "image/jpeg"),
        ("manifest", "application/json"),
    ]
    assert all(path.is_file() for _, path, _ in files)
    stages = list(agent.robot.stage_result().stages)  # type: ignore[attr-defined]
    assert run.body["stages"] == stages and run.body["stage_reached"] == len(stages)  # the expert gets there
    assert len(run.body["stage_times_s"]) == len(stages) and run.body["progress"] == 1.0
    assert max(run.body["stage_times_s"]) <= run.body["cycle_time_s"]


def test_stage_names_are_left_out_once_the_trial_has_them(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    agent, job = _agent(tmp_path, monkeypatch)
    stages = tuple(cell_make("tabletop-reach-2d").stages())
    job.stages = stages
    body = agent.run_episode(job)
    assert "stages" not in body and body["stage_reached"] == len(stages)
    job.stages = ("something", "else")
    assert "stage_reached" not in agent.run_episode(job)  # not this robot's stages: not reported


def test_a_failing_recorder_costs_the_recording_not_the_episode(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    agent, job = _agent(tmp_path, monkeypatch)

    def broken_step(self: EpisodeRecorder, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(EpisodeRecorder, "step", broken_step)
    run = agent.run_job_episode(job)
    assert run.recording is None
    assert run.body["outcome"] == "success" and run.body["metrics"]["steps"] > 0
    assert not any((tmp_path / "recordings").iterdir())  # the partial files are dropped


def test_no_record_runs_without_a_recorder(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    agent, job = _agent(tmp_path, monkeypatch)
    agent.record = False
    run = agent.run_job_episode(job)
    assert run.recording is None and run.body["outcome"] == "success"
    assert not (tmp_path / "recordings").exists()


def test_the_trials_overview_setting_wins_over_the_agents(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    agent, job = _agent(tmp_path, monkeypatch)
    job.overview_px, job.overview_fps = 48, 0.0  # the trial asks for no overview camera
    run = agent.run_job_episode(job)
    assert run.recording is not None and "overview.mp4" not in run.recording.videos
    job.overview_px, job.overview_fps = 48, 10.0
    run = agent.run_job_episode(job)
    assert run.recording is not None and run.recording.videos["overview.mp4"].width == 48
    job.overview_px = 5  # outside the recorder's range: the agent's own setting (32 px)
    run = agent.run_job_episode(job)
    assert run.recording is not None and run.recording.videos["overview.mp4"].width == 32
