"""Policies served by a remote process (a GPU box): the openpi WebSocket protocol and an
OpenVLA-style REST `POST /act`. RemotePolicy is a core.policy.base.Policy, as the ONNX runtime's
LoadedPolicy (`episode(instruction=...)` -> `.act(obs)`, `.latency_summary()`, `.close()`), so runner
and agent treat local and remote policies alike. ORM-free and torch-free.

PolicyVersion.remote_config (JSON):

```json
{
  "observation_keys": {"observation/image": "camera:front", "observation/state": "state", "prompt": "prompt"},
  "image_size": [224, 224],
  "execute_steps": 5,
  "timeout_s": 10,
  "api_key": "",
  "unnorm_key": "bridge_orig",
  "action_map": [0, 1, 2, 6],
  "gripper": {"component": 3, "from": [0, 1], "to": [1, -1]}
}
```
`observation_keys` maps each key the server expects to a source: `camera:NAME` (uint8 HxWx3, resized
to image_size when given), `camera:NAME:chw` (3xHxW), `state`, `state[a:b]` (a slice), or `prompt`.
Defaults follow openpi's LIBERO example for `openpi`, and OpenVLA's `{"image": <first camera>,
"instruction": "prompt"}` at 224x224 for `rest`. Nothing received is ever unpickled: openpi frames are
msgpack with raw numpy buffers (object dtypes refused), REST replies are json-numpy.

`action_map` lists, for each component of the cell's action, the index of the server's action component
it takes (OpenVLA's 7-vector is x, y, z, roll, pitch, yaw, gripper: `[0, 1, 2, 6]` drives a
[dx, dy, dz, grip] cell). `gripper` then rescales one mapped component linearly from the server's range
to the cell's (`to` reversed flips the sense: OpenVLA's 1 = open, our grip > 0 = close). Without a map
the server's actions must have exactly the cell's size: `remote_policy_preflight` checks that against
the cell before the first episode.

Every network step (TCP connect, websocket handshake, the metadata frame, each inference, the close)
is bounded by `timeout_s`. The openpi path opens its websocket itself rather than through
openpi-client's WebsocketClientPolicy, whose connect behaviour differs between releases (the current
one retries a refused connection forever, none has a timeout); it speaks the same protocol with the
package's msgpack_numpy.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import re
import socket
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeGuard
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt
from PIL import Image

from core.policy.base import EpisodeController, Policy
from core.sim.base import CellInfo, Observation

log = logging.getLogger(__name__)
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


class PolicyActionSizeError(PolicyReplyError):
    """The server's actions do not have the size the config or its own metadata says (a PolicyReplyError
    mid-trial; remote_policy_preflight turns it into a RemoteConfigError before the first episode)."""


class RemoteConfigError(ValueError):
    """remote_config is malformed, or does not fit the server or the cell; the message says which key."""


MAX_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class GripperMap:
    """A linear rescale of one mapped action component: `source` range onto `target` range."""

    component: int
    source: tuple[float, float]
    target: tuple[float, float]

    def apply(self, action: npt.NDArray[np.float32]) -> None:
        (a, b), (c, d) = self.source, self.target
        action[..., self.component] = c + (action[..., self.component] - a) * (d - c) / (b - a)


def _number_pair(raw: Any, name: str) -> tuple[float, float]:
    if (
        not isinstance(raw, list | tuple)
        or len(raw) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v) for v in raw)
    ):
        raise RemoteConfigError(f"{name} must be two finite numbers [low, high]")
    if raw[0] == raw[1]:
        raise RemoteConfigError(f"{name} must be two different numbers")
    return float(raw[0]), float(raw[1])


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class RemoteConfig:
    observation_keys: dict[str, str]
    image_size: tuple[int, int] | None
    execute_steps: int | None
    timeout_s: float
    api_key: str
    unnorm_key: str | None
    action_map: tuple[int, ...] | None = None
    gripper: GripperMap | None = None
    # False when observation_keys is the openpi default: the REST path then uses OpenVLA's keys.
    observation_keys_given: bool = True

    @classmethod
    def parse(cls, raw: dict[str, Any] | None) -> RemoteConfig:
        """Validated config; raises RemoteConfigError naming the bad key."""
        raw = raw or {}
        if not isinstance(raw, dict):
            raise RemoteConfigError("remote_config must be an object")
        keys = raw.get("observation_keys", DEFAULT_OBSERVATION_KEYS)
        if not isinstance(keys, dict) or not keys:
            raise RemoteConfigError("observation_keys must be a non-empty object")
        for key, source in keys.items():
            if not isinstance(source, str) or not _SOURCE.match(source):
                raise RemoteConfigError(f"observation_keys[{key!r}]: unknown source {source!r}")
        size = raw.get("image_size")
        if size is not None and (
            not isinstance(size, list | tuple) or len(size) != 2 or not all(_is_int(v) and v >= 1 for v in size)
        ):
            raise RemoteConfigError("image_size must be [height, width], two positive integers")
        steps = raw.get("execute_steps")
        if steps is not None and (not _is_int(steps) or steps < 1):
            raise RemoteConfigError("execute_steps must be a positive integer")
        timeout = raw.get("timeout_s", 10.0)
        if (
            not isinstance(timeout, int | float)
            or isinstance(timeout, bool)
            or not np.isfinite(timeout)
            or not 0 < timeout <= MAX_TIMEOUT_S
        ):
            raise RemoteConfigError(f"timeout_s must be a number of seconds in (0, {MAX_TIMEOUT_S:g}]")
        action_map = raw.get("action_map")
        if action_map is not None:
            if (
                not isinstance(action_map, list | tuple)
                or not action_map
                or not all(_is_int(i) and i >= 0 for i in action_map)
            ):
                raise RemoteConfigError(
                    "action_map must be a non-empty list of server action component indices (integers >= 0)"
                )
            action_map = tuple(action_map)
        gripper = raw.get("gripper")
        if gripper is not None:
            if not isinstance(gripper, dict) or set(gripper) - {"component", "from", "to"}:
                raise RemoteConfigError('gripper must be an object {"component": i, "from": [a, b], "to": [c, d]}')
            component = gripper.get("component")
            width = len(action_map) if action_map else None
            if not _is_int(component) or component < 0 or (width is not None and component >= width):
                raise RemoteConfigError(
                    "gripper.component must be the index of a component of the mapped action"
                    + (f" (0..{width - 1})" if width else "")
                )
            gripper = GripperMap(
                component=component,
                source=_number_pair(gripper.get("from"), "gripper.from"),
                target=_number_pair(gripper.get("to"), "gripper.to"),
            )
        return cls(
            observation_keys=dict(keys),
            image_size=(int(size[0]), int(size[1])) if size else None,
            execute_steps=steps,
            timeout_s=float(timeout),
            api_key=str(raw.get("api_key", "")),
            unnorm_key=raw.get("unnorm_key"),
            action_map=action_map,
            gripper=gripper,
            observation_keys_given="observation_keys" in raw,
        )

    def map_action(self, actions: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """The cell's actions from a server's [horizon, dim] chunk, per action_map and gripper. Raises
        PolicyReplyError when the server's actions are too short for the map."""
        if self.action_map is not None:
            if actions.shape[1] <= max(self.action_map):
                raise PolicyActionSizeError(
                    f"the server's actions have {actions.shape[1]} components; action_map "
                    f"{list(self.action_map)} needs at least {max(self.action_map) + 1}"
                )
            actions = actions[:, list(self.action_map)]
        if self.gripper is not None:
            if actions.shape[1] <= self.gripper.component:
                raise PolicyActionSizeError(
                    f"the actions have {actions.shape[1]} components; gripper.component is {self.gripper.component}"
                )
            actions = np.array(actions, dtype=np.float32)
            self.gripper.apply(actions)
        return np.ascontiguousarray(actions, dtype=np.float32)


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
    """A reply's actions as float32 [horizon, dim]: a single action [dim] is a chunk of one, and a batch
    of one [1, horizon, dim] (what a batched server returns) is unwrapped. Raises PolicyReplyError for
    anything else, saying what is wrong."""
    try:
        array = np.asarray(actions)
    except (ValueError, TypeError) as exc:  # ragged lists
        raise PolicyReplyError(f"actions are not an array: {exc}") from exc
    if array.dtype.kind not in "fiu":
        raise PolicyReplyError(f"actions must be numeric, got dtype {array.dtype}")
    array = array.astype(np.float32)
    if array.ndim == 1:
        array = array[None]
    elif array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] < 1:
        raise PolicyReplyError(
            f"actions must be [horizon, dim] (or [dim], or [1, horizon, dim]), got shape {list(array.shape)}"
        )
    if not np.all(np.isfinite(array)):
        raise PolicyReplyError(f"actions contain NaN or infinity (shape {list(array.shape)})")
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


class ChunkedEpisode(EpisodeController):
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


class _Watchdog:
    """Shuts a socket down when a deadline passes, so a send blocked on a stopped peer's full buffer
    (or any other step without a timeout of its own) fails instead of hanging."""

    def __init__(self, sock: socket.socket | None, timeout_s: float) -> None:
        self.fired = False
        self._sock = sock
        self._timer = threading.Timer(timeout_s, self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        self.fired = True
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()


def _server_error_text(text: str) -> str:
    """The reason from a traceback sent as a text frame: its last non-empty line, which names the error."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip()[:500] if lines else "(empty error message)"


class OpenpiEpisode(ChunkedEpisode):
    """One episode against an openpi WebSocket policy server: connect, read the metadata frame, then one
    msgpack request/reply per action chunk. Each step is bounded by timeout_s (module docstring)."""

    def __init__(self, endpoint_url: str, config: RemoteConfig, instruction: str) -> None:
        from openpi_client import msgpack_numpy
        from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI, WebSocketException
        from websockets.sync.client import connect

        super().__init__(config)
        self.url = endpoint_url
        self.instruction = instruction
        self._msgpack = msgpack_numpy
        self._packer = msgpack_numpy.Packer()
        self.ws: Any = None
        headers = {"Authorization": f"Api-Key {config.api_key}"} if config.api_key else None
        deadline = time.monotonic() + config.timeout_s
        try:
            # open_timeout covers the TCP connect and the handshake; keepalive pings are off because
            # every recv has its own timeout. No proxy: a policy server is addressed directly.
            self.ws = connect(
                endpoint_url,
                open_timeout=config.timeout_s,
                close_timeout=config.timeout_s,
                ping_interval=None,
                compression=None,
                max_size=None,
                proxy=None,
                additional_headers=headers,
            )
        except InvalidURI as exc:
            raise RemoteConfigError(f"endpoint_url {endpoint_url!r} is not a ws:// or wss:// URL: {exc}") from exc
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status >= 500:
                raise PolicyServerError(f"policy server {endpoint_url} answered the handshake with {status}") from exc
            raise PolicyUnreachable(
                f"policy server {endpoint_url} refused the websocket handshake with HTTP {status}"
                + (" (is api_key right?)" if status in (401, 403) else "")
            ) from exc
        except TimeoutError as exc:
            raise PolicyUnreachable(
                f"policy server {endpoint_url} did not accept the connection within timeout_s={config.timeout_s:g} s"
            ) from exc
        except (OSError, InvalidHandshake, WebSocketException) as exc:
            raise PolicyUnreachable(f"cannot connect to policy server {endpoint_url}: {exc}") from exc
        # As the openpi protocol: the server's metadata is the first frame.
        metadata = self._receive(timeout_s=max(0.0, deadline - time.monotonic()), what="its metadata")
        if not isinstance(metadata, dict):
            self.abort()
            raise PolicyReplyError(f"policy server {endpoint_url} sent metadata that is not a map")
        self.server_metadata: dict[Any, Any] = metadata
        declared = metadata.get("action_dim")
        self.declared_action_dim = int(declared) if _is_int(declared) and declared > 0 else None

    def _receive(self, *, timeout_s: float, what: str) -> Any:
        """One msgpack frame from the server, unpacked. Raises PolicyUnreachable (timeout, dropped),
        PolicyServerError (the server's error text or close 1011), PolicyReplyError (not msgpack)."""
        from websockets.exceptions import ConnectionClosed

        try:
            message = self.ws.recv(timeout=timeout_s)
        except TimeoutError as exc:
            self.abort()
            raise PolicyUnreachable(
                f"policy server {self.url} sent no {what} within timeout_s={self.config.timeout_s:g} s"
            ) from exc
        except ConnectionClosed as exc:
            self.abort()
            self._raise_closed(exc, what)
        if isinstance(message, str):
            # openpi's server sends the traceback as text, then closes with 1011.
            self.abort()
            raise PolicyServerError(f"policy server {self.url} reported an error: {_server_error_text(message)}")
        try:
            return self._msgpack.unpackb(message)
        except Exception as exc:  # msgpack's errors, or a refused dtype: a bad frame, whatever the cause
            self.abort()
            raise PolicyReplyError(f"policy server {self.url} sent {what} that is not valid msgpack: {exc}") from exc

    def _raise_closed(self, exc: Any, what: str) -> None:
        received = getattr(exc, "rcvd", None)
        if received is not None and received.code == 1011:
            raise PolicyServerError(
                f"policy server {self.url} closed the connection with an internal error (1011): "
                f"{received.reason or 'no reason given'}"
            ) from exc
        raise PolicyUnreachable(f"policy server {self.url} closed the connection before sending {what}: {exc}") from exc

    def _infer(self, obs: Observation) -> npt.NDArray[np.float32]:
        from websockets.exceptions import ConnectionClosed

        if self.ws is None:
            raise PolicyUnreachable(f"the connection to policy server {self.url} is closed")
        request = observation_to_request(obs, self.config)
        try:
            data = self._packer.pack(request)
        except (TypeError, ValueError) as exc:
            raise RemoteConfigError(f"the observation cannot be packed for the server: {exc}") from exc
        started = time.monotonic()
        # send() has no timeout of its own: against a stopped server it blocks once the socket
        # buffers are full (a large image), so a watchdog shuts the socket at the deadline.
        with _Watchdog(getattr(self.ws, "socket", None), self.config.timeout_s) as watchdog:
            try:
                self.ws.send(data)
            except ConnectionClosed as exc:
                self.abort()
                if watchdog.fired:
                    raise PolicyUnreachable(
                        f"policy server {self.url} did not take the observation within "
                        f"timeout_s={self.config.timeout_s:g} s"
                    ) from exc
                self._raise_closed(exc, "a reply")
            except OSError as exc:
                self.abort()
                raise PolicyUnreachable(f"policy server {self.url} broke the connection: {exc}") from exc
        remaining = max(0.0, self.config.timeout_s - (time.monotonic() - started))
        reply = self._receive(timeout_s=remaining, what="a reply")
        if not isinstance(reply, dict) or "actions" not in reply:
            raise PolicyReplyError(f"policy server {self.url} replied without 'actions'")
        timing = reply.get("policy_timing") or {}
        if isinstance(timing, dict) and isinstance(timing.get("infer_ms"), int | float):
            self.latency.server_ms.append(float(timing["infer_ms"]))
        actions = actions_from_reply(reply["actions"])
        if self.declared_action_dim is not None and actions.shape[1] != self.declared_action_dim:
            raise PolicyActionSizeError(
                f"policy server {self.url} declared action_dim {self.declared_action_dim} in its metadata "
                f"but replied with {actions.shape[1]} components"
            )
        return self.config.map_action(actions)

    def abort(self) -> None:
        """Drop the connection at once, without a closing handshake (the peer may be stopped)."""
        if self.ws is not None:
            ws, self.ws = self.ws, None
            with contextlib.suppress(Exception):
                ws.close_socket()

    def close(self) -> None:
        """Close the connection; bounded by timeout_s (close_timeout) when the server does not answer."""
        if self.ws is not None:
            ws, self.ws = self.ws, None
            with contextlib.suppress(Exception):
                ws.close()


def rest_observation_keys(config: RemoteConfig, obs: Observation) -> dict[str, str]:
    """The request keys of a REST call: the configured observation_keys, or OpenVLA's
    {"image": <first camera>, "instruction": "prompt"} when none were given."""
    if config.observation_keys_given:
        return config.observation_keys
    if not obs.images:
        raise RemoteConfigError("the REST policy needs a camera image; the cell has no camera")
    return {"image": f"camera:{next(iter(obs.images))}", "instruction": "prompt"}


class RestEpisode(ChunkedEpisode):
    """One episode against an OpenVLA-style `POST /act` server (json-numpy bodies)."""

    def __init__(self, endpoint_url: str, config: RemoteConfig, instruction: str) -> None:
        import requests

        super().__init__(config)
        self.url = endpoint_url
        self.instruction = instruction
        self.session = requests.Session()
        self.session.trust_env = False  # a policy server is addressed directly, never through a proxy
        if config.api_key:
            self.session.headers["Authorization"] = f"Api-Key {config.api_key}"

    def _payload(self, obs: Observation) -> dict[str, Any]:
        keys = rest_observation_keys(self.config, obs)
        size = self.config.image_size or (224, 224)  # OpenVLA's input size
        # The episode's instruction is the prompt (as the openpi path), whatever the observation carries.
        obs = dataclasses.replace(obs, instruction=self.instruction)
        payload = observation_to_request(obs, dataclasses.replace(self.config, observation_keys=keys, image_size=size))
        if self.config.unnorm_key:
            payload["unnorm_key"] = self.config.unnorm_key
        return payload

    def _infer(self, obs: Observation) -> npt.NDArray[np.float32]:
        import json_numpy
        import requests

        payload = self._payload(obs)
        try:
            response = self.session.post(
                self.url,
                data=json_numpy.dumps(payload),
                headers={"Content-Type": "application/json"},
                timeout=self.config.timeout_s,
            )
        except requests.Timeout as exc:
            raise PolicyUnreachable(
                f"policy server {self.url} did not answer within timeout_s={self.config.timeout_s:g} s"
            ) from exc
        except requests.RequestException as exc:
            raise PolicyUnreachable(f"policy server {self.url} unreachable: {exc}") from exc
        status = response.status_code
        if status in (404, 405) and not urlsplit(self.url).path.rstrip("/").endswith("/act"):
            raise RemoteConfigError(
                f"policy server {self.url} answered {status}: the endpoint_url is probably missing /act "
                f"(OpenVLA's server listens on POST /act)"
            )
        if status != 200:
            raise PolicyServerError(f"policy server {self.url} answered HTTP {status}: {response.text[:300]!r}")
        try:
            body = json_numpy.loads(response.text)
        except ValueError as exc:
            raise PolicyReplyError(f"policy server {self.url} replied with something that is not JSON: {exc}") from exc
        if isinstance(body, str | dict) or body is None:
            # OpenVLA's deploy.py answers a failed inference with 200 and the JSON string "error".
            detail = body if isinstance(body, str) else json.dumps(body)[:300]
            raise PolicyServerError(f"policy server {self.url} reported a failed inference: {detail!r}")
        try:
            actions = actions_from_reply(body)
        except PolicyReplyError as exc:
            raise PolicyReplyError(f"policy server {self.url} sent an unusable action: {exc}") from exc
        return self.config.map_action(actions)

    def close(self) -> None:
        self.session.close()


@dataclass(frozen=True)
class RemotePolicy(Policy):
    """A remote policy version; `episode()` opens what one episode needs."""

    kind: str  # "openpi" or "rest"
    endpoint_url: str
    config: RemoteConfig

    def episode(self, *, instruction: str) -> ChunkedEpisode:
        """A controller for one episode. Raises PolicyUnreachable when the server cannot be reached."""
        if self.kind == "openpi":
            return OpenpiEpisode(self.endpoint_url, self.config, instruction)
        if self.kind == "rest":
            return RestEpisode(self.endpoint_url, self.config, instruction)
        raise RemoteConfigError(f"unknown remote policy kind {self.kind!r}")


def remote_policy(*, kind: str, endpoint_url: str, remote_config: dict[str, Any] | None) -> RemotePolicy:
    """A RemotePolicy for a version's fields; raises RemoteConfigError for a bad config."""
    return RemotePolicy(kind=kind, endpoint_url=endpoint_url, config=RemoteConfig.parse(remote_config))


def remote_endpoint_check(*, kind: str, endpoint_url: str) -> None:
    """Raises RemoteConfigError saying what is wrong with a remote version's endpoint_url: the scheme
    for its kind, a host, and (REST) the `/act` path OpenVLA-style servers listen on."""
    parts = urlsplit(endpoint_url)
    schemes = ("ws", "wss") if kind == "openpi" else ("http", "https")
    if parts.scheme not in schemes or not parts.hostname:
        raise RemoteConfigError(f"endpoint_url must be a {' or '.join(s + '://' for s in schemes)} URL with a host")
    if kind == "rest" and not parts.path.rstrip("/").endswith("/act"):
        raise RemoteConfigError("endpoint_url of a REST policy must end in /act (e.g. http://gpu-box:8000/act)")


class _CellLike(Protocol):
    info: CellInfo

    def reset(self, seed: int, instruction: str | None = None) -> Observation: ...


def remote_policy_preflight(*, version: Any, cell: Callable[[], _CellLike], seed: int, instruction: str) -> str:
    """Check, before a trial's first episode, that a remote policy version's actions fit the cell: an
    action_map of the cell's size, the server's declared action_dim (openpi metadata), and the size of
    one real reply to the cell's first observation. `version` has `kind`, `endpoint_url` and
    `remote_config` (a PolicyVersion); `cell` makes the cell (only called for a remote version).
    Returns a note ("" when all was checked or the version is not remote). Raises RemoteConfigError,
    saying what to set, when the sizes differ or the config is bad. A server that cannot be reached or
    fails now is not a mismatch: the note says so, and the episodes go on (each one lost to
    infrastructure is re-run)."""
    if version.kind not in ("openpi", "rest"):
        return ""
    policy = remote_policy(kind=version.kind, endpoint_url=version.endpoint_url, remote_config=version.remote_config)
    made = cell()
    note = _preflight(policy, made, seed=seed, instruction=instruction)
    if note:
        log.warning("%s (cell %s)", note, made.info.key)
    return note


def _preflight(policy: RemotePolicy, cell: _CellLike, *, seed: int, instruction: str) -> str:
    want = cell.info.action_dim
    config = policy.config
    hint = f"set remote_config.action_map to the {want} server components the cell takes (README: remote policies)"
    if config.action_map is not None and len(config.action_map) != want:
        raise RemoteConfigError(
            f"remote_config.action_map has {len(config.action_map)} entries; cell {cell.info.key} takes "
            f"actions of {want} components"
        )
    controller: ChunkedEpisode | None = None
    try:
        controller = policy.episode(instruction=instruction)
        declared = getattr(controller, "declared_action_dim", None)
        if declared is not None:
            if config.action_map is None and declared != want:
                raise RemoteConfigError(
                    f"policy server {policy.endpoint_url} declares action_dim {declared}; cell {cell.info.key} "
                    f"takes {want}: {hint}"
                )
            if config.action_map is not None and max(config.action_map) >= declared:
                raise RemoteConfigError(
                    f"remote_config.action_map {list(config.action_map)} refers to component "
                    f"{max(config.action_map)}; policy server {policy.endpoint_url} declares action_dim {declared}"
                )
        action = controller.act(cell.reset(seed, instruction))
    except PolicyActionSizeError as exc:
        raise RemoteConfigError(f"{exc}: {hint}") from exc
    except (PolicyInfrastructureError, PolicyReplyError) as exc:
        return f"pre-flight check skipped: {exc}"
    finally:
        if controller is not None:
            controller.close()
    if action.shape != (want,):
        raise RemoteConfigError(
            f"policy server {policy.endpoint_url} returns actions of {action.shape[0]} components; cell "
            f"{cell.info.key} takes {want}: {hint}"
        )
    return ""
