from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from accounts.models import User
from demo.services import DEMO_PASSWORD, demo_load

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"  # the reference policy artifact is stored there


DEMO_MODELS = [
    "accounts.Organization",
    "accounts.User",
    "robots.Site",
    "robots.Robot",
    "policies.Policy",
    "policies.PolicyVersion",
    "trials.Task",
    "trials.Trial",
    "reports.CostModel",
]


def _counts() -> dict[str, int]:
    return {label: apps.get_model(label).objects.count() for label in DEMO_MODELS}


def test_demo_loader_is_idempotent() -> None:
    demo_load()
    first = _counts()
    demo_load()
    assert _counts() == first
    assert first["trials.Task"] == 5 and first["accounts.Organization"] == 2


def test_demo_schedules_one_reference_policy_trial_on_the_arm_cell() -> None:
    from trials.models import Trial

    demo_load()
    demo_load()
    (trial,) = Trial.objects.all()
    assert trial.robot.sim_cell_key == "factory-kitting-arm"
    assert trial.policy_version.policy.name == "TrialBench reference VLA"
    assert trial.policy_version.version.startswith("factory-kitting-arm-")
    assert [image["camera"] for image in trial.policy_version.io_spec["images"]] == ["front", "wrist"]
    # The version's notes quote the card's nominal row.
    assert "Held-out success rate" in trial.policy_version.notes and "?" not in trial.policy_version.notes
    assert trial.policy_version.sha256 and trial.task.integrator is not None


def test_demo_users_can_log_in_and_engineer_sees_the_tasks() -> None:
    demo_load()
    client = Client()
    # Through the login page: the lockout backend (django-axes) needs the request that Client.login omits.
    response = client.post(reverse("login"), {"username": "engineer", "password": DEMO_PASSWORD})
    assert response.status_code == 302
    page = client.get(reverse("home")).content.decode()
    for name in ("Kitting", "Bin picking", "Machine tending", "Screw driving", "Box packing"):
        assert name in page


def test_home_requires_login() -> None:
    response = Client().get(reverse("home"))
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_every_admin_changelist_renders_with_demo_data() -> None:
    demo_load()
    superuser = User.objects.create_superuser(username="root", password="x-long-enough-1")
    client = Client()
    client.force_login(superuser)
    rendered = 0
    for model in admin.site._registry:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        response = client.get(url)
        assert response.status_code == 200, url
        rendered += 1
        # and the add/change pages for one object where there is one
        obj = model.objects.first()
        if obj is not None:
            change = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.pk])
            assert client.get(change).status_code == 200, change
    assert rendered >= 10


def test_demo_users_are_not_staff_even_in_a_database_loaded_before() -> None:
    demo_load()
    assert not User.objects.filter(is_staff=True).exists()
    User.objects.filter(username="engineer").update(is_staff=True)  # as the loader used to make it
    demo_load()
    assert not User.objects.filter(is_staff=True).exists()
