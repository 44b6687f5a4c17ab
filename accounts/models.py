from __future__ import annotations

import datetime
import functools

from babel import Locale
from babel.numbers import get_currency_name, get_territory_currencies
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q


class Role(models.TextChoices):
    """Roles are Django groups of these names, created by a migration."""

    ENGINEER = "engineer", "Manufacturing engineer"
    INTEGRATOR = "integrator", "Integrator"
    MANAGER = "manager", "Manager"
    # Confirms or overrides episode outcomes (the evidence review); engineers may review too.
    REVIEWER = "reviewer", "Reviewer"


# Money is stored as plain amounts; the organization's ISO 4217 code says what they are. EUR by default
# (the demo manufacturer is German); a manufacturer elsewhere picks its own.
DEFAULT_CURRENCY = "EUR"


@functools.cache
def currency_choices() -> list[tuple[str, str]]:
    """ISO 4217 codes legal tender somewhere today, with English names, from the CLDR data babel ships
    (historical codes such as DEM excluded). A callable, so the migration does not freeze the list."""
    today = datetime.datetime.now(tz=datetime.UTC).date()
    codes: set[str] = set()
    for territory in Locale("en").territories:
        if isinstance(territory, str):  # always: babel types its CLDR mapping's keys loosely
            codes.update(get_territory_currencies(territory, start_date=today, tender=True))
    codes.add(DEFAULT_CURRENCY)
    return sorted((code, f"{code} — {get_currency_name(code, locale='en')}") for code in codes)


class MediaRetention(models.TextChoices):
    """Which episode recordings survive `manage.py media_cleanup`; the episodes and their figures always do."""

    KEEP_ALL = "keep_all", "Keep every recording"
    FAILURES_AND_FIRST_SUCCESSES = "failures_first_n", "Keep failures and the first N successes"
    KEEP_NONE = "keep_none", "Keep no recordings"


class Organization(models.Model):
    class Kind(models.TextChoices):
        MANUFACTURER = "manufacturer", "Manufacturer"
        INTEGRATOR = "integrator", "Integrator"

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.MANUFACTURER)
    currency = models.CharField(
        max_length=3,
        choices=currency_choices,
        default=DEFAULT_CURRENCY,
        help_text="ISO 4217 code of every money figure of the organization's tasks (costs, ROI, NPV).",
    )
    media_retention = models.CharField(
        max_length=20,
        choices=MediaRetention.choices,
        default=MediaRetention.KEEP_ALL,
        help_text="Which episode recordings (videos, trajectories) to keep; a trial may choose its own.",
    )
    media_keep_successes = models.PositiveIntegerField(
        default=10, help_text="With 'failures and the first N successes': N."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    # Nullable only so `createsuperuser` works: the constraint below forces every other user
    # into an organization.
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="users", null=True, blank=True
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(organization__isnull=False) | Q(is_superuser=True),
                name="user_has_organization_unless_superuser",
            )
        ]

    @property
    def roles(self) -> set[str]:
        return {group.name for group in self.groups.all()}


class ApiToken(models.Model):
    """A personal API token. Only the sha256 of the secret is stored; the secret is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. 'rig 3 uploader'.")
    prefix = models.CharField(max_length=12, db_index=True, help_text="First characters, to recognise it.")
    key_sha256 = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
