from __future__ import annotations

import pytest

from accounts.models import Role
from tests.factories import EpisodeFactory, OrganizationFactory, RobotFactory, TaskFactory, TrialFactory, UserFactory
from trials.selectors import (
    episode_list_for_user,
    task_commercial_visible,
    task_list_commercial_for_user,
    task_list_for_user,
    trial_list_for_user,
    trial_list_writable_by_user,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> dict:
    maker, integrator, other = OrganizationFactory(), OrganizationFactory(), OrganizationFactory()
    engaged = TaskFactory(organization=maker, integrator=integrator)
    private = TaskFactory(organization=maker)
    maker_trial = TrialFactory(task=engaged, robot=RobotFactory(organization=maker))
    rig_trial = TrialFactory(task=engaged, robot=RobotFactory(organization=integrator))
    other_trial = TrialFactory(task=TaskFactory(organization=other), robot=RobotFactory(organization=other))
    return {
        "engineer": UserFactory(organization=maker, role=Role.ENGINEER),
        "integrator": UserFactory(organization=integrator, role=Role.INTEGRATOR),
        "engaged": engaged,
        "private": private,
        "maker_trial": maker_trial,
        "rig_trial": rig_trial,
        "other_trial": other_trial,
    }


def test_task_owner_sees_all_its_tasks_and_integrator_only_engaged_ones(world: dict) -> None:
    assert set(task_list_for_user(user=world["engineer"])) == {world["engaged"], world["private"]}
    assert set(task_list_for_user(user=world["integrator"])) == {world["engaged"]}


def test_task_owner_and_engaged_integrator_see_every_trial_of_the_task_but_not_others(world: dict) -> None:
    engaged_trials = {world["maker_trial"], world["rig_trial"]}
    assert set(trial_list_for_user(user=world["engineer"])) == engaged_trials
    # The integrator judges the cell on all the evidence there is, the customer's trials included.
    assert set(trial_list_for_user(user=world["integrator"])) == engaged_trials
    EpisodeFactory(trial=world["maker_trial"], index=0)
    EpisodeFactory(trial=world["other_trial"], index=0)
    assert {e.trial_id for e in episode_list_for_user(user=world["integrator"])} == {world["maker_trial"].pk}


def test_commercial_terms_only_to_the_task_organization(world: dict) -> None:
    assert set(task_list_commercial_for_user(user=world["engineer"])) == {world["engaged"], world["private"]}
    assert set(task_list_commercial_for_user(user=world["integrator"])) == set()
    assert task_commercial_visible(user=world["engineer"], task=world["engaged"])
    assert not task_commercial_visible(user=world["integrator"], task=world["engaged"])


def test_writable_trials_are_those_on_own_robots(world: dict) -> None:
    assert set(trial_list_writable_by_user(user=world["engineer"])) == {world["maker_trial"]}
    assert set(trial_list_writable_by_user(user=world["integrator"])) == {world["rig_trial"]}
