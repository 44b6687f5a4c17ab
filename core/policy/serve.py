"""Serve an ONNX policy version over the openpi WebSocket protocol, so one (GPU) box hosts policies for
many robots and the remote path is tested against a real server process.

    python -m core.policy.serve VERSION_ID --port 8000 [--host 127.0.0.1] [--keys '{"observation/image": "camera:front", ...}']

Protocol (as openpi's websocket_policy_server): on connect the server sends a msgpack metadata dict;
each request is a msgpack observation dict; each reply has `actions` [horizon, dim], `policy_timing`
and `server_timing`. On an error the server sends the traceback as a text frame and closes with 1011.
`GET /healthz` answers 200. Frames are unpacked with openpi-client's msgpack_numpy, which never
unpickles (object arrays are refused).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
import traceback
from collections import OrderedDict
from http import HTTPStatus
from typing import Any

import numpy as np
import numpy.typing as npt

from core.policy.onnx_runtime import LoadedPolicy, PolicyEpisode
from core.policy.remote import RemoteConfig, RemoteConfigError
from core.sim.base import Observation

log = logging.getLogger("core.policy.serve")
_PROMPT_CACHE_SIZE = 64


def default_keys(policy: LoadedPolicy) -> dict[str, str]:
    """openpi's LIBERO-style keys for this policy's cameras and state."""
    keys: dict[str, str] = {}
    names = ["observation/image", "observation/wrist_image"]
    for i, image in enumerate(policy.spec.images):
        keys[names[i] if i < len(names) else f"observation/image_{i}"] = f"camera:{image.camera}"
    if policy.spec.state:
        keys["observation/state"] = "state"
    keys["prompt"] = "prompt"
    return keys


class PolicyServer:
    """Turns request dicts into action chunks with a loaded policy; transport-free, so testable."""

    def __init__(self, policy: LoadedPolicy, *, keys: dict[str, str], metadata: dict[str, Any]) -> None:
        self.policy = policy
        self.config = RemoteConfig.parse({"observation_keys": keys})
        self.metadata = metadata
        self._episodes: OrderedDict[str, PolicyEpisode] = OrderedDict()

    def _episode_for(self, prompt: str) -> PolicyEpisode:
        # The instruction is encoded once per distinct prompt, not per request.
        episode = self._episodes.pop(prompt, None) or self.policy.episode(instruction=prompt)
        self._episodes[prompt] = episode
        while len(self._episodes) > _PROMPT_CACHE_SIZE:
            self._episodes.popitem(last=False)
        return episode

    def observation(self, request: dict[str, Any]) -> Observation:
        """Our Observation from a request dict; raises ValueError naming a missing or malformed key."""
        images: dict[str, npt.NDArray[np.uint8]] = {}
        state = np.zeros(0, dtype=np.float32)
        prompt = ""
        for key, source in self.config.observation_keys.items():
            if key not in request:
                raise ValueError(f"observation is missing {key!r}")
            value = request[key]
            if source == "prompt":
                prompt = str(value)
            elif source.startswith("state"):
                state = np.asarray(value, dtype=np.float32).reshape(-1)
            else:
                parts = source.split(":")
                array = np.asarray(value)
                if array.dtype != np.uint8 or array.ndim != 3:
                    raise ValueError(f"{key!r} must be a uint8 image, got {array.dtype} {array.shape}")
                images[parts[1]] = np.ascontiguousarray(array.transpose(1, 2, 0) if len(parts) > 2 else array)
        return Observation(images=images, state=state, instruction=prompt)

    def infer(self, request: dict[str, Any]) -> dict[str, Any]:
        """The reply for one request: actions [horizon, dim] and timing."""
        started = time.perf_counter()
        obs = self.observation(request)
        episode = self._episode_for(obs.instruction)
        infer_started = time.perf_counter()
        actions = self.policy.infer(episode.feeds(obs))[0]
        infer_ms = (time.perf_counter() - infer_started) * 1000.0
        return {
            "actions": np.ascontiguousarray(actions, dtype=np.float32),
            "policy_timing": {"infer_ms": infer_ms},
            "server_timing": {"infer_ms": infer_ms, "prev_total_ms": (time.perf_counter() - started) * 1000.0},
        }


def serve(server: PolicyServer, *, host: str, port: int) -> None:
    """Serve until interrupted (one thread per connection; onnxruntime sessions are thread-safe)."""
    from openpi_client import msgpack_numpy
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.server import ServerConnection
    from websockets.sync.server import serve as ws_serve

    packer = msgpack_numpy.Packer()

    def health(connection: ServerConnection, request: Any) -> Any:
        if request.path == "/healthz":
            return connection.respond(HTTPStatus.OK, "OK\n")
        return None

    def handler(connection: ServerConnection) -> None:
        connection.send(packer.pack(server.metadata))
        while True:
            try:
                message = connection.recv()
            except ConnectionClosed:
                return
            try:
                if isinstance(message, str):
                    raise ValueError("expected a binary msgpack frame")
                request = msgpack_numpy.unpackb(message)
                if not isinstance(request, dict):
                    raise ValueError("the observation must be a map")
                connection.send(packer.pack(server.infer(request)))
            except Exception:
                # As openpi's server: the traceback as text, then close with "internal error".
                connection.send(traceback.format_exc())
                connection.close(code=1011, reason="policy error")
                return

    with ws_serve(handler, host, port, compression=None, max_size=None, process_request=health) as ws_server:
        log.info("serving %s on ws://%s:%d", server.metadata.get("policy"), host, port)
        print(f"policy server ready on ws://{host}:{port}", flush=True)
        ws_server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("version_id", type=int, help="PolicyVersion id (an ONNX version)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--keys", help="JSON observation-key mapping; default: openpi LIBERO-style keys")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from pathlib import Path

    from core.policy.onnx_runtime import policy_load
    from policies.models import PolicyVersion

    version = PolicyVersion.objects.select_related("policy").get(pk=args.version_id)
    if version.kind != PolicyVersion.Kind.ONNX or not version.artifact:
        parser.error(f"version {args.version_id} is not an ONNX artifact")
    policy = policy_load(path=Path(version.artifact.path), sha256=version.sha256, io_spec=version.io_spec)
    try:
        keys = json.loads(args.keys) if args.keys else default_keys(policy)
        server = PolicyServer(policy, keys=keys, metadata=_metadata(version, policy))
    except (ValueError, RemoteConfigError) as exc:
        parser.error(f"--keys: {exc}")
    serve(server, host=args.host, port=args.port)


def _metadata(version: Any, policy: LoadedPolicy) -> dict[str, Any]:
    return {
        "server": "trialbench",
        "policy": version.policy.name,
        "version": version.version,
        "sha256": version.sha256,
        "action_dim": policy.spec.action.dim,
        "action_horizon": policy.spec.action.chunk,
    }


if __name__ == "__main__":
    main()
