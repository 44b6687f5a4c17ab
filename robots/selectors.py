from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db.models import Count, QuerySet
from django.utils import timezone

from accounts.models import User
from accounts.tokens import token_hash
from robots.models import AgentJob, AgentJobStatus, Robot, Site


def robot_list_for_user(*, user: User) -> QuerySet[Robot]:
    """Robots the user may see and use: its organization's (superusers: all)."""
    robots = Robot.objects.select_related("organization", "site")
    if user.is_superuser:
        return robots
    # Only superusers may lack an organization (user_has_organization_unless_superuser).
    return robots.none() if user.organization_id is None else robots.filter(organization_id=user.organization_id)


def site_list_for_user(*, user: User) -> QuerySet[Site]:
    sites = Site.objects.select_related("organization")
    if user.is_superuser:
        return sites
    return sites.none() if user.organization_id is None else sites.filter(organization_id=user.organization_id)


def robot_get_by_agent_token(*, raw: str) -> Robot | None:
    """The physical robot whose live (set, unexpired) agent token this is, or None."""
    if not raw:
        return None
    robot = Robot.objects.filter(kind="physical", agent_token_sha256=token_hash(raw)).first()
    if robot is None or (robot.agent_token_expires_at is not None and robot.agent_token_expires_at <= timezone.now()):
        return None
    return robot


def agent_job_list_for_robot(*, robot: Robot) -> QuerySet[AgentJob]:
    """The robot's open jobs (pending and leased), in the order the agent takes them."""
    return (
        AgentJob.objects.open()
        .filter(robot=robot)
        .select_related("trial__task")
        .order_by("trial__created_at", "trial_id", "index")
    )


def robot_is_online(*, robot: Robot, now: datetime | None = None) -> bool:
    """A physical robot is online while its agent's last heartbeat is younger than AGENT_OFFLINE_AFTER_S."""
    if robot.last_heartbeat_at is None:
        return False
    age = ((now or timezone.now()) - robot.last_heartbeat_at).total_seconds()
    return age <= settings.AGENT_OFFLINE_AFTER_S


def agent_job_counts(*, robot: Robot) -> dict[str, int]:
    """The robot's jobs by status, in one query."""
    counts = {status: 0 for status in AgentJobStatus.values}
    for row in AgentJob.objects.filter(robot=robot).values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    return counts
