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
    with django_assert_max_num_queries(6):  # 6: the role check for the registration form
        page = client.get(reverse("robot-list")).content.decode()
    assert page.count("/robots/") >= 20


# --- Registering robots and issuing agent tokens in the browser (issue 13 item 14) -------------


def test_engineer_registers_a_physical_robot_and_sees_its_token_once() -> None:
    from accounts.tokens import token_hash
    from robots.models import Robot

    engineer = UserFactory(role=Role.ENGINEER)
    client = client_for(engineer)
    assert 'data-testid="robot-register"' in client.get(reverse("robot-list")).content.decode()
    response = client.post(reverse("robot-create"), {"name": "UR5e cell 2", "kind": "physical", "model": "UR5e"})
    assert response.status_code == 200
    robot = Robot.objects.get(name="UR5e cell 2")
    assert robot.organization == engineer.organization and robot.kind == "physical"
    page = response.content.decode()
    token = page.split('<code class="secret">')[1].split("</code>")[0]
    assert token_hash(token) == robot.agent_token_sha256  # the secret shown is the one that works
    assert token not in client.get(reverse("robot-detail", args=[robot.pk])).content.decode()  # shown once


def test_engineer_registers_a_simulated_cell_without_a_token() -> None:
    from robots.models import Robot

    client = client_for(UserFactory(role=Role.ENGINEER))
    response = client.post(
        reverse("robot-create"), {"name": "Sim 2", "kind": "simulated", "sim_cell_key": "tabletop-reach-2d"}
    )
    assert response.status_code == 200 and 'data-testid="agent-token"' not in response.content.decode()
    robot = Robot.objects.get(name="Sim 2")
    assert robot.sim_cell_key == "tabletop-reach-2d" and robot.agent_token_sha256 == ""


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": "", "kind": "physical"}, "name", "This field is required."),
        ({"name": "S", "kind": "simulated"}, "sim_cell_key", "A simulated robot needs a simulation cell."),
        ({"name": "S", "kind": "simulated", "sim_cell_key": "nope"}, "sim_cell_key", "Select a valid choice."),
        ({"name": "P", "kind": "physical", "sim_cell_key": "tabletop-reach-2d"}, "sim_cell_key", "Only a simulated"),
        ({"name": "Taken", "kind": "physical"}, "name", "already has a robot named"),
    ],
)
def test_bad_registration_names_the_field_and_saves_nothing(data: dict[str, str], field: str, message: str) -> None:
    from robots.models import Robot

    engineer = UserFactory(role=Role.ENGINEER)
    RobotFactory(organization=engineer.organization, name="Taken")
    response = client_for(engineer).post(reverse("robot-create"), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Robot.objects.count() == 1


def test_site_of_another_organization_is_refused() -> None:
    engineer = UserFactory(role=Role.ENGINEER)
    response = client_for(engineer).post(
        reverse("robot-create"), {"name": "R", "kind": "physical", "site": SiteFactory().pk}
    )
    assert response.status_code == 400


@pytest.mark.parametrize("role", [Role.MANAGER, Role.INTEGRATOR])
def test_readers_cannot_register_or_issue_tokens(role: Role) -> None:
    from robots.models import Robot

    user = UserFactory(role=role)
    robot = RobotFactory(organization=user.organization, kind="physical", sim_cell_key="")
    client = client_for(user)
    assert 'data-testid="robot-register"' not in client.get(reverse("robot-list")).content.decode()
    assert 'data-testid="issue-token"' not in client.get(reverse("robot-detail", args=[robot.pk])).content.decode()
    assert client.post(reverse("robot-create"), {"name": "X", "kind": "physical"}).status_code == 403
    assert client.post(reverse("robot-token-issue", args=[robot.pk])).status_code == 403
    assert not Robot.objects.filter(name="X").exists()
    robot.refresh_from_db()
    assert robot.agent_token_sha256 == ""


def test_engineer_reissues_a_token_and_the_old_one_stops_working() -> None:
    from accounts.tokens import token_hash
    from robots.services import robot_agent_token_issue

    engineer = UserFactory(role=Role.ENGINEER)
    robot = RobotFactory(organization=engineer.organization, kind="physical", sim_cell_key="")
    old = robot_agent_token_issue(robot=robot)
    response = client_for(engineer).post(reverse("robot-token-issue", args=[robot.pk]))
    robot.refresh_from_db()
    assert response.status_code == 200 and robot.agent_token_sha256 != token_hash(old)
    new = response.content.decode().split('<code class="secret">')[1].split("</code>")[0]
    assert token_hash(new) == robot.agent_token_sha256


def test_another_organizations_robot_token_is_404() -> None:
    robot = RobotFactory(kind="physical", sim_cell_key="")
    assert (
        client_for(UserFactory(role=Role.ENGINEER)).post(reverse("robot-token-issue", args=[robot.pk])).status_code
        == 404
    )


def test_admin_is_for_platform_administrators_only() -> None:
    from django.contrib.auth.models import Permission

    staff_engineer = UserFactory(role=Role.ENGINEER, is_staff=True)
    assert 'class="admin-link"' not in client_for(staff_engineer).get(reverse("robot-list")).content.decode()
    # A tenant's staff user with model permissions would read every organization's rows in the admin.
    staff_engineer.user_permissions.add(Permission.objects.get(codename="view_robot"))
    client = client_for(staff_engineer)
    assert 'class="admin-link"' not in client.get(reverse("robot-list")).content.decode()
    assert client.get("/admin/robots/robot/").status_code == 302  # to the admin's login
    superuser = UserFactory(is_staff=True, is_superuser=True)
    assert 'class="admin-link"' in client_for(superuser).get(reverse("robot-list")).content.decode()
    assert client_for(superuser).get("/admin/robots/robot/").status_code == 200
