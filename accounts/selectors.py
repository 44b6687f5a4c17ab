from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from accounts.models import ApiToken
from accounts.tokens import token_hash


def api_token_get_active(*, raw: str) -> ApiToken | None:
    """The active (not revoked, not expired) token for a raw secret, or None."""
    now = timezone.now()
    return (
        ApiToken.objects.select_related("user", "user__organization")
        .filter(key_sha256=token_hash(raw), revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .first()
    )
