"""The API tokens page (/account/tokens/): a token created in the browser works against the API once,
is listed without its secret, and stops working when revoked."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import ApiToken, Role, User
from core import episode_csv
from tests.factories import UserFactory
from trials.models import Episode, Trial

pytestmark = pytest.mark.django_db


def test_create_shows_the_secret_once_and_revoke_locks_the_token_out() -> None:
    user = UserFactory()
    browser = Client()
    browser.force_login(user)
    created = browser.post("/account/tokens/", {"name": "rig 3", "expires_in_days": "30"})
    assert created.status_code == 201
    secret = re.search(r'id="token-secret">([^<]+)<', created.content.decode()).group(1)  # type: ignore[union-attr]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    assert api.get("/api/v1/me/").json()["username"] == user.username

    listing = browser.get("/account/tokens/").content.decode()
    assert "rig 3" in listing and secret not in listing and secret[:8] in listing
    token = ApiToken.objects.get(user=user)
    assert token.expires_at is not None

    revoked = browser.post(f"/account/tokens/{token.pk}/revoke/", follow=True)
    assert "revoked" in revoked.content.decode()
    assert api.get("/api/v1/me/").status_code == 401


def test_form_errors_are_shown_and_nothing_is_created() -> None:
    browser = Client()
    browser.force_login(UserFactory())
    response = browser.post("/account/tokens/", {"name": "", "expires_in_days": "7"})
    assert response.status_code == 200 and not ApiToken.objects.exists()
    assert "This field is required" in response.content.decode()


def test_someone_elses_token_cannot_be_revoked_and_login_is_required() -> None:
    other = ApiToken.objects.create(user=UserFactory(), name="theirs", prefix="tb_x", key_sha256="f" * 64)
    browser = Client()
    assert browser.get("/account/tokens/").status_code == 302
    browser.force_login(UserFactory())
    assert browser.post(f"/account/tokens/{other.pk}/revoke/").status_code == 404
    other.refresh_from_db()
    assert other.revoked_at is None


def test_browser_csv_upload_records_once_and_shows_errors_by_line(trial_a: Trial, integrator: User) -> None:
    browser = Client()
    browser.force_login(integrator)
    page = browser.get(f"/account/uploads/csv/?trial={trial_a.pk}")
    assert page.status_code == 200 and f'value="{trial_a.pk}" selected' in page.content.decode()

    def post(text: str) -> Any:
        file = io.BytesIO(text.encode())
        file.name = "rig.csv"
        return browser.post("/account/uploads/csv/", {"trial": trial_a.pk, "file": file})

    first, again = post(episode_csv.template_csv()), post(episode_csv.template_csv())
    assert first.status_code == 200 and "2</strong> new episodes" in first.content.decode()
    assert "2</strong> already there" in again.content.decode()
    assert Episode.objects.filter(trial=trial_a).count() == 2
    bad = post(episode_csv.template_csv().replace("14.2", "-1"))
    assert bad.status_code == 400
    assert "line 3" in bad.content.decode() and "Nothing was written" in bad.content.decode()


def test_browser_csv_upload_offers_only_own_trials_and_refuses_managers(trial_a: Trial) -> None:
    browser = Client()
    browser.force_login(UserFactory(role=Role.INTEGRATOR))
    file = io.BytesIO(episode_csv.template_csv().encode())
    file.name = "rig.csv"
    response = browser.post("/account/uploads/csv/", {"trial": trial_a.pk, "file": file})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    manager = Client()
    manager.force_login(UserFactory(organization=trial_a.robot.organization, role=Role.MANAGER))
    assert "Only engineers and integrators" in manager.get("/account/uploads/csv/").content.decode()
    assert not Episode.objects.exists()
