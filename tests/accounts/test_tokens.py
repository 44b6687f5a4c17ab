from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.selectors import api_token_get_active
from accounts.services import api_token_create, api_token_revoke
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_token_secret_is_not_stored_and_resolves_to_its_user() -> None:
    user = UserFactory()
    token, raw = api_token_create(user=user, name="rig uploader")
    assert raw not in token.key_sha256 and token.prefix == raw[:8]
    found = api_token_get_active(raw=raw)
    assert found is not None and found.user == user
    assert api_token_get_active(raw=raw + "x") is None


def test_revoked_and_expired_tokens_do_not_resolve() -> None:
    user = UserFactory()
    revoked, raw_revoked = api_token_create(user=user, name="a")
    api_token_revoke(token=revoked)
    _, raw_expired = api_token_create(user=user, name="b", expires_at=timezone.now() - timedelta(minutes=1))
    assert api_token_get_active(raw=raw_revoked) is None
    assert api_token_get_active(raw=raw_expired) is None
