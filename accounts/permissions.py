"""Role checks for HTML views. Visibility (which rows a user may see) lives in the selectors; these
decide what a user may *do*. A denied action is a 403; another organization's object is a 404 (the
selectors simply do not return it)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from accounts.models import Role, User


def is_platform_admin(user: User) -> bool:
    """Platform administrators are superusers: the people who run TrialBench for every organization.
    `is_staff` is not enough: it is Django's "may open the admin" flag and says nothing about which
    organizations a user acts for, so it grants no rights in the app."""
    return bool(user.is_authenticated and user.is_active and user.is_superuser)


def can_scope_tasks(user: User) -> bool:
    """Engineers (and platform administrators) create and edit tasks and schedule trials; managers and
    integrators read. Staff status grants nothing here (see is_platform_admin)."""
    return bool(user.is_authenticated and (user.is_superuser or user.has_role(Role.ENGINEER)))


def can_write_shared_policies(user: User) -> bool:
    """A shared policy (no owner) is run by every organization, so only platform administrators add to it."""
    return is_platform_admin(user)


def can_use_admin(user: User) -> bool:
    """Only platform administrators: the admin's lists are not scoped per organization, so a tenant's
    staff user with model permissions would read every organization's rows there."""
    return is_platform_admin(user)


def engineer_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Log-in required, then 403 unless `can_scope_tasks`."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not can_scope_tasks(request.user):  # type: ignore[arg-type]
            raise PermissionDenied("Only engineers can do this.")
        return view(request, *args, **kwargs)

    return login_required(wrapped)
