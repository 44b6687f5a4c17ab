"""The shortlist (/reports/shortlist/): per task, versions ranked by Bradley-Terry on the scenes they both ran,
each beside the ROI its own task report gives, a line on the seeds that would settle a tie; scoped to the
tasks whose commercial terms the user may read."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from accounts.models import Role
from core.ranking import bradley_terry
from reports.roi.report import task_roi_report
from reports.shortlist.selectors import shortlist_for_user
from robots.models import RobotKind
from tests.factories import (
    CostModelFactory,
    EpisodeFactory,
    OrganizationFactory,
    PolicyFactory,
    PolicyVersionFactory,
    RobotFactory,
    TaskFactory,
    TrialFactory,
    UserFactory,
    client_for,
)
from trials.models import EpisodeOutcome, EpisodeSource

pytestmark = pytest.mark.django_db

# 40 seeds. "strong" and "close" differ on 2 seeds only (a tie to settle); "weak" fails most.
STRONG = "s" * 34 + "f" * 6
CLOSE = "s" * 33 + "fsf" + "f" * 4
WEAK = "s" * 12 + "f" * 28


def _run(trial, outcomes: str, *, source=EpisodeSource.SIMULATION) -> None:
    for i, o in enumerate(outcomes):
        EpisodeFactory.create(
            trial=trial,
            index=i,
            outcome=EpisodeOutcome.SUCCESS if o == "s" else EpisodeOutcome.FAILURE,
            cycle_time_s=9.0 + (i % 5) * 0.5,
            source=source,
        )


@pytest.fixture
def world():
    org = OrganizationFactory(name="Nordwerk")
    task = TaskFactory(organization=org, name="Kitting brackets")
    CostModelFactory(task=task)
    cell = RobotFactory(organization=org)
    policy = PolicyFactory(name="pi0")
    versions = {name: PolicyVersionFactory(policy=policy, version=name) for name in ("strong", "close", "weak", "arm")}
    for name, outcomes in (("strong", STRONG), ("close", CLOSE), ("weak", WEAK)):
        _run(TrialFactory(task=task, robot=cell, policy_version=versions[name], seed=100), outcomes)
    # A physical robot's trial: no seed reproduces its scenes, so it is not ranked.
    arm = RobotFactory(organization=org, kind=RobotKind.PHYSICAL, sim_cell_key="")
    _run(TrialFactory(task=task, robot=arm, policy_version=versions["arm"]), "ssf", source=EpisodeSource.ROBOT_AGENT)
    return {"task": task, "versions": versions, "manager": UserFactory(organization=org, role=Role.MANAGER)}


def test_versions_are_ranked_on_their_shared_scenes_beside_their_roi(world):
    result = shortlist_for_user(user=world["manager"])
    (task,) = result.tasks
    labels = [e.label for e in task.entries]
    assert labels == ["pi0 strong", "pi0 close", "pi0 weak", "pi0 arm"]
    strong, close, weak, arm = task.entries
    assert (strong.rank, close.rank, weak.rank, arm.rank) == (1, 2, 3, None)
    # Hand count: strong vs close, one win each and 38 ties (20); strong vs weak, 22 wins and 18 ties (31).
    assert strong.games == 80 and strong.wins == 51
    # The same Bradley-Terry fit as core.ranking on the hand-built results.
    v = world["versions"]
    order = [v["close"].pk, v["strong"].pk, v["weak"].pk]  # the selector fits versions in id order
    outcomes = {v["strong"].pk: STRONG, v["close"].pk: CLOSE, v["weak"].pk: WEAK}
    first, second, score = [], [], []
    for x in range(3):
        for y in range(x + 1, 3):
            for a, b in zip(outcomes[sorted(order)[x]], outcomes[sorted(order)[y]], strict=True):
                first.append(x)
                second.append(y)
                score.append(0.5 + ((a == "s") - (b == "s")) / 2)
    expected = bradley_terry(
        labels=[str(p) for p in sorted(order)], first=first, second=second, score_first=score, resamples=1000
    )
    assert strong.strength == pytest.approx(next(i.strength for i in expected.items if i.label == str(v["strong"].pk)))
    # Each version's ROI is its own base-case task report's.
    report = task_roi_report(task=world["task"], user=world["manager"], policy_version_id=v["weak"].pk, details=False)
    assert weak.roi.npv == pytest.approx(report.roi.npv) and weak.roi.episodes == 40
    assert arm.roi.episodes == 3 and arm.roi.evidence_sources == ("robot_agent",)
    json.dumps(result.to_dict())


def test_a_tie_says_how_many_more_paired_seeds_would_settle_it(world):
    (task,) = shortlist_for_user(user=world["manager"]).tasks
    strong, close = task.entries[:2]
    assert strong.rank_high >= 2 and close.rank_low <= 1  # the two cannot be told apart yet
    (tie,) = task.ties
    assert (tie.label_a, tie.label_b, tie.shared_scenes) == ("pi0 strong", "pi0 close", 40)
    assert tie.plan is not None and tie.more_seeds == tie.plan.pairs_needed - 40 > 0
    assert f"{tie.more_seeds:,} more" in tie.statement and "run by both" in tie.statement


def test_shortlist_page_for_a_manager_and_nothing_for_another_organization(world):
    html = client_for(world["manager"]).get(reverse("report-shortlist")).content.decode()
    assert html.count('data-testid="shortlist-entry"') == 4
    assert "pi0 strong" in html and "not run on the same scenes as another version" in html
    assert 'data-testid="shortlist-tie"' in html
    outsider = UserFactory(organization=OrganizationFactory(), role=Role.MANAGER)
    other = client_for(outsider).get(reverse("report-shortlist")).content.decode()
    assert "pi0 strong" not in other and "No task with trials to shortlist yet" in other
    assert 'data-testid="shortlist-link"' in client_for(world["manager"]).get(reverse("report-index")).content.decode()


def test_a_task_whose_versions_share_no_scene_says_so():
    org = OrganizationFactory()
    task = TaskFactory(organization=org)
    cell = RobotFactory(organization=org)
    _run(TrialFactory(task=task, robot=cell, seed=0), "ss")
    _run(TrialFactory(task=task, robot=cell, seed=500), "sf")
    (result,) = shortlist_for_user(user=UserFactory(organization=org, role=Role.MANAGER)).tasks
    assert result.ranking is None and all(e.rank is None for e in result.entries)
    assert "No two policy versions ran the same simulated scenes" in result.statement


def test_shortlist_reads_a_bounded_number_of_queries(world, django_assert_max_num_queries):
    # Tasks, trials and episodes, then the ROI report of each of the 4 versions.
    with django_assert_max_num_queries(3 + 4 * 3):
        shortlist_for_user(user=world["manager"])


def test_shortlist_api_gives_the_page_figures(world):
    client = client_for(world["manager"])
    body = client.get(reverse("api-shortlist")).json()
    (task,) = body["tasks"]
    assert [e["label"] for e in task["entries"]] == ["pi0 strong", "pi0 close", "pi0 weak", "pi0 arm"]
    assert task["entries"][3]["rank"] is None and task["ties"][0]["label_b"] == "pi0 close"
    # The same seeded figures as the page's selector.
    assert body == json.loads(json.dumps(shortlist_for_user(user=world["manager"]).to_dict()))
    schema = client.get(reverse("api-schema"), HTTP_ACCEPT="application/json").json()["paths"]
    assert "/api/v1/shortlist/" in schema


def test_versions_run_under_different_factor_levels_share_no_scene():
    org = OrganizationFactory()
    task = TaskFactory(organization=org)
    cell = RobotFactory(organization=org)
    _run(TrialFactory(task=task, robot=cell, seed=0), "ss")
    _run(TrialFactory(task=task, robot=cell, seed=0, variation={"light_intensity": 0.4}), "sf")
    (result,) = shortlist_for_user(user=UserFactory(organization=org, role=Role.MANAGER)).tasks
    assert result.ranking is None
    assert "No two policy versions ran the same simulated scenes" in result.statement
