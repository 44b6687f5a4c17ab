"""Stopping a trial early on its sequential verdict is a write to trials (trials.services.trial_stop_early);
reports only computes the verdicts it is given. And the task list's payback order comes through the
interface trials provides (trials.rankings), which reports fills in when it loads."""

from __future__ import annotations

import pytest

from core import stats
from reports.roi.dashboard import task_payback_ranking as roi_ranking
from tests.factories import TrialFactory, UserFactory
from trials import rankings
from trials.models import TrialStatus
from trials.rankings import PaybackRanking, payback_ranker_register, task_payback_ranking
from trials.services import StopEarlyRefused, trial_stop_early

pytestmark = pytest.mark.django_db

LEVELS = {"acceptable_success": 0.95, "rejectable_success": 0.8}


def test_stop_early_cancels_with_the_decided_verdict_as_reason() -> None:
    trial = TrialFactory(status=TrialStatus.RUNNING)
    passed = stats.sprt_sequence([True] * 60, **LEVELS)
    undecided = stats.sprt_sequence([True, False], **LEVELS)
    assert passed.verdict == "pass" and undecided.verdict == "keep going"
    stopped, reason = trial_stop_early(
        trial_id=trial.pk, verdicts={"simulation": passed, "robot_agent": undecided}, username="ada"
    )
    assert stopped.status == TrialStatus.CANCELLED
    assert reason.startswith("Stopped early by ada on the sequential verdict — simulation: ")
    assert passed.statement in reason and "robot agent" not in reason
    trial.refresh_from_db()
    assert trial.status_message == reason


def test_stop_early_refused_while_every_source_keeps_going() -> None:
    trial = TrialFactory(status=TrialStatus.RUNNING)
    with pytest.raises(StopEarlyRefused):
        trial_stop_early(
            trial_id=trial.pk, verdicts={"simulation": stats.sprt_sequence([True], **LEVELS)}, username="ada"
        )
    with pytest.raises(StopEarlyRefused):
        trial_stop_early(trial_id=trial.pk, verdicts={}, username="ada")
    trial.refresh_from_db()
    assert trial.status == TrialStatus.RUNNING


def test_reports_registers_the_payback_ranking_and_the_last_registration_wins() -> None:
    assert rankings._rankers == [roi_ranking]  # registered by reports.apps.ReportsConfig.ready
    user = UserFactory()
    empty = PaybackRanking(task_ids=(), base_months={}, expected_months={})
    try:
        payback_ranker_register(lambda _user: empty)
        assert task_payback_ranking(user=user) is empty
    finally:
        payback_ranker_register(roi_ranking)
