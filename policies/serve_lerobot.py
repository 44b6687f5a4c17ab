"""Serve a LeRobot policy saved in a folder over the openpi WebSocket protocol trials speak.

    python -m policies.serve_lerobot PATH [--port 8000] [--host 127.0.0.1] [--keys JSON] [--device cpu]

Runs where `lerobot` and torch are installed (a GPU box; here .venv-lerobot, scripts/lerobot_env.sh),
without Django. PATH is what LeRobot's `from_pretrained` loads from a folder (config.json,
model.safetensors, and the policy_preprocessor / policy_postprocessor pipelines a training run saves,
which normalize inputs and unnormalize actions): ACT, Diffusion, SmolVLA, pi0, ... by its config's
`type`. A trial points a remote openpi PolicyVersion at ws://HOST:PORT.

LeRobot's own async-inference server (gRPC) sends Python pickles, and its client must unpickle them:
TrialBench never unpickles anything from a peer, so LeRobot policies reach trials through this server.
Requests here are msgpack with raw numpy buffers (core.policy.ws_server), never pickles.

Mapping: `--keys` maps each request key to a LeRobot input feature (or "task" for the instruction);
by default the openpi LIBERO-style keys TrialBench's client sends by default (core.policy.remote):
`observation/image` -> the policy's first image feature, `observation/wrist_image` -> its second,
`observation/image_<i>` -> the next, `observation/state` -> `observation.state`, `prompt` -> task. A
request may also use the feature names themselves. Images (uint8 HxWx3 or 3xHxW) are scaled to [0, 1]
and resized to the feature's size; the reply is the policy's whole action chunk [chunk_size,
action_dim], unnormalized, for the client to execute `execute_steps` of. The connect-time metadata
says the features and the key mapping, so an integrator can set a PolicyVersion's observation_keys.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from core.policy.ws_server import serve

log = logging.getLogger("policies.serve_lerobot")
TASK = "task"
_IMAGE_KEYS = ("observation/image", "observation/wrist_image")


def default_keys(image_features: list[str], state_feature: str | None) -> dict[str, str]:
    """Request key -> LeRobot feature, openpi LIBERO-style (module docstring)."""
    keys = {}
    for i, feature in enumerate(image_features):
        keys[_IMAGE_KEYS[i] if i < len(_IMAGE_KEYS) else f"observation/image_{i}"] = feature
    if state_feature:
        keys["observation/state"] = state_feature
    keys["prompt"] = TASK
    return keys


def image_array(value: Any, *, key: str, shape: tuple[int, int, int]) -> npt.NDArray[np.float32]:
    """A request image as float32 3xHxW in [0, 1] at the feature's (3, H, W); raises ValueError
    naming the key for anything but a uint8 HxWx3 or 3xHxW image."""
    array = np.asarray(value)
    if array.dtype != np.uint8 or array.ndim != 3 or 3 not in (array.shape[0], array.shape[-1]):
        raise ValueError(f"{key!r} must be a uint8 HxWx3 or 3xHxW image, got {array.dtype} {list(array.shape)}")
    chw = array if array.shape[0] == 3 and array.shape[-1] != 3 else array.transpose(2, 0, 1)
    image = chw.astype(np.float32) / 255.0
    if tuple(image.shape[1:]) != tuple(shape[1:]):
        from PIL import Image

        resized = [
            np.asarray(Image.fromarray(channel).resize((shape[2], shape[1]), Image.Resampling.BILINEAR))
            for channel in image
        ]
        image = np.stack(resized).astype(np.float32)
    return np.ascontiguousarray(image)


class LeRobotServer:
    """A loaded LeRobot policy answering openpi requests (transport-free, so testable); `infer` is
    serialized by a lock, as a torch module is not safe to run from several threads at once."""

    def __init__(self, path: Path, *, keys: dict[str, str] | None = None, device: str = "cpu") -> None:
        import torch
        from lerobot.configs.policies import PreTrainedConfig
        from lerobot.policies.factory import get_policy_class, make_pre_post_processors

        self._torch = torch
        config = PreTrainedConfig.from_pretrained(str(path))
        config.device = device
        self.policy = get_policy_class(config.type).from_pretrained(str(path), config=config)
        self.policy.eval()
        saved = (path / "policy_preprocessor.json").exists()
        # A folder without saved processors (a policy built and saved by hand) runs unnormalized.
        self.preprocess, self.postprocess = make_pre_post_processors(
            config, pretrained_path=str(path) if saved else None, **({} if saved else {"dataset_stats": None})
        )
        self.inputs: dict[str, tuple[str, tuple[int, ...]]] = {
            key: (str(feature.type.value), tuple(feature.shape)) for key, feature in config.input_features.items()
        }
        images = [k for k, (kind, _) in self.inputs.items() if kind == "VISUAL"]
        states = [k for k, (kind, _) in self.inputs.items() if kind == "STATE"]
        self.keys = keys if keys is not None else default_keys(images, states[0] if states else None)
        for request_key, feature in self.keys.items():
            if feature != TASK and feature not in self.inputs:
                raise ValueError(
                    f"--keys: {request_key!r} maps to {feature!r}, not an input of this policy ({sorted(self.inputs)})"
                )
        action = config.output_features["action"]
        self.action_dim = int(action.shape[0])
        self.chunk = int(getattr(config, "chunk_size", None) or getattr(config, "n_action_steps", 1) or 1)
        self._lock = threading.Lock()
        self.metadata: dict[str, Any] = {
            "server": "trialbench-lerobot",
            "policy": config.type,
            "path": path.name,
            "action_dim": self.action_dim,
            "action_horizon": self.chunk,
            "input_features": {k: {"type": t, "shape": list(s)} for k, (t, s) in self.inputs.items()},
            "observation_keys": self.keys,
        }

    def observation(self, request: dict[str, Any]) -> dict[str, Any]:
        """The policy's input dict from a request; raises ValueError naming a missing or malformed key."""
        torch = self._torch
        by_feature = {feature: key for key, feature in self.keys.items()}
        batch: dict[str, Any] = {}
        for feature, (kind, shape) in self.inputs.items():
            key = feature if feature in request else by_feature.get(feature)
            if key is None or key not in request:
                raise ValueError(f"the observation has no {by_feature.get(feature, feature)!r} (input {feature!r})")
            if kind == "VISUAL":
                batch[feature] = torch.from_numpy(image_array(request[key], key=key, shape=(3, shape[1], shape[2])))
            else:
                vector = np.asarray(request[key], dtype=np.float32).reshape(-1)
                if vector.shape != shape:
                    raise ValueError(f"{key!r} has {vector.shape[0]} components, input {feature!r} takes {shape[0]}")
                batch[feature] = torch.from_numpy(vector)
        prompt_key = by_feature.get(TASK, "prompt")
        batch[TASK] = str(request.get(prompt_key, request.get(TASK, "")))
        return batch

    def infer(self, request: dict[str, Any]) -> dict[str, Any]:
        """The reply to one request: actions [chunk, action_dim] and timings in ms."""
        started = time.perf_counter()
        batch = self.observation(request)
        with self._lock, self._torch.inference_mode():
            infer_started = time.perf_counter()
            chunk = self.policy.predict_action_chunk(self.preprocess(batch))
            actions = self.postprocess(chunk)
            infer_ms = (time.perf_counter() - infer_started) * 1000.0
        array = np.asarray(actions.detach().to("cpu").numpy(), dtype=np.float32)
        array = array.reshape(-1, self.action_dim)
        return {
            "actions": np.ascontiguousarray(array),
            "policy_timing": {"infer_ms": infer_ms},
            "server_timing": {"infer_ms": infer_ms, "prev_total_ms": (time.perf_counter() - started) * 1000.0},
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("path", type=Path, help="folder of a LeRobot policy (config.json, model.safetensors, ...)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--keys", help='JSON request key -> LeRobot feature or "task"; default: openpi LIBERO-style')
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda, mps)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not (args.path / "config.json").is_file():
        parser.error(f"{args.path}: no config.json (not a saved LeRobot policy folder)")
    keys = None
    if args.keys:
        keys = json.loads(args.keys)
        if not isinstance(keys, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in keys.items()):
            parser.error("--keys must be a JSON object of strings")
    try:
        server = LeRobotServer(args.path, keys=keys, device=args.device)
    except ValueError as exc:
        parser.error(str(exc))
    serve(server, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
