"""The cost-model form: every input with its unit, an optional [low, high] range for the Monte Carlo and a
source/evidence note. Validation here gives one clear message per field; the model's constraints and
CostModel.clean() stay the last word (run again by reports.roi.services.cost_model_save)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.core.validators import MinValueValidator

from reports.models import COST_MODEL_EDITABLE_FIELDS, COST_MODEL_MONEY_FIELDS, CostModel


@dataclass(frozen=True)
class InputSpec:
    """One row of the form: the model field, its unit, the input_ranges key (None: no range) and its group."""

    name: str
    label: str
    unit: str
    range_key: str | None
    group: str

    @property
    def is_money(self) -> bool:
        """True for an amount in the organization's currency (the unit then reads e.g. "EUR per cell")."""
        return self.name in COST_MODEL_MONEY_FIELDS or self.name == "labour_rate_override_per_hour"


# Money is in the task's currency; "cell" = one robot cell (the ROI multiplies by the cells needed).
INPUT_SPECS: tuple[InputSpec, ...] = (
    InputSpec("robot_capex", "Robot arm and controller", "per cell", "robot_capex", "Up-front"),
    InputSpec("tooling_capex", "End-of-arm tooling, fixtures", "per cell", "tooling_capex", "Up-front"),
    InputSpec("vision_capex", "Vision: cameras, lighting, compute", "per cell", "vision_capex", "Up-front"),
    InputSpec("safety_capex", "Safety: guarding, scanners", "per cell", "safety_capex", "Up-front"),
    InputSpec("integration_cost", "Integration engineering", "one-off", "integration_cost", "Up-front"),
    InputSpec("fat_sat_cost", "FAT / SAT", "one-off", "fat_sat_cost", "Up-front"),
    InputSpec("training_cost", "Training", "one-off", "training_cost", "Up-front"),
    InputSpec("annual_maintenance", "Maintenance", "per cell per year", "annual_maintenance", "Running"),
    InputSpec("annual_software", "Software, licences", "per cell per year", "annual_software", "Running"),
    InputSpec("annual_consumables", "Consumables", "per cell per year", "annual_consumables", "Running"),
    InputSpec("energy_kw", "Electrical draw", "kW", "energy_kw", "Running"),
    InputSpec(
        "energy_hours_per_year",
        "Powered hours",
        "h / year (blank: production hours)",
        "energy_hours_per_year",
        "Running",
    ),
    InputSpec("energy_price_per_kwh", "Energy price", "per kWh", "energy_price_per_kwh", "Running"),
    InputSpec("recovery_time_s", "Recovery time per intervention", "s", "recovery_time_s", "Running"),
    InputSpec(
        "labour_rate_override_per_hour",
        "Loaded labour rate",
        "per hour (blank: the task's rate)",
        "labour_cost_per_hour",
        "Running",
    ),
    InputSpec("utilisation", "Utilisation", "0-1", "utilisation", "Running"),
    InputSpec("ramp_up_months", "Ramp-up to full uptime", "months", "ramp_up_months", "Finance"),
    InputSpec("discount_rate", "Discount rate", "per year, 0-1", "discount_rate", "Finance"),
    InputSpec("horizon_years", "Horizon", "years, 1-30", None, "Finance"),
    InputSpec("salvage_value", "Salvage value", "per cell, at the end", "salvage_value", "Finance"),
    InputSpec("payback_target_months", "Payback target", "months", None, "Finance"),
)

NOTE_MAX_CHARS = 500


@dataclass(frozen=True)
class InputRow:
    """A spec with its bound fields, for the template."""

    spec: InputSpec
    value: forms.BoundField
    low: forms.BoundField | None
    high: forms.BoundField | None
    note: forms.BoundField


class CostModelForm(forms.ModelForm):
    """Edits one scenario of a task's cost model. `ranges` and `notes` arrive as per-input fields
    (`low_<key>`, `high_<key>`, `note_<name>`) and leave as `input_ranges` and `input_notes`."""

    class Meta:
        model = CostModel
        fields = COST_MODEL_EDITABLE_FIELDS

    def __init__(self, *args: Any, task_labour_rate: Decimal | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.task_labour_rate = task_labour_rate
        for name in ("input_ranges", "input_notes"):
            self.fields[name].required = False
            self.fields[name].widget = forms.HiddenInput()
        ranges = self.instance.input_ranges or {}
        notes = self.instance.input_notes or {}
        for spec in INPUT_SPECS:
            field = self.fields[spec.name]
            field.label = spec.label
            field.help_text = ""
            field.widget.attrs.setdefault("step", "any")
            # Every input is a non-negative quantity; saying so here beats the model's constraint message.
            field.validators.append(MinValueValidator(0))
            field.widget.attrs.setdefault("min", "0")
            if spec.range_key:
                low, high = ranges.get(spec.range_key, (None, None))
                for bound, initial in (("low", low), ("high", high)):
                    self.fields[f"{bound}_{spec.range_key}"] = forms.FloatField(
                        required=False,
                        min_value=0,
                        label=f"{spec.label}: {bound}",
                        initial=initial,
                        widget=forms.NumberInput(attrs={"step": "any", "aria-label": f"{spec.label} {bound}"}),
                    )
            self.fields[f"note_{spec.name}"] = forms.CharField(
                required=False,
                max_length=NOTE_MAX_CHARS,
                label=f"{spec.label}: source",
                initial=notes.get(spec.name, ""),
                widget=forms.TextInput(
                    attrs={"placeholder": "quote, datasheet, trial…", "aria-label": f"{spec.label} source"}
                ),
            )

    def rows(self) -> list[tuple[str, list[InputRow]]]:
        """The inputs grouped for display: [(group, rows)]."""
        groups: dict[str, list[InputRow]] = {}
        for spec in INPUT_SPECS:
            groups.setdefault(spec.group, []).append(
                InputRow(
                    spec=spec,
                    value=self[spec.name],
                    low=self[f"low_{spec.range_key}"] if spec.range_key else None,
                    high=self[f"high_{spec.range_key}"] if spec.range_key else None,
                    note=self[f"note_{spec.name}"],
                )
            )
        return list(groups.items())

    def _base_value(self, spec: InputSpec, data: dict[str, Any]) -> float | None:
        value = data.get(spec.name)
        if spec.name == "labour_rate_override_per_hour" and value is None:
            value = self.task_labour_rate
        return None if value is None else float(value)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        ranges: dict[str, list[float]] = {}
        for spec in INPUT_SPECS:
            if not spec.range_key:
                continue
            low_name, high_name = f"low_{spec.range_key}", f"high_{spec.range_key}"
            low, high = data.get(low_name), data.get(high_name)
            if low_name in self.errors or high_name in self.errors:
                continue
            if low is None and high is None:
                continue
            if low is None or high is None:
                self.add_error(low_name if low is None else high_name, "Give both low and high, or neither.")
                continue
            if low > high:
                self.add_error(high_name, f"High ({high:g}) must not be below low ({low:g}).")
                continue
            if spec.range_key in ("utilisation", "discount_rate") and high > 1:
                self.add_error(high_name, "At most 1 (a fraction, e.g. 0.9).")
                continue
            base = self._base_value(spec, data)
            if spec.name in self.errors:
                continue
            if base is None:
                self.add_error(low_name, "Enter a value first: a range is drawn around it.")
                continue
            if not low <= base <= high:
                self.add_error(low_name, f"The range {low:g}-{high:g} must contain the value {base:g}.")
                continue
            ranges[spec.range_key] = [low, high]
        data["input_ranges"] = ranges
        data["input_notes"] = {
            spec.name: note for spec in INPUT_SPECS if (note := (data.get(f"note_{spec.name}") or "").strip())
        }
        return data

    @property
    def cost_fields(self) -> dict[str, Any]:
        """The cleaned values for reports.roi.services.cost_model_save."""
        return {name: self.cleaned_data[name] for name in COST_MODEL_EDITABLE_FIELDS}


class ScenarioForm(forms.Form):
    """?scenario= on the report pages and the API."""

    scenario = forms.ChoiceField(choices=CostModel.Scenario.choices, required=False)
