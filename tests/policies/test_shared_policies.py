"""Shared policies (no owner) run in every organization, so only platform administrators write them;
across organizations, a tenant's engineer (staff or not) cannot reach another tenant's robots through
them, and a robot agent downloads only the artifacts of its own jobs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import Role, User
from policies.models import PolicyVersion
from policies.services import PolicyUploadError, policy_version_register
from robots.models import RobotKind
from robots.services import robot_agent_token_issue
from tests.factories import OrganizationFactory, PolicyFactory, RobotFactory, TrialFactory, UserFactory, client_for
from tests.policies.onnx_models import linear_policy
from trials.agents.services import agent_jobs_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def _upload(user: User, policy_pk: int, *, seed: int = 0):  # type: ignore[no-untyped-def]
    data, spec, _ = linear_policy(seed=seed)
    return client_for(user).post(
        reverse("policy-version-upload"),
        {
            "policy": policy_pk,
            "version": f"v{seed}",
            "artifact": SimpleUploadedFile("p.onnx", data),
            "io_spec": json.dumps(spec),
            "notes": "",
        },
    )


def _agent(robot) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {robot_agent_token_issue(robot=robot)}")
    return client


def test_staff_engineer_cannot_add_a_version_to_the_shared_policy_on_the_page() -> None:
    engineer = UserFactory(role=Role.ENGINEER, is_staff=True)
    shared = PolicyFactory(organization=None)
    response = _upload(engineer, shared.pk)
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not PolicyVersion.objects.exists()


def test_staff_engineer_cannot_add_a_version_to_the_shared_policy_in_the_service() -> None:
    engineer = UserFactory(role=Role.ENGINEER, is_staff=True)
    data, spec, _ = linear_policy()
    with pytest.raises(PolicyUploadError, match="platform administrators") as refused:
        policy_version_register(
            policy=PolicyFactory(organization=None), version="v1", file=data, io_spec=spec, created_by=engineer
        )
    assert refused.value.field == "policy" and not PolicyVersion.objects.exists()


def test_engineer_cannot_add_a_version_to_another_organizations_policy_in_the_service() -> None:
    engineer = UserFactory(role=Role.ENGINEER, is_staff=True)
    theirs = PolicyFactory(organization=OrganizationFactory())
    data, spec, _ = linear_policy()
    with pytest.raises(PolicyUploadError, match="its organization") as refused:
        policy_version_register(policy=theirs, version="v1", file=data, io_spec=spec, created_by=engineer)
    assert refused.value.field == "policy" and not PolicyVersion.objects.exists()


def test_platform_admin_adds_a_version_to_the_shared_policy() -> None:
    admin = UserFactory(is_superuser=True, is_staff=True)
    shared = PolicyFactory(organization=None)
    response = _upload(admin, shared.pk)
    assert response.status_code == 302
    assert PolicyVersion.objects.get(policy=shared).created_by == admin


def test_across_organizations_a_robot_downloads_only_its_own_jobs_artifacts() -> None:
    org_a, org_b = OrganizationFactory(), OrganizationFactory()
    engineer_a = UserFactory(organization=org_a, role=Role.ENGINEER, is_staff=True)
    shared = PolicyFactory(organization=None)
    own_a = PolicyFactory(organization=org_a)
    # A's staff engineer tries to slip a version into the shared policy, then uploads to its own.
    assert _upload(engineer_a, shared.pk, seed=1).status_code == 200
    assert not PolicyVersion.objects.filter(policy=shared).exists()
    assert _upload(engineer_a, own_a.pk, seed=2).status_code == 302
    private_a = PolicyVersion.objects.get(policy=own_a)
    admin = UserFactory(is_superuser=True, is_staff=True)
    assert _upload(admin, shared.pk, seed=3).status_code == 302
    shared_version = PolicyVersion.objects.get(policy=shared)

    robot_a = RobotFactory(organization=org_a, kind=RobotKind.PHYSICAL, sim_cell_key="")
    robot_b = RobotFactory(organization=org_b, kind=RobotKind.PHYSICAL, sim_cell_key="")
    agent_jobs_create(trial=TrialFactory(robot=robot_a, task__organization=org_a, policy_version=private_a))
    agent_b = _agent(robot_b)
    url = "/api/v1/agent/policy-versions/{}/artifact/"
    # B's robot has no job for A's private version, nor (yet) for the shared one: both are 404.
    assert agent_b.get(url.format(private_a.pk)).status_code == 404
    assert agent_b.get(url.format(shared_version.pk)).status_code == 404
    agent_jobs_create(trial=TrialFactory(robot=robot_b, task__organization=org_b, policy_version=shared_version))
    download = agent_b.get(url.format(shared_version.pk))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == Path(shared_version.artifact.path).read_bytes()
    assert agent_b.get(url.format(private_a.pk)).status_code == 404
    assert _agent(robot_a).get(url.format(private_a.pk)).status_code == 200
