"""The cost-model inputs are defined once, in core.roi.CostInputs: the core's parameters, the CostModel's
columns, the form and the conversion between model and dataclass all follow it (issue 15)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from core.roi import COST_MONEY_PARAMS, COST_PARAMS, PARAMS, CostInputs
from reports.models import (
    COST_MODEL_COLUMNS,
    COST_MODEL_EDITABLE_FIELDS,
    COST_MODEL_MONEY_FIELDS,
    COST_MODEL_RANGE_FIELDS,
    CostModel,
)
from reports.roi.charts import INPUT_LABELS
from reports.roi.forms import INPUT_SPECS
from reports.roi.inputs import cost_inputs_from_model
from tests.factories import TaskFactory

# Columns of the cost model that are no CostInputs field: the recovery time feeds the measured performance
# (core.roi.MeasuredPerformance), the notes are the evidence shown beside each input.
NOT_COST_INPUTS = {"recovery_time_s", "input_notes"}


def test_every_cost_input_has_its_column_and_every_input_column_is_a_cost_input() -> None:
    columns = {f.name for f in CostModel._meta.concrete_fields}
    inputs = [f.name for f in dataclasses.fields(CostInputs)]
    assert set(COST_MODEL_COLUMNS) == set(inputs)
    assert set(COST_MODEL_COLUMNS.values()) <= columns
    assert set(COST_MODEL_EDITABLE_FIELDS) == set(COST_MODEL_COLUMNS.values()) | NOT_COST_INPUTS


def test_the_derived_lists_agree() -> None:
    assert set(COST_PARAMS) <= set(PARAMS)
    assert set(COST_MODEL_MONEY_FIELDS) <= set(COST_MONEY_PARAMS)
    assert set(COST_MODEL_RANGE_FIELDS) <= set(PARAMS)
    # Every money column is a non-negative Decimal in the database.
    for name in COST_MODEL_MONEY_FIELDS:
        field = CostModel._meta.get_field(name)
        assert field.get_internal_type() == "DecimalField" and not field.null
    # The form shows every input column once; the JSON columns are edited through its per-input fields.
    assert {s.name for s in INPUT_SPECS} == set(COST_MODEL_EDITABLE_FIELDS) - {
        "input_ranges",
        "input_notes",
        "range_distribution",
    }
    # Every input that may carry a range has its low/high fields on the form.
    assert {s.range_key for s in INPUT_SPECS if s.range_key} == set(COST_MODEL_RANGE_FIELDS)
    assert set(INPUT_LABELS) <= set(PARAMS)


def test_cost_inputs_from_model_reads_every_field() -> None:
    task = TaskFactory.build(labour_cost_per_hour=Decimal("31.5"))
    values = {name: Decimal(f"{i + 1}.25") for i, name in enumerate(COST_MODEL_MONEY_FIELDS)}
    model = CostModel(
        task=task,
        **values,
        energy_kw=0.7,
        energy_hours_per_year=4000.0,
        recovery_time_s=45.0,
        ramp_up_months=2.0,
        discount_rate=0.1,
        horizon_years=7,
        utilisation=0.8,
        payback_target_months=18.0,
        input_ranges={"utilisation": [0.7, 0.9], "robot_capex": [1.0, 2.0]},
        range_distribution="triangular",
    )
    costs = cost_inputs_from_model(cost_model=model)
    for name, value in values.items():
        assert getattr(costs, name) == float(value)
    assert costs.labour_cost_per_hour == 31.5  # the task's rate: no override
    assert (costs.energy_kw, costs.energy_hours_per_year, costs.ramp_up_months) == (0.7, 4000.0, 2.0)
    assert (costs.discount_rate, costs.horizon_years, costs.utilisation) == (0.1, 7, 0.8)
    assert (costs.payback_target_months, costs.range_distribution) == (18.0, "triangular")
    assert [(r.name, r.low, r.high) for r in costs.ranges] == [("robot_capex", 1.0, 2.0), ("utilisation", 0.7, 0.9)]
    model.labour_rate_override_per_hour = Decimal("40")
    assert cost_inputs_from_model(cost_model=model).labour_cost_per_hour == 40.0
