"""`manage.py policy_serve VERSION_ID`: finds a stored ONNX version's artifact and serves it with
core.policy.serve (the serving itself runs as a real process in tests/e2e/test_agent.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from core.policy import onnx_runtime
from core.policy.serve import PolicyServer
from policies.management.commands import policy_serve
from policies.models import PolicyVersion
from policies.services import policy_version_register
from tests.factories import PolicyFactory
from tests.policies.onnx_models import linear_policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Path) -> dict[str, Any]:
    settings.MEDIA_ROOT = tmp_path / "media"
    onnx_runtime.cache_clear()
    calls: dict[str, Any] = {}

    def fake_serve(server: PolicyServer, *, host: str, port: int) -> None:
        calls.update(server=server, host=host, port=port)

    monkeypatch.setattr(policy_serve, "serve", fake_serve)
    return calls


def test_serves_the_versions_model_with_its_name_in_the_metadata(served: dict[str, Any]) -> None:
    data, spec, _ = linear_policy(action_dim=3, chunk=4)
    version = policy_version_register(policy=PolicyFactory(name="kitting"), version="v7", file=data, io_spec=spec)
    call_command("policy_serve", str(version.pk), "--port", "8123", "--keys", '{"img": "camera:front"}')
    server = served["server"]
    assert (served["host"], served["port"]) == ("127.0.0.1", 8123)
    assert server.metadata == {
        "server": "trialbench",
        "policy": "kitting",
        "version": "v7",
        "sha256": version.sha256,
        "action_dim": 3,
        "action_horizon": 4,
    }
    assert server.config.observation_keys == {"img": "camera:front"}


def test_refuses_a_remote_version_and_an_unknown_id(served: dict[str, Any]) -> None:
    remote = PolicyVersion.objects.create(
        policy=PolicyFactory(), version="r", kind=PolicyVersion.Kind.OPENPI, endpoint_url="ws://gpu:8000"
    )
    with pytest.raises(CommandError, match="not an ONNX artifact"):
        call_command("policy_serve", str(remote.pk))
    with pytest.raises(CommandError, match="no policy version"):
        call_command("policy_serve", "999999")
    assert not served
