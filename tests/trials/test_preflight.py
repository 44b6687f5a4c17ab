"""The preflight at trial start (trials.preflight): a policy that cannot run in the cell, a server too
slow to answer, or a cell whose success check is true at reset ends the trial FAILED with the reason,
no chunk and no episode; a policy that fits passes and its checks are stored on the trial."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import json_numpy
import numpy as np
import pytest

from core.policy import onnx_runtime
from core.sim import Observation, cell_keys, cell_register
from core.sim.cells.tabletop_reach_2d import STAGES as REACH_STAGES
from core.sim.cells.tabletop_reach_2d import TabletopReach2D
from policies.models import PolicyVersion
from policies.services import policy_version_register
from tests.factories import PolicyFactory, PolicyVersionFactory
from tests.policies.onnx_models import linear_policy
from tests.trials.runner_support import FAST_CELL, reach_policy_version, reach_trial
from trials import queue, runner
from trials.models import Episode, Trial, TrialChunk, TrialStatus
from trials.preflight import SUCCESS_AT_RESET_SEEDS

pytestmark = pytest.mark.django_db

SUCCESS_AT_RESET_CELL = "test-success-at-reset"


class _SucceedsAtReset(TabletopReach2D):
    """The reach cell with a broken detector: success before the policy moved."""

    def reset(self, seed: int, instruction: str | None = None) -> Observation:
        obs = super().reset(seed, instruction)
        self._log.succeed()
        return obs


class _BrokenSimulator(TabletopReach2D):
    def reset(self, seed: int, instruction: str | None = None) -> Observation:
        raise RuntimeError("mujoco: model unstable at reset")


BROKEN_CELL = "test-reset-raises"
for _key, _cell in ((SUCCESS_AT_RESET_CELL, _SucceedsAtReset), (BROKEN_CELL, _BrokenSimulator)):
    if _key not in cell_keys():
        cell_register(_key)(_cell)


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    settings.MEDIA_ROOT = tmp_path / "media"
    onnx_runtime.cache_clear()
    enqueued: list[list[int]] = []
    monkeypatch.setattr(queue, "chunks_enqueue", lambda *, chunk_ids: enqueued.append(list(chunk_ids)))
    return enqueued


def _start(trial: Trial, capture: Any) -> Trial:
    with capture(execute=True):
        runner.trial_start(trial_id=trial.pk)
    trial.refresh_from_db()
    return trial


def _assert_refused(trial: Trial, check: str, *words: str) -> None:
    assert trial.status == TrialStatus.FAILED
    assert trial.status_message.startswith(f"preflight failed: {check}: ")
    for word in words:
        assert word in trial.status_message
    assert trial.preflight["passed"] is False
    failed = [c for c in trial.preflight["checks"] if not c["passed"]]
    assert [c["name"] for c in failed] == [check]
    assert not TrialChunk.objects.filter(trial=trial).exists() and not Episode.objects.filter(trial=trial).exists()


def _reach_version(**shape: Any) -> PolicyVersion:
    data, spec, _ = linear_policy(instruction_dim=32, **{"image_hw": (16, 16), "state_dim": 3, "action_dim": 3} | shape)
    spec["images"][0]["camera"] = "top"
    return policy_version_register(policy=PolicyFactory(), version="mismatched", file=data, io_spec=spec)


def test_a_policy_that_fits_passes_and_its_checks_and_the_stages_are_stored(
    django_capture_on_commit_callbacks, _isolated
) -> None:
    trial = _start(reach_trial(episodes=4, version=reach_policy_version()), django_capture_on_commit_callbacks)
    assert trial.status == TrialStatus.QUEUED and len(_isolated) == 1
    assert trial.preflight["passed"] is True
    assert [c["name"] for c in trial.preflight["checks"]] == [
        "cell", "policy", "inputs_outputs", "answer_time", "success_at_reset",
    ]  # fmt: skip
    assert all(c["passed"] for c in trial.preflight["checks"])
    assert trial.stages == list(REACH_STAGES)


def test_an_onnx_policy_with_the_wrong_action_dimension_is_refused(django_capture_on_commit_callbacks) -> None:
    trial = _start(reach_trial(episodes=4, version=_reach_version(action_dim=2)), django_capture_on_commit_callbacks)
    _assert_refused(trial, "inputs_outputs", "actions of 2", "takes 3")


def test_an_onnx_policy_wanting_larger_images_than_the_camera_is_refused(django_capture_on_commit_callbacks) -> None:
    trial = _start(
        reach_trial(episodes=4, version=_reach_version(image_hw=(128, 128))), django_capture_on_commit_callbacks
    )
    _assert_refused(trial, "inputs_outputs", "128x128", "64x64")


def test_an_onnx_policy_with_the_wrong_state_dimension_is_refused(django_capture_on_commit_callbacks) -> None:
    trial = _start(reach_trial(episodes=4, version=_reach_version(state_dim=5)), django_capture_on_commit_callbacks)
    _assert_refused(trial, "inputs_outputs", "state of 5", "gives 3")


def test_a_version_without_its_artifact_is_refused(django_capture_on_commit_callbacks) -> None:
    trial = _start(reach_trial(episodes=2, version=PolicyVersionFactory()), django_capture_on_commit_callbacks)
    _assert_refused(trial, "policy", "no artifact")


def test_a_cell_whose_success_is_true_at_reset_is_refused(django_capture_on_commit_callbacks) -> None:
    trial = reach_trial(episodes=10, seed=40)
    robot = trial.robot
    robot.sim_cell_key = SUCCESS_AT_RESET_CELL
    robot.save(update_fields=["sim_cell_key"])
    trial = _start(trial, django_capture_on_commit_callbacks)
    _assert_refused(trial, "success_at_reset", "success right after reset", "seed 40")
    assert SUCCESS_AT_RESET_SEEDS >= 1


def test_a_simulator_failing_at_reset_fails_the_trial_instead_of_leaving_it_queued(
    django_capture_on_commit_callbacks,
) -> None:
    trial = reach_trial(episodes=3)
    robot = trial.robot
    robot.sim_cell_key = BROKEN_CELL
    robot.save(update_fields=["sim_cell_key"])
    _assert_refused(_start(trial, django_capture_on_commit_callbacks), "answer_time", "RuntimeError", "unstable")


class _SlowReach(BaseHTTPRequestHandler):
    """An OpenVLA-style server answering the reach cell's 3-vector, after DELAY_S."""

    DELAY_S = 0.0

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(self.DELAY_S)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json_numpy.dumps(np.array([0.1, -0.1, 0.0], dtype=np.float32)).encode())

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def slow_url() -> Iterator[str]:
    handler = type("Slow", (_SlowReach,), {"DELAY_S": 0.8})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/act"
    finally:
        httpd.shutdown()


def _remote_version(url: str) -> PolicyVersion:
    return PolicyVersionFactory(kind=PolicyVersion.Kind.REST, endpoint_url=url, remote_config={"timeout_s": 5})


def test_a_remote_server_slower_than_the_episode_timeout_is_refused(
    slow_url: str, django_capture_on_commit_callbacks
) -> None:
    trial = reach_trial(episodes=2, version=_remote_version(slow_url), episode_timeout_s=0.5)
    _assert_refused(_start(trial, django_capture_on_commit_callbacks), "answer_time", "longer than the episode timeout")


def test_the_same_server_within_the_episode_timeout_passes(slow_url: str, django_capture_on_commit_callbacks) -> None:
    trial = reach_trial(episodes=2, version=_remote_version(slow_url), episode_timeout_s=5.0)
    trial = _start(trial, django_capture_on_commit_callbacks)
    assert trial.preflight["passed"] is True and TrialChunk.objects.filter(trial=trial).exists()
    assert trial.robot.sim_cell_key == FAST_CELL
