"""accounts.permissions is the one role check: the HTML pages and the API's permission classes ask it
the same question and get the same answer."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from accounts.models import Role, User
from accounts.permissions import (
    CanRunTrials,
    CanWriteTasks,
    acts_for_organization,
    can_manage_for_organization,
    can_run_trials,
    can_scope_tasks,
    has_any_role,
)
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def _drf_allows(permission: CanRunTrials | CanWriteTasks, user: User, method: str = "post") -> bool:
    request = getattr(APIRequestFactory(), method)("/")
    force_authenticate(request, user=user)
    view = APIView()
    return permission.has_permission(view.initialize_request(request), view)


@pytest.mark.parametrize(
    ("role", "scopes", "runs"),
    [(Role.ENGINEER, True, True), (Role.INTEGRATOR, False, True), (Role.MANAGER, False, False), (None, False, False)],
)
def test_html_checks_and_api_permission_classes_agree(role: Role | None, scopes: bool, runs: bool) -> None:
    user = UserFactory(role=role)
    assert can_scope_tasks(user) is scopes and _drf_allows(CanWriteTasks(), user) is scopes
    assert can_run_trials(user) is runs and _drf_allows(CanRunTrials(), user) is runs
    assert _drf_allows(CanWriteTasks(), user, method="get") and _drf_allows(CanRunTrials(), user, method="get")


def test_superuser_holds_every_role_and_staff_none() -> None:
    admin = User.objects.create_superuser(username="root", password="x-long-enough-1")
    staff = UserFactory(is_staff=True)
    assert has_any_role(admin, Role.ENGINEER) and can_run_trials(admin)
    assert not has_any_role(staff, Role.ENGINEER, Role.INTEGRATOR, Role.MANAGER)
    assert not has_any_role(AnonymousUser(), Role.ENGINEER)


def test_only_the_owner_organizations_engineer_manages_its_objects() -> None:
    engineer = UserFactory(role=Role.ENGINEER)
    other = OrganizationFactory()
    assert acts_for_organization(engineer, engineer.organization_id)
    assert can_manage_for_organization(engineer, engineer.organization_id)
    assert not acts_for_organization(engineer, other.pk) and not can_manage_for_organization(engineer, other.pk)
    manager = UserFactory(role=Role.MANAGER, organization=engineer.organization)
    assert acts_for_organization(manager, engineer.organization_id)
    assert not can_manage_for_organization(manager, engineer.organization_id)
    assert not acts_for_organization(AnonymousUser(), engineer.organization_id)
