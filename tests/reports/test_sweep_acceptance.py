"""Acceptance under every condition of a sweep (reports.stats.sweep_acceptance): passed only when every
condition passes; the failing conditions are named; a condition without episodes is not enough data."""

from __future__ import annotations

import pytest

from accounts.models import Role
from reports.models import AcceptanceCriteria
from tests.factories import EpisodeFactory, PolicyVersionFactory, RobotFactory, TaskFactory, UserFactory, client_for
from trials.models import EpisodeOutcome
from trials.sweep_services import sweep_schedule

pytestmark = pytest.mark.django_db


def _sweep():
    user = UserFactory(role=Role.ENGINEER)
    task = TaskFactory(organization=user.organization)
    robot = RobotFactory(organization=user.organization)
    sweep = sweep_schedule(
        task=task, policy_version=PolicyVersionFactory(), robot=robot, name="light", design="one_at_a_time",
        factors={"light_intensity": [0.4, 1.5]}, episodes_per_condition=20, seed=0, created_by=user,
        start_runner=False,
    )  # fmt: skip
    # Exact one-sided 95 % lower bound: 20/20 -> 0.86, 18/20 -> 0.72, 5/20 -> 0.10.
    AcceptanceCriteria.objects.create(task=task, name="fat", min_success_lower_bound=0.7, confidence=0.95)
    return user, sweep, {t.sweep_label: t for t in sweep.conditions.all()}


def _run(trial, successes: int, n: int = 20) -> None:
    for i in range(n):
        EpisodeFactory(
            trial=trial, index=i, outcome=EpisodeOutcome.SUCCESS if i < successes else EpisodeOutcome.FAILURE
        )


def test_a_sweep_passes_only_under_every_condition_and_names_the_failing_one():
    user, sweep, by_label = _sweep()
    client = client_for(user)
    _run(by_label["nominal"], 20)
    _run(by_label["light_intensity=1.5"], 20)
    waiting = client.get(f"/api/v1/sweeps/{sweep.pk}/acceptance/").json()
    (crit,) = waiting["criteria"]
    assert crit["passed"] is None and "light_intensity=0.4" in crit["statement"]
    _run(by_label["light_intensity=0.4"], 5)
    (crit,) = client.get(f"/api/v1/sweeps/{sweep.pk}/acceptance/").json()["criteria"]
    assert crit["passed"] is False and crit["failing"] == ["light_intensity=0.4"]
    assert [c["acceptance"]["passed"] for c in crit["conditions"]] == [True, False, True]
    panel = client.get(f"/reports/sweeps/{sweep.pk}/acceptance/panel/")
    assert panel.status_code == 200 and "fails under light_intensity=0.4" in panel.content.decode()
    assert client_for(UserFactory(role=Role.ENGINEER)).get(f"/api/v1/sweeps/{sweep.pk}/acceptance/").status_code == 404


def test_a_sweep_whose_every_condition_passes_passes():
    user, sweep, by_label = _sweep()
    for trial in by_label.values():
        _run(trial, 20)
    (crit,) = client_for(user).get(f"/api/v1/sweeps/{sweep.pk}/acceptance/").json()["criteria"]
    assert crit["passed"] is True and crit["failing"] == []
    assert "passed under each of the 3 conditions" in crit["statement"]
