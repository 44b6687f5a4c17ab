from __future__ import annotations

from django.db import models
from django.db.models import Q

from accounts.models import Organization


class Site(models.Model):
    """A factory location of an organization."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="sites")
    name = models.CharField(max_length=200)
    city = models.CharField(max_length=200, blank=True)
    country = models.CharField(max_length=100, blank=True)
    timezone = models.CharField(max_length=64, default="UTC")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization__name", "name"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="site_unique_name_per_org")]

    def __str__(self) -> str:
        return f"{self.name} ({self.organization})"


class RobotQuerySet(models.QuerySet["Robot"]):
    def for_organization(self, organization: Organization | None) -> RobotQuerySet:
        return self.filter(organization=organization)

    def simulated(self) -> RobotQuerySet:
        return self.filter(kind=RobotKind.SIMULATED)


class RobotKind(models.TextChoices):
    PHYSICAL = "physical", "Physical (agent over REST)"
    SIMULATED = "simulated", "Simulated cell"


class RobotStatus(models.TextChoices):
    OFFLINE = "offline", "Offline"
    IDLE = "idle", "Idle"
    BUSY = "busy", "Running a trial"
    MAINTENANCE = "maintenance", "Maintenance"


class Robot(models.Model):
    """A physical robot whose agent connects over REST, or a simulated cell run by workers."""

    Kind = RobotKind
    Status = RobotStatus

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="robots")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="robots", null=True, blank=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    model = models.CharField(max_length=200, blank=True, help_text="e.g. 'UR5e + Robotiq 2F-85'")
    sim_cell_key = models.CharField(
        max_length=100, blank=True, help_text="Simulation cell key (simulated robots only), e.g. 'factory-kitting'."
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OFFLINE)
    software_version = models.CharField(max_length=100, blank=True)
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    # The agent's own token (sha256 of the secret); the raw secret is shown once when issued.
    agent_token_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    agent_token_expires_at = models.DateTimeField(null=True, blank=True)
    current_job = models.ForeignKey(
        "robots.AgentJob",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The job the agent last reported running.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RobotQuerySet.as_manager()

    class Meta:
        ordering = ["organization__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="robot_unique_name_per_org"),
            models.CheckConstraint(
                condition=~Q(kind="simulated") | ~Q(sim_cell_key=""),
                name="robot_simulated_has_cell_key",
            ),
            models.CheckConstraint(condition=Q(kind__in=RobotKind.values), name="robot_kind_valid"),
            models.CheckConstraint(condition=Q(status__in=RobotStatus.values), name="robot_status_valid"),
        ]

    def __str__(self) -> str:
        return self.name


class AgentJobStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    LEASED = "leased", "Leased by the agent"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


class AgentJobQuerySet(models.QuerySet["AgentJob"]):
    def open(self) -> AgentJobQuerySet:
        return self.filter(status__in=[AgentJobStatus.PENDING, AgentJobStatus.LEASED])


class AgentJob(models.Model):
    """One episode of a trial on a physical robot, waiting for (or leased by) that robot's agent.

    A lease that expires without a result sends the job back to pending, so a robot that reboots
    mid-episode loses nothing; the result is recorded once, idempotently, by (trial, index)."""

    Status = AgentJobStatus

    robot = models.ForeignKey(Robot, on_delete=models.CASCADE, related_name="jobs")
    trial = models.ForeignKey("trials.Trial", on_delete=models.CASCADE, related_name="agent_jobs")
    index = models.PositiveIntegerField()
    # Where the job runs in a blind comparison's interleaved order (core.blind.run_sequence); null otherwise.
    run_sequence = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=AgentJobStatus.choices, default=AgentJobStatus.PENDING)
    lease_token = models.CharField(max_length=64, blank=True)
    leased_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Events streamed while the episode runs; merged into the episode on completion.
    streamed_events = models.JSONField(default=list, blank=True)
    episode = models.OneToOneField(
        "trials.Episode", on_delete=models.SET_NULL, null=True, blank=True, related_name="agent_job"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = AgentJobQuerySet.as_manager()

    class Meta:
        ordering = ["trial_id", "index"]
        constraints = [
            models.UniqueConstraint(fields=["trial", "index"], name="agentjob_unique_index_per_trial"),
            models.CheckConstraint(condition=Q(status__in=AgentJobStatus.values), name="agentjob_status_valid"),
            models.CheckConstraint(
                condition=~Q(status="leased") | Q(lease_expires_at__isnull=False), name="agentjob_lease_has_expiry"
            ),
        ]
        indexes = [
            models.Index(fields=["robot", "status", "trial", "index"], name="agentjob_queue_idx"),
            models.Index(fields=["status", "lease_expires_at"], name="agentjob_lease_idx"),
        ]

    def __str__(self) -> str:
        return f"Job {self.pk}: trial {self.trial_id} episode {self.index} ({self.status})"
