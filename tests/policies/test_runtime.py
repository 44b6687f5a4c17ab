"""The ONNX policy runtime: spec checks, observation -> inputs, outputs -> actions, per-process cache."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.policy import onnx_runtime
from core.policy.onnx_runtime import (
    ExternalDataError,
    PolicySpecError,
    instruction_encode,
    policy_from_bytes,
    policy_load,
    spec_parse,
)
from core.sim.base import Observation
from tests.policies.onnx_models import HOSTILE_SPEC, hostile_models, linear_policy


def _obs(*, hw: tuple[int, int] = (16, 16), state_dim: int = 4, seed: int = 0) -> Observation:
    rng = np.random.default_rng(seed)
    return Observation(
        images={"front": rng.integers(0, 256, size=(*hw, 3), dtype=np.uint8)},
        state=rng.standard_normal(state_dim).astype(np.float32),
        instruction="place the bracket in the tray",
    )


def _expected(weights: dict[str, np.ndarray], obs: Observation, instruction: str, dim: int) -> np.ndarray:
    image = (obs.images["front"].astype(np.float32) / 255.0).transpose(2, 0, 1).reshape(1, -1)
    text = instruction_encode(instruction, dim=dim)[None]
    return image @ weights["image"] + text @ weights["instruction"] + obs.state[None] @ weights["state"]


def test_act_matches_linear_model_computed_by_hand() -> None:
    data, spec, weights = linear_policy()
    loaded = policy_from_bytes(data=data, io_spec=spec)
    obs = _obs()
    episode = loaded.episode(instruction="place the bracket in the tray")
    action = episode.act(obs)
    np.testing.assert_allclose(action, _expected(weights, obs, "place the bracket in the tray", 32)[0], rtol=1e-4)
    assert episode.latency_summary()["inferences"] == 1


def test_action_chunk_is_executed_for_execute_steps_before_next_inference() -> None:
    data, spec, weights = linear_policy(chunk=3, action_dim=2)
    spec["action"]["execute_steps"] = 2
    loaded = policy_from_bytes(data=data, io_spec=spec)
    episode = loaded.episode(instruction="go")
    first, second = _obs(seed=1), _obs(seed=2)
    flat = _expected(weights, first, "go", 32).reshape(3, 2)
    a0, a1 = episode.act(first), episode.act(second)  # second obs ignored: still in the chunk
    np.testing.assert_allclose(a0, flat[0], rtol=1e-4)
    np.testing.assert_allclose(a1, flat[1], rtol=1e-4)
    a2 = episode.act(second)  # new inference on the second observation
    np.testing.assert_allclose(a2, _expected(weights, second, "go", 32).reshape(3, 2)[0], rtol=1e-4)
    assert episode.latency_summary()["inferences"] == 2


def test_image_is_resized_and_normalised_per_spec() -> None:
    data, spec, weights = linear_policy(instruction_dim=None, state_dim=None)
    spec["images"][0].update(mean=[0.5, 0.5, 0.5], std=[0.25, 0.25, 0.25])
    loaded = policy_from_bytes(data=data, io_spec=spec)
    big = _obs(hw=(48, 64))
    feeds = loaded.episode(instruction="").feeds(big)
    resized = np.asarray(Image.fromarray(big.images["front"]).resize((16, 16), Image.Resampling.BILINEAR))
    want = ((resized / 255.0 - 0.5) / 0.25).transpose(2, 0, 1)[None]
    assert feeds["image"].shape == (1, 3, 16, 16)
    np.testing.assert_allclose(feeds["image"], want, rtol=1e-5, atol=1e-5)


def test_action_is_denormalised_and_clipped() -> None:
    data, spec, weights = linear_policy(instruction_dim=None)
    spec["action"].update(mean=[10.0, -10.0], std=[2.0, 2.0], low=[-100.0, -10.5], high=[100.0, -9.5])
    loaded = policy_from_bytes(data=data, io_spec=spec)
    obs = _obs()
    raw = (
        (obs.images["front"].astype(np.float32) / 255.0).transpose(2, 0, 1).reshape(1, -1) @ weights["image"]
        + obs.state[None] @ weights["state"]
    )[0]
    action = loaded.episode(instruction="x").act(obs)
    assert action[0] == pytest.approx(raw[0] * 2 + 10, rel=1e-4)
    assert -10.5 <= action[1] <= -9.5


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda s: s["state"].update(dim=5), "shape"),
        (lambda s: s.pop("instruction"), "do not match the io_spec inputs"),
        (lambda s: s["action"].update(output="actions"), "no output 'actions'"),
        (lambda s: s["action"].update(dim=3), "output 'action' has shape"),
        (lambda s: s["images"][0].update(height=8), "model input 'image' has shape"),
        (lambda s: s["images"][0].update(layout="NHWC"), "model input 'image' has shape"),
    ],
)
def test_model_not_matching_spec_is_rejected(mutate, message: str) -> None:
    data, spec, _ = linear_policy()
    bad = copy.deepcopy(spec)
    mutate(bad)
    with pytest.raises(PolicySpecError, match=message):
        policy_from_bytes(data=data, io_spec=bad)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "JSON object"),
        ({"format": 2, "action": {}}, "format 2"),
        (
            {"images": [{"input": "i", "camera": "c", "height": 0, "width": 4}], "action": {"output": "a", "dim": 2}},
            "height",
        ),
        (
            {"instruction": {"input": "t", "encoding": "bert", "dim": 4}, "action": {"output": "a", "dim": 2}},
            "encoding",
        ),
        ({"state": {"input": "s", "dim": 2, "std": [1, 0]}, "action": {"output": "a", "dim": 2}}, "positive"),
        (
            {"state": {"input": "s", "dim": 2}, "action": {"output": "a", "dim": 2, "chunk": 2, "execute_steps": 3}},
            "exceed",
        ),
        ({"state": {"input": "s", "dim": 2}}, "action is required"),
        ({"action": {"output": "a", "dim": 2}}, "no input"),
    ],
)
def test_malformed_spec_names_the_field(raw, message: str) -> None:
    with pytest.raises(PolicySpecError, match=message):
        spec_parse(raw)


def test_instruction_encoding_is_stable_normalised_and_phrasing_aware() -> None:
    a = instruction_encode("Place the bracket in the tray", dim=256)
    assert a.dtype == np.float32 and a.shape == (256,)
    assert np.linalg.norm(a) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_array_equal(a, instruction_encode("place the bracket in the tray!", dim=256))
    close = instruction_encode("put the bracket into the tray", dim=256)
    far = instruction_encode("move the arm to the red target", dim=256)
    assert float(a @ close) > float(a @ far) + 0.2
    # Fixed values: the encoding is part of the io_spec contract and must never drift between releases.
    # "reach": word w:reach (1) + trigrams #re rea eac ach ch# (0.5 each) hashed into 8 buckets.
    np.testing.assert_allclose(
        instruction_encode("reach", dim=8), [0.7559, 0, -0.378, 0, 0, -0.378, 0.378, 0], atol=1e-4
    )
    assert np.count_nonzero(instruction_encode("", dim=8)) == 0


def test_load_is_cached_per_process_by_sha256(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    onnx_runtime.cache_clear()
    data, spec, _ = linear_policy(seed=3)
    path = tmp_path / "p.onnx"
    path.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    created = []
    real = onnx_runtime.session_create
    monkeypatch.setattr(onnx_runtime, "session_create", lambda m: created.append(m) or real(m))
    first = policy_load(path=path, sha256=sha, io_spec=spec)
    second = policy_load(path=path, sha256=sha, io_spec=spec)
    assert first is second and len(created) == 1 and onnx_runtime.cache_info() == [sha]
    onnx_runtime.cache_clear()


def test_load_rejects_artifact_whose_hash_changed(tmp_path: Path) -> None:
    onnx_runtime.cache_clear()
    data, spec, _ = linear_policy()
    path = tmp_path / "p.onnx"
    path.write_bytes(data)
    with pytest.raises(PolicySpecError, match="sha256"):
        policy_load(path=path, sha256="0" * 64, io_spec=spec)


def test_session_uses_one_thread() -> None:
    data, _, _ = linear_policy()
    session = onnx_runtime.session_create(data)
    assert session.get_session_options().intra_op_num_threads == 1


def test_missing_camera_or_wrong_state_length_is_a_spec_error() -> None:
    data, spec, _ = linear_policy()
    episode = policy_from_bytes(data=data, io_spec=spec).episode(instruction="x")
    with pytest.raises(PolicySpecError, match="camera 'front'"):
        episode.act(Observation(images={"wrist": np.zeros((16, 16, 3), np.uint8)}, state=np.zeros(4), instruction=""))
    with pytest.raises(PolicySpecError, match="state of 4"):
        episode.act(_obs(state_dim=3))


@pytest.mark.parametrize("kind", sorted(hostile_models("secret.bin")))
def test_load_refuses_a_model_that_would_read_the_file_beside_it(kind: str, tmp_path: Path) -> None:
    # The worker and the robot agent load stored artifacts by path; onnxruntime would resolve
    # "secret.bin" against the artifact's folder and turn its bytes into weights.
    onnx_runtime.cache_clear()
    (tmp_path / "secret.bin").write_bytes(np.array([1.5, 2.5], np.float32).tobytes())
    data = hostile_models("secret.bin")[kind]
    path = tmp_path / "p.onnx"
    path.write_bytes(data)
    with pytest.raises(ExternalDataError, match="external data"):
        policy_load(path=path, sha256=hashlib.sha256(data).hexdigest(), io_spec=HOSTILE_SPEC)
    assert onnx_runtime.cache_info() == []


def test_external_data_error_names_where_the_tensor_sits() -> None:
    data = hostile_models("secret.bin")["if_inside_loop_body"]
    with pytest.raises(ExternalDataError) as refused:
        onnx_runtime.model_bytes_check(data)
    assert "then_branch" in str(refused.value) and "body" in str(refused.value)


def test_a_model_with_embedded_weights_passes_the_external_data_check() -> None:
    data, _, _ = linear_policy()
    assert onnx_runtime.model_bytes_check(data).graph.node
