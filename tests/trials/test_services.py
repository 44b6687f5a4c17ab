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


def test_schedule_rejects_robot_of_other_organization(django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    from tests.factories import PolicyVersionFactory, RobotFactory, TaskFactory, UserFactory
    from trials.services import TrialRuleError, trial_schedule

    user = UserFactory()
    task = TaskFactory(organization=user.organization)
    foreign_robot = RobotFactory()
    with pytest.raises(TrialRuleError) as info:
        trial_schedule(
            task=task, policy_version=PolicyVersionFactory(), robot=foreign_robot, episodes_planned=5, scheduled_by=user
        )
    assert info.value.field == "robot"


def test_schedule_enqueues_start_after_commit(django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    from unittest import mock

    from tests.factories import PolicyVersionFactory, RobotFactory, TaskFactory, UserFactory
    from trials.services import trial_schedule

    user = UserFactory()
    task = TaskFactory(organization=user.organization)
    robot = RobotFactory(organization=user.organization)
    with mock.patch("trials.queue.trial_start_enqueue") as enqueue:
        with django_capture_on_commit_callbacks(execute=True):
            trial = trial_schedule(
                task=task, policy_version=PolicyVersionFactory(), robot=robot, episodes_planned=5, scheduled_by=user
            )
    enqueue.assert_called_once_with(trial_id=trial.pk)
    task.refresh_from_db()
    assert trial.instruction == task.instruction and task.status == "trialling"
