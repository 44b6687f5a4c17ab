from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError

from accounts.models import Role, User
from accounts.permissions import has_any_role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_role_groups_exist_after_migrations() -> None:
    assert set(Group.objects.values_list("name", flat=True)) >= {r.value for r in Role}


def test_user_without_organization_is_rejected_unless_superuser() -> None:
    with pytest.raises(IntegrityError):
        User.objects.create_user(username="orphan", password="x-long-enough-1")


def test_superuser_may_have_no_organization() -> None:
    admin = User.objects.create_superuser(username="root", password="x-long-enough-1")
    assert admin.organization is None


def test_user_roles_come_from_groups() -> None:
    user = UserFactory(role=Role.MANAGER)
    assert user.roles == {"manager"}
    # The one role check (accounts.permissions), which also grants superusers every role.
    assert has_any_role(user, Role.MANAGER) and not has_any_role(user, Role.ENGINEER)


@pytest.mark.django_db(transaction=True)
def test_role_groups_survive_a_test_database_flush() -> None:
    from django.core.management import call_command

    call_command("flush", "--noinput", verbosity=0)
    assert set(Group.objects.values_list("name", flat=True)) >= {r.value for r in Role}
