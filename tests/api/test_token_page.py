"""The API tokens page (/account/tokens/): a token created in the browser works against the API once,
is listed without its secret, and stops working when revoked."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import ApiToken
from tests.factories import UserFactory

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
