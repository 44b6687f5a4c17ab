from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiToken, Organization, Role, User
from accounts.tokens import TOKEN_PREFIX_LEN, token_generate, token_hash


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str,
    organization: Organization,
    roles: list[Role],
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    is_staff: bool = False,
) -> User:
    """Create a user in an organization with the given roles. Returns the user."""
    user = User.objects.create_user(
        username=username,
        password=password,
        email=email,
        first_name=first_name,
        last_name=last_name,
        organization=organization,
        is_staff=is_staff,
    )
    user.groups.set(Group.objects.filter(name__in=[str(r) for r in roles]))
    return user


def api_token_create(*, user: User, name: str, expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """Create a token for `user`. Returns the row and the raw secret, which is never stored."""
    raw = token_generate()
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=raw[:TOKEN_PREFIX_LEN],
        key_sha256=token_hash(raw),
        expires_at=expires_at,
    )
    return token, raw


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    """Revoke a token; revoking twice keeps the first revocation time."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token
