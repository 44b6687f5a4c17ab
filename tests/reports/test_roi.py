"""core.roi: worked examples from cited sources, hand-worked cases, and hypothesis properties.

Sources:
- [NPF] numpy-financial documentation, `npv` and `irr` examples,
  https://numpy.org/numpy-financial/latest/npv.html and https://numpy.org/numpy-financial/latest/irr.html
  (the irr examples come from L. J. Gitman, Principles of Managerial Finance, Brief, 3rd ed., p. 348).
- [BMA] Brealey, Myers & Allen, Principles of Corporate Finance, ch. 5 "Payback": projects A, B, C of
  -2,000 then (500, 500, 5,000), (500, 1,800, 0), (1,800, 500, 0); payback 3, 2, 2 years; NPV at 10%
  +2,624, -58, +50.
- [RWJ] Ross, Westerfield & Jordan, Fundamentals of Corporate Finance, ch. 9 problems "Calculating Payback"
  ($780 a year for eight years, cost $3,000 / $5,000 / $7,000) and "Calculating Discounted Payback"
  (inflows $2,800, $3,700, $5,100, $4,300 at 14%; cost $5,200 -> 1.96 years, $5,400 -> 2.03 years,
  $10,400 -> 3.65 years).
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import numpy_financial as npf
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from core.roi import (
    CostInputs,
    InputRange,
    MeasuredPerformance,
    RoiInputError,
    RoiInputs,
    TaskInputs,
    base_params,
    compute_roi,
    discount_factors,
    evaluate,
    irr_per_period,
    monthly_rate,
    npv_rows,
    payback_periods,
    ramp_factors,
    roi_break_even,
    roi_heatmap,
    roi_tornado,
    with_changes,
)


def hand_inputs(**changes: float) -> RoiInputs:
    """The hand-worked case (every figure below is worked out in `test_hand_worked_case`).

    Task: 100,000 parts a year, manual 36 s each = 1,000 labour hours; 1 operator, 1 shift x 8 h x 250 days
    = 2,000 operator hours. Robot: success 0.8, attempt 24 s, 1 intervention per running hour, 36 s to
    recover. Costs: robot 50,000 + integration 7,500; maintenance 1,000 a year; labour 30 an hour.
    """
    inputs = RoiInputs(
        costs=CostInputs(
            robot_capex=50_000,
            integration_cost=7_500,
            annual_maintenance=1_000,
            labour_cost_per_hour=30,
            utilisation=1.0,
            ramp_up_months=0,
            discount_rate=0.0,
            horizon_years=5,
            payback_target_months=24,
        ),
        task=TaskInputs(
            annual_volume=100_000,
            takt_time_s=40,
            shifts_per_day=1,
            hours_per_shift=8,
            operating_days_per_year=250,
            operators_per_shift=1,
            manual_cycle_time_s=36,
        ),
        measured=MeasuredPerformance(
            success_rate=0.8, attempt_cycle_time_s=24, interventions_per_hour=1, recovery_time_s=36, episodes=200
        ),
    )
    return with_changes(inputs, **changes) if changes else inputs


# ------------------------------------------------------------------- cited worked examples (NPV, IRR, payback)


def test_npv_matches_numpy_financial_docs_example() -> None:
    # [NPF] npv: invest 40,000, receive 5,000, 8,000, 12,000, 30,000 at 8% -> 3,065.22.
    flows = np.array([-40_000, 5_000, 8_000, 12_000, 30_000], dtype=float)
    assert npv_rows(flows, 0.08)[0] == pytest.approx(3065.22, abs=0.005)
    assert npv_rows(flows, 0.08)[0] == pytest.approx(npf.npv(0.08, flows), rel=1e-12)


def test_npv_rows_discounts_every_row_at_its_own_rate_like_numpy_financial() -> None:
    flows = np.array([[-100, 39, 59, 55, 20], [-40_000, 5_000, 8_000, 12_000, 30_000]], dtype=float)
    rates = np.array([0.28095, 0.08])
    got = npv_rows(flows, rates)
    assert got[0] == pytest.approx(npf.npv(0.28095, flows[0]), abs=1e-9)
    assert abs(got[0]) < 0.01  # [NPF] 28.095% is the IRR of this series
    assert got[1] == pytest.approx(npf.npv(0.08, flows[1]), rel=1e-12)


@pytest.mark.parametrize(
    ("flows", "expected"),
    [
        # [NPF] irr examples (Gitman, p. 348), rounded to 5 decimals in the docs.
        ([-100, 39, 59, 55, 20], 0.28095),
        ([-100, 0, 0, 74], -0.0955),
        ([-100, 100, 0, -7], -0.0833),
        ([-100, 100, 0, 7], 0.06206),
        ([-5, 10.5, 1, -8, 1], 0.0886),
    ],
)
def test_irr_matches_numpy_financial_docs_examples(flows: list[float], expected: float) -> None:
    irr = irr_per_period(np.array(flows, dtype=float))
    assert irr is not None
    assert round(irr, 5) == pytest.approx(expected, abs=1e-5)
    assert npf.npv(irr, flows) == pytest.approx(0, abs=1e-8)


def test_irr_is_none_when_the_flows_never_change_sign() -> None:
    assert irr_per_period(np.array([1.0, 2.0, 3.0])) is None
    assert irr_per_period(np.array([-1.0, -2.0, -3.0])) is None


def test_payback_and_npv_match_brealey_myers_allen_projects() -> None:
    # [BMA] flows arrive at year ends, so their payback is the whole years until recovery.
    flows = np.array([[-2000, 500, 500, 5000], [-2000, 500, 1800, 0], [-2000, 1800, 500, 0]], dtype=float)
    payback = payback_periods(flows)
    assert list(np.ceil(payback)) == [3, 2, 2]
    # Interpolated within the year, by hand: A 2 + 1000/5000, B 1 + 1500/1800, C 1 + 200/500.
    assert payback == pytest.approx([2.2, 1 + 1500 / 1800, 1.4])
    assert np.round(npv_rows(flows, 0.10)) == pytest.approx([2624, -58, 50])


def test_payback_matches_ross_westerfield_jordan_level_inflows() -> None:
    # [RWJ] 780 a year for 8 years: 3,000 / 780 = 3.85 years, 5,000 / 780 = 6.41, 7,000 > 6,240: never.
    flows = np.array([[-cost] + [780.0] * 8 for cost in (3000.0, 5000.0, 7000.0)])
    payback = payback_periods(flows)
    assert payback[:2] == pytest.approx([3000 / 780, 5000 / 780])
    assert round(payback[0], 2) == 3.85 and round(payback[1], 2) == 6.41
    assert math.isinf(payback[2])


def test_discounted_payback_matches_ross_westerfield_jordan() -> None:
    # [RWJ] inflows 2,800, 3,700, 5,100, 4,300 at 14%: cost 5,200 -> 1.96, 5,400 -> 2.03, 10,400 -> 3.65.
    inflows = [2800.0, 3700.0, 5100.0, 4300.0]
    flows = np.array([[-cost, *inflows] for cost in (5200.0, 5400.0, 10400.0)])
    discounted = flows * discount_factors(0.14, 4)
    assert np.round(payback_periods(discounted), 2) == pytest.approx([1.96, 2.03, 3.65])


def test_payback_is_zero_when_nothing_is_invested() -> None:
    assert payback_periods(np.array([[0.0, 10.0, 10.0]]))[0] == 0


# ----------------------------------------------------------------------------------- hand-worked cases


def test_ramp_up_earns_the_mean_of_a_linear_ramp_in_each_month() -> None:
    # Uptime t / R over [0, R]: a 3-month ramp earns 1/6, 1/2, 5/6 of a full month, then full months.
    assert ramp_factors(3, 5)[0] == pytest.approx([1 / 6, 1 / 2, 5 / 6, 1, 1])
    # R = 1.5: month 1 = 1/(2 x 1.5) = 1/3; month 2 = (2 - 0.75) - 1/3 = 11/12; then 1.
    assert ramp_factors(1.5, 3)[0] == pytest.approx([1 / 3, 11 / 12, 1])
    assert ramp_factors(0, 3)[0] == pytest.approx([1, 1, 1])
    assert ramp_factors(np.array([0.0, 3.0]), 2).shape == (2, 2)


def test_monthly_rate_compounds_to_the_annual_rate() -> None:
    assert (1 + monthly_rate(0.08)) ** 12 == pytest.approx(1.08)
    assert monthly_rate(0.0) == 0


def test_hand_worked_case() -> None:
    result = compute_roi(inputs=hand_inputs())
    # Time per good part: 24 s x (1 + 1/h x 36 s / 3600) / 0.8 = 30.3 s; one robot meets takt (40 s) and
    # volume (2,000 h x 3600 / 30.3 = 237,624 parts > 100,000).
    assert result.time_per_good_part_s == pytest.approx(30.3)
    assert (result.robots_needed, result.robots_for_volume, result.robots_for_takt) == (1, 1, 1)
    assert result.capacity_parts_per_year == pytest.approx(2000 * 3600 / 30.3)
    assert result.good_parts_per_year == 100_000  # credit capped at demand
    # Labour: 100,000 x 36 s = 1,000 h of the 2,000 the operator works: half an FTE.
    assert result.labour_hours_freed_per_year == pytest.approx(1000)
    assert result.fte_freed == pytest.approx(0.5)
    # Running 100,000 x 24 / 0.8 s = 833.3 h -> 833.3 interventions x 36 s = 8.33 h of supervision.
    assert result.interventions_per_year == pytest.approx(100_000 * 30 / 3600)
    assert result.supervision_hours_per_year == pytest.approx(100_000 * 30 / 3600 * 0.01)
    assert result.annual_gross_labour_saving == pytest.approx(30_000)
    assert result.annual_supervision_cost == pytest.approx(250)
    assert result.annual_net_saving == pytest.approx(30_000 - 250 - 1_000)
    assert result.capex == 57_500
    # 28,750 a year = 2,395.83 a month recovers 57,500 in exactly 24 months; at 0% discounted payback is the same.
    assert result.monthly_cash_flows[0] == -57_500
    assert result.monthly_cash_flows[1] == pytest.approx(28_750 / 12)
    assert len(result.monthly_cash_flows) == 61
    assert result.payback_months == pytest.approx(24.0)
    assert result.discounted_payback_months == pytest.approx(24.0)
    assert result.meets_payback_target
    assert result.npv == pytest.approx(-57_500 + 5 * 28_750)
    # Cost per good part: capital 57,500 / 5 years (rate 0) + 1,000 + 250, over 100,000 parts.
    assert result.cost_per_good_part == pytest.approx((11_500 + 1_000 + 250) / 100_000)
    assert result.manual_cost_per_part == pytest.approx(36 * 30 / 3600)


def test_ramp_up_delays_payback_by_the_uptime_it_loses() -> None:
    result = compute_roi(inputs=hand_inputs(ramp_up_months=3))
    # The ramp loses (1 - 1/6) + (1 - 1/2) + (1 - 5/6) = 1.5 months of the variable saving (29,750 / 12),
    # while maintenance runs from month one; at 24 months 3,718.75 is still unrecovered, which the full
    # monthly flow of 2,395.83 recovers in 1.552 more months.
    lost = 1.5 * 29_750 / 12
    assert result.monthly_cash_flows[1] == pytest.approx(29_750 / 12 / 6 - 1_000 / 12)
    assert result.payback_months == pytest.approx(24 + lost / (28_750 / 12))
    assert result.npv == pytest.approx(-57_500 + 5 * 28_750 - lost)


def test_discounted_payback_by_hand_at_ten_percent() -> None:
    result = compute_roi(inputs=hand_inputs(discount_rate=0.10))
    monthly = 1.1 ** (1 / 12) - 1
    flow = 28_750 / 12
    # Level monthly flow: the discounted cumulative reaches C0 when flow (1 - v^n) / i = C0.
    n_exact = -math.log(1 - 57_500 * monthly / flow) / math.log(1 + monthly)
    assert math.floor(result.discounted_payback_months) == math.floor(n_exact)
    whole = math.floor(n_exact)
    recovered = flow * (1 - (1 + monthly) ** -whole) / monthly
    assert result.discounted_payback_months == pytest.approx(
        whole + (57_500 - recovered) / (flow * (1 + monthly) ** -(whole + 1))
    )
    assert result.payback_months == pytest.approx(24.0)  # undiscounted payback ignores the rate
    flows = np.array(result.monthly_cash_flows)
    assert result.npv == pytest.approx(npf.npv(monthly, flows), rel=1e-12)


def test_irr_and_npv_cross_check_with_numpy_financial() -> None:
    inputs = hand_inputs(discount_rate=0.08, ramp_up_months=2, salvage_value=5_000)
    result = compute_roi(inputs=inputs)
    flows = np.array(result.monthly_cash_flows)
    assert flows[-1] == pytest.approx(28_750 / 12 + 5_000)  # salvage in the last month
    assert result.npv == pytest.approx(npf.npv(monthly_rate(0.08), flows), rel=1e-10)
    monthly_irr = npf.irr(flows)
    assert result.irr_annual == pytest.approx((1 + monthly_irr) ** 12 - 1)
    assert npf.npv((1 + result.irr_annual) ** (1 / 12) - 1, flows) == pytest.approx(0, abs=1e-6)
    assert result.cumulative_cash_flows[-1] == pytest.approx(flows.sum())


def test_cost_per_good_part_uses_the_capital_recovery_factor() -> None:
    result = compute_roi(inputs=hand_inputs(discount_rate=0.08, salvage_value=10_000))
    crf = 0.08 * 1.08**5 / (1.08**5 - 1)
    annual_capital = 57_500 * crf - 10_000 * 0.08 / (1.08**5 - 1)  # salvage as a sinking fund
    assert result.cost_per_good_part == pytest.approx((annual_capital + 1_000 + 250) / 100_000)


def test_a_slow_robot_needs_more_cells_to_meet_takt() -> None:
    # 30.3 s per good part against a 12 s takt: ceil(30.3 / 12) = 3 cells, each with its capex and upkeep.
    result = compute_roi(inputs=hand_inputs(takt_time_s=12))
    assert result.robots_for_takt == 3
    assert result.robots_needed == 3
    assert result.capex == 3 * 50_000 + 7_500
    assert result.annual_fixed_costs == 3 * 1_000
    assert any("cells are needed" in note for note in result.notes)


def test_volume_beyond_one_cell_needs_more_cells_and_credit_stays_capped_at_demand() -> None:
    result = compute_roi(inputs=hand_inputs(annual_volume=500_000, operators_per_shift=3))
    assert result.robots_for_volume == math.ceil(500_000 / (2000 * 3600 / 30.3))
    assert result.good_parts_per_year == 500_000
    assert result.capacity_parts_per_year > 500_000


def test_labour_freed_is_capped_at_the_operators_hours() -> None:
    # 200,000 parts x 36 s = 2,000 h, but half an operator per shift works only 1,000 h on this task.
    result = compute_roi(inputs=hand_inputs(annual_volume=200_000, operators_per_shift=0.5))
    assert result.labour_hours_freed_per_year == pytest.approx(1000)
    assert result.fte_freed == pytest.approx(0.5)
    assert any("capped" in note for note in result.notes)


def test_energy_is_kw_times_hours_times_price_per_cell() -> None:
    costs = replace(hand_inputs().costs, energy_kw=0.5, energy_price_per_kwh=0.2)
    inputs = replace(hand_inputs(), costs=costs)
    assert compute_roi(inputs=inputs).annual_energy_cost == pytest.approx(0.5 * 2000 * 0.2)
    costs = replace(costs, energy_hours_per_year=1000)
    assert compute_roi(inputs=replace(inputs, costs=costs)).annual_energy_cost == pytest.approx(100)


def test_result_is_json_serialisable_with_none_for_never() -> None:
    result = compute_roi(inputs=hand_inputs(labour_cost_per_hour=1))
    assert result.payback_months is None
    assert not result.meets_payback_target
    data = json.loads(json.dumps(result.to_dict()))
    assert data["payback_months"] is None
    assert data["robots_needed"] == 1
    assert len(data["monthly_cash_flows"]) == 61


# ---------------------------------------------------------------------------------------- clear errors


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"success_rate": 0.0}, "never completed the task"),
        ({"episodes": 0}, "No episodes recorded"),
        ({"attempt_cycle_time_s": 0.0}, "cycle time must be positive"),
        ({"success_rate": 1.5}, "between 0 and 1"),
    ],
)
def test_meaningless_measurements_raise_a_clear_error(changes: dict[str, float], message: str) -> None:
    measured = hand_inputs().measured
    with pytest.raises(RoiInputError, match=message):
        replace(measured, **changes)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"annual_volume": 0}, "no annual volume"),
        ({"hours_per_shift": 0}, "no production hours"),
    ],
)
def test_meaningless_tasks_raise_a_clear_error(changes: dict[str, float], message: str) -> None:
    with pytest.raises(RoiInputError, match=message):
        replace(hand_inputs().task, **changes)


def test_meaningless_costs_raise_a_clear_error() -> None:
    costs = hand_inputs().costs
    with pytest.raises(RoiInputError, match="Utilisation"):
        replace(costs, utilisation=0)
    with pytest.raises(RoiInputError, match="robot_capex must be a non-negative"):
        replace(costs, robot_capex=-1)
    with pytest.raises(RoiInputError, match="horizon"):
        replace(costs, horizon_years=0)
    with pytest.raises(RoiInputError, match="whole number of years"):
        replace(costs, horizon_years=2.5)
    with pytest.raises(RoiInputError, match="Unknown input"):
        with_changes(hand_inputs(), bogus=1.0)


# ------------------------------------------------------------------------ break-even, heatmap, tornado


def supervision_heavy(**changes: float) -> RoiInputs:
    """Interventions every 3 minutes of running, 36 s each: the success rate and MTBI drive supervision cost."""
    return hand_inputs(interventions_per_hour=20, annual_maintenance=3_000, **changes)


def test_break_even_values_give_exactly_the_target_payback() -> None:
    inputs = supervision_heavy()
    base = compute_roi(inputs=inputs)
    target = base.payback_months - 1  # a little better than measured
    be = roi_break_even(inputs=inputs, target_payback_months=target)
    assert be.success_rate.status == "found"
    assert be.success_rate.value > inputs.measured.success_rate
    assert compute_roi(inputs=with_changes(inputs, success_rate=be.success_rate.value)).payback_months == (
        pytest.approx(target, abs=1e-6)
    )
    assert be.mtbi_hours.status == "found"
    assert be.mtbi_hours.value > 1 / inputs.measured.interventions_per_hour
    needed = with_changes(inputs, interventions_per_hour=1 / be.mtbi_hours.value)
    assert compute_roi(inputs=needed).payback_months == pytest.approx(target, abs=1e-6)


def test_break_even_utilisation_is_the_lowest_that_meets_the_target() -> None:
    # 30.3 s per good part against a 32 s takt: one cell keeps pace down to 30.3 / 32 = 94.7% utilisation and
    # pays back in 24 months; below it two cells are needed and payback is 107,500 / (27,750 / 12) = 46.5.
    inputs = hand_inputs(takt_time_s=32)
    target = 30.0
    be = roi_break_even(inputs=inputs, target_payback_months=target)
    assert be.utilisation.status == "found"
    value = be.utilisation.value
    assert value == pytest.approx(30.3 / 32, rel=1e-6)
    assert compute_roi(inputs=with_changes(inputs, utilisation=value)).payback_months <= target + 1e-9
    slightly_less = compute_roi(inputs=with_changes(inputs, utilisation=value * 0.999)).payback_months
    assert slightly_less is None or slightly_less > target


def test_break_even_says_unreachable_and_always() -> None:
    hopeless = roi_break_even(inputs=hand_inputs(labour_cost_per_hour=2), target_payback_months=12)
    assert hopeless.success_rate.status == "unreachable" and hopeless.success_rate.value is None
    assert hopeless.utilisation.status == "unreachable"
    easy = roi_break_even(inputs=hand_inputs(robot_capex=1, integration_cost=0), target_payback_months=50)
    assert easy.mtbi_hours.status == "always"
    assert json.loads(json.dumps(easy.to_dict()))["mtbi_hours"]["status"] == "always"


def test_heatmap_matches_single_scenarios_and_falls_along_the_labour_rate() -> None:
    inputs = hand_inputs()
    heat = roi_heatmap(inputs=inputs, utilisation=[0.6, 0.8, 1.0], labour_cost_per_hour=[20, 30, 40, 50])
    assert len(heat.payback_months) == 3 and all(len(row) == 4 for row in heat.payback_months)
    single = compute_roi(inputs=with_changes(inputs, utilisation=0.8, labour_cost_per_hour=40))
    assert heat.payback_months[1][2] == pytest.approx(single.payback_months)
    assert heat.npv[1][2] == pytest.approx(single.npv)
    for row in heat.npv:
        assert list(row) == sorted(row)
    default = roi_heatmap(inputs=inputs)
    assert len(default.utilisation) == 11 and len(default.labour_cost_per_hour) == 9
    with pytest.raises(RoiInputError):
        roi_heatmap(inputs=inputs, utilisation=[0.0, 1.2])


def test_tornado_swings_each_input_and_sorts_by_swing() -> None:
    costs = replace(hand_inputs().costs, ranges=(InputRange(name="robot_capex", low=40_000, high=90_000),))
    inputs = replace(hand_inputs(), costs=costs)
    tornado = roi_tornado(inputs=inputs)
    swings = [bar.npv_swing for bar in tornado.bars]
    assert swings == sorted(swings, reverse=True)
    bars = {bar.name: bar for bar in tornado.bars}
    assert (bars["robot_capex"].low, bars["robot_capex"].high) == (40_000, 90_000)
    assert bars["robot_capex"].npv_low > bars["robot_capex"].npv_high
    assert bars["labour_cost_per_hour"].low == pytest.approx(24)
    assert bars["labour_cost_per_hour"].npv_high > bars["labour_cost_per_hour"].npv_low
    assert bars["success_rate"].high == pytest.approx(0.96)
    assert "salvage_value" not in bars  # zero and no range: nothing to swing
    assert bars["robot_capex"].npv_high == pytest.approx(
        compute_roi(inputs=with_changes(inputs, robot_capex=90_000)).npv
    )
    assert tornado.base_npv == pytest.approx(compute_roi(inputs=inputs).npv)


def test_evaluate_handles_many_rows_like_single_scenarios() -> None:
    inputs = hand_inputs(ramp_up_months=2.5, discount_rate=0.07)
    params = base_params(inputs)
    rates = np.array([10.0, 30.0, 55.0])
    ev = evaluate({**params, "labour_cost_per_hour": rates}, horizon_years=5)
    for i, rate in enumerate(rates):
        single = compute_roi(inputs=with_changes(inputs, labour_cost_per_hour=float(rate)))
        assert ev.npv[i] == pytest.approx(single.npv)
        assert ev.npv[i] == pytest.approx(npf.npv(monthly_rate(0.07), ev.cash_flows[i]))


# ----------------------------------------------------------------------------------------- properties

positive_economics = st.fixed_dictionaries(
    {
        "success_rate": st.floats(0.05, 1.0),
        "attempt_cycle_time_s": st.floats(2.0, 120.0),
        "interventions_per_hour": st.floats(0.0, 30.0),
        "recovery_time_s": st.floats(0.0, 300.0),
        "utilisation": st.floats(0.3, 1.0),
        "ramp_up_months": st.floats(0.0, 12.0),
        "robot_capex": st.floats(1_000, 200_000),
        "annual_maintenance": st.floats(0, 10_000),
        "annual_volume": st.floats(1_000, 1_000_000),
        "manual_cycle_time_s": st.floats(2.0, 120.0),
        "discount_rate": st.floats(0.0, 0.3),
    }
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(values=positive_economics, rate=st.floats(1.0, 150.0), factor=st.floats(1.0, 5.0))
def test_payback_never_rises_when_the_labour_rate_rises(values: dict[str, float], rate: float, factor: float) -> None:
    inputs = hand_inputs(**values, labour_cost_per_hour=rate)
    low = compute_roi(inputs=inputs)
    # A dearer hour also makes supervision dearer; the claim holds when the cell saves more hours than its
    # interventions take, which is the case for any cell worth having.
    assume(low.supervision_hours_per_year <= low.labour_hours_freed_per_year)
    high = compute_roi(inputs=with_changes(inputs, labour_cost_per_hour=rate * factor))
    assert (high.payback_months or math.inf) <= (low.payback_months or math.inf) + 1e-9
    assert (high.discounted_payback_months or math.inf) <= (low.discounted_payback_months or math.inf) + 1e-9


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(values=positive_economics, rate=st.floats(0.0, 0.5), bump=st.floats(0.001, 0.5))
def test_npv_falls_as_the_discount_rate_rises(values: dict[str, float], rate: float, bump: float) -> None:
    values = {**values, "discount_rate": rate}
    inputs = hand_inputs(**values, labour_cost_per_hour=40)
    low = compute_roi(inputs=inputs)
    # A conventional investment (outlay first, then inflows): later money is worth less at a higher rate.
    # With a month of net outflow after t = 0 a higher rate can raise NPV, which is correct, so excluded.
    assume(min(low.monthly_cash_flows[1:]) >= 0 and max(low.monthly_cash_flows[1:]) > 0)
    high = compute_roi(inputs=with_changes(inputs, discount_rate=min(rate + bump, 1.0)))
    assert high.npv < low.npv
