from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import Organization


class Policy(models.Model):
    """A VLA policy (a model family); its versions are the things trials run."""

    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="policies",
        null=True,
        blank=True,
        help_text="Owner; empty for policies shared with every organization (e.g. the reference VLA).",
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "policies"
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="policy_unique_name_per_org")]

    def __str__(self) -> str:
        return self.name


def policy_artifact_path(instance: PolicyVersion, filename: str) -> str:
    # Content-addressed, so two uploads never overwrite each other and a file is found by its hash.
    return f"policies/{instance.sha256}.onnx"


class PolicyVersion(models.Model):
    """An ONNX artifact (with sha256 and I/O spec) or a remote policy server endpoint."""

    class Kind(models.TextChoices):
        ONNX = "onnx", "ONNX artifact (run by onnxruntime)"
        OPENPI = "openpi", "Remote openpi WebSocket server"
        REST = "rest", "Remote REST /act server (OpenVLA-style)"

    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="versions")
    version = models.CharField(max_length=50)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.ONNX)
    artifact = models.FileField(upload_to=policy_artifact_path, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    size_bytes = models.PositiveBigIntegerField(default=0)
    io_spec = models.JSONField(
        default=dict,
        blank=True,
        help_text="Inputs (camera images, instruction encoding, proprio state) and the action output.",
    )
    endpoint_url = models.CharField(max_length=500, blank=True)
    remote_config = models.JSONField(default=dict, blank=True, help_text="Observation-key mapping, chunk steps…")
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["policy__name", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "version"], name="policyversion_unique_version"),
            models.CheckConstraint(
                condition=~Q(kind="onnx") | Q(sha256__regex=r"^[0-9a-f]{64}$"),
                name="policyversion_onnx_has_sha256",
            ),
            models.CheckConstraint(
                condition=Q(kind="onnx") | ~Q(endpoint_url=""),
                name="policyversion_remote_has_endpoint",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy.name} {self.version}"
