"""Return on investment of a robot cell, from the cost model and the performance the trials measured.

Pure, ORM-free and typed: frozen dataclasses in, frozen dataclasses (with `to_dict()`) out. Pages, the
API and the Monte Carlo (`core.montecarlo`) all call the same vectorised core, `evaluate()`, which
takes every input as a numpy array (one element per scenario or per Monte Carlo draw) and returns the
economics of every row at once.

The model (defined in docs/metrics.md, in this repository):

- Time per good part = attempt cycle x (1 + interventions per hour x recovery time) / success rate.
  A robot yields `utilisation x production hours x 3600 / time per good part` good parts a year.
- Robots needed = the larger of what the annual volume needs and what takt needs; the throughput credit is
  capped at demand (parts nobody buys free no labour).
- Labour freed = good parts x manual cycle time, capped at the hours the operators on the task actually work
  (a cell rarely frees whole FTEs, so FTE freed stays fractional). Supervision labour = interventions x
  recovery time, paid at the same loaded rate.
- Up-front investment C0 = robots x (robot + tooling + vision + safety) + integration + FAT/SAT + training.
  Per-cell yearly costs (maintenance, software, consumables, energy kW x hours x price) run from month one.
- Ramp-up: over `ramp_up_months` the cell's uptime rises linearly from zero, so month one earns no credit
  for full uptime; the labour saving net of supervision in month m is scaled by the mean of the ramp over
  that month. With a 3-month ramp: 1/6, 1/2, 5/6, then 1.
- Monthly cash flows over the horizon, discounted monthly at the equivalent of the annual rate,
  (1 + r)^(1/12) - 1; salvage arrives at the end of the horizon. NPV with `numpy_financial.npv` semantics
  (values[0] at t = 0), IRR with `numpy_financial.irr` (annualised; None when undefined).
- Payback (and discounted payback) is when the cumulative operating cash flow crosses zero, interpolated
  linearly within the month; salvage is a terminal value and counts in NPV and IRR, not in payback.
  None when the cell does not pay back within the horizon.
- Cost per good part = (capital recovered over the horizon with the capital recovery factor, net of the
  salvage: `numpy_financial.pmt`) + yearly costs + supervision, over good parts a year.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

import numpy as np
import numpy_financial as npf
from numpy.typing import NDArray
from scipy.optimize import brentq

from core.results import JsonResult, finite_or_none

FloatArray = NDArray[np.float64]

SECONDS_PER_HOUR = 3600.0
MONTHS_PER_YEAR = 12


class RoiInputError(ValueError):
    """The inputs make an ROI meaningless (no episodes, zero success rate, no volume...).

    The message says why, in words a manager can act on; pages and the API show it instead of figures.
    """


# --------------------------------------------------------------------------------------------- inputs


@dataclass(frozen=True, kw_only=True)
class InputRange:
    """An uncertain input: low and high around its base value (drawn in the Monte Carlo, swung in the tornado)."""

    name: str
    low: float
    high: float


# CostInputs is the one list of cost-model inputs: core.roi's parameters (COST_PARAMS), the CostModel's
# columns (reports.models maps them and a test checks both agree) and every conversion between the two are
# read off its fields. A field's metadata says what kind of input it is: "money" (an amount in the task's
# currency), "setting" (shapes the evaluation but is no parameter of the vectorised core: not drawn, not
# swung).
_MONEY = {"money": True}
_SETTING = {"setting": True}


@dataclass(frozen=True, kw_only=True)
class CostInputs:
    """The cost model of one scenario, money in the task's currency. Per-cell items scale with robots needed."""

    robot_capex: float = field(metadata=_MONEY)  # per cell
    tooling_capex: float = field(default=0.0, metadata=_MONEY)  # per cell
    vision_capex: float = field(default=0.0, metadata=_MONEY)  # per cell
    safety_capex: float = field(default=0.0, metadata=_MONEY)  # per cell
    integration_cost: float = field(default=0.0, metadata=_MONEY)  # once
    fat_sat_cost: float = field(default=0.0, metadata=_MONEY)  # once
    training_cost: float = field(default=0.0, metadata=_MONEY)  # once
    annual_maintenance: float = field(default=0.0, metadata=_MONEY)  # per cell per year
    annual_software: float = field(default=0.0, metadata=_MONEY)  # per cell per year
    annual_consumables: float = field(default=0.0, metadata=_MONEY)  # per cell per year
    energy_kw: float = 0.0  # per cell
    energy_hours_per_year: float | None = None  # None: the task's production hours
    energy_price_per_kwh: float = field(default=0.0, metadata=_MONEY)
    labour_cost_per_hour: float = field(metadata=_MONEY)  # loaded
    utilisation: float = 0.85  # share of production hours the cell produces
    ramp_up_months: float = 0.0
    discount_rate: float = 0.08  # per year
    horizon_years: int = field(default=5, metadata=_SETTING)
    salvage_value: float = field(default=0.0, metadata=_MONEY)  # per cell, at the end of the horizon
    payback_target_months: float = field(default=24.0, metadata=_SETTING)
    ranges: tuple[InputRange, ...] = field(default=(), metadata=_SETTING)
    range_distribution: Literal["pert", "triangular"] = field(default="pert", metadata=_SETTING)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, int | float) and not isinstance(value, bool) and (math.isnan(value) or value < 0):
                raise RoiInputError(f"{f.name} must be a non-negative number, got {value}.")
        if not 0 < self.utilisation <= 1:
            raise RoiInputError("Utilisation must be above 0 and at most 1: a cell that never runs earns nothing.")
        if not 0 <= self.discount_rate <= 1:
            raise RoiInputError("The discount rate is per year, between 0 and 1 (e.g. 0.08).")
        if not 1 <= self.horizon_years <= 30 or int(self.horizon_years) != self.horizon_years:
            raise RoiInputError("The horizon must be a whole number of years, 1 to 30.")
        if self.range_distribution not in ("pert", "triangular"):
            raise RoiInputError(f"Unknown range distribution {self.range_distribution!r}: use pert or triangular.")


@dataclass(frozen=True, kw_only=True)
class TaskInputs:
    """The manual task the cell would take over."""

    annual_volume: float  # parts per year
    takt_time_s: float
    shifts_per_day: float
    hours_per_shift: float
    operating_days_per_year: float
    operators_per_shift: float  # operators doing this task, may be fractional
    manual_cycle_time_s: float

    def __post_init__(self) -> None:
        if self.annual_volume <= 0:
            raise RoiInputError("The task has no annual volume: there is nothing for a robot to save.")
        if self.takt_time_s <= 0 or self.manual_cycle_time_s <= 0:
            raise RoiInputError("Takt time and manual cycle time must be positive.")
        if self.shifts_per_day <= 0 or self.hours_per_shift <= 0 or self.operating_days_per_year <= 0:
            raise RoiInputError("The task has no production hours (shifts, hours per shift, days per year).")
        if self.operators_per_shift < 0:
            raise RoiInputError("Operators per shift cannot be negative.")

    @property
    def production_hours_per_year(self) -> float:
        return self.shifts_per_day * self.hours_per_shift * self.operating_days_per_year


@dataclass(frozen=True, kw_only=True)
class MeasuredPerformance:
    """What the trials measured (point estimates); `episodes` is how many attempts they rest on."""

    success_rate: float
    attempt_cycle_time_s: float  # mean over all attempts, successful or not
    interventions_per_hour: float  # per hour of autonomous running
    recovery_time_s: float  # operator time per intervention
    episodes: int

    def __post_init__(self) -> None:
        if self.episodes <= 0:
            raise RoiInputError("No episodes recorded yet: run a trial of this task before computing its ROI.")
        if not 0 <= self.success_rate <= 1 or math.isnan(self.success_rate):
            raise RoiInputError(f"The success rate must be between 0 and 1, got {self.success_rate}.")
        if self.success_rate == 0:
            raise RoiInputError(
                f"No successful episode in {self.episodes}: the robot never completed the task, so it frees no "
                "labour and no payback exists."
            )
        if not self.attempt_cycle_time_s > 0:
            raise RoiInputError("The measured attempt cycle time must be positive.")
        if self.interventions_per_hour < 0 or self.recovery_time_s < 0:
            raise RoiInputError("Intervention rate and recovery time cannot be negative.")


@dataclass(frozen=True, kw_only=True)
class RoiInputs:
    """Everything one ROI needs: the scenario's costs, the task, and the measured performance."""

    costs: CostInputs
    task: TaskInputs
    measured: MeasuredPerformance


# The scalar inputs of the vectorised core, by name: every CostInputs field but the settings. Cost-model
# names match reports.models.CostModel (and its `input_ranges` keys); "labour_cost_per_hour" is the
# effective loaded rate.
COST_PARAMS = tuple(f.name for f in fields(CostInputs) if not f.metadata.get("setting"))
# The cost inputs that are amounts of money (the rest are rates, shares, durations and energy).
COST_MONEY_PARAMS = tuple(f.name for f in fields(CostInputs) if f.metadata.get("money"))
TASK_PARAMS = (
    "annual_volume",
    "takt_time_s",
    "shifts_per_day",
    "hours_per_shift",
    "operating_days_per_year",
    "operators_per_shift",
    "manual_cycle_time_s",
)
MEASURED_PARAMS = ("success_rate", "attempt_cycle_time_s", "interventions_per_hour", "recovery_time_s")
PARAMS = COST_PARAMS + TASK_PARAMS + MEASURED_PARAMS

# Inputs bounded above by 1: a range or swing never takes them past it.
_AT_MOST_ONE = frozenset({"success_rate", "utilisation", "discount_rate"})


def base_params(inputs: RoiInputs) -> dict[str, float]:
    """The inputs as a flat {name: value} of the core's parameters (energy hours resolved to the task's)."""
    values: dict[str, float] = {}
    for name in COST_PARAMS:
        values[name] = getattr(inputs.costs, name)
    if inputs.costs.energy_hours_per_year is None:
        values["energy_hours_per_year"] = inputs.task.production_hours_per_year
    for name in TASK_PARAMS:
        values[name] = float(getattr(inputs.task, name))
    for name in MEASURED_PARAMS:
        values[name] = float(getattr(inputs.measured, name))
    return {name: float(value) for name, value in values.items()}


# ------------------------------------------------------------------------------------- vectorised core


@dataclass(frozen=True)
class Evaluation:
    """The economics of every row (scenario or draw); arrays of shape (rows,) unless noted. Money per year."""

    time_per_good_part_s: FloatArray
    robots_for_volume: FloatArray
    robots_for_takt: FloatArray
    robots_needed: FloatArray
    capacity_parts_per_year: FloatArray
    good_parts_per_year: FloatArray
    labour_hours_freed: FloatArray
    fte_freed: FloatArray
    interventions_per_year: FloatArray
    supervision_hours: FloatArray
    capex: FloatArray
    gross_labour_saving: FloatArray
    supervision_cost: FloatArray
    energy_cost: FloatArray
    fixed_costs: FloatArray  # maintenance + software + consumables + energy, all cells
    annual_net_saving: FloatArray  # at full uptime
    salvage: FloatArray
    operating_cash_flows: FloatArray  # (rows, months + 1), column 0 = -capex; salvage not included
    discount_factors: FloatArray  # (rows or 1, months + 1)
    npv: FloatArray
    payback_months: FloatArray  # inf when not within the horizon
    discounted_payback_months: FloatArray  # inf when not within the horizon

    @property
    def cash_flows(self) -> FloatArray:
        """(rows, months + 1): the operating cash flows with the salvage added in the last month."""
        flows = self.operating_cash_flows.copy()
        flows[:, -1] += self.salvage
        return flows


def monthly_rate(annual_rate: FloatArray | float) -> FloatArray:
    """The monthly rate equivalent to an effective annual rate: (1 + r)^(1/12) - 1."""
    rate: FloatArray = np.expm1(np.log1p(np.asarray(annual_rate, dtype=float)) / MONTHS_PER_YEAR)
    return rate


def ramp_factors(ramp_up_months: FloatArray | float, months: int) -> FloatArray:
    """Share of full uptime earned in months 1..months under a linear ramp from zero; shape (rows or 1, months).

    Uptime at time t (months) is min(t / R, 1); month m earns its mean over [m - 1, m], the difference of the
    integral F(t) = t^2 / 2R (t <= R), t - R / 2 (t > R), written as F(t) = t - R / 2 + max(R - t, 0)^2 / 2R.
    R = 0 means full uptime from month one.
    """
    ramping = _ramping_months(ramp_up_months, months)
    factors = np.ones((months, ramping.shape[1]))
    factors[: ramping.shape[0]] = ramping
    return factors.T


def _ramping_months(ramp_up_months: FloatArray | float, months: int) -> FloatArray:
    """ramp_factors of the first ceil(longest ramp) months only, month-major: shape (those months, rows or 1).

    Every later month earns 1; leaving those out spares the Monte Carlo a rows x months matrix of ones.
    """
    ramp = np.atleast_1d(np.asarray(ramp_up_months, dtype=float))[None, :]
    ramp = np.where(ramp < 1e-9, 0.0, ramp)  # a ramp of a nanomonth is none, and 1 / 2R must not overflow
    ramping = min(months, int(np.ceil(ramp.max())))
    t = np.arange(ramping + 1, dtype=float)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        shortfall = np.where(ramp > 0, np.maximum(ramp - t, 0.0) ** 2 / (2 * ramp), 0.0)
    return 1.0 + np.diff(shortfall, axis=0)


def discount_factors(rate_per_period: FloatArray | float, periods: int) -> FloatArray:
    """1 / (1 + rate)^t for t = 0..periods, shape (rows or 1, periods + 1): values[0] is at t = 0, as in
    numpy_financial.npv."""
    rate = np.atleast_1d(np.asarray(rate_per_period, dtype=float))[:, None]
    t = np.arange(periods + 1, dtype=float)[None, :]
    factors: FloatArray = np.exp(-t * np.log1p(rate))
    return factors


def npv_rows(cash_flows: FloatArray, rate_per_period: FloatArray | float) -> FloatArray:
    """NPV of every row of `cash_flows` (rows, periods + 1) at once: numpy_financial.npv semantics, column 0
    at t = 0, without a Python loop over rows. `rate_per_period` is a scalar or one rate per row."""
    flows = np.atleast_2d(np.asarray(cash_flows, dtype=float))
    npv: FloatArray = np.sum(flows * discount_factors(rate_per_period, flows.shape[1] - 1), axis=1)
    return npv


def irr_per_period(cash_flows: FloatArray) -> float | None:
    """IRR per period of one cash-flow series with numpy_financial.irr; None when there is none."""
    rate = float(npf.irr(np.asarray(cash_flows, dtype=float)))
    return rate if math.isfinite(rate) else None


def payback_periods(cash_flows: FloatArray) -> FloatArray:
    """Periods until the cumulative cash flow first reaches zero, per row, interpolated within the period.

    `cash_flows` has shape (rows, periods + 1) with column 0 at t = 0. Returns shape (rows,): 0 when nothing
    is invested, inf when the cumulative flow never reaches zero. Textbook rule (Brealey, Myers & Allen,
    Principles of Corporate Finance, ch. 5): years before full recovery + unrecovered cost / next year's flow.
    """
    flows = np.atleast_2d(np.asarray(cash_flows, dtype=float))
    return _payback_by_period(np.ascontiguousarray(flows.T))


def _payback_by_period(flows: FloatArray) -> FloatArray:
    """payback_periods of period-major flows, shape (periods + 1, rows): cumsum down contiguous rows is fast."""
    # A loop over periods (not over rows): numpy's cumsum along axis 0 is several times slower than
    # one vectorised add per period.
    if flows.shape[1] < 256:  # few rows: one cumsum call beats a Python loop of tiny adds
        cumulative = np.cumsum(flows, axis=0)
    else:
        cumulative = np.empty_like(flows)
        cumulative[0] = flows[0]
        for k in range(1, flows.shape[0]):
            np.add(cumulative[k - 1], flows[k], out=cumulative[k])
    # A tiny tolerance so a flow that recovers the cost exactly counts as recovered despite rounding.
    scale = np.maximum(np.abs(flows[0]), 1.0)
    reached = cumulative >= -1e-9 * scale
    first = np.argmax(reached, axis=0)
    cols = np.arange(flows.shape[1])
    any_reached = reached[first, cols]  # argmax gives 0 when no period reached it
    previous = np.maximum(first - 1, 0)
    before = cumulative[previous, cols]
    flow = flows[first, cols]
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.where(flow > 0, np.clip(-before / flow, 0.0, 1.0), 1.0)
    result = np.where(first == 0, 0.0, previous + fraction)
    return np.where(any_reached, result, np.inf)


def evaluate(params: Mapping[str, FloatArray | float], *, horizon_years: int) -> Evaluation:
    """Evaluate every row of `params` (each name in PARAMS -> a scalar or an array of shape (rows,)) at once.

    Returns an Evaluation. Pure array maths: no Python loop over rows, so 10,000 Monte Carlo draws cost
    about as much as a handful of scenarios. The caller validates the inputs (the dataclasses above do);
    a row with a zero success rate yields an infinite time per good part and infinite robots, not an error.
    """
    p = {name: np.atleast_1d(np.asarray(params[name], dtype=float)) for name in PARAMS}
    months = MONTHS_PER_YEAR * int(horizon_years)
    production_hours = p["shifts_per_day"] * p["hours_per_shift"] * p["operating_days_per_year"]

    with np.errstate(divide="ignore", invalid="ignore"):
        attempt_with_recovery_s = p["attempt_cycle_time_s"] * (
            1 + p["interventions_per_hour"] * p["recovery_time_s"] / SECONDS_PER_HOUR
        )
        time_per_good_part_s = attempt_with_recovery_s / p["success_rate"]
        capacity_per_robot = p["utilisation"] * production_hours * SECONDS_PER_HOUR / time_per_good_part_s
        # ceil of a ratio that should be an integer must not round 2.0000000001 up to 3.
        robots_for_volume = np.ceil(p["annual_volume"] / capacity_per_robot - 1e-9)
        robots_for_takt = np.ceil(time_per_good_part_s / (p["utilisation"] * p["takt_time_s"]) - 1e-9)
    robots = np.maximum(np.maximum(robots_for_volume, robots_for_takt), 1.0)
    capacity = robots * capacity_per_robot
    good_parts = np.minimum(p["annual_volume"], capacity)

    operator_hours = p["operators_per_shift"] * production_hours
    labour_hours_freed = np.minimum(good_parts * p["manual_cycle_time_s"] / SECONDS_PER_HOUR, operator_hours)
    fte_hours = p["hours_per_shift"] * p["operating_days_per_year"]
    fte_freed = labour_hours_freed / fte_hours
    with np.errstate(invalid="ignore"):
        autonomous_hours = good_parts * (p["attempt_cycle_time_s"] / p["success_rate"]) / SECONDS_PER_HOUR
    interventions = p["interventions_per_hour"] * autonomous_hours
    supervision_hours = interventions * p["recovery_time_s"] / SECONDS_PER_HOUR

    rate = p["labour_cost_per_hour"]
    gross_saving = labour_hours_freed * rate
    supervision_cost = supervision_hours * rate
    energy_cost = robots * p["energy_kw"] * p["energy_hours_per_year"] * p["energy_price_per_kwh"]
    fixed_costs = robots * (p["annual_maintenance"] + p["annual_software"] + p["annual_consumables"]) + energy_cost
    per_cell_capex = p["robot_capex"] + p["tooling_capex"] + p["vision_capex"] + p["safety_capex"]
    capex = robots * per_cell_capex + p["integration_cost"] + p["fat_sat_cost"] + p["training_cost"]
    salvage = robots * p["salvage_value"]
    variable_net = gross_saving - supervision_cost

    rows = int(np.broadcast_shapes(*(a.shape for a in p.values()))[0])
    # Month-major (months + 1, rows): every month-wise step (cumulative sums for payback) runs down
    # contiguous rows of draws, several times faster than along the last axis.
    # In-place arithmetic: fresh multi-megabyte temporaries cost more in page faults than the sums themselves.
    operating = np.empty((months + 1, rows))
    operating[0] = -capex
    body = operating[1:]
    ramping = _ramping_months(p["ramp_up_months"], months)
    np.multiply(ramping, variable_net, out=body[: ramping.shape[0]])
    body[ramping.shape[0] :] = variable_net
    body -= fixed_costs
    body /= MONTHS_PER_YEAR
    discount = discount_factors(monthly_rate(p["discount_rate"]), months).T
    discounted = operating * discount
    npv = discounted.sum(axis=0) + salvage * discount[-1]
    payback = _payback_by_period(operating)
    discounted_payback = _payback_by_period(discounted)

    def rows_of(a: FloatArray) -> FloatArray:
        return a if a.shape == (rows,) else np.full(rows, a[0])

    return Evaluation(
        time_per_good_part_s=rows_of(time_per_good_part_s),
        robots_for_volume=rows_of(robots_for_volume),
        robots_for_takt=rows_of(robots_for_takt),
        robots_needed=rows_of(robots),
        capacity_parts_per_year=rows_of(capacity),
        good_parts_per_year=rows_of(good_parts),
        labour_hours_freed=rows_of(labour_hours_freed),
        fte_freed=rows_of(fte_freed),
        interventions_per_year=rows_of(interventions),
        supervision_hours=rows_of(supervision_hours),
        capex=rows_of(capex),
        gross_labour_saving=rows_of(gross_saving),
        supervision_cost=rows_of(supervision_cost),
        energy_cost=rows_of(energy_cost),
        fixed_costs=rows_of(fixed_costs),
        annual_net_saving=rows_of(variable_net - fixed_costs),
        salvage=rows_of(salvage),
        operating_cash_flows=operating.T,
        discount_factors=discount.T,
        npv=npv,
        payback_months=payback,
        discounted_payback_months=discounted_payback,
    )


# ------------------------------------------------------------------------------------------- outputs


@dataclass(frozen=True, kw_only=True)
class RoiResult(JsonResult):
    """The ROI of one scenario. Money per year unless the name says otherwise; None = not within the horizon."""

    robots_needed: int
    robots_for_volume: int
    robots_for_takt: int
    time_per_good_part_s: float
    capacity_parts_per_year: float
    good_parts_per_year: float
    labour_hours_freed_per_year: float
    fte_freed: float
    interventions_per_year: float
    supervision_hours_per_year: float
    capex: float
    annual_gross_labour_saving: float
    annual_supervision_cost: float
    annual_energy_cost: float
    annual_fixed_costs: float
    annual_net_saving: float
    salvage: float
    horizon_months: int
    monthly_cash_flows: tuple[float, ...]  # index = month, 0 = the investment; salvage in the last month
    cumulative_cash_flows: tuple[float, ...]
    payback_months: float | None
    discounted_payback_months: float | None
    payback_target_months: float
    meets_payback_target: bool
    npv: float
    irr_annual: float | None
    cost_per_good_part: float
    manual_cost_per_part: float
    notes: tuple[str, ...] = ()


def _irr_annual(cash_flows: FloatArray) -> float | None:
    """IRR of monthly flows, annualised; None when numpy_financial finds none (e.g. no sign change)."""
    monthly = irr_per_period(cash_flows)
    if monthly is None:
        return None
    return float((1 + monthly) ** MONTHS_PER_YEAR - 1)


def _notes(inputs: RoiInputs, ev: Evaluation) -> tuple[str, ...]:
    notes: list[str] = []
    if ev.robots_for_takt[0] > 1:
        notes.append(
            f"One cell needs {ev.time_per_good_part_s[0]:.1f} s per good part at "
            f"{inputs.costs.utilisation:.0%} utilisation against a takt of {inputs.task.takt_time_s:g} s: "
            f"{int(ev.robots_for_takt[0])} cells are needed to keep pace."
        )
    if ev.labour_hours_freed[0] < ev.good_parts_per_year[0] * inputs.task.manual_cycle_time_s / SECONDS_PER_HOUR:
        notes.append("Labour freed is capped at the hours the operators on this task actually work.")
    if ev.supervision_hours[0] > ev.labour_hours_freed[0]:
        notes.append("Operators would spend more time recovering interventions than the cell saves.")
    if inputs.measured.episodes < 30:
        notes.append(f"Measured on only {inputs.measured.episodes} episodes: see the Monte Carlo spread.")
    return tuple(notes)


def compute_roi(*, inputs: RoiInputs) -> RoiResult:
    """The ROI of one scenario: robots needed, labour freed, cash flows, payback, NPV, IRR, cost per part.

    Returns a RoiResult. Raises RoiInputError (from the input dataclasses) when the inputs make an ROI
    meaningless; never a bare arithmetic error.
    """
    costs = inputs.costs
    ev = evaluate(base_params(inputs), horizon_years=costs.horizon_years)
    flows = ev.cash_flows[0]
    with np.errstate(divide="ignore", invalid="ignore"):  # npf.pmt evaluates its rate = 0 branch too
        annual_capital = float(npf.pmt(costs.discount_rate, costs.horizon_years, -ev.capex[0], ev.salvage[0]))
    good_parts = float(ev.good_parts_per_year[0])
    cost_per_good_part = (annual_capital + ev.fixed_costs[0] + ev.supervision_cost[0]) / good_parts
    payback = float(ev.payback_months[0])
    return RoiResult(
        robots_needed=int(ev.robots_needed[0]),
        robots_for_volume=int(ev.robots_for_volume[0]),
        robots_for_takt=int(ev.robots_for_takt[0]),
        time_per_good_part_s=float(ev.time_per_good_part_s[0]),
        capacity_parts_per_year=float(ev.capacity_parts_per_year[0]),
        good_parts_per_year=good_parts,
        labour_hours_freed_per_year=float(ev.labour_hours_freed[0]),
        fte_freed=float(ev.fte_freed[0]),
        interventions_per_year=float(ev.interventions_per_year[0]),
        supervision_hours_per_year=float(ev.supervision_hours[0]),
        capex=float(ev.capex[0]),
        annual_gross_labour_saving=float(ev.gross_labour_saving[0]),
        annual_supervision_cost=float(ev.supervision_cost[0]),
        annual_energy_cost=float(ev.energy_cost[0]),
        annual_fixed_costs=float(ev.fixed_costs[0]),
        annual_net_saving=float(ev.annual_net_saving[0]),
        salvage=float(ev.salvage[0]),
        horizon_months=MONTHS_PER_YEAR * costs.horizon_years,
        monthly_cash_flows=tuple(float(v) for v in flows),
        cumulative_cash_flows=tuple(float(v) for v in np.cumsum(flows)),
        payback_months=finite_or_none(payback),
        discounted_payback_months=finite_or_none(float(ev.discounted_payback_months[0])),
        payback_target_months=costs.payback_target_months,
        meets_payback_target=payback <= costs.payback_target_months,
        npv=float(ev.npv[0]),
        irr_annual=_irr_annual(flows),
        cost_per_good_part=float(cost_per_good_part),
        manual_cost_per_part=inputs.task.manual_cycle_time_s * costs.labour_cost_per_hour / SECONDS_PER_HOUR,
        notes=_notes(inputs, ev),
    )


# ----------------------------------------------------------------------------------------- break-even


@dataclass(frozen=True, kw_only=True)
class BreakEvenValue(JsonResult):
    """The value an input needs for the target payback. status: 'found' (value set), 'unreachable' (not even
    at its best), 'always' (met even at its worst)."""

    name: str
    value: float | None
    measured: float
    status: Literal["found", "unreachable", "always"]


@dataclass(frozen=True, kw_only=True)
class BreakEven(JsonResult):
    """Success rate, MTBI and utilisation each needed (the others as measured) to pay back within the target."""

    target_payback_months: float
    success_rate: BreakEvenValue
    mtbi_hours: BreakEvenValue
    utilisation: BreakEvenValue


_BREAK_EVEN_GRID = 129


def _solve(name: str, measured: float, g: Any, lo: float, hi: float, *, transform: Any = None) -> BreakEvenValue:
    """Lowest x in [lo, hi] with g(x) >= 0, g increasing; statuses when there is none there.

    `g` takes an array of x and returns g at each in one vectorised evaluation. A grid brackets the first
    sign change, then scipy.optimize.brentq narrows that bracket.
    """
    grid = np.linspace(lo, hi, _BREAK_EVEN_GRID)
    values = g(grid)
    if values[-1] < 0:
        return BreakEvenValue(name=name, value=None, measured=measured, status="unreachable")
    if values[0] >= 0:
        return BreakEvenValue(name=name, value=None, measured=measured, status="always")
    first = int(np.argmax(values >= 0))

    def scalar(x: float) -> float:
        return float(g(np.array([x]))[0])

    root = float(brentq(scalar, grid[first - 1], grid[first], xtol=1e-10, rtol=1e-10))
    # g jumps where a cell fewer is needed; brentq may stop just below the jump, so step up onto it.
    step = 1e-9 * max(abs(root), 1.0)
    while scalar(root) < 0 and root < grid[first]:
        root = min(root + step, float(grid[first]))
        step *= 2
    value = transform(root) if transform else root
    return BreakEvenValue(name=name, value=float(value), measured=measured, status="found")


def roi_break_even(*, inputs: RoiInputs, target_payback_months: float | None = None) -> BreakEven:
    """The success rate, MTBI (hours between interventions) and utilisation needed to pay back within the
    target (default: the cost model's), each found with scipy.optimize.brentq holding the others as measured.

    The criterion is the cumulative operating cash flow at the target month being >= 0, which is exactly
    "payback <= target" because monthly flows only grow once the ramp-up starts. Each is increasing in the
    input searched (fewer cells and less supervision as the robot improves). A target beyond the horizon
    is read as the horizon. Returns a BreakEven; raises RoiInputError on a negative target.
    """
    target = inputs.costs.payback_target_months if target_payback_months is None else target_payback_months
    if target < 0:
        raise RoiInputError("The target payback must be zero or more months.")
    horizon = inputs.costs.horizon_years
    month = min(target, MONTHS_PER_YEAR * horizon)
    whole = min(int(math.floor(month)), MONTHS_PER_YEAR * horizon)
    fraction = month - whole
    base = base_params(inputs)

    def g_for(name: str) -> Any:
        def g(xs: FloatArray) -> FloatArray:
            operating = evaluate({**base, name: xs}, horizon_years=horizon).operating_cash_flows
            cumulative: FloatArray = operating[:, : whole + 1].sum(axis=1)
            if fraction:  # linear within the month, as payback is
                cumulative = cumulative + fraction * operating[:, whole + 1]
            return cumulative

        return g

    g_rate = g_for("interventions_per_hour")
    measured_rate = inputs.measured.interventions_per_hour
    mtbi_measured = 1 / measured_rate if measured_rate > 0 else math.inf
    # MTBI searched on a log scale, from one intervention a minute to one in ~11 years of running.
    mtbi = _solve(
        "mtbi_hours",
        mtbi_measured,
        lambda log_mtbi: g_rate(np.exp(-log_mtbi)),
        math.log(1 / 60),
        math.log(1e5),
        transform=math.exp,
    )
    return BreakEven(
        target_payback_months=float(target),
        success_rate=_solve("success_rate", inputs.measured.success_rate, g_for("success_rate"), 1e-4, 1.0),
        mtbi_hours=mtbi,
        utilisation=_solve("utilisation", inputs.costs.utilisation, g_for("utilisation"), 1e-4, 1.0),
    )


# ------------------------------------------------------------------------------------------- heatmap


@dataclass(frozen=True, kw_only=True)
class Heatmap(JsonResult):
    """Payback (months, None = not within the horizon) and NPV over utilisation (rows) x labour rate (columns)."""

    utilisation: tuple[float, ...]
    labour_cost_per_hour: tuple[float, ...]
    payback_months: tuple[tuple[float, ...], ...]
    npv: tuple[tuple[float, ...], ...]


def roi_heatmap(
    *,
    inputs: RoiInputs,
    utilisation: Sequence[float] | None = None,
    labour_cost_per_hour: Sequence[float] | None = None,
) -> Heatmap:
    """Payback and NPV on a utilisation x labour-rate grid, evaluated in one vectorised call.

    Defaults: utilisation 0.50..1.00 by 0.05; labour rate 60%..140% of the base in 9 steps.
    Returns a Heatmap; raises RoiInputError on a utilisation outside (0, 1] or a negative rate.
    """
    u = np.asarray(utilisation if utilisation is not None else np.linspace(0.5, 1.0, 11), dtype=float)
    base_rate = inputs.costs.labour_cost_per_hour
    rates = np.asarray(
        labour_cost_per_hour if labour_cost_per_hour is not None else np.linspace(0.6, 1.4, 9) * base_rate,
        dtype=float,
    )
    if u.size == 0 or rates.size == 0 or np.any((u <= 0) | (u > 1)) or np.any(rates < 0):
        raise RoiInputError("The heatmap needs utilisations in (0, 1] and non-negative labour rates.")
    grid_u, grid_rate = np.meshgrid(u, rates, indexing="ij")
    params = {**base_params(inputs), "utilisation": grid_u.ravel(), "labour_cost_per_hour": grid_rate.ravel()}
    ev = evaluate(params, horizon_years=inputs.costs.horizon_years)
    shape = grid_u.shape
    return Heatmap(
        utilisation=tuple(float(v) for v in u),
        labour_cost_per_hour=tuple(float(v) for v in rates),
        payback_months=tuple(tuple(float(v) for v in row) for row in ev.payback_months.reshape(shape)),
        npv=tuple(tuple(float(v) for v in row) for row in ev.npv.reshape(shape)),
    )


# ------------------------------------------------------------------------------------------- tornado

# Inputs the tornado swings by default when no range is given for them.
TORNADO_PARAMS = (
    "success_rate",
    "attempt_cycle_time_s",
    "interventions_per_hour",
    "recovery_time_s",
    "labour_cost_per_hour",
    "utilisation",
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
    "energy_price_per_kwh",
    "ramp_up_months",
    "discount_rate",
    "salvage_value",
    "annual_volume",
)


@dataclass(frozen=True, kw_only=True)
class TornadoBar(JsonResult):
    name: str
    base: float
    low: float
    high: float
    npv_low: float
    npv_high: float
    payback_low: float | None
    payback_high: float | None
    npv_swing: float


@dataclass(frozen=True, kw_only=True)
class Tornado(JsonResult):
    """One bar per input, widest NPV swing first; base_npv and base_payback_months for the axis."""

    base_npv: float
    base_payback_months: float | None
    bars: tuple[TornadoBar, ...]


def input_bounds(inputs: RoiInputs, *, default_swing: float = 0.2) -> dict[str, tuple[float, float]]:
    """Low/high per tornado input: the cost model's range where it has one, else base -/+ default_swing.

    Inputs bounded by 1 (success rate, utilisation, discount rate) are clipped to it; the success rate and
    utilisation are kept above zero. Inputs at zero with no range are left out (nothing to swing).
    """
    base = base_params(inputs)
    explicit = {r.name: (r.low, r.high) for r in inputs.costs.ranges}
    bounds: dict[str, tuple[float, float]] = {}
    for name in TORNADO_PARAMS:
        if name in explicit:
            low, high = explicit[name]
        elif base[name] == 0:
            continue
        else:
            low, high = base[name] * (1 - default_swing), base[name] * (1 + default_swing)
        if name in _AT_MOST_ONE:
            high = min(high, 1.0)
        if name in ("success_rate", "utilisation"):
            low = max(low, 1e-3)
        bounds[name] = (float(low), float(high))
    return bounds


def roi_tornado(
    *, inputs: RoiInputs, bounds: Mapping[str, tuple[float, float]] | None = None, default_swing: float = 0.2
) -> Tornado:
    """NPV and payback with each input at its low and its high, the others at base; one vectorised call.

    `bounds` defaults to `input_bounds(inputs, default_swing=...)`. Returns a Tornado sorted by NPV swing.
    """
    base = base_params(inputs)
    bounds = dict(bounds) if bounds is not None else input_bounds(inputs, default_swing=default_swing)
    unknown = set(bounds) - set(PARAMS)
    if unknown:
        raise RoiInputError(f"Unknown inputs for the tornado: {', '.join(sorted(unknown))}.")
    names = list(bounds)
    rows = 1 + 2 * len(names)
    params = {name: np.full(rows, value) for name, value in base.items()}
    for i, name in enumerate(names):
        params[name][1 + 2 * i] = bounds[name][0]
        params[name][2 + 2 * i] = bounds[name][1]
    ev = evaluate(params, horizon_years=inputs.costs.horizon_years)
    bars = [
        TornadoBar(
            name=name,
            base=base[name],
            low=bounds[name][0],
            high=bounds[name][1],
            npv_low=float(ev.npv[1 + 2 * i]),
            npv_high=float(ev.npv[2 + 2 * i]),
            payback_low=finite_or_none(float(ev.payback_months[1 + 2 * i])),
            payback_high=finite_or_none(float(ev.payback_months[2 + 2 * i])),
            npv_swing=float(abs(ev.npv[2 + 2 * i] - ev.npv[1 + 2 * i])),
        )
        for i, name in enumerate(names)
    ]
    bars.sort(key=lambda bar: bar.npv_swing, reverse=True)
    return Tornado(
        base_npv=float(ev.npv[0]), base_payback_months=finite_or_none(float(ev.payback_months[0])), bars=tuple(bars)
    )


def with_changes(inputs: RoiInputs, **changes: float) -> RoiInputs:
    """A copy of `inputs` with named parameters (any of PARAMS) changed; validates like the originals."""
    # Any: each group goes to dataclasses.replace of a different class, which checks the names itself.
    groups: dict[str, dict[str, Any]] = {"costs": {}, "task": {}, "measured": {}}
    for name, value in changes.items():
        if name in COST_PARAMS:
            groups["costs"][name] = value
        elif name in TASK_PARAMS:
            groups["task"][name] = value
        elif name in MEASURED_PARAMS:
            groups["measured"][name] = value
        else:
            raise RoiInputError(f"Unknown input {name!r}.")
    return RoiInputs(
        costs=replace(inputs.costs, **groups["costs"]),
        task=replace(inputs.task, **groups["task"]),
        measured=replace(inputs.measured, **groups["measured"]),
    )


__all__ = [
    "BreakEven",
    "BreakEvenValue",
    "COST_MONEY_PARAMS",
    "COST_PARAMS",
    "CostInputs",
    "Evaluation",
    "Heatmap",
    "InputRange",
    "MeasuredPerformance",
    "PARAMS",
    "RoiInputError",
    "RoiInputs",
    "RoiResult",
    "TaskInputs",
    "Tornado",
    "TornadoBar",
    "base_params",
    "compute_roi",
    "discount_factors",
    "irr_per_period",
    "npv_rows",
    "evaluate",
    "input_bounds",
    "monthly_rate",
    "payback_periods",
    "ramp_factors",
    "roi_break_even",
    "roi_heatmap",
    "roi_tornado",
    "with_changes",
]
