"""The robot-side agent's check of a blind job's artifact: the salted digest the job gives (no page shows
it) must match the downloaded file, and the policy is then loaded under the file's own sha256."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from core.agent.cli import Agent, PolicyArtifactError
from core.agent.robot import SimulatedRobot
from core.policy import onnx_runtime
from core.sim import cell_make
from tests.policies.onnx_models import linear_policy
from tests.trials.runner_support import FAST_CELL


class _Downloads:
    """Serves one file's bytes for any artifact path, as the job-scoped URL would."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.paths: list[str] = []

    def download(self, path: str, target: Path) -> None:
        self.paths.append(path)
        target.write_bytes(self.data)


def _blind_ref(data: bytes, spec: dict[str, Any], salt: bytes) -> dict[str, Any]:
    return {
        "id": None, "name": "arm-2", "version": "arm-2", "kind": "onnx",
        "sha256": hashlib.sha256(salt + data).hexdigest(), "digest_salt": salt.hex(), "io_spec": spec,
        "endpoint_url": "", "remote_config": {}, "artifact_path": "/api/v1/agent/jobs/7/artifact/",
    }  # fmt: skip


def _agent(client: Any, tmp_path: Path) -> Agent:
    return Agent(client, SimulatedRobot(cell_make(FAST_CELL)), cache_dir=tmp_path / "cache", record=False)


@pytest.fixture
def model() -> tuple[bytes, dict[str, Any]]:
    onnx_runtime.cache_clear()
    data, spec, _ = linear_policy(image_hw=(16, 16), instruction_dim=32, state_dim=3, action_dim=3, seed=4)
    spec["images"][0]["camera"] = "top"
    spec["action"].update(low=[-1, -1, -1], high=[1, 1, 1])
    return data, spec


def test_blind_artifact_is_checked_by_its_salted_digest_and_loaded(model: Any, tmp_path: Path) -> None:
    data, spec = model
    client = _Downloads(data)
    agent = _agent(client, tmp_path)
    ref = _blind_ref(data, spec, b"\x01" * 16)
    agent.policy_for(ref)
    assert client.paths == ["/api/v1/agent/jobs/7/artifact/"]
    assert hashlib.sha256(data).hexdigest() in onnx_runtime.cache_info()  # loaded under the file's own hash
    assert not (tmp_path / "cache" / f"{hashlib.sha256(data).hexdigest()}.onnx").exists()  # cached by the digest


def test_blind_artifact_that_does_not_match_its_digest_is_refused(model: Any, tmp_path: Path) -> None:
    data, spec = model
    agent = _agent(_Downloads(data + b"tampered"), tmp_path)
    with pytest.raises(PolicyArtifactError, match="arm-2"):
        agent.policy_for(_blind_ref(data, spec, b"\x02" * 16))
