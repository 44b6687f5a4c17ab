"""Remote policies: our openpi-protocol server as a real process, the openpi-client path against it,
and the OpenVLA-style REST path against a small real HTTP server."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import json_numpy
import numpy as np
import pytest

from policies.remote import PolicyUnreachable, RemoteConfig, RemoteConfigError, observation_to_request, remote_policy
from policies.runtime import policy_from_bytes
from policies.serve import PolicyServer, default_keys
from policies.services import policy_version_register
from robots.sim.base import Observation
from tests.factories import PolicyFactory
from tests.policies.onnx_models import linear_policy
from tests.support import ROOT, free_port, subprocess_env, wait_until


def _obs(seed: int = 0, instruction: str = "place the bracket in the tray") -> Observation:
    rng = np.random.default_rng(seed)
    return Observation(
        images={"front": rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)},
        state=rng.standard_normal(4).astype(np.float32),
        instruction=instruction,
    )


def test_request_mapping_follows_configured_keys() -> None:
    config = RemoteConfig.parse(
        {
            "observation_keys": {"images/cam_high": "camera:front:chw", "state": "state[0:2]", "prompt": "prompt"},
            "image_size": [8, 8],
        }
    )
    request = observation_to_request(_obs(), config)
    assert request["images/cam_high"].shape == (3, 8, 8) and request["images/cam_high"].dtype == np.uint8
    assert request["state"].shape == (2,) and request["prompt"] == "place the bracket in the tray"


@pytest.mark.parametrize(
    "raw",
    [{"observation_keys": {"x": "lidar"}}, {"image_size": [0, 3]}, {"execute_steps": 0}, {"observation_keys": []}],
)
def test_bad_remote_config_is_rejected(raw: dict) -> None:
    with pytest.raises(RemoteConfigError):
        RemoteConfig.parse(raw)


def test_policy_server_reply_is_the_local_models_chunk() -> None:
    data, spec, _ = linear_policy(action_dim=3, chunk=4)
    policy = policy_from_bytes(data=data, io_spec=spec)
    server = PolicyServer(policy, keys=default_keys(policy), metadata={})
    obs = _obs()
    reply = server.infer(observation_to_request(obs, RemoteConfig.parse({"observation_keys": default_keys(policy)})))
    expected = policy.infer(policy.episode(instruction=obs.instruction).feeds(obs))[0]
    np.testing.assert_allclose(reply["actions"], expected, rtol=1e-6)
    assert reply["actions"].shape == (4, 3) and reply["policy_timing"]["infer_ms"] >= 0


@pytest.fixture
def served(transactional_db, settings, tmp_path: Path) -> Iterator[tuple[str, object, subprocess.Popen]]:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"
    data, spec, _ = linear_policy(action_dim=3, chunk=4)
    version = policy_version_register(policy=PolicyFactory(), version="served", file=data, io_spec=spec)
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "policies.serve", str(version.pk), "--port", str(port)],
        cwd=ROOT,
        env=subprocess_env(MEDIA_ROOT=str(settings.MEDIA_ROOT)),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(
            lambda: b"ready" in (tmp_path / "serve.log").read_bytes() or proc.poll() is not None,
            timeout=60,
            what="policy server",
        )
        assert proc.poll() is None, (tmp_path / "serve.log").read_text()
        yield f"ws://127.0.0.1:{port}", policy_from_bytes(data=data, io_spec=spec), proc
    finally:
        proc.kill()
        proc.wait()


def test_openpi_client_against_our_server_process_matches_local_policy(served) -> None:  # type: ignore[no-untyped-def]
    url, local, _ = served
    with urllib.request.urlopen(url.replace("ws://", "http://") + "/healthz", timeout=5) as health:  # noqa: S310
        assert health.status == 200
    policy = remote_policy(kind="openpi", endpoint_url=url, remote_config={"execute_steps": 2})
    episode = policy.episode(instruction="place the bracket in the tray")
    assert episode.server_metadata["version"] == "served"
    obs = _obs()
    expected = local.infer(local.episode(instruction=obs.instruction).feeds(obs))[0]
    actions = [episode.act(obs) for _ in range(4)]
    np.testing.assert_allclose(actions[0], expected[0], rtol=1e-5)
    np.testing.assert_allclose(actions[1], expected[1], rtol=1e-5)  # second step of the same chunk
    summary = episode.latency_summary()
    assert summary["inferences"] == 2 and summary["policy_latency_p95_ms"] > 0 and "server_infer_median_ms" in summary
    episode.close()


def test_server_death_mid_episode_is_policy_unreachable(served) -> None:  # type: ignore[no-untyped-def]
    url, _, proc = served
    episode = remote_policy(kind="openpi", endpoint_url=url, remote_config={"execute_steps": 1}).episode(
        instruction="x"
    )
    episode.act(_obs())
    proc.kill()
    proc.wait()
    with pytest.raises(PolicyUnreachable):
        episode.act(_obs())
    with pytest.raises(PolicyUnreachable):
        remote_policy(kind="openpi", endpoint_url=url, remote_config={}).episode(instruction="x")


def test_malformed_request_gets_traceback_and_close_1011(served) -> None:  # type: ignore[no-untyped-def]
    from openpi_client import msgpack_numpy
    from websockets.sync.client import connect

    url, _, _ = served
    with connect(url) as ws:
        msgpack_numpy.unpackb(ws.recv())
        ws.send(msgpack_numpy.packb({"prompt": "no image"}))
        assert "missing" in ws.recv()
        with pytest.raises(Exception):  # noqa: B017 - the server closed the connection
            ws.recv()
        assert ws.close_code == 1011


class _ActHandler(BaseHTTPRequestHandler):
    fail = False
    seen: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802
        body = json_numpy.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _ActHandler.seen.append(body)
        if _ActHandler.fail:
            self.send_response(500)
            self.end_headers()
            return
        reply = json_numpy.dumps(np.arange(7, dtype=np.float32) * float(body["image"].mean() > 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(reply.encode())

    def log_message(self, *args: object) -> None:
        return


def test_rest_act_server_gets_image_instruction_unnorm_key() -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _ActHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/act"
        episode = remote_policy(kind="rest", endpoint_url=url, remote_config={"unnorm_key": "bridge_orig"}).episode(
            instruction="pick"
        )
        action = episode.act(_obs())
        np.testing.assert_allclose(action, np.arange(7, dtype=np.float32))
        sent = _ActHandler.seen[-1]
        assert (
            sent["image"].shape == (224, 224, 3)
            and sent["instruction"] == "pick"
            and sent["unnorm_key"] == "bridge_orig"
        )
        _ActHandler.fail = True
        with pytest.raises(PolicyUnreachable):
            episode.act(_obs())
    finally:
        _ActHandler.fail = False
        httpd.shutdown()


def test_rest_reply_with_object_array_is_refused_not_unpickled() -> None:
    assert json.loads(json_numpy.dumps(np.zeros(2)))["__numpy__"]
    with pytest.raises(ValueError):
        from policies.remote import actions_from_reply

        actions_from_reply(np.array(["a", "b"]))
