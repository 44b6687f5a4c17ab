from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import User
from robots.models import Robot, Site


def robot_list_for_user(*, user: User) -> QuerySet[Robot]:
    """Robots the user may see and use: its organization's (superusers: all)."""
    robots = Robot.objects.select_related("organization", "site")
    return robots if user.is_superuser else robots.filter(organization_id=user.organization_id)


def site_list_for_user(*, user: User) -> QuerySet[Site]:
    sites = Site.objects.select_related("organization")
    return sites if user.is_superuser else sites.filter(organization_id=user.organization_id)
