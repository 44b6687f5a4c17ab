"""Who may do what: the one place for role and organization checks, used by the HTML views (decorators,
`can_*` functions) and the REST API (the DRF permission classes below) alike. Visibility (which rows a
user may see) lives in the selectors; these decide what a user may *do*. A denied action is a 403;
another organization's object is a 404 (the selectors simply do not return it)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from rest_framework import permissions
from rest_framework.request import Request

from accounts.models import Role, User

# Views see `request.user` before login_required or IsAuthenticated has refused an anonymous caller.
AnyUser = User | AnonymousUser


def is_platform_admin(user: AnyUser) -> bool:
    """Platform administrators are superusers: the people who run TrialBench for every organization.
    `is_staff` is not enough: it is Django's "may open the admin" flag and says nothing about which
    organizations a user acts for, so it grants no rights in the app."""
    return bool(user.is_authenticated and user.is_active and user.is_superuser)


def has_any_role(user: AnyUser, *roles: Role) -> bool:
    """The role check: a signed-in user in one of `roles`' groups, or a superuser (who holds every role).
    Staff status grants nothing here (see is_platform_admin)."""
    if not user.is_authenticated:
        return False
    return bool(user.is_superuser or user.groups.filter(name__in=[str(r) for r in roles]).exists())


def can_scope_tasks(user: AnyUser) -> bool:
    """Engineers (and platform administrators) create and edit tasks and schedule trials; managers and
    integrators read."""
    return has_any_role(user, Role.ENGINEER)


def can_run_trials(user: AnyUser) -> bool:
    """Engineers and integrators schedule trials on their robots, cancel them and upload episodes."""
    return has_any_role(user, Role.ENGINEER, Role.INTEGRATOR)


def acts_for_organization(user: AnyUser, organization_id: int | None) -> bool:
    """The user acts for that organization: a member, or a superuser (who acts for every one)."""
    if not user.is_authenticated:
        return False
    return bool(user.is_superuser or (organization_id is not None and user.organization_id == organization_id))


def can_manage_for_organization(user: AnyUser, organization_id: int | None) -> bool:
    """An engineer of the organization that owns the object (its task, robot or trial) may change it; an
    integrator engaged on a customer's task, or another organization's engineer, reads it."""
    return can_scope_tasks(user) and acts_for_organization(user, organization_id)


def can_review_episodes(user: AnyUser, *, robot_organization_id: int | None, task_organization_id: int | None) -> bool:
    """Engineers and reviewers of the trial's robot's organization (who ran it) or of its task's organization
    (who decides on it) confirm or override episode outcomes. Integrators and managers do not: the integrator
    uploads the episodes of its own rigs, and relabelling its own evidence would defeat the audit trail; a
    manager reads the figures. Superusers may (they hold every role)."""
    if not has_any_role(user, Role.ENGINEER, Role.REVIEWER):
        return False
    return acts_for_organization(user, robot_organization_id) or acts_for_organization(user, task_organization_id)


def can_write_shared_policies(user: AnyUser) -> bool:
    """A shared policy (no owner) is run by every organization, so only platform administrators add to it."""
    return is_platform_admin(user)


def can_use_admin(user: AnyUser) -> bool:
    """Only platform administrators: the admin's lists are not scoped per organization, so a tenant's
    staff user with model permissions would read every organization's rows there."""
    return is_platform_admin(user)


def engineer_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Log-in required, then 403 unless `can_scope_tasks`."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not can_scope_tasks(request.user):
            raise PermissionDenied("Only engineers can do this.")
        return view(request, *args, **kwargs)

    return login_required(wrapped)


# --- REST API: the same checks as DRF permission classes (reads stay open to every signed-in user) ---


class CanWriteTasks(permissions.BasePermission):
    message = "Only engineers may create or change tasks."

    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method in permissions.SAFE_METHODS or can_scope_tasks(request.user)


class CanRunTrials(permissions.BasePermission):
    message = "Only engineers and integrators may schedule trials, cancel them or upload episodes."

    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method in permissions.SAFE_METHODS or can_run_trials(request.user)
