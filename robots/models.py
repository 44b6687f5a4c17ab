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
