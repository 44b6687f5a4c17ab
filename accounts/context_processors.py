"""Template context every page needs from the user's permissions."""

from __future__ import annotations

from django.http import HttpRequest

from accounts.permissions import can_use_admin


def nav(request: HttpRequest) -> dict[str, bool]:
    """`can_use_admin`: show the Admin link only to users for whom the admin shows something."""
    if not hasattr(request, "user"):  # a response made before AuthenticationMiddleware ran
        return {"can_use_admin": False}
    return {"can_use_admin": request.user.is_authenticated and can_use_admin(request.user)}
