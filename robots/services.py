"""Writes for robots: registration, agent tokens, heartbeats, stale robots and expired job leases.
The agent-job protocol that records episodes is trials.agents.services (trials owns episodes)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.tokens import token_generate, token_hash
from robots.models import AgentJob, AgentJobStatus, Robot, RobotKind, RobotStatus, Site


class RobotRuleError(ValueError):
    """A robot cannot be registered as asked; `field` names the input at fault."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


def robot_register(
    *,
    organization_id: int,
    name: str,
    kind: str,
    sim_cell_key: str = "",
    site: Site | None = None,
    model: str = "",
    known_cell_keys: Sequence[str] = (),
) -> Robot:
    """Register a physical robot or a simulated cell for an organization. Returns the robot (a physical
    one still needs robot_agent_token_issue). Raises RobotRuleError (with `field`) on an empty or
    duplicate name, an unknown kind, a simulated cell without a known cell key, a cell key on a
    physical robot, or a site of another organization."""
    name = name.strip()
    if not name:
        raise RobotRuleError("Give the robot a name.", field="name")
    if kind not in RobotKind.values:
        raise RobotRuleError(f"Choose physical or simulated, not {kind!r}.", field="kind")
    if kind == RobotKind.SIMULATED:
        if not sim_cell_key:
            raise RobotRuleError("A simulated robot needs a simulation cell.", field="sim_cell_key")
        if known_cell_keys and sim_cell_key not in known_cell_keys:
            raise RobotRuleError(f"Unknown simulation cell {sim_cell_key!r}.", field="sim_cell_key")
    elif sim_cell_key:
        raise RobotRuleError("Only a simulated robot has a simulation cell.", field="sim_cell_key")
    if site is not None and site.organization_id != organization_id:
        raise RobotRuleError("Choose one of your organization's sites.", field="site")
    with transaction.atomic():
        if Robot.objects.select_for_update().filter(organization_id=organization_id, name=name).exists():
            raise RobotRuleError(f"Your organization already has a robot named “{name}”.", field="name")
        return Robot.objects.create(
            organization_id=organization_id,
            name=name,
            kind=kind,
            sim_cell_key=sim_cell_key if kind == RobotKind.SIMULATED else "",
            site=site,
            model=model.strip(),
            status=RobotStatus.IDLE if kind == RobotKind.SIMULATED else RobotStatus.OFFLINE,
        )


def robot_agent_token_issue(*, robot: Robot, ttl_days: float | None = None) -> str:
    """Give the robot's agent a new token (the previous one stops working). Returns the raw secret,
    which is not stored. Raises ValueError for a simulated robot (workers run those)."""
    if robot.kind != RobotKind.PHYSICAL:
        raise ValueError("only physical robots have an agent token")
    raw = token_generate(prefix="rb")
    robot.agent_token_sha256 = token_hash(raw)
    robot.agent_token_expires_at = timezone.now() + timedelta(days=ttl_days) if ttl_days else None
    robot.save(update_fields=["agent_token_sha256", "agent_token_expires_at"])
    return raw


def robot_agent_token_revoke(*, robot: Robot) -> None:
    """Revoke the agent token; the agent gets 401 from its next call."""
    robot.agent_token_sha256 = ""
    robot.agent_token_expires_at = None
    robot.save(update_fields=["agent_token_sha256", "agent_token_expires_at"])


def agent_jobs_requeue_expired(*, now: datetime | None = None, robot: Robot | None = None) -> int:
    """Leased jobs whose lease ran out go back to pending. Returns how many."""
    jobs = AgentJob.objects.filter(status=AgentJobStatus.LEASED, lease_expires_at__lt=now or timezone.now())
    if robot is not None:
        jobs = jobs.filter(robot=robot)
    return jobs.update(status=AgentJobStatus.PENDING, lease_token="", lease_expires_at=None)


def robots_mark_stale(*, now: datetime | None = None) -> tuple[int, int]:
    """Mark robots without a recent heartbeat offline and requeue expired leases.
    Returns (robots marked offline, jobs requeued)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.AGENT_OFFLINE_AFTER_S)
    offline = (
        Robot.objects.filter(kind=RobotKind.PHYSICAL, last_heartbeat_at__lt=cutoff)
        .exclude(status__in=[RobotStatus.OFFLINE, RobotStatus.MAINTENANCE])
        .update(status=RobotStatus.OFFLINE, current_job=None)
    )
    return offline, agent_jobs_requeue_expired(now=now)


def agent_job_lease_extend(*, job: AgentJob, now: datetime) -> None:
    """Push the job's lease AGENT_LEASE_S past `now` (the caller saves). Returns nothing."""
    job.lease_expires_at = now + timedelta(seconds=settings.AGENT_LEASE_S)


@transaction.atomic
def agent_heartbeat(
    *, robot: Robot, status: str, software_version: str = "", current_job_id: int | None = None
) -> Robot:
    """Record that the agent is alive; a running job's lease is extended. Returns the robot."""
    now = timezone.now()
    robot.last_heartbeat_at = now
    robot.status = status if status in RobotStatus.values else RobotStatus.IDLE
    robot.software_version = software_version[:100]
    robot.current_job = None
    if current_job_id is not None:
        job = AgentJob.objects.select_for_update().filter(pk=current_job_id, robot=robot).first()
        if job is not None and job.status == AgentJobStatus.LEASED:
            agent_job_lease_extend(job=job, now=now)
            job.save(update_fields=["lease_expires_at"])
            robot.current_job = job
    robot.save(update_fields=["last_heartbeat_at", "status", "software_version", "current_job"])
    return robot
