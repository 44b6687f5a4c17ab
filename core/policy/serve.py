"""Serve an ONNX policy over the openpi WebSocket protocol, so one (GPU) box hosts policies for many
robots and the remote path is tested against a real server process.

    python -m core.policy.serve MODEL.onnx --port 8000 [--spec CARD.json] [--host 127.0.0.1] [--keys '{"observation/image": "camera:front", ...}']

serves a model file (its io_spec from `--spec`: a JSON io_spec, or a card holding one under "io_spec"
with its sha256, as policies/reference/artifacts/<cell>.json; default: MODEL with a .json suffix).
A stored PolicyVersion is served by `python manage.py policy_serve VERSION_ID` (policies app), which
loads the version and calls `server_make` and `serve` here: this module imports no Django.

Protocol (as openpi's websocket_policy_server): on connect the server sends a msgpack metadata dict;
each request is a msgpack observation dict; each reply has `actions` [horizon, dim], `policy_timing`
and `server_timing`. On an error the server sends the traceback as a text frame and closes with 1011.
`GET /healthz` answers 200. Frames are unpacked with openpi-client's msgpack_numpy, which never
unpickles (object arrays are refused).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from core.policy.base import Policy
from core.policy.onnx_runtime import LoadedPolicy, PolicyEpisode, file_sha256, policy_load
from core.policy.remote import (
    ChunkedEpisode,
    RemoteConfig,
    RemoteConfigError,
    actions_from_reply,
    observation_to_request,
)
from core.policy.ws_server import serve as serve  # the transport, shared with policies.serve_lerobot
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


class PolicyServer(Policy):
    """Turns request dicts into action chunks with a loaded policy; transport-free, so testable.

    Also a Policy (core.policy.base): `episode()` drives the served path in process (observation ->
    request dict -> `infer` -> reply actions), what a remote client gets minus the network."""

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

    def episode(self, *, instruction: str) -> ServedEpisode:
        """An in-process controller over `infer`, executing the chunk steps the model's spec asks for."""
        return ServedEpisode(self, instruction)


class ServedEpisode(ChunkedEpisode):
    """One episode through a PolicyServer's request/reply mapping, without a connection."""

    def __init__(self, server: PolicyServer, instruction: str) -> None:
        # As a local run of the model: a chunk's first execute_steps actions, then a fresh inference.
        super().__init__(dataclasses.replace(server.config, execute_steps=server.policy.spec.action.execute_steps))
        self.server = server
        self.instruction = instruction

    def _infer(self, obs: Observation) -> npt.NDArray[np.float32]:
        request = observation_to_request(dataclasses.replace(obs, instruction=self.instruction), self.config)
        return self.config.map_action(actions_from_reply(self.server.infer(request)["actions"]))


def server_make(policy: LoadedPolicy, *, keys: dict[str, str] | None, name: str, version: str) -> PolicyServer:
    """A PolicyServer for a loaded policy (keys default to default_keys) with its connect-time metadata.
    Raises RemoteConfigError for bad keys."""
    metadata = {
        "server": "trialbench",
        "policy": name,
        "version": version,
        "sha256": policy.sha256,
        "action_dim": policy.spec.action.dim,
        "action_horizon": policy.spec.action.chunk,
    }
    return PolicyServer(policy, keys=keys if keys is not None else default_keys(policy), metadata=metadata)


def keys_parse(raw: str | None) -> dict[str, str] | None:
    """The `--keys` option: None when not given, else the JSON object of key -> source. Raises ValueError."""
    if not raw:
        return None
    keys = json.loads(raw)
    if not isinstance(keys, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in keys.items()):
        raise ValueError("--keys must be a JSON object of strings")
    return keys


def server_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every way of serving shares (this module and `manage.py policy_serve`)."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--keys", help="JSON observation-key mapping; default: openpi LIBERO-style keys")


def file_policy_load(*, model: Path, spec: Path | None) -> LoadedPolicy:
    """Load a model file with its io_spec from `spec` (an io_spec, or a card with "io_spec" and
    optionally "sha256"; default: the model's .json sibling). Raises FileNotFoundError, ValueError
    for a spec that is not JSON, PolicySpecError (also for a card whose sha256 is not the file's)."""
    raw = json.loads((spec or model.with_suffix(".json")).read_text())
    card = raw if isinstance(raw, dict) and "io_spec" in raw else {"io_spec": raw}
    sha256 = card.get("sha256") or file_sha256(model)
    return policy_load(path=model, sha256=str(sha256), io_spec=card["io_spec"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("model", type=Path, help="ONNX model file")
    parser.add_argument("--spec", type=Path, help="io_spec or card JSON; default: MODEL with a .json suffix")
    server_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        policy = file_policy_load(model=args.model, spec=args.spec)
    except (OSError, ValueError) as exc:  # PolicySpecError is a ValueError
        parser.error(f"{args.model}: {exc}")
    try:
        server = server_make(policy, keys=keys_parse(args.keys), name=args.model.stem, version="")
    except (ValueError, RemoteConfigError) as exc:
        parser.error(f"--keys: {exc}")
    serve(server, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
