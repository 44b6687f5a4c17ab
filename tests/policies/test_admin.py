"""The admin add form for PolicyVersion runs the same upload checks as the service."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from policies.models import PolicyVersion
from tests.factories import PolicyFactory
from tests.policies.onnx_models import linear_policy

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def _post(client, *, data: bytes, spec: dict) -> object:
    policy = PolicyFactory()
    return client.post(
        reverse("admin:policies_policyversion_add"),
        {
            "policy": policy.pk,
            "version": "v1",
            "kind": "onnx",
            "artifact": SimpleUploadedFile("p.onnx", data),
            "io_spec": json.dumps(spec),
            "remote_config": "{}",
            "endpoint_url": "",
            "notes": "",
        },
    )


def test_admin_add_stores_checked_version(admin_client) -> None:
    data, spec, _ = linear_policy()
    response = _post(admin_client, data=data, spec=spec)
    assert response.status_code == 302, response.content.decode()[:2000]
    version = PolicyVersion.objects.get()
    assert version.size_bytes == len(data) and Path(version.artifact.path).read_bytes() == data


def test_admin_add_shows_reason_for_corrupted_file(admin_client) -> None:
    data, spec, _ = linear_policy()
    response = _post(admin_client, data=b"not an onnx file at all" * 3, spec=spec)
    assert response.status_code == 200
    assert "not an ONNX model" in response.content.decode()
    assert not PolicyVersion.objects.exists()


def test_admin_add_shows_io_mismatch_on_io_spec(admin_client) -> None:
    data, spec, _ = linear_policy()
    spec["action"]["dim"] = 5
    response = _post(admin_client, data=data, spec=spec)
    assert response.status_code == 200
    assert "the io_spec needs" in response.content.decode()
    assert not PolicyVersion.objects.exists()


def test_tenant_staff_with_every_policy_permission_cannot_use_the_policy_admin() -> None:
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory, client_for

    staff = UserFactory(is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="policies"))
    client = client_for(staff)
    shared = PolicyFactory(organization=None)
    # The whole admin is for platform administrators: others are sent to its login.
    assert client.get(reverse("admin:policies_policy_change", args=[shared.pk])).status_code == 302
    assert client.get(reverse("admin:policies_policyversion_add")).status_code == 302
    assert client.get(reverse("admin:policies_policy_changelist")).status_code == 302
    data, spec, _ = linear_policy()
    _post(client, data=data, spec=spec)
    assert not PolicyVersion.objects.exists()


@pytest.mark.parametrize(
    ("kind", "url", "config", "field"),
    [
        ("rest", "http://gpu-box:8000", {}, "endpoint_url"),
        ("openpi", "http://gpu-box:8000", {}, "endpoint_url"),
        ("rest", "http://gpu-box:8000/act", {"action_map": [0, -2]}, "remote_config"),
        ("openpi", "ws://gpu-box:8000", {"timeout_s": -1}, "remote_config"),
    ],
)
def test_admin_add_remote_version_names_the_bad_field(
    admin_client, kind: str, url: str, config: dict, field: str
) -> None:  # type: ignore[no-untyped-def]
    response = admin_client.post(
        reverse("admin:policies_policyversion_add"),
        {
            "policy": PolicyFactory().pk,
            "version": "remote",
            "kind": kind,
            "io_spec": "{}",
            "remote_config": json.dumps(config),
            "endpoint_url": url,
            "notes": "",
        },
    )
    assert response.status_code == 200 and not PolicyVersion.objects.exists()
    assert field in response.context["adminform"].form.errors


def test_admin_add_accepts_a_valid_remote_version(admin_client) -> None:  # type: ignore[no-untyped-def]
    response = admin_client.post(
        reverse("admin:policies_policyversion_add"),
        {
            "policy": PolicyFactory().pk,
            "version": "openvla",
            "kind": "rest",
            "io_spec": "{}",
            "remote_config": json.dumps({"action_map": [0, 1, 2, 6]}),
            "endpoint_url": "http://gpu-box:8000/act",
            "notes": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert PolicyVersion.objects.get().remote_config == {"action_map": [0, 1, 2, 6]}
