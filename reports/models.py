from __future__ import annotations

import dataclasses
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from core import roi, stats
from trials.models import EpisodeSource, Task


def _money(help_text: str) -> models.DecimalField:
    return models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"), help_text=help_text)


class CostScenario(models.TextChoices):
    BASE = "base", "Base"
    CONSERVATIVE = "conservative", "Conservative"
    OPTIMISTIC = "optimistic", "Optimistic"


# The cost-model inputs are core.roi.CostInputs' fields (one list: tests/reports/test_cost_fields.py checks
# that every one of them has its column here and every input column is one of them). Two are stored under
# another name: the labour rate as an optional override of the task's rate, the ranges as JSON.
COST_MODEL_COLUMNS: dict[str, str] = {
    **{f.name: f.name for f in dataclasses.fields(roi.CostInputs)},
    "labour_cost_per_hour": "labour_rate_override_per_hour",
    "ranges": "input_ranges",
}

# Money columns, never negative (the labour override is nullable and has its own constraint).
COST_MODEL_MONEY_FIELDS = tuple(name for name in roi.COST_MONEY_PARAMS if COST_MODEL_COLUMNS[name] == name)

# Inputs that may carry a [low, high] range in CostModel.input_ranges (Monte Carlo draws, tornado chart): the
# core's cost parameters and the recovery time, a measured parameter whose value the cost model sets.
# "labour_cost_per_hour" is the effective loaded rate: the scenario's override, else the task's rate.
COST_MODEL_RANGE_FIELDS = (*roi.COST_PARAMS, "recovery_time_s")


class RangeDistribution(models.TextChoices):
    PERT = "pert", "PERT (beta, weighted to the base value)"
    TRIANGULAR = "triangular", "Triangular"


class CostModel(models.Model):
    """ROI assumptions for one task under one named scenario. Money in the task organization's currency
    (accounts.models.Organization.currency, ISO 4217)."""

    Scenario = CostScenario
    MONEY_FIELDS = COST_MODEL_MONEY_FIELDS

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="cost_models")
    scenario = models.CharField(max_length=20, choices=Scenario.choices, default=Scenario.BASE)
    robot_capex = _money("Robot arm and controller, one cell.")
    tooling_capex = _money("End-of-arm tooling, fixtures.")
    vision_capex = _money("Cameras, lighting, compute.")
    safety_capex = _money("Guarding, scanners, risk assessment.")
    integration_cost = _money("Integration engineering.")
    fat_sat_cost = _money("Factory and site acceptance testing.")
    training_cost = _money("Operator and maintenance training.")
    annual_maintenance = _money("Per year; often 2-5% of the purchase price.")
    annual_software = _money("Per year: policy licence, updates, monitoring.")
    annual_consumables = _money("Per year: grippers pads, suction cups…")
    energy_kw = models.FloatField(default=0.5, help_text="Mean electrical draw of the cell, kW.")
    energy_price_per_kwh = models.DecimalField(max_digits=8, decimal_places=4, default=Decimal("0.20"))
    recovery_time_s = models.FloatField(default=60.0, help_text="Operator time to recover one intervention, s.")
    ramp_up_months = models.FloatField(default=3.0, help_text="Months before the cell reaches full uptime.")
    discount_rate = models.FloatField(
        default=0.08, validators=[MinValueValidator(0), MaxValueValidator(1)], help_text="Per year, e.g. 0.08."
    )
    horizon_years = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(30)]
    )
    salvage_value = _money("Value of the cell at the end of the horizon.")
    labour_rate_override_per_hour = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Loaded labour cost per hour for this scenario; blank uses the task's rate.",
    )
    energy_hours_per_year = models.FloatField(
        null=True, blank=True, help_text="Hours per year the cell draws power; blank uses the task's production hours."
    )
    utilisation = models.FloatField(
        default=0.85,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="Share of scheduled hours the cell produces (changeovers, maintenance and faults excluded; "
        "interventions are counted separately), 0-1.",
    )
    payback_target_months = models.FloatField(
        default=24.0, validators=[MinValueValidator(0)], help_text="The payback the business asks for, months."
    )
    input_ranges = models.JSONField(
        default=dict,
        blank=True,
        help_text='Uncertain inputs as {"field": [low, high]}, around the base value; drawn in the Monte Carlo.',
    )
    range_distribution = models.CharField(
        max_length=20, choices=RangeDistribution.choices, default=RangeDistribution.PERT
    )
    input_notes = models.JSONField(default=dict, blank=True, help_text="Source or evidence per input, by field name.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["task__name", "scenario"]
        constraints = [
            models.UniqueConstraint(fields=["task", "scenario"], name="costmodel_unique_scenario_per_task"),
            models.CheckConstraint(condition=Q(scenario__in=CostScenario.values), name="costmodel_scenario_valid"),
            *[
                models.CheckConstraint(condition=Q(**{f"{name}__gte": 0}), name=f"costmodel_{name}_non_negative")
                for name in COST_MODEL_MONEY_FIELDS
            ],
            models.CheckConstraint(condition=Q(energy_kw__gte=0), name="costmodel_energy_kw_non_negative"),
            models.CheckConstraint(condition=Q(recovery_time_s__gte=0), name="costmodel_recovery_time_non_negative"),
            models.CheckConstraint(condition=Q(ramp_up_months__gte=0), name="costmodel_ramp_up_non_negative"),
            models.CheckConstraint(
                condition=Q(discount_rate__gte=0, discount_rate__lte=1), name="costmodel_discount_rate_0_1"
            ),
            models.CheckConstraint(
                condition=Q(horizon_years__gte=1, horizon_years__lte=30), name="costmodel_horizon_1_30"
            ),
            models.CheckConstraint(
                condition=Q(labour_rate_override_per_hour__isnull=True) | Q(labour_rate_override_per_hour__gte=0),
                name="costmodel_labour_override_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(energy_hours_per_year__isnull=True)
                | Q(energy_hours_per_year__gte=0, energy_hours_per_year__lte=8784),
                name="costmodel_energy_hours_0_8784",
            ),
            models.CheckConstraint(
                condition=Q(utilisation__gte=0, utilisation__lte=1), name="costmodel_utilisation_0_1"
            ),
            models.CheckConstraint(
                condition=Q(payback_target_months__gte=0), name="costmodel_payback_target_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(range_distribution__in=RangeDistribution.values), name="costmodel_range_distribution_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task} — {self.get_scenario_display()}"

    def effective_labour_rate(self) -> Decimal:
        """The loaded labour cost per hour this scenario uses: its override, else the task's rate."""
        if self.labour_rate_override_per_hour is not None:
            return self.labour_rate_override_per_hour
        return self.task.labour_cost_per_hour

    def range_base_value(self, name: str) -> float | None:
        """The base value an input range must bracket, or None when the input has none (blank field)."""
        if name == "labour_cost_per_hour":
            return float(self.effective_labour_rate())
        value = getattr(self, name)
        return None if value is None else float(value)

    def clean(self) -> None:
        """Check `input_ranges`: known inputs, [low, high] numbers with 0 <= low <= base <= high.

        Raises ValidationError on `input_ranges` naming every bad entry.
        """
        super().clean()
        ranges = self.input_ranges
        if not isinstance(ranges, dict):
            raise ValidationError({"input_ranges": 'Expected an object {"field": [low, high]}.'})
        errors: list[str] = []
        for name, bounds in ranges.items():
            if name not in COST_MODEL_RANGE_FIELDS:
                errors.append(f"{name}: not an input that can carry a range.")
                continue
            if (
                not isinstance(bounds, list | tuple)
                or len(bounds) != 2
                or not all(isinstance(b, int | float) and not isinstance(b, bool) for b in bounds)
            ):
                errors.append(f"{name}: expected [low, high] as two numbers.")
                continue
            low, high = float(bounds[0]), float(bounds[1])
            if not 0 <= low <= high:
                errors.append(f"{name}: need 0 <= low <= high, got [{low:g}, {high:g}].")
                continue
            if name in ("discount_rate", "utilisation") and high > 1:
                errors.append(f"{name}: high must be at most 1.")
                continue
            if self.task_id is None and name == "labour_cost_per_hour" and self.labour_rate_override_per_hour is None:
                continue
            base = self.range_base_value(name)
            if base is not None and not low <= base <= high:
                errors.append(f"{name}: the range [{low:g}, {high:g}] must contain the base value {base:g}.")
        if errors:
            raise ValidationError({"input_ranges": errors})


# The columns a cost-model form or API may set (task and scenario identify the row).
COST_MODEL_EDITABLE_FIELDS = tuple(
    f.name for f in CostModel._meta.concrete_fields if f.name not in ("id", "task", "scenario", "updated_at")
)


class AcceptanceKind(models.TextChoices):
    FAT = "fat", "FAT (factory acceptance)"
    SAT = "sat", "SAT (site acceptance)"
    RUN_OFF = "run_off", "Run-off"


class AcceptanceCriteria(models.Model):
    """FAT/SAT/run-off criteria attached to a task, evaluated on each trial (reports.stats.selectors.trial_acceptance_evaluate)
    per episode source. A blank criterion is not required; `applies_to_source` blank means every source,
    each judged on its own (simulation and real are never pooled)."""

    Kind = AcceptanceKind

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="acceptance_criteria")
    name = models.CharField(max_length=20, choices=AcceptanceKind.choices, default=AcceptanceKind.FAT)
    min_success_lower_bound = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0001), MaxValueValidator(0.9999)],
        help_text="Exact one-sided lower bound of the success rate must reach this, e.g. 0.9 (blank: not required).",
    )
    confidence = models.FloatField(
        default=0.95,
        validators=[MinValueValidator(0.5), MaxValueValidator(0.9999)],
        help_text="Confidence of every bound, e.g. 0.95.",
    )
    consecutive_without_intervention = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Successful cycles in a row without an operator intervention (blank: not required).",
    )
    mtbi_lower_bound_h = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0001)],
        help_text="Lower confidence bound of the mean time between interventions, hours (blank: not required).",
    )
    cycle_time_p90_within_takt = models.BooleanField(
        default=False, help_text="The 90th percentile of successful cycle times must be within the task's takt."
    )
    applies_to_source = models.CharField(
        max_length=20,
        choices=EpisodeSource.choices,
        blank=True,
        default="",
        help_text="Judge only these episodes (blank: each source present, separately).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["task__name", "name"]
        verbose_name_plural = "acceptance criteria"
        constraints = [
            models.UniqueConstraint(fields=["task", "name"], name="acceptance_unique_name_per_task"),
            models.CheckConstraint(condition=Q(name__in=AcceptanceKind.values), name="acceptance_name_valid"),
            models.CheckConstraint(
                condition=Q(min_success_lower_bound__isnull=True)
                | Q(min_success_lower_bound__gt=0, min_success_lower_bound__lt=1),
                name="acceptance_success_bound_0_1",
            ),
            models.CheckConstraint(
                condition=Q(confidence__gte=0.5, confidence__lt=1), name="acceptance_confidence_range"
            ),
            models.CheckConstraint(
                condition=Q(consecutive_without_intervention__isnull=True) | Q(consecutive_without_intervention__gte=1),
                name="acceptance_consecutive_positive",
            ),
            models.CheckConstraint(
                condition=Q(mtbi_lower_bound_h__isnull=True) | Q(mtbi_lower_bound_h__gt=0),
                name="acceptance_mtbi_positive",
            ),
            models.CheckConstraint(
                condition=Q(applies_to_source="") | Q(applies_to_source__in=EpisodeSource.values),
                name="acceptance_source_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task} — {self.get_name_display()}"

    def to_criteria(self, *, takt_time_s: float) -> stats.AcceptanceRule:
        """The pure criteria for core.stats (cycle time limit = `takt_time_s` when the p90 flag is set).

        Raises ValueError when a stored value is out of range (the constraints prevent it)."""
        return stats.AcceptanceRule(
            min_success_lower_bound=self.min_success_lower_bound,
            consecutive_without_intervention=self.consecutive_without_intervention,
            mtbi_lower_bound_h=self.mtbi_lower_bound_h,
            cycle_time_max_s=takt_time_s if self.cycle_time_p90_within_takt else None,
            cycle_time_quantile=0.9,
            confidence=self.confidence,
        )

    @property
    def is_empty(self) -> bool:
        """True when no criterion is required (the evaluation would pass vacuously)."""
        return (
            self.min_success_lower_bound is None
            and self.consecutive_without_intervention is None
            and self.mtbi_lower_bound_h is None
            and not self.cycle_time_p90_within_takt
        )
