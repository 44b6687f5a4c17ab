"""reports.roi.dashboard.task_roi_dashboard: the same figures as the task report, batched reads, and the
cycle-time stand-in for tasks with many episodes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from django.core.cache import cache

from accounts.models import Role
from core.montecarlo import bootstrap_means
from reports.roi.dashboard import dashboard_sort, dashboard_traffic_light, task_roi_dashboard
from reports.roi.evidence import EXACT_CYCLE_TIMES, cycle_time_sample
from reports.roi.report import LIGHT_GREEN_MAX_P_LOSS, roi_traffic_light, task_roi_report
from tests.factories import (
    CostModelFactory,
    EpisodeEventFactory,
    EpisodeFactory,
    RobotFactory,
    TaskFactory,
    TrialFactory,
    UserFactory,
)
from trials.models import Episode, EpisodeOutcome, EpisodeSource, EventKind, TrialStatus
from trials.services import trial_summaries_add

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache() -> Any:
    cache.clear()
    yield
    cache.clear()


def _bulk_episodes(trial: Any, n: int, *, source: str, start: int = 0, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    template = EpisodeFactory.build(trial=trial)
    created = Episode.objects.bulk_create(
        Episode(
            trial=trial,
            index=start + i,
            outcome=EpisodeOutcome.SUCCESS if rng.random() < 0.9 else EpisodeOutcome.FAILURE,
            cycle_time_s=float(rng.lognormal(np.log(11.0), 0.2)),
            started_at=template.started_at,
            ended_at=template.ended_at,
            source=source,
            external_id=None if source == EpisodeSource.SIMULATION else f"x-{start + i}",
        )
        for i in range(n)
    )
    trial_summaries_add(episodes=created)  # as episodes_record does for the rows it inserts


@pytest.fixture
def org_tasks() -> dict[str, Any]:
    task = TaskFactory(
        takt_time_s=30, manual_cycle_time_s=26, annual_volume=200_000, labour_cost_per_hour=Decimal("40")
    )
    org = task.organization
    CostModelFactory(task=task, input_ranges={"robot_capex": [30_000, 50_000]})
    CostModelFactory(task=task, scenario="conservative", robot_capex=Decimal("60000"))
    trial = TrialFactory(task=task, robot=RobotFactory(organization=org))
    _bulk_episodes(trial, 300, source=EpisodeSource.SIMULATION)
    for episode in Episode.objects.filter(trial=trial)[:4]:
        EpisodeEventFactory(episode=episode, kind=EventKind.INTERVENTION)
    # Real episodes on a second trial: they, not the simulation, are the evidence.
    mixed = TaskFactory(organization=org, takt_time_s=30, manual_cycle_time_s=26)
    CostModelFactory(task=mixed)
    _bulk_episodes(TrialFactory(task=mixed, robot=RobotFactory(organization=org)), 50, source="simulation", seed=2)
    _bulk_episodes(TrialFactory(task=mixed, robot=RobotFactory(organization=org)), 40, source="robot_agent", seed=3)
    return {"task": task, "mixed": mixed, "user": UserFactory(organization=org, role=Role.MANAGER)}


def test_rows_match_the_task_report_with_its_default_draws(org_tasks: dict[str, Any]) -> None:
    # Issue 13 item 2: the report page (default draws and seed) and the dashboard show one figure per task.
    rows = {r.task_id: r for r in task_roi_dashboard(user=org_tasks["user"])}
    for key in ("task", "mixed"):
        task = org_tasks[key]
        report = task_roi_report(task=task, user=org_tasks["user"], details=False)
        row = rows[task.pk]
        assert row.evidence_sources == report.evidence_sources
        assert row.episodes == report.episodes
        assert row.roi == report.roi
        assert row.monte_carlo == report.monte_carlo
    assert rows[org_tasks["mixed"].pk].evidence_sources == ("robot_agent",)
    assert rows[org_tasks["mixed"].pk].episodes == 40


def test_scenario_and_missing_cost_model(org_tasks: dict[str, Any]) -> None:
    rows = {r.task_id: r for r in task_roi_dashboard(user=org_tasks["user"], scenario="conservative")}
    assert rows[org_tasks["task"].pk].roi.capex > 0
    assert rows[org_tasks["mixed"].pk].error == "No conservative cost model yet."
    assert dashboard_traffic_light(row=rows[org_tasks["mixed"].pk]) == "none"


def test_other_organizations_tasks_are_absent_and_queries_are_constant(
    org_tasks: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    other = TaskFactory()
    CostModelFactory(task=other)
    _bulk_episodes(
        TrialFactory(task=other, robot=RobotFactory(organization=other.organization)), 20, source="simulation"
    )
    with django_assert_max_num_queries(4):  # tasks, cost models, summary rows, the small tasks' cycle times
        rows = task_roi_dashboard(user=org_tasks["user"])
    assert {r.task_id for r in rows} == {org_tasks["task"].pk, org_tasks["mixed"].pk}


def test_cached_rows_are_reused_until_the_evidence_or_costs_change(
    org_tasks: dict[str, Any], django_assert_num_queries: Any
) -> None:
    user, task = org_tasks["user"], org_tasks["task"]
    first = {r.task_id: r for r in task_roi_dashboard(user=user)}
    with django_assert_num_queries(3):  # tasks, cost models, summary rows: nothing recomputed
        again = {r.task_id: r for r in task_roi_dashboard(user=user)}
    assert again == first
    trial = task.trials.get()
    _bulk_episodes(trial, 30, source=EpisodeSource.SIMULATION, start=1_000, seed=9)
    recorded = {r.task_id: r for r in task_roi_dashboard(user=user)}
    assert recorded[task.pk].episodes == 330 and recorded[task.pk].monte_carlo != first[task.pk].monte_carlo
    assert recorded[org_tasks["mixed"].pk] == first[org_tasks["mixed"].pk]
    cost_model = task.cost_models.get(scenario="base")
    cost_model.robot_capex = Decimal("45000")  # inside its range
    cost_model.save()
    assert {r.task_id: r for r in task_roi_dashboard(user=user)}[task.pk].roi.capex > recorded[task.pk].roi.capex
    task.name = "Renamed"
    task.save()
    assert {r.task_id: r for r in task_roi_dashboard(user=user)}[task.pk].task_name == "Renamed"


def test_large_task_shows_the_same_figures_on_the_dashboard_and_the_report(org_tasks: dict[str, Any]) -> None:
    task = org_tasks["task"]
    trial = task.trials.get()
    _bulk_episodes(trial, EXACT_CYCLE_TIMES + 1_700, source=EpisodeSource.SIMULATION, start=300, seed=5)
    row = next(r for r in task_roi_dashboard(user=org_tasks["user"]) if r.task_id == task.pk)
    report = task_roi_report(task=task, user=org_tasks["user"], details=False)
    assert row.episodes == report.episodes == EXACT_CYCLE_TIMES + 2_000
    assert row.roi == report.roi
    assert row.monte_carlo == report.monte_carlo
    recorded = np.asarray(Episode.objects.filter(trial=trial).values_list("cycle_time_s", flat=True))
    assert report.roi.time_per_good_part_s > 0
    assert np.mean(report.monte_carlo.attempt_cycle_time_s.p50) == pytest.approx(recorded.mean(), rel=0.01)


def test_cycle_time_stand_in_keeps_the_mean_and_the_n_episode_spread() -> None:
    rng = np.random.default_rng(3)
    values = rng.lognormal(np.log(12.0), 0.25, 50_000)
    sample = np.asarray(cycle_time_sample(n=values.size, mean_s=values.mean(), sum_sq=float((values**2).sum())))
    assert sample.mean() == pytest.approx(values.mean(), rel=1e-12)
    spread = bootstrap_means(sample, draws=20_000, rng=np.random.default_rng(0)).std()
    assert spread == pytest.approx(values.std() / np.sqrt(values.size), rel=0.2)


def test_sort_by_npv_payback_and_name(org_tasks: dict[str, Any]) -> None:
    rows = task_roi_dashboard(user=org_tasks["user"])
    by_npv = dashboard_sort(rows=rows, order="npv")
    assert [r.roi.npv for r in by_npv] == sorted((r.roi.npv for r in rows), reverse=True)  # the figure shown
    assert [r.task_name for r in dashboard_sort(rows=rows, order="name")] == sorted(r.task_name for r in rows)


def _mc(*, p_loss: float) -> Any:
    from types import SimpleNamespace

    return SimpleNamespace(p_npv_negative=p_loss)


@pytest.mark.parametrize(
    ("npv", "meets_target", "p_loss", "light"),
    [
        (53_600.0, False, 0.0, "amber"),  # issue 13: pays, never loses, but slower than the target: not red
        (-23_549.0, False, 0.62, "red"),
        (-100.0, True, 0.40, "red"),  # a negative base case is never shown beside a non-red light
        (10_000.0, True, 0.55, "red"),  # a loss at least as likely as not
        (40_000.0, True, LIGHT_GREEN_MAX_P_LOSS, "green"),
        (40_000.0, True, 0.11, "amber"),
        (40_000.0, False, 0.0, "amber"),
    ],
)
def test_traffic_light_rule(npv: float, meets_target: bool, p_loss: float, light: str) -> None:
    from types import SimpleNamespace

    roi = SimpleNamespace(npv=npv, meets_payback_target=meets_target)
    assert roi_traffic_light(roi=roi, monte_carlo=_mc(p_loss=p_loss)) == light  # type: ignore[arg-type]
    assert roi_traffic_light(roi=None, monte_carlo=None) == "none"


def test_traffic_light_of_each_row_follows_its_figures(org_tasks: dict[str, Any]) -> None:
    for row in task_roi_dashboard(user=org_tasks["user"]):
        light = dashboard_traffic_light(row=row)
        if row.roi.npv < 0:
            assert light == "red"
        if light == "green":
            assert row.roi.meets_payback_target and row.monte_carlo.p_npv_negative <= LIGHT_GREEN_MAX_P_LOSS


def test_trials_are_counted_by_status_over_the_visible_trials(org_tasks: dict[str, Any]) -> None:
    task = org_tasks["task"]
    org = task.organization
    TrialFactory(task=task, robot=RobotFactory(organization=org), status=TrialStatus.COMPLETED)
    TrialFactory(task=task, robot=RobotFactory(organization=org), status=TrialStatus.CANCELLED)
    task.trials.filter(status=TrialStatus.QUEUED).update(status=TrialStatus.COMPLETED)
    other_org_robot = RobotFactory()  # another organization's trial of another task: not counted here
    TrialFactory(robot=other_org_robot, status=TrialStatus.CANCELLED)
    row = next(r for r in task_roi_dashboard(user=org_tasks["user"]) if r.task_id == task.pk)
    expected = {s: task.trials.filter(status=s).count() for s in TrialStatus.values}
    assert dict(row.trials_by_status) == {s: n for s, n in expected.items() if n}
    assert row.trial_count == sum(expected.values())
    assert dict(row.trials_by_status)[TrialStatus.CANCELLED] == 1
