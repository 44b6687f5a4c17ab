"""Statistics pages: the trial panel, the task statistics page and its partial, the planner partial, trial
comparison, acceptance criteria editing and stopping early; who may read and do what, and query-count
guards."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts.models import Organization, Role
from reports.models import AcceptanceCriteria
from tests.factories import (
    EpisodeEventFactory,
    EpisodeFactory,
    OrganizationFactory,
    RobotFactory,
    TaskFactory,
    TrialFactory,
    UserFactory,
    client_for,
    episodes_make,
)
from trials.models import Episode, EpisodeOutcome, EpisodeSource, EventCategory, EventKind, TrialStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> dict[str, Any]:
    """Manufacturer A (engineer, manager) with a running trial of 40 simulated episodes (36 successes, one
    grasp failure with an event) on its own robot, a second finished trial, integrator B engaged on the task
    with its own rig's trial of uploaded episodes, and an unrelated organization C."""
    org_a = OrganizationFactory(name="Nordwerk")
    org_b = OrganizationFactory(name="CellWorks", kind=Organization.Kind.INTEGRATOR)
    org_c = OrganizationFactory(name="Elsewhere")
    task = TaskFactory(organization=org_a, integrator=org_b, name="Kitting brackets", takt_time_s=12.0)
    trial = TrialFactory(
        task=task, robot=RobotFactory(organization=org_a), episodes_planned=200, status=TrialStatus.RUNNING
    )
    episodes = episodes_make(trial, 40, successes=36)
    EpisodeEventFactory(episode=episodes[3], kind=EventKind.INTERVENTION, category=EventCategory.OTHER)
    EpisodeEventFactory(episode=episodes[37], kind=EventKind.FAULT, category=EventCategory.GRASP_MISS)
    other = TrialFactory(task=task, robot=trial.robot, status=TrialStatus.COMPLETED, episodes_planned=20)
    episodes_make(other, 20, successes=12)
    rig = TrialFactory(task=task, robot=RobotFactory(organization=org_b), status=TrialStatus.COMPLETED)
    episodes_make(rig, 10, successes=10, source=EpisodeSource.INTEGRATOR_UPLOAD)
    return {
        "task": task,
        "trial": trial,
        "other": other,
        "rig": rig,
        "engineer": UserFactory(organization=org_a, role=Role.ENGINEER),
        "manager": UserFactory(organization=org_a, role=Role.MANAGER),
        "integrator": UserFactory(organization=org_b, role=Role.INTEGRATOR),
        "outsider": UserFactory(organization=org_c, role=Role.ENGINEER),
    }


def _panel(trial: Any) -> str:
    return reverse("stats-trial-panel", args=[trial.pk])


# --- Trial panel -----------------------------------------------------------------------------------


def test_panel_requires_login(world: dict[str, Any]) -> None:
    response = Client().get(_panel(world["trial"]))
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize("role", ["engineer", "manager"])
def test_panel_shows_every_rate_with_interval_n_and_source(world: dict[str, Any], role: str) -> None:
    response = client_for(world[role]).get(_panel(world["trial"]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "90.0%" in html  # 36 / 40
    assert "95% CI 76.9–96.0% (Wilson) · 36/40" in html  # statsmodels Wilson interval of 36/40
    assert "at least 78% success at 95% confidence, exact binomial, n = 40" in html
    assert 'data-testid="stats-source-simulation"' in html and "Simulation" in html
    assert 'data-testid="sprt-simulation"' in html
    assert 'hx-trigger="every 1s"' in html and "?seen=40&amp;status=running" in html  # a running trial refreshes
    assert 'id="trial-stats-charts"' in html and f'id="trial{world["trial"].pk}-simulation-cycle"' in html
    # 4 failures so far at the default level 80%: smallest n with BinomCDF(4; n, 0.2) <= 0.05 is 44.
    assert "with the 4 failures seen so far: 44 episodes in all (40 so far" in html
    stop = 'data-testid="stop-early"' in html or "Stop early becomes available" in html
    assert stop is (role == "engineer")


def test_integrator_reads_own_rig_trial_and_not_others(world: dict[str, Any]) -> None:
    client = client_for(world["integrator"])
    response = client.get(_panel(world["rig"]))
    assert response.status_code == 200
    assert 'data-testid="stats-source-integrator_upload"' in response.content.decode()


def test_poll_without_change_is_204(world: dict[str, Any], django_assert_max_num_queries: Any) -> None:
    client = client_for(world["engineer"])
    url = _panel(world["trial"])
    client.get(url)
    with django_assert_max_num_queries(6):  # 5 and the snapshot's savepoint in this test's transaction
        unchanged = client.get(url, {"seen": "40", "status": "running"})
    assert unchanged.status_code == 204 and unchanged.content == b""
    EpisodeFactory(trial=world["trial"], index=40, outcome=EpisodeOutcome.SUCCESS)
    changed = client.get(url, {"seen": "40", "status": "running"})
    assert changed.status_code == 200 and "?seen=41&amp;status=running" in changed.content.decode()
    assert client_for(world["outsider"]).get(url, {"seen": "40", "status": "running"}).status_code == 404


def _live_done(html: str) -> int:
    match = re.search(r'id="trial-live"[^>]*data-done="(\d+)"[^>]*hx-swap-oob="true"', html)
    assert match, "the panel's refresh carries the trial's live header out of band"
    return int(match.group(1))


def test_live_refresh_shows_one_count_in_header_progress_and_panel(world: dict[str, Any]) -> None:
    # Issue 13 item 11: the header said 11/30 while the panel still said "1 episode, 0/1".
    client, trial = client_for(world["engineer"]), world["trial"]
    for extra in range(3):
        html = client.get(_panel(trial), {"live": "1"}).content.decode()
        done = Episode.objects.filter(trial=trial).count()
        assert _live_done(html) == done
        assert f"{done} / {trial.episodes_planned} episodes" in html
        assert f'id="trial-progress" value="{done}"' in html
        assert f"?seen={done}&amp;status=running&amp;live=1" in html
        EpisodeFactory(trial=trial, index=40 + extra, outcome=EpisodeOutcome.FAILURE)


def test_live_refresh_reads_one_snapshot(world: dict[str, Any], monkeypatch: Any) -> None:
    from trials import selectors as trial_selectors

    # The header's counts are read inside the same transaction as the panel's (the test's own
    # transaction is the baseline depth).
    outer = len(connection.atomic_blocks)
    depths: list[int] = []
    real = trial_selectors.trial_summary

    def spy(*, trial: Any) -> dict[str, Any]:
        depths.append(len(connection.atomic_blocks))
        return real(trial=trial)

    monkeypatch.setattr(trial_selectors, "trial_summary", spy)
    client_for(world["engineer"]).get(_panel(world["trial"]), {"live": "1"})
    assert depths == [outer + 1]


def test_panel_without_live_brings_no_header(world: dict[str, Any]) -> None:
    assert 'id="trial-live"' not in client_for(world["engineer"]).get(_panel(world["trial"])).content.decode()


def test_other_organization_gets_404(world: dict[str, Any]) -> None:
    client = client_for(world["outsider"])
    assert client.get(_panel(world["trial"])).status_code == 404
    assert client.get(reverse("stats-task", args=[world["task"].pk])).status_code == 404
    assert client.get(reverse("stats-task-panel", args=[world["task"].pk])).status_code == 404
    assert client.get(reverse("stats-planner", args=[world["task"].pk])).status_code == 404
    assert client.post(reverse("stats-trial-stop-early", args=[world["trial"].pk])).status_code == 404


def test_panel_runs_in_bounded_queries(world: dict[str, Any], django_assert_max_num_queries: Any) -> None:
    AcceptanceCriteria.objects.create(task=world["task"], name="fat", min_success_lower_bound=0.7)
    AcceptanceCriteria.objects.create(task=world["task"], name="sat", consecutive_without_intervention=5)
    client = client_for(world["engineer"])
    client.get(_panel(world["trial"]))  # warm the session
    with django_assert_max_num_queries(16):  # 14, the stage funnel's aggregate, the review link's role check
        response = client.get(_panel(world["trial"]))
    assert response.status_code == 200
    episodes_make(world["trial"], 60, successes=50, start=40)
    with django_assert_max_num_queries(16):  # the same count with more episodes
        assert client.get(_panel(world["trial"])).status_code == 200


# --- Stop early ------------------------------------------------------------------------------------


def test_stop_early_cancels_with_the_verdict_as_reason(world: dict[str, Any]) -> None:
    # The FAT bound of 60% sets the SPRT levels (60% vs 80%): 36 of the first 36 pass long before episode 40.
    AcceptanceCriteria.objects.create(task=world["task"], name="fat", min_success_lower_bound=0.6)
    client = client_for(world["engineer"])
    html = client.get(_panel(world["trial"])).content.decode()
    assert 'data-testid="stop-early"' in html and "FAT" in html
    response = client.post(reverse("stats-trial-stop-early", args=[world["trial"].pk]))
    assert response.status_code == 302
    world["trial"].refresh_from_db()
    assert world["trial"].status == TrialStatus.CANCELLED
    assert "sequential verdict" in world["trial"].status_message and "Pass:" in world["trial"].status_message


def test_stop_early_refused_while_undecided(world: dict[str, Any]) -> None:
    # 5 successes at the default levels (80% vs 90%): log LR 5 ln(9/8) = 0.59 < ln(0.9/0.05) = 2.89.
    young = TrialFactory(task=world["task"], robot=world["trial"].robot, status=TrialStatus.RUNNING)
    episodes_make(young, 5, successes=5)
    client = client_for(world["engineer"])
    html = client.get(_panel(young)).content.decode()
    assert "keep going" in html and "Stop early becomes available once the test decides" in html
    response = client.post(reverse("stats-trial-stop-early", args=[young.pk]), follow=True)
    assert "has not decided yet" in response.content.decode()
    young.refresh_from_db()
    assert young.status == TrialStatus.RUNNING


def test_manager_may_not_stop_early(world: dict[str, Any]) -> None:
    response = client_for(world["manager"]).post(reverse("stats-trial-stop-early", args=[world["trial"].pk]))
    assert response.status_code == 403
    world["trial"].refresh_from_db()
    assert world["trial"].status == TrialStatus.RUNNING


# --- Task page, planner, comparison ----------------------------------------------------------------


def test_task_stats_page_blocks_per_source_versions_planner(world: dict[str, Any]) -> None:
    response = client_for(world["manager"]).get(reverse("stats-task", args=[world["task"].pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="stats-source-simulation"' in html
    assert 'data-testid="stats-source-integrator_upload"' in html
    assert 'data-testid="by-policy-version"' in html
    # Planner default: 90% at 95% with no failure -> 29 episodes (ln 0.05 / ln 0.9 = 28.4).
    assert "<strong>29 episodes</strong>" in html
    assert "Add criteria" not in html  # managers read


def test_task_planner_form_and_partial(world: dict[str, Any]) -> None:
    client = client_for(world["engineer"])
    url = reverse("stats-planner", args=[world["task"].pk])
    response = client.get(url, {"target": "0.95", "confidence": "0.9", "failures": "1"})
    assert response.status_code == 200
    # 95% at 90% with one failure allowed: 77 episodes (binomial, smallest n with P(X <= 1) <= 0.10).
    assert "<strong>77 episodes</strong>" in response.content.decode()
    bad = client.get(url, {"target": "2", "confidence": "0.9", "failures": "-1"})
    assert bad.status_code == 400 and "episodes</strong>" not in bad.content.decode()
    assert "Success at least must be a share between 0.5 and 0.9999" in bad.content.decode()
    assert "Failures allowed must be between 0 and 1,000." in bad.content.decode()


# --- The planner (issue 13 item 12) ---------------------------------------------------------------


def test_planner_swaps_only_its_answer_so_typed_fields_survive(world: dict[str, Any]) -> None:
    client = client_for(world["engineer"])
    url = reverse("stats-planner", args=[world["task"].pk])
    page = client.get(url).content.decode()
    assert 'hx-target="#plan-result"' in page and 'hx-sync="this:replace"' in page
    answer = client.get(url, {"target": "0.95", "confidence": "0.95", "failures": "2"}, HTTP_HX_TARGET="plan-result")
    html = answer.content.decode()
    assert "<form" not in html and 'id="plan-result"' in html  # the inputs being typed are not replaced
    # 95 % at 95 % with 2 failures: smallest n with BinomCDF(2; n, 0.05) <= 0.05 is 124.
    assert "<strong>124 episodes</strong> with at most 2 failures" in html


def test_planner_out_of_range_target_is_a_400_naming_the_field(world: dict[str, Any]) -> None:
    url = reverse("stats-planner", args=[world["task"].pk])
    response = client_for(world["engineer"]).get(url, {"target": "1.5", "confidence": "0.95", "failures": "0"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-testid="plan-error-target"' in html and "episodes</strong>" not in html
    assert 'value="1.5"' in html  # the value typed is kept, not replaced by a default
    assert 'max="' not in html  # no browser clamping either


def test_planner_shows_shares_with_the_decimals_they_need(world: dict[str, Any]) -> None:
    url = reverse("stats-planner", args=[world["task"].pk])
    html = (
        client_for(world["engineer"])
        .get(url, {"target": "0.999", "confidence": "0.999", "failures": "0"})
        .content.decode()
    )
    assert "at least 99.9% success at 99.9% confidence" in html and "100%" not in html


def test_planner_warns_when_the_claim_needs_more_than_one_trial(world: dict[str, Any]) -> None:
    url = reverse("stats-planner", args=[world["task"].pk])
    html = (
        client_for(world["engineer"])
        .get(url, {"target": "0.9999", "confidence": "0.8", "failures": "0"})
        .content.decode()
    )
    assert "<strong>16,094 episodes</strong>" in html  # ln 0.2 / ln 0.9999
    assert 'data-testid="plan-over-cap"' in html and "needs 2 trials" in html


def test_planner_robot_hours_agree_between_sentences(world: dict[str, Any]) -> None:
    from core import stats

    plan = stats.success_run_plan(target_success=0.9, confidence=0.95, mean_cycle_time_s=5.0)
    assert f"{plan.robot_hours:.2f} robot-hours" in plan.statement  # 29 x 5 s = 0.04 h, not "about 0.0"


def test_planner_warns_when_measured_success_is_below_the_target(world: dict[str, Any]) -> None:
    url = reverse("stats-planner", args=[world["task"].pk])
    client = client_for(world["engineer"])
    # The integrator upload (10/10) is the measured source for this task: 100 % is above 90 %.
    assert (
        'data-testid="plan-below-target"'
        not in client.get(url, {"target": "0.9", "confidence": "0.95", "failures": "0"}).content.decode()
    )
    trial = TrialFactory(task=world["task"], robot=world["rig"].robot, status=TrialStatus.COMPLETED)
    for i in range(30):
        EpisodeFactory(
            trial=trial,
            index=i,
            source=EpisodeSource.INTEGRATOR_UPLOAD,
            external_id=f"x{i}",
            outcome=EpisodeOutcome.SUCCESS if i % 3 else EpisodeOutcome.FAILURE,
        )
    html = client.get(url, {"target": "0.9", "confidence": "0.95", "failures": "0"}).content.decode()
    assert 'data-testid="plan-below-target"' in html and "below the 90% target" in html


def test_task_partial_for_the_task_page(world: dict[str, Any], django_assert_max_num_queries: Any) -> None:
    client = client_for(world["engineer"])
    url = reverse("stats-task-panel", args=[world["task"].pk])
    client.get(url)
    with django_assert_max_num_queries(16):
        response = client.get(url)
    assert response.status_code == 200
    assert "full statistics, planner and acceptance" in response.content.decode()


def test_compare_two_trials(world: dict[str, Any]) -> None:
    client = client_for(world["manager"])
    response = client.get(reverse("stats-compare"), {"a": world["other"].pk, "b": world["trial"].pk})
    assert response.status_code == 200
    html = response.content.decode()
    assert "success rate is higher" in html  # 36/40 vs 12/20: Barnard p < 0.05
    assert "Mann-Whitney" in html
    assert client.get(reverse("stats-compare"), {"a": "x", "b": world["trial"].pk}).status_code == 400
    for bad in ("²", "9" * 30):  # a superscript passes str.isdigit() but not int() (it was a 500)
        assert client.get(reverse("stats-compare"), {"a": bad, "b": world["trial"].pk}).status_code == 400
    same = client.get(reverse("stats-compare"), {"a": world["trial"].pk, "b": world["trial"].pk})
    assert same.status_code == 400 and "two different trials" in same.content.decode()
    hidden = client_for(world["outsider"]).get(
        reverse("stats-compare"), {"a": world["other"].pk, "b": world["trial"].pk}
    )
    assert hidden.status_code == 404


def test_compare_page_picks_trials_from_a_list_and_gives_the_cycle_time_difference(world: dict[str, Any]) -> None:
    # Issue 13 item 13: raw trial ids in text boxes, and no interval for the cycle-time difference.
    client = client_for(world["manager"])
    empty = client.get(reverse("stats-compare")).content.decode()
    assert '<select name="a"' in empty and f'<option value="{world["trial"].pk}">#{world["trial"].pk} · ' in empty
    assert f'value="{world["rig"].pk}"' in empty  # the engaged integrator's upload trial of the task is visible too
    html = client.get(reverse("stats-compare"), {"a": world["other"].pk, "b": world["trial"].pk}).content.decode()
    shift = html.split('data-testid="cycle-shift">')[1].split("</td>")[0]
    assert re.fullmatch(r"-?\d+\.\d\d s \(-?\d+\.\d\d to -?\d+\.\d\d s\)", shift), shift
    assert "Hodges-Lehmann" in html


def test_compare_trials_of_different_tasks_is_a_form_error(world: dict[str, Any]) -> None:
    elsewhere = TrialFactory(task=TaskFactory(organization=world["task"].organization))
    response = client_for(world["engineer"]).get(reverse("stats-compare"), {"a": elsewhere.pk, "b": world["trial"].pk})
    assert "must be of the same task" in response.content.decode()


# --- Acceptance criteria ---------------------------------------------------------------------------


def test_engineer_creates_edits_and_deletes_criteria(world: dict[str, Any]) -> None:
    client = client_for(world["engineer"])
    task = world["task"]
    url = reverse("stats-acceptance-new", args=[task.pk])
    assert client.get(url).status_code == 200
    empty = client.post(url, {"name": "fat", "confidence": "0.95"})
    assert empty.status_code == 400 and "Require at least one criterion." in empty.content.decode()
    response = client.post(
        url, {"name": "fat", "confidence": "0.95", "min_success_lower_bound": "0.7", "applies_to_source": ""}
    )
    assert response.status_code == 302
    record = AcceptanceCriteria.objects.get(task=task, name="fat")
    assert record.min_success_lower_bound == 0.7
    duplicate = client.post(url, {"name": "fat", "confidence": "0.95", "mtbi_lower_bound_h": "1"})
    assert duplicate.status_code == 400 and "already has criteria of that name" in duplicate.content.decode()
    out_of_range = client.post(url, {"name": "sat", "confidence": "1.5", "min_success_lower_bound": "1.2"})
    assert out_of_range.status_code == 400
    edit = reverse("stats-acceptance-edit", args=[task.pk, record.pk])
    assert (
        client.post(edit, {"name": "fat", "confidence": "0.9", "cycle_time_p90_within_takt": "on"}).status_code == 302
    )
    record.refresh_from_db()
    assert record.min_success_lower_bound is None and record.cycle_time_p90_within_takt and record.confidence == 0.9
    page = client.get(reverse("stats-task", args=[task.pk])).content.decode()
    assert "cycle time p90 ≤ takt" in page
    assert client.post(reverse("stats-acceptance-delete", args=[task.pk, record.pk])).status_code == 302
    assert not AcceptanceCriteria.objects.filter(pk=record.pk).exists()


def test_only_engineers_of_the_owner_edit_criteria(world: dict[str, Any]) -> None:
    task = world["task"]
    url = reverse("stats-acceptance-new", args=[task.pk])
    data = {"name": "fat", "confidence": "0.95", "min_success_lower_bound": "0.7"}
    assert client_for(world["manager"]).post(url, data).status_code == 403
    assert client_for(world["integrator"]).post(url, data).status_code == 403  # integrator role: not an engineer
    assert client_for(world["outsider"]).post(url, data).status_code == 404
    assert not AcceptanceCriteria.objects.exists()


# --- Figures ---------------------------------------------------------------------------------------


def test_figures_of_a_source_block(world: dict[str, Any]) -> None:
    from reports.stats.charts import source_figures
    from reports.stats.selectors import trial_statistics

    (block,) = trial_statistics(trial_id=world["trial"].pk).sources
    figures = source_figures(block=block, prefix="t")
    assert set(figures) == {"t-cycle", "t-pareto", "t-oee"}
    cycle = figures["t-cycle"]
    assert sum(cycle["data"][1]["y"]) == 36  # the histogram counts every successful cycle
    assert cycle["data"][0]["median"] == [block.cycle_time_distribution.median_s]
    lines = {shape["x0"] for shape in cycle["layout"]["shapes"]}
    assert lines == {12.0, 10.0}  # takt and manual cycle time
    pareto = figures["t-pareto"]
    assert sum(pareto["data"][0]["y"]) == 4 and pareto["data"][1]["y"][-1] == 100.0
    bases, heights = figures["t-oee"]["data"][0]["y"], figures["t-oee"]["data"][1]["y"]
    assert heights[-1] == pytest.approx(block.oee.planned_time_s * block.oee.oee / 60)  # good output, minutes
    assert bases[-2] == pytest.approx(heights[-1], abs=1e-9)  # the last loss ends at the good output


def test_no_figures_without_data() -> None:
    from reports.stats.charts import source_figures
    from reports.stats.selectors import trial_statistics

    trial = TrialFactory()
    episodes_make(trial, 3, successes=0)  # failures only, no event: no cycle-time chart, Pareto "unattributed"
    (block,) = trial_statistics(trial_id=trial.pk).sources
    figures = source_figures(block=block, prefix="t")
    assert "t-cycle" not in figures
    assert figures["t-pareto"]["data"][0]["x"] == ["unattributed"]
    all_good = TrialFactory()
    episodes_make(all_good, 3, successes=3)
    (block,) = trial_statistics(trial_id=all_good.pk).sources
    assert set(source_figures(block=block, prefix="t")) == {"t-cycle", "t-oee"}  # no failure: no Pareto


def test_sprt_sentence_reads_as_english(world: dict[str, Any]) -> None:
    # Issue 13 item 13: "levels from no acceptance criterion sets a success level".
    html = client_for(world["engineer"]).get(_panel(world["trial"])).content.decode()
    assert "levels from the default 80% (no acceptance criterion of the task sets a success level)" in html
    AcceptanceCriteria.objects.create(task=world["task"], name="fat", min_success_lower_bound=0.85)
    html = client_for(world["engineer"]).get(_panel(world["trial"])).content.decode()
    assert re.search(r"levels from the [^<]{1,60} criterion&#x27;s success lower bound of 85%", html)


def test_failure_pareto_names_each_event_category_and_links_to_its_episodes(world: dict[str, Any]) -> None:
    # Issue 13 item 13: collision, timeout and workspace stops were lumped together as "robot fault".
    trial = world["trial"]
    for i, category in enumerate((EventCategory.COLLISION, EventCategory.TIMEOUT, EventCategory.TIMEOUT)):
        episode = EpisodeFactory(trial=trial, index=100 + i, outcome=EpisodeOutcome.FAILURE)
        EpisodeEventFactory(episode=episode, kind=EventKind.FAULT, category=category)
    html = client_for(world["engineer"]).get(_panel(trial)).content.decode()
    assert "robot fault" not in html.split('data-testid="pareto-links-simulation"')[1].split("</p>")[0]
    assert (
        f'{reverse("trial-detail", args=[trial.pk])}?outcome=failure&amp;category=timeout#episodes">timeout</a> (2)'
        in html
    )
    assert "category=collision#episodes" in html
