"""reports.roi.inputs: CostModel + Task + recorded episodes -> the pure ROI inputs, and CostModel.clean()."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from core.montecarlo import run_monte_carlo
from core.roi import RoiInputError, compute_roi
from reports.models import CostModel, CostScenario
from reports.roi.evidence import task_trial_evidence
from reports.roi.inputs import task_roi_inputs
from reports.roi.report import task_roi_report
from reports.roi.scenarios import task_roi_by_scenario
from tests.factories import (
    CostModelFactory,
    EpisodeEventFactory,
    EpisodeFactory,
    TaskFactory,
    TrialFactory,
    UserFactory,
)
from trials.models import EpisodeOutcome, EpisodeSource

pytestmark = pytest.mark.django_db


def record(trial, outcomes: list[str], *, source: str = EpisodeSource.SIMULATION, cycle_time_s: float = 12.0):  # noqa: ANN001, ANN201
    return [
        EpisodeFactory(trial=trial, index=i, outcome=o, source=source, cycle_time_s=cycle_time_s + i % 3)
        for i, o in enumerate(outcomes)
    ]


def test_inputs_come_from_the_cost_model_task_and_episodes(django_assert_max_num_queries) -> None:  # noqa: ANN001
    task = TaskFactory(annual_volume=120_000, labour_cost_per_hour=Decimal("38.50"), operators_per_shift=Decimal("1.5"))
    CostModelFactory(
        task=task,
        robot_capex=Decimal("40000"),
        annual_maintenance=Decimal("1200"),
        recovery_time_s=45,
        ramp_up_months=2,
        utilisation=0.9,
        input_ranges={"robot_capex": [35000, 60000]},
        input_notes={"robot_capex": "Vendor quote Q-1182"},
    )
    trial = TrialFactory(task=task)
    episodes = record(trial, [EpisodeOutcome.SUCCESS] * 8 + [EpisodeOutcome.FAILURE, EpisodeOutcome.ABORTED])
    EpisodeEventFactory(episode=episodes[0])
    EpisodeEventFactory(episode=episodes[8])
    EpisodeEventFactory(episode=episodes[8], kind="fault")  # not an intervention

    with django_assert_max_num_queries(4):
        bundle = task_roi_inputs(task=task)

    inputs = bundle.inputs
    assert inputs.costs.robot_capex == 40_000
    assert inputs.costs.labour_cost_per_hour == 38.5  # the task's rate: no override
    assert inputs.costs.utilisation == 0.9
    assert [(r.name, r.low, r.high) for r in inputs.costs.ranges] == [("robot_capex", 35_000, 60_000)]
    assert inputs.task.annual_volume == 120_000 and inputs.task.operators_per_shift == 1.5
    cycle_times = [e.cycle_time_s for e in episodes]
    assert bundle.evidence.successes == 8 and bundle.evidence.failures == 2  # aborted counts as failed
    assert bundle.evidence.interventions == 2
    assert bundle.evidence.autonomous_hours == pytest.approx(sum(cycle_times) / 3600)
    assert sorted(bundle.evidence.cycle_times_s) == sorted(cycle_times)
    assert inputs.measured.success_rate == 0.8
    assert inputs.measured.interventions_per_hour == pytest.approx(2 / (sum(cycle_times) / 3600))
    assert inputs.measured.recovery_time_s == 45
    assert bundle.evidence_sources == ("simulation",)
    assert bundle.input_notes == {"robot_capex": "Vendor quote Q-1182"}
    # The pure functions take it from here.
    result = compute_roi(inputs=inputs)
    # 12.9 s attempts with an intervention every ~65 s of running, 45 s each, at 80% success: 27.4 s per good
    # part against the factory task's 12 s takt at 90% utilisation -> 3 cells.
    assert result.robots_needed == 3
    assert result.capex == 3 * 40_000 + 20_000
    assert run_monte_carlo(inputs=inputs, evidence=bundle.evidence, draws=500).draws == 500


def test_task_roi_report_bundles_every_figure_as_json(django_assert_max_num_queries) -> None:  # noqa: ANN001
    task = TaskFactory(takt_time_s=30.0, manual_cycle_time_s=20.0)
    CostModelFactory(task=task, input_ranges={"integration_cost": [15000, 40000]}, payback_target_months=30)
    trial = TrialFactory(task=task)
    episodes = record(trial, [EpisodeOutcome.SUCCESS] * 18 + [EpisodeOutcome.FAILURE] * 2)
    EpisodeEventFactory(episode=episodes[3])
    with django_assert_max_num_queries(4):
        report = task_roi_report(task=task, draws=2_000, seed=3)
    assert report.roi == compute_roi(inputs=task_roi_inputs(task=task).inputs)
    assert report.monte_carlo.draws == 2_000 and report.monte_carlo.seed == 3
    assert report.break_even is not None and report.tornado is not None and report.heatmap is not None
    assert (report.episodes, report.successes, report.interventions) == (20, 18, 1)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["roi"]["payback_target_months"] == 30
    assert data["monte_carlo"]["npv"]["p50"] == report.monte_carlo.npv.p50
    assert data["tornado"]["bars"][0]["npv_swing"] >= data["tornado"]["bars"][-1]["npv_swing"]
    again = task_roi_report(task=task, draws=2_000, seed=3, details=False)
    assert again.monte_carlo == report.monte_carlo  # same seed, same figures
    assert again.break_even is None and again.heatmap is None


def test_labour_override_and_scenarios() -> None:
    task = TaskFactory(labour_cost_per_hour=Decimal("40"))
    CostModelFactory(task=task, scenario=CostScenario.CONSERVATIVE, labour_rate_override_per_hour=Decimal("31"))
    record(TrialFactory(task=task), [EpisodeOutcome.SUCCESS] * 3)
    bundle = task_roi_inputs(task=task, scenario=CostScenario.CONSERVATIVE)
    assert bundle.inputs.costs.labour_cost_per_hour == 31
    with pytest.raises(RoiInputError, match="No base cost model for this task"):
        task_roi_inputs(task=task)


def test_real_evidence_is_preferred_and_never_mixed_with_simulation() -> None:
    task = TaskFactory()
    CostModelFactory(task=task)
    record(TrialFactory(task=task), [EpisodeOutcome.SUCCESS] * 9 + [EpisodeOutcome.FAILURE])
    record(TrialFactory(task=task), [EpisodeOutcome.SUCCESS, EpisodeOutcome.FAILURE], source=EpisodeSource.ROBOT_AGENT)
    real = task_roi_inputs(task=task)
    assert real.evidence_sources == ("robot_agent",)
    assert (real.evidence.successes, real.evidence.failures) == (1, 1)
    sim = task_roi_inputs(task=task, source="simulation")
    assert (sim.evidence.successes, sim.evidence.failures) == (9, 1)
    with pytest.raises(RoiInputError, match="Unknown evidence source"):
        task_roi_inputs(task=task, source="guesswork")


def test_no_episodes_or_no_success_is_a_clear_message_not_a_crash() -> None:
    task = TaskFactory()
    CostModelFactory(task=task)
    with pytest.raises(RoiInputError, match="No episodes recorded yet"):
        task_roi_inputs(task=task)
    record(TrialFactory(task=task), [EpisodeOutcome.FAILURE] * 4)
    with pytest.raises(RoiInputError, match="never completed the task"):
        task_roi_inputs(task=task)


def test_evidence_is_scoped_to_the_trials_the_user_may_read() -> None:
    task = TaskFactory()
    CostModelFactory(task=task)
    record(TrialFactory(task=task), [EpisodeOutcome.SUCCESS] * 2)
    outsider = UserFactory()
    with pytest.raises(RoiInputError, match="No episodes"):
        task_trial_evidence(task=task, user=outsider)
    owner = UserFactory(organization=task.organization)
    evidence, _ = task_trial_evidence(task=task, user=owner)
    assert evidence.successes == 2


def test_cost_model_clean_checks_input_ranges() -> None:
    task = TaskFactory(labour_cost_per_hour=Decimal("40"))
    model = CostModel(task=task, robot_capex=Decimal("35000"), input_ranges={"robot_capex": [30000, 50000]})
    model.clean()  # fine
    model.input_ranges = {
        "robot_capex": [40000, 50000],  # misses the base 35,000
        "utilisation": [0.5, 1.2],
        "labour_cost_per_hour": [45, 60],  # misses the task's 40
        "colour": [1, 2],
        "discount_rate": "low",
    }
    with pytest.raises(ValidationError) as raised:
        model.clean()
    messages = " ".join(raised.value.message_dict["input_ranges"])
    assert "robot_capex: the range [40000, 50000] must contain the base value 35000" in messages
    assert "utilisation: high must be at most 1" in messages
    assert "labour_cost_per_hour" in messages
    assert "colour: not an input" in messages
    assert "discount_rate: expected [low, high]" in messages


def test_every_scenario_on_one_set_of_evidence(django_assert_max_num_queries) -> None:  # noqa: ANN001
    task = TaskFactory(takt_time_s=30.0, manual_cycle_time_s=20.0)
    CostModelFactory(task=task, scenario=CostScenario.OPTIMISTIC, robot_capex=Decimal("30000"))
    CostModelFactory(task=task, scenario=CostScenario.BASE, robot_capex=Decimal("35000"))
    CostModelFactory(task=task, scenario=CostScenario.CONSERVATIVE, robot_capex=Decimal("50000"), utilisation=0.0)
    record(TrialFactory(task=task), [EpisodeOutcome.SUCCESS] * 9 + [EpisodeOutcome.FAILURE])
    with django_assert_max_num_queries(4):
        scenarios = task_roi_by_scenario(task=task, draws=1_000)
    assert [s.scenario for s in scenarios] == ["base", "conservative", "optimistic"]
    base, conservative, optimistic = scenarios
    assert conservative.roi is None and "Utilisation" in conservative.error  # a stored 0 is refused, not a crash
    assert base.roi.capex - optimistic.roi.capex == 5_000 * base.roi.robots_needed
    assert optimistic.monte_carlo.npv.p50 > base.monte_carlo.npv.p50
    assert json.loads(json.dumps(conservative.to_dict()))["error"]
    with pytest.raises(RoiInputError, match="No cost model"):
        task_roi_by_scenario(task=TaskFactory())
