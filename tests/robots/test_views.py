"""Robots pages: an organization sees only its own robots; another organization's robot is a 404."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from tests.factories import OrganizationFactory, RobotFactory, SiteFactory, TrialFactory, UserFactory, client_for

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", [Role.ENGINEER, Role.MANAGER, Role.INTEGRATOR])
def test_each_role_sees_only_its_organizations_robots(role: Role) -> None:
    mine, theirs = OrganizationFactory(), OrganizationFactory()
    own = RobotFactory(organization=mine, name="UR5e bench", site=SiteFactory(organization=mine))
    foreign = RobotFactory(organization=theirs, name="Foreign rig")
    client = client_for(UserFactory(organization=mine, role=role))
    page = client.get(reverse("robot-list")).content.decode()
    assert "UR5e bench" in page and "Foreign rig" not in page
    assert client.get(reverse("robot-detail", args=[own.pk])).status_code == 200
    assert client.get(reverse("robot-detail", args=[foreign.pk])).status_code == 404


def test_robot_pages_require_login() -> None:
    robot = RobotFactory()
    for url in (reverse("robot-list"), reverse("robot-detail", args=[robot.pk])):
        response = Client().get(url)
        assert response.status_code == 302 and reverse("login") in response["Location"]


def test_robot_detail_lists_its_trials() -> None:
    org = OrganizationFactory()
    robot = RobotFactory(organization=org)
    trial = TrialFactory(robot=robot, task__organization=org)
    page = client_for(UserFactory(organization=org, role=Role.ENGINEER)).get(reverse("robot-detail", args=[robot.pk]))
    assert f"#{trial.pk}<" in page.content.decode()


def test_robot_list_query_count_is_flat(django_assert_max_num_queries) -> None:
    org = OrganizationFactory()
    for _ in range(20):
        robot = RobotFactory(organization=org, site=SiteFactory(organization=org))
        TrialFactory(robot=robot, task__organization=org)
    client = client_for(UserFactory(organization=org, role=Role.MANAGER))
    with django_assert_max_num_queries(5):
        page = client.get(reverse("robot-list")).content.decode()
    assert page.count("/robots/") >= 20
