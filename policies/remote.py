"""Policies served by a remote process (a GPU box): the openpi WebSocket protocol and an
OpenVLA-style REST `POST /act`. Both give the same per-episode controller as policies.runtime
(`episode(instruction=...)` -> `.act(obs)`, `.latency_summary()`), so runner and agent treat local
and remote policies alike. ORM-free and torch-free.

PolicyVersion.remote_config (JSON):

```json
{
  "observation_keys": {"observation/image": "camera:front", "observation/state": "state", "prompt": "prompt"},
  "image_size": [224, 224],
  "execute_steps": 5,
  "timeout_s": 10,
  "api_key": "",
  "unnorm_key": "bridge_orig"
}
```
`observation_keys` maps each key the server expects to a source: `camera:NAME` (uint8 HxWx3, resized
to image_size when given), `camera:NAME:chw` (3xHxW), `state`, `state[a:b]` (a slice), or `prompt`.
Defaults follow openpi's LIBERO example. Nothing received is ever unpickled: openpi frames are msgpack
with raw numpy buffers (object dtypes refused), REST replies are json-numpy.
"""

from __future__ import annotations

import re
import statistics
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from robots.sim.base import Observation

DEFAULT_OBSERVATION_KEYS = {"observation/image": "camera:front", "observation/state": "state", "prompt": "prompt"}
_SOURCE = re.compile(r"^(camera:(?P<camera>[\w-]+)(?P<chw>:chw)?|state(?P<slice>\[(?P<a>\d*):(?P<b>\d*)\])?|prompt)$")


class PolicyInfrastructureError(Exception):
    """The episode was lost to infrastructure, not decided by the policy: it is recorded with the outcome
    `lost` (excluded from every rate, test and ROI input) and re-run. `category` is the event category."""

    category = "policy_unreachable"


class PolicyUnreachable(PolicyInfrastructureError, ConnectionError):
    """The policy server could not be reached, timed out, or broke the connection mid-episode."""

    category = "policy_unreachable"


class PolicyServerError(PolicyInfrastructureError):
    """The policy server was reached but reported an error of its own (HTTP 5xx, OpenVLA's "error" body,
    openpi's close code 1011 with a traceback); the message carries the server's reason."""

    category = "policy_server_error"


class PolicyReplyError(ValueError):
    """The policy server answered, but the answer is not a usable action (wrong shape or size, not finite,
    not numeric): the policy's own failure for this episode, recorded as a `policy_error` fault."""

    category = "policy_error"


class RemoteConfigError(ValueError):
    """remote_config is malformed; the message says which key."""


@dataclass(frozen=True)
class RemoteConfig:
    observation_keys: dict[str, str]
    image_size: tuple[int, int] | None
    execute_steps: int | None
    timeout_s: float
    api_key: str
    unnorm_key: str | None

    @classmethod
    def parse(cls, raw: dict[str, Any] | None) -> RemoteConfig:
        """Validated config; raises RemoteConfigError naming the bad key."""
        raw = raw or {}
        keys = raw.get("observation_keys", DEFAULT_OBSERVATION_KEYS)
        if not isinstance(keys, dict) or not keys:
            raise RemoteConfigError("observation_keys must be a non-empty object")
        for key, source in keys.items():
            if not isinstance(source, str) or not _SOURCE.match(source):
                raise RemoteConfigError(f"observation_keys[{key!r}]: unknown source {source!r}")
        size = raw.get("image_size")
        if size is not None and (not isinstance(size, list | tuple) or len(size) != 2 or min(size) < 1):
            raise RemoteConfigError("image_size must be [height, width]")
        steps = raw.get("execute_steps")
        if steps is not None and (not isinstance(steps, int) or steps < 1):
            raise RemoteConfigError("execute_steps must be a positive integer")
        return cls(
            observation_keys=dict(keys),
            image_size=(int(size[0]), int(size[1])) if size else None,
            execute_steps=steps,
            timeout_s=float(raw.get("timeout_s", 10.0)),
            api_key=str(raw.get("api_key", "")),
            unnorm_key=raw.get("unnorm_key"),
        )


def _resize(image: npt.NDArray[np.uint8], size: tuple[int, int] | None) -> npt.NDArray[np.uint8]:
    if size is None or image.shape[:2] == size:
        return np.ascontiguousarray(image, dtype=np.uint8)
    resized = Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).resize(
        (size[1], size[0]), Image.Resampling.BILINEAR
    )
    return np.asarray(resized, dtype=np.uint8)


def observation_to_request(obs: Observation, config: RemoteConfig) -> dict[str, Any]:
    """The request dict for a server from our observation, per observation_keys. Raises
    RemoteConfigError when a camera named in the mapping does not exist."""
    request: dict[str, Any] = {}
    for key, source in config.observation_keys.items():
        match = _SOURCE.match(source)
        if match is None:  # RemoteConfig.parse rejects these; a hand-built config may not have been parsed
            raise RemoteConfigError(f"observation_keys[{key!r}]: unknown source {source!r}")
        if source == "prompt":
            request[key] = obs.instruction
        elif source.startswith("state"):
            state = np.asarray(obs.state, dtype=np.float32)
            a, b = match.group("a"), match.group("b")
            request[key] = state[int(a) if a else None : int(b) if b else None] if match.group("slice") else state
        else:
            camera = match.group("camera")
            if camera not in obs.images:
                raise RemoteConfigError(f"observation_keys[{key!r}] needs camera {camera!r}; have {sorted(obs.images)}")
            image = _resize(obs.images[camera], config.image_size)
            request[key] = np.ascontiguousarray(image.transpose(2, 0, 1)) if match.group("chw") else image
    return request


def actions_from_reply(actions: Any) -> npt.NDArray[np.float32]:
    """A reply's actions as float32 [horizon, dim]; raises ValueError for anything else."""
    array = np.asarray(actions)
    if array.dtype.kind not in "fiu":
        raise ValueError(f"actions must be numeric, got dtype {array.dtype}")
    array = array.astype(np.float32)
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2 or array.shape[0] < 1 or not np.all(np.isfinite(array)):
        raise ValueError(f"actions must be a finite [horizon, dim] array, got shape {array.shape}")
    return array


@dataclass
class _Latency:
    values_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        if not self.values_ms:
            return {"policy_latency_median_ms": 0.0, "policy_latency_p95_ms": 0.0, "inferences": 0}
        values = np.asarray(self.values_ms)
        out = {
            "policy_latency_median_ms": round(float(statistics.median(values)), 3),
            "policy_latency_p95_ms": round(float(np.percentile(values, 95)), 3),
            "inferences": len(values),
        }
        if self.server_ms:
            out["server_infer_median_ms"] = round(float(statistics.median(self.server_ms)), 3)
        return out


class _ChunkedEpisode:
    """Shared chunk execution: ask the server when the queue is empty, run `execute_steps` of the chunk."""

    def __init__(self, config: RemoteConfig) -> None:
        self.config = config
        self._pending: deque[npt.NDArray[np.float32]] = deque()
        self.latency = _Latency()
        self.steps = 0

    def _infer(self, obs: Observation) -> npt.NDArray[np.float32]:  # pragma: no cover - overridden
        raise NotImplementedError

    def act(self, obs: Observation) -> npt.NDArray[np.float32]:
        if not self._pending:
            started = time.perf_counter()
            chunk = self._infer(obs)
            self.latency.values_ms.append((time.perf_counter() - started) * 1000.0)
            self._pending.extend(chunk[: self.config.execute_steps or len(chunk)])
        self.steps += 1
        return self._pending.popleft()

    def latency_summary(self) -> dict[str, float]:
        return self.latency.summary()

    def close(self) -> None:
        """Release the connection (nothing to do for stateless transports)."""


class OpenpiEpisode(_ChunkedEpisode):
    """One episode against an openpi WebSocket policy server (openpi-client does the wire format)."""

    def __init__(self, endpoint_url: str, config: RemoteConfig, instruction: str) -> None:
        super().__init__(config)
        from openpi_client.websocket_client_policy import WebsocketClientPolicy

        self.instruction = instruction
        try:
            self.client = WebsocketClientPolicy(endpoint_url, api_key=config.api_key or None)
        except (OSError, TimeoutError, ConnectionError) as exc:
            raise PolicyUnreachable(f"cannot connect to policy server {endpoint_url}: {exc}") from exc
        except Exception as exc:  # websockets' handshake errors (InvalidStatus, InvalidURI, ...)
            raise PolicyUnreachable(f"policy server {endpoint_url} refused the connection: {exc}") from exc
        self.server_metadata = self.client.get_server_metadata()

    def _infer(self, obs: Observation) -> npt.NDArray[np.float32]:
        from websockets.exceptions import WebSocketException

        request = observation_to_request(obs, self.config)
        try:
            reply = self.client.infer(request)
        except (OSError, WebSocketException, RuntimeError) as exc:
            raise PolicyUnreachable(f"policy server failed mid-episode: {exc}") from exc
        if not isinstance(reply, dict) or "actions" not in reply:
            raise PolicyUnreachable("policy server replied without 'actions'")
        timing = reply.get("policy_timing") or {}
        if isinstance(timing, dict) and isinstance(timing.get("infer_ms"), int | float):
            self.latency.server_ms.append(float(timing["infer_ms"]))
        return actions_from_reply(reply["actions"])

    def close(self) -> None:
        ws = getattr(self.client, "_ws", None)  # openpi-client exposes no close(); its connection is _ws
        if ws is not None:
            ws.close()


class RestEpisode(_ChunkedEpisode):
    """One episode against an OpenVLA-style `POST /act` server (json-numpy bodies)."""

    def __init__(self, endpoint_url: str, config: RemoteConfig, instruction: str) -> None:
        import requests

        super().__init__(config)
        self.url = endpoint_url
        self.instruction = instruction
        self.session = requests.Session()
        if config.api_key:
            self.session.headers["Authorization"] = f"Api-Key {config.api_key}"

    def _infer(self, obs: Observation) -> npt.NDArray[np.float32]:
        import json_numpy
        import requests

        camera = next(iter(obs.images))
        payload: dict[str, Any] = {
            "image": _resize(obs.images[camera], self.config.image_size or (224, 224)),
            "instruction": self.instruction,
        }
        if self.config.unnorm_key:
            payload["unnorm_key"] = self.config.unnorm_key
        try:
            response = self.session.post(
                self.url,
                data=json_numpy.dumps(payload),
                headers={"Content-Type": "application/json"},
                timeout=self.config.timeout_s,
            )
        except requests.RequestException as exc:
            raise PolicyUnreachable(f"policy server {self.url} unreachable: {exc}") from exc
        if response.status_code != 200:
            raise PolicyUnreachable(f"policy server {self.url} answered {response.status_code}")
        try:
            return actions_from_reply(json_numpy.loads(response.text))
        except ValueError as exc:
            raise PolicyUnreachable(f"policy server {self.url} sent an unusable reply: {exc}") from exc

    def close(self) -> None:
        self.session.close()


@dataclass(frozen=True)
class RemotePolicy:
    """A remote policy version; `episode()` opens what one episode needs."""

    kind: str  # "openpi" or "rest"
    endpoint_url: str
    config: RemoteConfig

    def episode(self, *, instruction: str) -> _ChunkedEpisode:
        """A controller for one episode. Raises PolicyUnreachable when the server cannot be reached."""
        if self.kind == "openpi":
            return OpenpiEpisode(self.endpoint_url, self.config, instruction)
        if self.kind == "rest":
            return RestEpisode(self.endpoint_url, self.config, instruction)
        raise RemoteConfigError(f"unknown remote policy kind {self.kind!r}")


def remote_policy(*, kind: str, endpoint_url: str, remote_config: dict[str, Any] | None) -> RemotePolicy:
    """A RemotePolicy for a version's fields; raises RemoteConfigError for a bad config."""
    return RemotePolicy(kind=kind, endpoint_url=endpoint_url, config=RemoteConfig.parse(remote_config))
