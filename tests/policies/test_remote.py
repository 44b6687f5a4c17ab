"""Remote policies: our openpi-protocol server as a real process, the openpi-client path against it,
and the OpenVLA-style REST path against a small real HTTP server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import json_numpy
import numpy as np
import pytest

from core.policy.onnx_runtime import PolicySpecError, policy_from_bytes
from core.policy.remote import (
    PolicyActionSizeError,
    PolicyReplyError,
    PolicyServerError,
    PolicyUnreachable,
    RemoteConfig,
    RemoteConfigError,
    actions_from_reply,
    observation_to_request,
    remote_policy,
    remote_policy_preflight,
)
from core.policy.serve import PolicyServer, default_keys, file_policy_load
from core.sim import cell_make
from core.sim.base import Observation
from policies.reference.evaluate import artifact_paths
from tests.no_django import python_without_django
from tests.policies.onnx_models import linear_policy
from tests.support import ROOT, free_port, wait_until

TIMEOUT_S = 2.0
MARGIN_S = 1.5  # scheduling slack on a shared 2-core machine; far below the unbounded waits it guards


def _bounded(call: Callable[[], Any], limit_s: float = TIMEOUT_S + MARGIN_S) -> tuple[BaseException | None, float]:
    """Run `call` in a thread; fail the test (instead of hanging it) if it is still running after
    limit_s + a few seconds. Returns the exception it raised (or None) and its wall time."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        started = time.monotonic()
        try:
            call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome["exc"] = exc
        outcome["wall_s"] = time.monotonic() - started

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(limit_s + 5.0)
    assert not thread.is_alive(), f"the call was still blocked after {limit_s + 5.0:.0f} s"
    return outcome.get("exc"), outcome["wall_s"]


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
def served(tmp_path: Path) -> Iterator[tuple[str, object, subprocess.Popen[bytes]]]:
    """`python -m core.policy.serve MODEL --spec SPEC` as a real process, in which Django and the
    apps cannot be imported (a GPU box serving a model file needs neither)."""
    data, spec, _ = linear_policy(action_dim=3, chunk=4)
    model = tmp_path / "served.onnx"
    model.write_bytes(data)
    (tmp_path / "served-spec.json").write_text(json.dumps(spec))
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(  # noqa: S603
        python_without_django(
            "core.policy.serve", str(model), "--spec", str(tmp_path / "served-spec.json"), "--port", str(port)
        ),
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
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
    assert episode.server_metadata["policy"] == "served"
    assert episode.server_metadata["sha256"] == local.sha256 and episode.server_metadata["action_horizon"] == 4
    obs = _obs()
    expected = local.infer(local.episode(instruction=obs.instruction).feeds(obs))[0]
    actions = [episode.act(obs) for _ in range(4)]
    np.testing.assert_allclose(actions[0], expected[0], rtol=1e-5)
    np.testing.assert_allclose(actions[1], expected[1], rtol=1e-5)  # second step of the same chunk
    summary = episode.latency_summary()
    assert summary["inferences"] == 2 and summary["policy_latency_p95_ms"] > 0 and "server_infer_median_ms" in summary
    episode.close()


def test_server_death_mid_episode_is_policy_unreachable_within_timeout(served) -> None:  # type: ignore[no-untyped-def]
    url, _, proc = served
    config = {"execute_steps": 1, "timeout_s": TIMEOUT_S}
    episode = remote_policy(kind="openpi", endpoint_url=url, remote_config=config).episode(instruction="x")
    episode.act(_obs())
    proc.kill()
    proc.wait()
    exc, wall_s = _bounded(lambda: episode.act(_obs()))
    assert isinstance(exc, PolicyUnreachable) and wall_s < TIMEOUT_S + MARGIN_S
    exc, wall_s = _bounded(
        lambda: remote_policy(kind="openpi", endpoint_url=url, remote_config=config).episode(instruction="x")
    )
    assert isinstance(exc, PolicyUnreachable) and wall_s < TIMEOUT_S + MARGIN_S


def test_stopped_server_bounds_inference_and_connect_by_timeout_s(served) -> None:  # type: ignore[no-untyped-def]
    """SIGSTOP: the kernel still accepts TCP connections and buffers data, but nothing answers."""
    url, _, proc = served
    policy = remote_policy(kind="openpi", endpoint_url=url, remote_config={"execute_steps": 1, "timeout_s": TIMEOUT_S})
    episode = policy.episode(instruction="x")
    episode.act(_obs())
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        exc, wall_s = _bounded(lambda: episode.act(_obs()))
        assert isinstance(exc, PolicyUnreachable), exc
        assert "timeout_s=2" in str(exc) and wall_s < TIMEOUT_S + MARGIN_S
        exc, wall_s = _bounded(episode.close)
        assert exc is None and wall_s < TIMEOUT_S + MARGIN_S
        # A new episode: TCP connects (the backlog), the handshake never completes.
        exc, wall_s = _bounded(lambda: policy.episode(instruction="x"))
        assert isinstance(exc, PolicyUnreachable), exc
        assert wall_s < TIMEOUT_S + MARGIN_S
        # A large observation fills the socket buffers: send() itself would block without the watchdog.
        big = remote_policy(
            kind="openpi",
            endpoint_url=url,
            remote_config={"execute_steps": 1, "timeout_s": TIMEOUT_S, "image_size": [2000, 2000]},
        )
        os.kill(proc.pid, signal.SIGCONT)
        episode = big.episode(instruction="x")
        os.kill(proc.pid, signal.SIGSTOP)
        exc, wall_s = _bounded(lambda: episode.act(_obs()))
        assert isinstance(exc, PolicyUnreachable), exc
        assert wall_s < TIMEOUT_S + MARGIN_S
    finally:
        os.kill(proc.pid, signal.SIGCONT)


def test_refused_port_is_unreachable_at_once() -> None:
    url = f"ws://127.0.0.1:{free_port()}"
    policy = remote_policy(kind="openpi", endpoint_url=url, remote_config={"timeout_s": TIMEOUT_S})
    exc, wall_s = _bounded(lambda: policy.episode(instruction="x"))
    assert isinstance(exc, PolicyUnreachable) and url in str(exc)
    assert wall_s < TIMEOUT_S + MARGIN_S


def test_openpi_path_never_uses_the_client_librarys_websocket_policy(served, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Its connect behaviour differs per release (the current one retries a refused port forever)."""
    import openpi_client.websocket_client_policy as upstream

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("WebsocketClientPolicy must not be used")

    monkeypatch.setattr(upstream, "WebsocketClientPolicy", refuse)
    url, _, _ = served
    episode = remote_policy(kind="openpi", endpoint_url=url, remote_config={"execute_steps": 1}).episode(
        instruction="x"
    )
    assert episode.act(_obs()).shape == (3,)
    episode.close()
    exc, _ = _bounded(
        lambda: remote_policy(kind="openpi", endpoint_url=f"ws://127.0.0.1:{free_port()}", remote_config={}).episode(
            instruction="x"
        )
    )
    assert isinstance(exc, PolicyUnreachable)


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
        with pytest.raises(PolicyServerError, match="500"):
            episode.act(_obs())
    finally:
        _ActHandler.fail = False
        httpd.shutdown()


def test_rest_reply_with_object_array_is_refused_not_unpickled() -> None:
    assert json.loads(json_numpy.dumps(np.zeros(2)))["__numpy__"]
    with pytest.raises(PolicyReplyError):
        actions_from_reply(np.array(["a", "b"]))


# ---------------------------------------------------------------- an openpi-protocol server written here


class _OpenpiServer:
    """A websocket server speaking openpi's protocol (metadata frame, then msgpack request/reply) whose
    reply is set per test: a batched [1, H, D] chunk, an error traceback, a declared/actual mismatch."""

    def __init__(self, *, metadata: dict[str, Any], reply: Callable[[dict], Any]) -> None:
        from openpi_client import msgpack_numpy
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.server import serve

        packer = msgpack_numpy.Packer()

        def handler(connection: Any) -> None:
            connection.send(packer.pack(metadata))
            while True:
                try:
                    request = msgpack_numpy.unpackb(connection.recv())
                except ConnectionClosed:
                    return
                answer = reply(request)
                if isinstance(answer, str):
                    connection.send(answer)
                    connection.close(code=1011, reason="policy error")
                    return
                connection.send(packer.pack(answer))

        self.server = serve(handler, "127.0.0.1", 0, compression=None, max_size=None)
        self.url = f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def __enter__(self) -> _OpenpiServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()


def test_openpi_batched_reply_of_one_is_unwrapped() -> None:
    chunk = np.arange(12, dtype=np.float32).reshape(1, 4, 3)
    with _OpenpiServer(metadata={"action_dim": 3}, reply=lambda _: {"actions": chunk}) as server:
        episode = remote_policy(kind="openpi", endpoint_url=server.url, remote_config={}).episode(instruction="x")
        actions = [episode.act(_obs()) for _ in range(4)]
        episode.close()
    np.testing.assert_allclose(np.stack(actions), chunk[0])


@pytest.mark.parametrize(
    ("actions", "match"),
    [
        (np.zeros((2, 4, 3), dtype=np.float32), "got shape"),
        (np.array([np.nan, 0.0, 0.0], dtype=np.float32), "NaN"),
        (np.zeros((4, 0), dtype=np.float32), "got shape"),
    ],
)
def test_openpi_unusable_reply_is_a_policy_reply_error(actions: np.ndarray, match: str) -> None:
    with _OpenpiServer(metadata={}, reply=lambda _: {"actions": actions}) as server:
        episode = remote_policy(kind="openpi", endpoint_url=server.url, remote_config={}).episode(instruction="x")
        with pytest.raises(PolicyReplyError, match=match):
            episode.act(_obs())
        episode.close()


def test_openpi_server_error_traceback_is_a_server_error_with_the_reason() -> None:
    traceback_text = "Traceback (most recent call last):\n  File \"x.py\"\nKeyError: 'observation/wrist_image'\n"
    with _OpenpiServer(metadata={}, reply=lambda _: traceback_text) as server:
        episode = remote_policy(kind="openpi", endpoint_url=server.url, remote_config={}).episode(instruction="x")
        with pytest.raises(PolicyServerError, match="observation/wrist_image") as info:
            episode.act(_obs())
        assert not isinstance(info.value, PolicyUnreachable)


def test_openpi_reply_not_matching_declared_action_dim_is_refused() -> None:
    with _OpenpiServer(metadata={"action_dim": 3}, reply=lambda _: {"actions": np.zeros((2, 4))}) as server:
        episode = remote_policy(kind="openpi", endpoint_url=server.url, remote_config={}).episode(instruction="x")
        with pytest.raises(PolicyActionSizeError, match="declared action_dim 3"):
            episode.act(_obs())


# ---------------------------------------------------------------- an OpenVLA-style server written here


class _DeployLikeHandler(BaseHTTPRequestHandler):
    """As openvla's vla-scripts/deploy.py: POST /act only; a 7-vector action; a failed inference is
    HTTP 200 with the JSON string "error"."""

    mode = "ok"
    seen: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path != "/act":
            self.send_response(404)
            self.end_headers()
            self.wfile.write(b'{"detail":"Not Found"}')
            return
        request = json_numpy.loads(body)
        _DeployLikeHandler.seen.append(request)
        if _DeployLikeHandler.mode == "slow":
            time.sleep(TIMEOUT_S + 3)
        if _DeployLikeHandler.mode in ("error", "slow"):
            reply = json.dumps("error")
        else:
            reply = json_numpy.dumps(np.array([0.1, 0.2, 0.3, 0.01, 0.02, 0.03, 1.0], dtype=np.float32))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(reply.encode())

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def deploy_like() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _DeployLikeHandler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    _DeployLikeHandler.mode = "ok"
    _DeployLikeHandler.seen = []
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        _DeployLikeHandler.mode = "ok"
        httpd.shutdown()


def test_rest_error_body_is_a_server_error_not_unreachable(deploy_like: str) -> None:
    episode = remote_policy(kind="rest", endpoint_url=f"{deploy_like}/act", remote_config={}).episode(instruction="x")
    _DeployLikeHandler.mode = "error"
    with pytest.raises(PolicyServerError, match="failed inference: 'error'") as info:
        episode.act(_obs())
    assert not isinstance(info.value, PolicyUnreachable)


def test_rest_url_without_act_says_so(deploy_like: str) -> None:
    episode = remote_policy(kind="rest", endpoint_url=deploy_like, remote_config={}).episode(instruction="x")
    with pytest.raises(RemoteConfigError, match="probably missing /act"):
        episode.act(_obs())


def test_rest_slow_server_is_unreachable_within_timeout(deploy_like: str) -> None:
    _DeployLikeHandler.mode = "slow"
    episode = remote_policy(
        kind="rest", endpoint_url=f"{deploy_like}/act", remote_config={"timeout_s": TIMEOUT_S}
    ).episode(instruction="x")
    exc, wall_s = _bounded(lambda: episode.act(_obs()))
    assert isinstance(exc, PolicyUnreachable) and "timeout_s=2" in str(exc)
    assert wall_s < TIMEOUT_S + MARGIN_S


def test_rest_sends_the_configured_observation_keys(deploy_like: str) -> None:
    obs = _obs()
    wrist = np.full((16, 16, 3), 7, dtype=np.uint8)
    obs = Observation(images={**obs.images, "wrist": wrist}, state=obs.state, instruction=obs.instruction)
    config = {
        "observation_keys": {"image": "camera:wrist", "instruction": "prompt", "proprio": "state"},
        "image_size": [16, 16],
    }
    remote_policy(kind="rest", endpoint_url=f"{deploy_like}/act", remote_config=config).episode(
        instruction=obs.instruction
    ).act(obs)
    sent = _DeployLikeHandler.seen[-1]
    np.testing.assert_array_equal(sent["image"], wrist)
    np.testing.assert_allclose(sent["proprio"], obs.state)
    assert sent["instruction"] == obs.instruction and set(sent) == {"image", "instruction", "proprio"}


def test_action_map_and_gripper_turn_openvla_7_vector_into_cell_action(deploy_like: str) -> None:
    config = {"action_map": [0, 1, 2, 6], "gripper": {"component": 3, "from": [0, 1], "to": [1, -1]}}
    action = (
        remote_policy(kind="rest", endpoint_url=f"{deploy_like}/act", remote_config=config)
        .episode(instruction="x")
        .act(_obs())
    )
    # x, y, z kept; the gripper (1.0 = open in OpenVLA) becomes -1 (our grip > 0 closes).
    np.testing.assert_allclose(action, [0.1, 0.2, 0.3, -1.0], rtol=1e-6)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"action_map": [0, -1]}, "action_map"),
        ({"action_map": []}, "action_map"),
        ({"action_map": [0, "1"]}, "action_map"),
        ({"action_map": [0, 1], "gripper": {"component": 2, "from": [0, 1], "to": [1, -1]}}, "gripper.component"),
        ({"gripper": {"component": 0, "from": [1, 1], "to": [0, 1]}}, "gripper.from"),
        ({"gripper": {"component": 0, "from": [0, 1], "to": "up"}}, "gripper.to"),
        ({"gripper": {"index": 0}}, "gripper"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"timeout_s": "10"}, "timeout_s"),
        ({"image_size": [224.5, 224]}, "image_size"),
    ],
)
def test_bad_action_mapping_is_rejected_naming_the_field(raw: dict, field: str) -> None:
    with pytest.raises(RemoteConfigError, match=field.replace(".", r"\.")):
        RemoteConfig.parse(raw)


# ---------------------------------------------------------------- pre-flight against the cell


class _Version:
    def __init__(self, kind: str, endpoint_url: str, remote_config: dict) -> None:
        self.kind, self.endpoint_url, self.remote_config = kind, endpoint_url, remote_config


@pytest.fixture(scope="module")
def kitting_cell():  # type: ignore[no-untyped-def]
    cell = cell_make("factory-kitting")
    yield cell
    cell.close()


def test_preflight_refuses_a_7_vector_for_a_4_component_cell(deploy_like: str, kitting_cell) -> None:  # type: ignore[no-untyped-def]
    version = _Version("rest", f"{deploy_like}/act", {})
    with pytest.raises(RemoteConfigError, match="7 components.*takes 4.*action_map"):
        remote_policy_preflight(version=version, cell=lambda: kitting_cell, seed=1, instruction="x")
    version.remote_config = {"action_map": [0, 1, 2, 6]}
    assert remote_policy_preflight(version=version, cell=lambda: kitting_cell, seed=1, instruction="x") == ""
    version.remote_config = {"action_map": [0, 1, 6]}
    with pytest.raises(RemoteConfigError, match="action_map has 3 entries"):
        remote_policy_preflight(version=version, cell=lambda: kitting_cell, seed=1, instruction="x")


def test_preflight_checks_openpi_declared_action_dim(kitting_cell) -> None:  # type: ignore[no-untyped-def]
    with _OpenpiServer(metadata={"action_dim": 7}, reply=lambda _: {"actions": np.zeros((2, 7))}) as server:
        version = _Version("openpi", server.url, {"observation_keys": {"observation/state": "state"}})
        with pytest.raises(RemoteConfigError, match="declares action_dim 7"):
            remote_policy_preflight(version=version, cell=lambda: kitting_cell, seed=1, instruction="x")


def test_preflight_of_an_unreachable_server_is_a_note_not_a_failure(kitting_cell) -> None:  # type: ignore[no-untyped-def]
    version = _Version("rest", f"http://127.0.0.1:{free_port()}/act", {"timeout_s": TIMEOUT_S})
    note = remote_policy_preflight(version=version, cell=lambda: kitting_cell, seed=1, instruction="x")
    assert "skipped" in note and "unreachable" in note
    made: list[object] = []
    assert (
        remote_policy_preflight(version=_Version("onnx", "", {}), cell=lambda: made.append(1), seed=1, instruction="x")
        == ""
        and not made
    )


def test_serve_loads_a_model_file_with_its_card_and_refuses_a_card_of_another_file(tmp_path: Path) -> None:
    model, card = artifact_paths("tabletop-reach-2d")
    loaded = file_policy_load(model=model, spec=None)  # the card beside the model
    assert loaded.sha256 == json.loads(card.read_text())["sha256"]
    data, spec, _ = linear_policy()
    (tmp_path / "m.onnx").write_bytes(data)
    (tmp_path / "card.json").write_text(json.dumps({"sha256": "0" * 64, "io_spec": spec}))
    with pytest.raises(PolicySpecError, match="sha256"):
        file_policy_load(model=tmp_path / "m.onnx", spec=tmp_path / "card.json")
