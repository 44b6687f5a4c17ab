"""Policies pages: shared and own policies are listed; engineers upload versions through
policy_version_register (real ONNX checks), managers cannot; a bad file saves nothing."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from policies.models import PolicyVersion
from tests.factories import OrganizationFactory, PolicyFactory, PolicyVersionFactory, UserFactory, client_for
from tests.policies.onnx_models import linear_policy

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.mark.parametrize("role", [Role.ENGINEER, Role.MANAGER, Role.INTEGRATOR])
def test_list_shows_shared_and_own_policies_only(role: Role) -> None:
    org = OrganizationFactory()
    PolicyVersionFactory(policy=PolicyFactory(name="Reference VLA"), version="v1")
    PolicyFactory(name="Our finetune", organization=org)
    PolicyFactory(name="Their secret", organization=OrganizationFactory())
    page = client_for(UserFactory(organization=org, role=role)).get(reverse("policy-list")).content.decode()
    assert "Reference VLA" in page and "Our finetune" in page and "Their secret" not in page


def test_other_organizations_version_is_404() -> None:
    foreign = PolicyVersionFactory(policy=PolicyFactory(organization=OrganizationFactory()))
    client = client_for(UserFactory(role=Role.ENGINEER))
    assert client.get(reverse("policy-version-detail", args=[foreign.pk])).status_code == 404


def test_manager_cannot_upload() -> None:
    manager = UserFactory(role=Role.MANAGER)
    assert client_for(manager).get(reverse("policy-version-upload")).status_code == 403


def _upload(client: Client, policy, data: bytes, spec: object, version: str = "v2"):
    return client.post(
        reverse("policy-version-upload"),
        {
            "policy": policy.pk,
            "version": version,
            "artifact": SimpleUploadedFile("policy.onnx", data),
            "io_spec": json.dumps(spec),
            "notes": "",
        },
    )


def test_engineer_uploads_a_checked_onnx_version() -> None:
    engineer = UserFactory(role=Role.ENGINEER)
    policy = PolicyFactory(organization=engineer.organization)
    data, spec, _ = linear_policy()
    response = _upload(client_for(engineer), policy, data, spec)
    version = PolicyVersion.objects.get(policy=policy, version="v2")
    assert response.status_code == 302 and response["Location"] == reverse("policy-version-detail", args=[version.pk])
    assert len(version.sha256) == 64 and version.size_bytes == len(data) and version.created_by == engineer


def test_corrupted_upload_is_refused_with_a_reason_and_saves_nothing() -> None:
    engineer = UserFactory(role=Role.ENGINEER)
    policy = PolicyFactory(organization=engineer.organization)
    _, spec, _ = linear_policy()
    response = _upload(client_for(engineer), policy, b"\x80\x04not an onnx model", spec)
    assert response.status_code == 200 and "was not registered" in response.content.decode()
    assert PolicyVersion.objects.filter(policy=policy).count() == 0


def test_invalid_json_spec_is_a_field_error() -> None:
    engineer = UserFactory(role=Role.ENGINEER)
    policy = PolicyFactory(organization=engineer.organization)
    data, _, _ = linear_policy()
    response = client_for(engineer).post(
        reverse("policy-version-upload"),
        {"policy": policy.pk, "version": "v9", "artifact": SimpleUploadedFile("p.onnx", data), "io_spec": "{not json"},
    )
    assert response.status_code == 200 and "Not valid JSON" in response.content.decode()
    assert not PolicyVersion.objects.exists()


def test_engineer_cannot_add_versions_to_a_shared_policy() -> None:
    engineer = UserFactory(role=Role.ENGINEER)
    shared = PolicyFactory(organization=None)
    data, spec, _ = linear_policy()
    response = _upload(client_for(engineer), shared, data, spec)
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not PolicyVersion.objects.exists()


def test_policy_list_query_count_is_flat(django_assert_max_num_queries) -> None:
    for n in range(15):
        PolicyVersionFactory(policy=PolicyFactory(name=f"P{n}"))
    client = client_for(UserFactory(role=Role.MANAGER))
    # session, user, role check, nav groups, nav organization, policies, their versions.
    with django_assert_max_num_queries(7):
        assert client.get(reverse("policy-list")).status_code == 200


def test_version_page_shows_the_io_spec_as_json() -> None:
    # Issue 13 item 13: the page showed a Python dict ({'images': [...], 'normalize': True}).
    import html
    import json

    from tests.factories import PolicyVersionFactory, UserFactory, client_for

    user = UserFactory(role=Role.ENGINEER)
    version = PolicyVersionFactory(
        io_spec={"images": [{"camera": "top", "height": 16}], "normalize": True, "mean": None}
    )
    page = client_for(user).get(reverse("policy-version-detail", args=[version.pk])).content.decode()
    shown = page.split('data-testid="io-spec"><code>')[1].split("</code>")[0]
    assert json.loads(html.unescape(shown)) == version.io_spec
    assert "True" not in shown and "None" not in shown
