from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from trials.models import Task


def _money(help_text: str) -> models.DecimalField:
    return models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"), help_text=help_text)


class CostScenario(models.TextChoices):
    BASE = "base", "Base"
    CONSERVATIVE = "conservative", "Conservative"
    OPTIMISTIC = "optimistic", "Optimistic"


COST_MODEL_MONEY_FIELDS = (
    "robot_capex",
    "tooling_capex",
    "vision_capex",
    "safety_capex",
    "integration_cost",
    "fat_sat_cost",
    "training_cost",
    "annual_maintenance",
    "annual_software",
    "annual_consumables",
    "salvage_value",
    "energy_price_per_kwh",
)


class CostModel(models.Model):
    """ROI assumptions for one task under one named scenario. Money in the task's currency."""

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
        ]

    def __str__(self) -> str:
        return f"{self.task} — {self.get_scenario_display()}"
