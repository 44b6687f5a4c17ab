"""Acceptance criteria (FAT/SAT/run-off) stored per task and evaluated per trial and per source, on
hand-made episodes whose figures are worked out in the comments: each criterion passes and fails."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, transaction

from reports.models import AcceptanceCriteria
from reports.stats import selectors
from tests.factories import EpisodeEventFactory, EpisodeFactory, RobotFactory, TaskFactory, TrialFactory
from trials.models import EpisodeOutcome, EpisodeSource, EventKind

pytestmark = pytest.mark.django_db


def _trial(outcomes: str, *, cycle_s: float | list[float] = 10.0, source: str = EpisodeSource.SIMULATION, task=None):
    """A trial whose episodes follow `outcomes` ('s' success, 'f' failure, 'i' success with an intervention)."""
    task = task or TaskFactory(takt_time_s=12.0)
    trial = TrialFactory(task=task, robot=RobotFactory(organization=task.organization))
    cycles = cycle_s if isinstance(cycle_s, list) else [cycle_s] * len(outcomes)
    for i, (kind, cycle) in enumerate(zip(outcomes, cycles, strict=True)):
        episode = EpisodeFactory(
            trial=trial,
            index=i,
            outcome=EpisodeOutcome.FAILURE if kind == "f" else EpisodeOutcome.SUCCESS,
            cycle_time_s=cycle,
            source=source,
        )
        if kind == "i":
            EpisodeEventFactory(episode=episode, kind=EventKind.INTERVENTION)
    return trial


def _evaluate(trial: Any) -> list[selectors.CriteriaAcceptance]:
    return list(selectors.trial_panel(trial_id=trial.pk).acceptance)


def test_success_lower_bound_pass_and_fail() -> None:
    # 59 successes in 59: the exact one-sided 95% lower bound is 0.05 ** (1/59) = 0.9505 >= 0.95 (success-run).
    trial = _trial("s" * 59)
    AcceptanceCriteria.objects.create(task=trial.task, name="fat", min_success_lower_bound=0.95)
    (fat,) = _evaluate(trial)
    assert fat.passed is True
    check = fat.sources[0].result.checks[0]
    assert (
        check.measured == pytest.approx(0.05 ** (1 / 59))
        and "lower bound 95.0% at 95% confidence (n = 59)" in check.evidence
    )
    # 58 successes in 58: 0.05 ** (1/58) = 0.9497 < 0.95 — one episode short.
    short = _trial("s" * 58, task=trial.task)
    (fat,) = _evaluate(short)
    assert fat.passed is False and "success lower bound" in fat.statement


def test_consecutive_cycles_without_intervention() -> None:
    # Runs of clean successes: 4, then an intervention, then 6 (a failure breaks the run too).
    trial = _trial("ssssissfssssss")
    record = AcceptanceCriteria.objects.create(task=trial.task, name="sat", consecutive_without_intervention=6)
    (sat,) = _evaluate(trial)
    assert sat.passed is True and sat.sources[0].result.checks[0].measured == 6
    record.consecutive_without_intervention = 7
    record.save()
    (sat,) = _evaluate(trial)
    assert sat.passed is False and "consecutive cycles without intervention" in sat.statement
    assert "without intervention: 6 (required 7)" in sat.sources[0].result.checks[0].evidence


def test_mtbi_lower_bound() -> None:
    # 360 episodes of 60 s = 6 h with one intervention: MTBI lower bound (chi-square, one-sided 95%)
    # = 2 T / chi2(0.95; 2 (r + 1)) = 12 / 9.4877 = 1.265 h.
    trial = _trial("i" + "s" * 359, cycle_s=60.0)
    record = AcceptanceCriteria.objects.create(task=trial.task, name="run_off", mtbi_lower_bound_h=1.2)
    (run_off,) = _evaluate(trial)
    assert run_off.passed is True
    assert run_off.sources[0].result.checks[0].measured == pytest.approx(12 / 9.487729, rel=1e-4)
    record.mtbi_lower_bound_h = 1.3
    record.save()
    (run_off,) = _evaluate(trial)
    assert run_off.passed is False


def test_cycle_time_p90_within_takt() -> None:
    task = TaskFactory(takt_time_s=12.0)
    AcceptanceCriteria.objects.create(task=task, name="fat", cycle_time_p90_within_takt=True)
    # 59 cycles all at 10 s < 12 s: every cycle within takt; P(all 59 <= q90 | q90 > 12) <= 0.9^59 < 0.05.
    fast = _trial("s" * 59, cycle_s=10.0, task=task)
    (fat,) = _evaluate(fast)
    assert fat.passed is True and fat.sources[0].result.checks[0].criterion == "cycle time p90 upper bound"
    # Half the cycles above takt: the p90 misses it.
    slow = _trial("s" * 40, cycle_s=[10.0] * 20 + [14.0] * 20, task=task)
    (fat,) = _evaluate(slow)
    assert fat.passed is False


def test_sources_are_judged_separately_and_applies_to_source() -> None:
    task = TaskFactory()
    trial = _trial("s" * 30, task=task)  # simulation, perfect
    for i in range(10):  # the same trial uploaded by an integrator: 6 of 10 succeed
        EpisodeFactory(
            trial=trial,
            index=100 + i,
            outcome=EpisodeOutcome.SUCCESS if i < 6 else EpisodeOutcome.FAILURE,
            source=EpisodeSource.INTEGRATOR_UPLOAD,
        )
    AcceptanceCriteria.objects.create(task=task, name="fat", min_success_lower_bound=0.8)
    AcceptanceCriteria.objects.create(
        task=task, name="sat", min_success_lower_bound=0.8, applies_to_source=EpisodeSource.INTEGRATOR_UPLOAD
    )
    fat, sat = _evaluate(trial)
    by_source = {s.source: s.result.passed for s in fat.sources}
    # 30/30 simulated: lower bound 0.05^(1/30) = 0.905 >= 0.8; 6/10 uploaded: about 0.35 < 0.8. Never pooled.
    assert by_source == {"simulation": True, "integrator_upload": False}
    assert fat.passed is False
    assert [s.source for s in sat.sources] == ["integrator_upload"] and sat.passed is False


def test_no_episode_of_the_required_source_is_not_a_pass() -> None:
    trial = _trial("s" * 30)
    AcceptanceCriteria.objects.create(
        task=trial.task, name="sat", min_success_lower_bound=0.5, applies_to_source=EpisodeSource.ROBOT_AGENT
    )
    (sat,) = _evaluate(trial)
    assert sat.passed is None and "not enough data" in sat.statement


def test_check_constraints_reject_bad_rows() -> None:
    task = TaskFactory()
    bad_rows = [
        {"min_success_lower_bound": 1.2},
        {"confidence": 1.0},
        {"consecutive_without_intervention": 0},
        {"mtbi_lower_bound_h": -1.0},
        {"applies_to_source": "moon"},
        {"name": "bogus"},
    ]
    for fields in bad_rows:
        with pytest.raises(IntegrityError), transaction.atomic():
            AcceptanceCriteria.objects.create(task=task, **{"name": "fat", **fields})
    AcceptanceCriteria.objects.create(task=task, name="fat", min_success_lower_bound=0.9)
    with pytest.raises(IntegrityError), transaction.atomic():
        AcceptanceCriteria.objects.create(task=task, name="fat", mtbi_lower_bound_h=1.0)


def test_to_criteria_maps_the_takt_flag() -> None:
    record = AcceptanceCriteria(task=TaskFactory.build(), cycle_time_p90_within_takt=True, confidence=0.9)
    criteria = record.to_criteria(takt_time_s=11.5)
    assert criteria.cycle_time_max_s == 11.5 and criteria.cycle_time_quantile == 0.9 and criteria.confidence == 0.9
    assert AcceptanceCriteria(cycle_time_p90_within_takt=False).to_criteria(takt_time_s=11.5).cycle_time_max_s is None
    assert AcceptanceCriteria().is_empty and not record.is_empty
