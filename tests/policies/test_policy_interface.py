"""Every kind of policy implements core.policy.base.Policy: the local ONNX runtime, the remote client
(here against our PolicyServer over a real websocket), and the served policy driven in process. The
runner, the agent and the evaluation drive them through the protocol only, so each must give the same
actions for the same model and honour act / latency_summary / close."""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import numpy as np
import pytest

from core.policy.base import EpisodeController, Policy
from core.policy.onnx_runtime import LoadedPolicy, PolicyEpisode, policy_from_bytes
from core.policy.remote import ChunkedEpisode, RemotePolicy, remote_policy
from core.policy.serve import PolicyServer, ServedEpisode, server_make
from core.sim.base import Observation
from tests.policies.onnx_models import linear_policy
from tests.policies.test_remote import _OpenpiServer

INSTRUCTION = "place the bracket in the tray"


def _obs(step: int) -> Observation:
    rng = np.random.default_rng(step)
    return Observation(
        images={"front": rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)},
        state=rng.standard_normal(4).astype(np.float32),
        instruction=INSTRUCTION,
    )


@pytest.mark.parametrize(
    ("implementation", "protocol"),
    [
        (LoadedPolicy, Policy),
        (RemotePolicy, Policy),
        (PolicyServer, Policy),
        (PolicyEpisode, EpisodeController),
        (ChunkedEpisode, EpisodeController),
        (ServedEpisode, EpisodeController),
    ],
)
def test_implementation_has_the_protocols_methods_with_its_signatures(implementation: type, protocol: type) -> None:
    # mypy checks the same where the class names the protocol as a base; this catches a class that
    # drops the base, or a method renamed on one side only.
    members = [name for name in vars(protocol) if not name.startswith("_") and callable(getattr(protocol, name))]
    assert members
    for name in members:
        expected = inspect.signature(getattr(protocol, name))
        actual = inspect.signature(getattr(implementation, name))
        assert list(actual.parameters) == list(expected.parameters), (implementation.__name__, name)
        assert [p.kind for p in actual.parameters.values()] == [p.kind for p in expected.parameters.values()]


@pytest.fixture
def model() -> LoadedPolicy:
    data, spec, _ = linear_policy(action_dim=3, chunk=4)
    spec["action"]["execute_steps"] = 2
    return policy_from_bytes(data=data, io_spec=spec)


@pytest.fixture
def policies(model: LoadedPolicy) -> Iterator[dict[str, Policy]]:
    server = server_make(model, keys=None, name="linear", version="1")
    with _OpenpiServer(metadata=server.metadata, reply=server.infer) as websocket:
        remote = remote_policy(kind="openpi", endpoint_url=websocket.url, remote_config={"execute_steps": 2})
        yield {"onnx": model, "served": server, "remote": remote}


def _drive(policy: Policy, steps: int) -> tuple[list[np.ndarray], dict[str, float]]:
    """An episode as the runner and the agent run one, through the protocol only."""
    controller = policy.episode(instruction=INSTRUCTION)
    try:
        actions = [controller.act(_obs(step)) for step in range(steps)]
        return actions, controller.latency_summary()
    finally:
        controller.close()
        controller.close()  # a second close (a finally after an abort) must be harmless


def test_every_kind_of_policy_gives_the_local_models_actions(policies: dict[str, Policy]) -> None:
    assert all(isinstance(policy, Policy) for policy in policies.values())
    expected, _ = _drive(policies["onnx"], steps=5)
    for kind in ("served", "remote"):
        actions, summary = _drive(policies[kind], steps=5)
        for got, want in zip(actions, expected, strict=True):
            assert got.dtype == np.float32 and got.shape == (3,)
            np.testing.assert_allclose(got, want, rtol=1e-5, err_msg=kind)
        # 5 steps of 2-step chunks: inferences at steps 0, 2 and 4.
        assert summary["inferences"] == 3 and summary["policy_latency_median_ms"] >= 0, kind
