"""Template context every page needs from the user's permissions."""

from __future__ import annotations

from django.http import HttpRequest

from accounts.permissions import can_use_admin


def nav(request: HttpRequest) -> dict[str, bool]:
    """`can_use_admin`: show the Admin link only to users for whom the admin shows something."""
    user = getattr(request, "user", None)
    return {"can_use_admin": bool(user is not None and can_use_admin(user))}
