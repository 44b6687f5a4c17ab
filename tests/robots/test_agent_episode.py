"""The robot-side agent's classification of an episode: infrastructure failures are reported `lost`
(with the cause), unusable replies are the policy's failure, whatever the robot interface is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.agent.cli import Agent, Job
from core.agent.robot import SimulatedRobot
from core.policy.remote import PolicyReplyError, PolicyServerError, PolicyUnreachable
from core.sim import cell_make


class _Policy:
    def __init__(self, error: Exception | None) -> None:
        self.error = error

    def episode(self, *, instruction: str) -> Any:
        error = self.error

        class Controller:
            def act(self, obs: Any) -> Any:
                if error is not None:
                    raise error
                return np.zeros(2, dtype=np.float32)

            def latency_summary(self) -> dict[str, float]:
                return {}

            def close(self) -> None:
                pass

        return Controller()


class _Client:
    def push_events(self, job: Job, events: list[dict[str, Any]]) -> None:
        pass


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception | None, robot: Any = None) -> dict[str, Any]:
    robot = robot or SimulatedRobot(cell_make("tabletop-reach-2d"))
    agent = Agent(_Client(), robot, cache_dir=tmp_path)  # type: ignore[arg-type]
    monkeypatch.setattr(agent, "policy_for", lambda version: _Policy(error))
    job = Job(id=1, trial=1, index=0, instruction="reach", seed=3, episode_timeout_s=2.0, policy_version={})
    return agent.run_episode(job)


@pytest.mark.parametrize(
    ("error", "category"),
    [
        (PolicyUnreachable("connection refused"), "policy_unreachable"),
        (PolicyServerError("HTTP 500"), "policy_server_error"),
    ],
)
def test_policy_server_down_or_erroring_is_reported_lost(tmp_path, monkeypatch, error, category) -> None:
    body = _run(tmp_path, monkeypatch, error)
    assert body["outcome"] == "lost"
    assert [e["category"] for e in body["events"]] == [category]
    assert str(error) in body["events"][0]["message"]


def test_unusable_reply_is_a_policy_error_failure(tmp_path, monkeypatch) -> None:
    body = _run(tmp_path, monkeypatch, PolicyReplyError("7 values for a 2-dof cell"))
    assert body["outcome"] == "failure"
    assert "policy_error" in [e["category"] for e in body["events"]]


def test_robot_interface_crash_is_an_agent_crash_lost_episode(tmp_path, monkeypatch) -> None:
    robot = SimulatedRobot(cell_make("tabletop-reach-2d"))

    def broken_observe() -> Any:
        raise OSError("camera driver gone")

    monkeypatch.setattr(robot, "observe", broken_observe)
    body = _run(tmp_path, monkeypatch, None, robot=robot)
    assert body["outcome"] == "lost" and body["events"][-1]["category"] == "agent_crash"
