from __future__ import annotations

import pytest

from tests.factories import EpisodeFactory, TrialFactory
from trials.models import TrialStatus
from trials.services import trial_refresh_status

pytestmark = pytest.mark.django_db


def test_refresh_status_moves_queued_to_running_then_completed() -> None:
    trial = TrialFactory(episodes_planned=2)
    assert trial_refresh_status(trial_id=trial.pk).status == TrialStatus.QUEUED
    EpisodeFactory(trial=trial, index=0)
    running = trial_refresh_status(trial_id=trial.pk)
    assert running.status == TrialStatus.RUNNING and running.started_at is not None
    EpisodeFactory(trial=trial, index=1)
    done = trial_refresh_status(trial_id=trial.pk)
    assert done.status == TrialStatus.COMPLETED and done.finished_at >= done.started_at


def test_refresh_status_leaves_cancelled_trial_alone() -> None:
    trial = TrialFactory(episodes_planned=1, status=TrialStatus.CANCELLED)
    EpisodeFactory(trial=trial, index=0)
    assert trial_refresh_status(trial_id=trial.pk).status == TrialStatus.CANCELLED
