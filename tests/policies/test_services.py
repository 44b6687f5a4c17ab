"""Registering an uploaded ONNX policy version: good files are stored, bad ones refused with a reason."""

from __future__ import annotations

import hashlib
import io
import pickle
from pathlib import Path

import onnx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from onnx import helper

from core.policy import onnx_runtime
from policies.models import PolicyVersion
from policies.services import PolicyUploadError, policy_version_register
from tests.factories import PolicyFactory
from tests.policies.onnx_models import HOSTILE_SPEC, hostile_models, linear_policy

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def test_good_file_is_stored_content_addressed_with_sha256() -> None:
    data, spec, _ = linear_policy()
    upload = SimpleUploadedFile("my-policy.onnx", data)
    version = policy_version_register(policy=PolicyFactory(), version="v1", file=upload, io_spec=spec)
    sha = hashlib.sha256(data).hexdigest()
    version.refresh_from_db()
    assert version.sha256 == sha and version.size_bytes == len(data) and version.kind == PolicyVersion.Kind.ONNX
    assert version.artifact.name == f"policies/{sha}.onnx"
    assert Path(version.artifact.path).read_bytes() == data


def test_same_content_in_another_policy_shares_the_stored_file() -> None:
    data, spec, _ = linear_policy()
    a = policy_version_register(policy=PolicyFactory(), version="v1", file=data, io_spec=spec)
    b = policy_version_register(policy=PolicyFactory(), version="v1", file=data, io_spec=spec)
    assert a.artifact.name == b.artifact.name


def test_identical_artifact_for_a_new_version_of_the_same_policy_is_refused() -> None:
    # Issue 13 item 13: an upload identical (same sha256) to an existing version was accepted silently.
    data, spec, _ = linear_policy()
    policy = PolicyFactory(name="Kitting VLA")
    policy_version_register(policy=policy, version="v1", file=data, io_spec=spec)
    with pytest.raises(PolicyUploadError) as info:
        policy_version_register(policy=policy, version="v2", file=data, io_spec=spec)
    assert info.value.field == "artifact" and "identical" in str(info.value) and "Kitting VLA v1" in str(info.value)
    assert PolicyVersion.objects.filter(policy=policy).count() == 1


def test_corrupted_file_is_rejected() -> None:
    data, spec, _ = linear_policy()
    corrupted = data[: len(data) // 2] + b"\xff\x00garbage" * 10
    with pytest.raises(PolicyUploadError) as err:
        policy_version_register(policy=PolicyFactory(), version="v1", file=corrupted, io_spec=spec)
    assert err.value.field == "artifact"
    assert "ONNX" in str(err.value) or "onnx" in str(err.value)
    assert not PolicyVersion.objects.exists()


def test_pickle_is_rejected_without_being_unpickled() -> None:
    class Boom:
        def __reduce__(self):  # would run on unpickling
            return (pytest.fail, ("the upload was unpickled",))

    with pytest.raises(PolicyUploadError, match="ONNX"):
        policy_version_register(
            policy=PolicyFactory(), version="v1", file=pickle.dumps(Boom()), io_spec=linear_policy()[1]
        )


def test_oversize_file_is_rejected_before_reading(settings) -> None:
    data, spec, _ = linear_policy()
    settings.POLICY_MAX_UPLOAD_BYTES = len(data) - 1
    with pytest.raises(PolicyUploadError, match="limit"):
        policy_version_register(
            policy=PolicyFactory(), version="v1", file=SimpleUploadedFile("p.onnx", data), io_spec=spec
        )
    stream = io.BytesIO(data)  # no .size: the read itself stops at the limit
    with pytest.raises(PolicyUploadError, match="limit"):
        policy_version_register(policy=PolicyFactory(), version="v1", file=stream, io_spec=spec)


def test_wrong_io_is_rejected_naming_io_spec() -> None:
    data, spec, _ = linear_policy(state_dim=4)
    spec["state"]["dim"] = 7
    with pytest.raises(PolicyUploadError, match="shape") as err:
        policy_version_register(policy=PolicyFactory(), version="v1", file=data, io_spec=spec)
    assert err.value.field == "io_spec"


def test_model_failing_checker_is_rejected() -> None:
    node = helper.make_node("NoSuchOp", ["state"], ["action"])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("state", onnx.TensorProto.FLOAT, ["b", 2])],
        [helper.make_tensor_value_info("action", onnx.TensorProto.FLOAT, ["b", 2])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    spec = {"state": {"input": "state", "dim": 2}, "action": {"output": "action", "dim": 2}}
    with pytest.raises(PolicyUploadError, match="onnx.checker"):
        policy_version_register(policy=PolicyFactory(), version="v1", file=model.SerializeToString(), io_spec=spec)


def test_external_data_is_refused() -> None:
    data, spec, _ = linear_policy()
    model = onnx.load_model_from_string(data)
    tensor = model.graph.initializer[0]
    tensor.data_location = onnx.TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", "/etc/passwd"
    with pytest.raises(PolicyUploadError, match="external data"):
        policy_version_register(policy=PolicyFactory(), version="v1", file=model.SerializeToString(), io_spec=spec)


@pytest.mark.parametrize("kind", sorted(hostile_models("secret.bin")))
def test_external_data_anywhere_is_refused_before_onnxruntime_opens_the_model(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_session(*args: object, **kwargs: object) -> None:
        raise AssertionError("onnxruntime opened a model that names external data")

    monkeypatch.setattr(onnx_runtime.ort, "InferenceSession", no_session)
    data = hostile_models("secret.bin")[kind]
    with pytest.raises(PolicyUploadError, match="external data") as refused:
        policy_version_register(policy=PolicyFactory(), version="v1", file=data, io_spec=HOSTILE_SPEC)
    assert refused.value.field == "artifact"
    assert not PolicyVersion.objects.exists()


def test_duplicate_version_name_is_refused() -> None:
    data, spec, _ = linear_policy()
    policy = PolicyFactory()
    policy_version_register(policy=policy, version="v1", file=data, io_spec=spec)
    with pytest.raises(PolicyUploadError) as err:
        policy_version_register(policy=policy, version="v1", file=data, io_spec=spec)
    assert err.value.field == "version"
