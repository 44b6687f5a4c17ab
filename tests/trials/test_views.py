"""The engineers' pages: who may read and do what, what each page shows, and query-count guards."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Organization, Role, User
from core.fit import FIT_FACTOR_KEYS
from policies.models import Policy
from tests.factories import (
    EpisodeEventFactory,
    EpisodeFactory,
    OrganizationFactory,
    PolicyVersionFactory,
    RobotFactory,
    SiteFactory,
    TaskFactory,
    TrialFactory,
    UserFactory,
    client_for,
    episode_media_make,
)
from trials.models import EpisodeOutcome, EventKind, MediaKind, Task, Trial, TrialStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> dict[str, object]:
    """Manufacturer A (engineer, manager, a task, a simulated robot, a trial with episodes) and
    integrator B (its own robot and a trial of B's own task)."""
    org_a = OrganizationFactory(name="Nordwerk")
    org_b = OrganizationFactory(name="CellWorks", kind=Organization.Kind.INTEGRATOR)
    task = TaskFactory(organization=org_a, name="Kitting brackets", site=SiteFactory(organization=org_a))
    robot_a = RobotFactory(organization=org_a, name="Sim cell A")
    trial_a = TrialFactory(task=task, robot=robot_a, episodes_planned=4)
    EpisodeFactory(trial=trial_a, index=0, outcome=EpisodeOutcome.SUCCESS, cycle_time_s=8.0)
    failed = EpisodeFactory(trial=trial_a, index=1, outcome=EpisodeOutcome.FAILURE, cycle_time_s=20.0)
    EpisodeEventFactory(episode=failed, kind=EventKind.FAULT, category="drop", message="part fell off the table")
    task_b = TaskFactory(organization=org_b, name="B's own task")
    robot_b = RobotFactory(organization=org_b, name="Rig B")
    trial_b = TrialFactory(task=task_b, robot=robot_b)
    return {
        "org_a": org_a,
        "task": task,
        "robot_a": robot_a,
        "trial_a": trial_a,
        "robot_b": robot_b,
        "trial_b": trial_b,
        "version": PolicyVersionFactory(),
        "engineer": UserFactory(organization=org_a, role=Role.ENGINEER),
        "manager": UserFactory(organization=org_a, role=Role.MANAGER),
        "integrator": UserFactory(organization=org_b, role=Role.INTEGRATOR),
    }


def _read_urls(w: dict[str, object]) -> list[str]:
    task, trial = w["task"], w["trial_a"]
    return [
        reverse("home"),
        reverse("task-list"),
        reverse("task-detail", args=[task.pk]),
        reverse("trial-list"),
        reverse("trial-detail", args=[trial.pk]),
        reverse("trial-progress", args=[trial.pk]),
        reverse("trial-episodes", args=[trial.pk]),
        reverse("episode-detail", args=[trial.pk, 1]),
        reverse("robot-list"),
        reverse("robot-detail", args=[w["robot_a"].pk]),
        reverse("policy-list"),
        reverse("report-index"),
    ]


def _task_post(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "Screw driving A4",
        "station": "Line 2 / A4",
        "part": "Cover plate",
        "instruction": "drive the four screws",
        "manual_cycle_time_s": "22",
        "takt_time_s": "25",
        "annual_volume": "210000",
        "shifts_per_day": "1",
        "hours_per_shift": "8",
        "operating_days_per_year": "230",
        "operators_per_shift": "1",
        "labour_cost_per_hour": "48.00",
        "status": "candidate",
        **{f"fit_{key}": "3" for key in FIT_FACTOR_KEYS},
    }
    data.update(overrides)
    return data


# --- Everyone logs in -------------------------------------------------------------------------


def test_every_page_requires_login(world: dict[str, object]) -> None:
    task, trial = world["task"], world["trial_a"]
    urls = [
        *_read_urls(world),
        reverse("task-create"),
        reverse("task-edit", args=[task.pk]),
        reverse("trial-create", args=[task.pk]),
        reverse("policy-version-upload"),
    ]
    for url in urls:
        response = Client().get(url)
        assert response.status_code == 302 and reverse("login") in response["Location"], url
    response = Client().post(reverse("trial-cancel", args=[trial.pk]))
    assert response.status_code == 302 and reverse("login") in response["Location"]


@pytest.mark.parametrize("role", ["engineer", "manager"])
def test_engineers_and_managers_read_every_page(world: dict[str, object], role: str) -> None:
    client = client_for(world[role])
    for url in _read_urls(world):
        assert client.get(url).status_code == 200, url


def test_nav_shows_user_role_and_sections(world: dict[str, object]) -> None:
    page = client_for(world["manager"]).get(reverse("home")).content.decode()
    for label in ("Tasks", "Trials", "Robots", "Policies", "Reports", "manager", "Nordwerk"):
        assert label in page
    assert "New task" not in page  # a manager reads, does not scope


# --- Only engineers (and platform administrators) write ------------------------------------------


def test_manager_cannot_create_edit_or_schedule(world: dict[str, object]) -> None:
    client, task = client_for(world["manager"]), world["task"]
    assert client.get(reverse("task-create")).status_code == 403
    assert client.post(reverse("task-create"), _task_post()).status_code == 403
    assert client.get(reverse("task-edit", args=[task.pk])).status_code == 403
    assert client.get(reverse("trial-create", args=[task.pk])).status_code == 403
    before = Trial.objects.count()
    response = client.post(
        reverse("trial-create", args=[task.pk]),
        {
            "policy_version": world["version"].pk,
            "robot": world["robot_a"].pk,
            "episodes_planned": 5,
            "seed": 0,
            "episode_timeout_s": 60,
        },
    )
    assert response.status_code == 403 and Trial.objects.count() == before
    assert client.post(reverse("trial-cancel", args=[world["trial_a"].pk])).status_code == 403
    assert Task.objects.filter(name="Screw driving A4").count() == 0
    assert client.get(reverse("policy-version-upload")).status_code == 403


def test_staff_without_role_may_not_create_tasks(world: dict[str, object]) -> None:
    # Staff is Django's "may open the admin" flag, not a tenant role (issue 14, item 8).
    staff = UserFactory(organization=world["org_a"], is_staff=True)
    response = client_for(staff).post(reverse("task-create"), _task_post())
    assert response.status_code == 403
    assert not Task.objects.filter(name="Screw driving A4").exists()


def test_engineer_creates_task_with_fit_and_is_sent_to_it(world: dict[str, object]) -> None:
    data = _task_post(fit_precision="5")
    response = client_for(world["engineer"]).post(reverse("task-create"), data)
    task = Task.objects.get(name="Screw driving A4")
    assert response.status_code == 302 and response["Location"] == reverse("task-detail", args=[task.pk])
    assert task.organization == world["org_a"] and task.created_by == world["engineer"]
    assert task.fit_factors["precision"] == 5 and task.fit_score == 41.0
    page = client_for(world["engineer"]).get(response["Location"]).content.decode()
    assert "41" in page and "Hurts: precision needed" in page


def test_engineer_edits_task_and_fit_is_recomputed(world: dict[str, object]) -> None:
    task = world["task"]
    data = _task_post(name=task.name, takt_time_s="30", **{f"fit_{k}": "3" for k in FIT_FACTOR_KEYS})
    response = client_for(world["engineer"]).post(reverse("task-edit", args=[task.pk]), data)
    assert response.status_code == 302
    task.refresh_from_db()
    # Takt 30 s over a 22 s manual cycle is 36 % headroom: cycle vs takt 4/5, the rest neutral.
    assert task.takt_time_s == 30.0 and task.fit_factors["cycle_vs_takt"] == 4
    assert task.fit_score == 50.0 + 18 * 0.25


def test_fit_score_follows_the_tasks_figures_not_a_typed_rating(world: dict[str, object]) -> None:
    # Issue 13 item 9: manual 30 s, takt 20 s was saved as "takt >= 2x manual" (77/100, Good fit).
    data = _task_post(manual_cycle_time_s="30", takt_time_s="20", fit_cycle_vs_takt="5", fit_volume="5")
    response = client_for(world["engineer"]).post(reverse("task-create"), data)
    assert response.status_code == 302
    task = Task.objects.get(name="Screw driving A4")
    assert task.fit_factors["cycle_vs_takt"] == 1 and task.fit_factors["volume"] == 3
    page = client_for(world["engineer"]).get(response["Location"]).content.decode()
    assert "Manual cycle ≥ takt" in page and "Takt ≥ 2x manual cycle" not in page
    assert "Hurts: cycle time vs takt" in page


def test_changing_the_figures_alone_recomputes_the_fit(world: dict[str, object]) -> None:
    task = world["task"]
    client_for(world["engineer"]).post(
        reverse("task-edit", args=[task.pk]), _task_post(name=task.name, manual_cycle_time_s="10", takt_time_s="25")
    )
    task.refresh_from_db()
    assert task.fit_factors["cycle_vs_takt"] == 5
    from trials.services import task_update

    task_update(task=task, fields={"takt_time_s": 9.0})
    task.refresh_from_db()
    assert task.fit_factors["cycle_vs_takt"] == 1 and task.fit_score == 50.0 - 9.0


def test_duplicate_task_name_is_a_form_error_not_a_500(world: dict[str, object]) -> None:
    response = client_for(world["engineer"]).post(reverse("task-create"), _task_post(name=world["task"].name))
    assert response.status_code == 200
    assert Task.objects.filter(name=world["task"].name).count() == 1
    assert "already exists" in response.content.decode()


def test_engineer_schedules_a_trial_and_is_sent_to_the_trial_page(
    world: dict[str, object], django_capture_on_commit_callbacks
) -> None:
    task = world["task"]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client_for(world["engineer"]).post(
            reverse("trial-create", args=[task.pk]),
            {
                "policy_version": world["version"].pk,
                "robot": world["robot_a"].pk,
                "episodes_planned": 25,
                "seed": 7,
                "instruction": "",
                "episode_timeout_s": 30,
            },
        )
    trial = Trial.objects.exclude(pk=world["trial_a"].pk).get(task=task)
    assert response.status_code == 302 and response["Location"] == reverse("trial-detail", args=[trial.pk])
    assert (trial.episodes_planned, trial.seed, trial.episode_timeout_s) == (25, 7, 30.0)
    assert trial.instruction == task.instruction  # empty means the task's instruction
    assert trial.status == TrialStatus.QUEUED and trial.scheduled_by == world["engineer"]
    assert len(callbacks) == 1  # the run is enqueued once the transaction commits


def test_schedule_form_defaults_instruction_to_the_task(world: dict[str, object]) -> None:
    page = client_for(world["engineer"]).get(reverse("trial-create", args=[world["task"].pk])).content.decode()
    assert 'value="place the bracket in the tray"' in page


def test_schedule_on_another_organizations_robot_is_refused(world: dict[str, object]) -> None:
    before = Trial.objects.count()
    response = client_for(world["engineer"]).post(
        reverse("trial-create", args=[world["task"].pk]),
        {
            "policy_version": world["version"].pk,
            "robot": world["robot_b"].pk,
            "episodes_planned": 5,
            "seed": 0,
            "episode_timeout_s": 60,
        },
    )
    assert response.status_code == 200 and Trial.objects.count() == before
    assert "Select a valid choice" in response.content.decode()


def test_engineer_cancels_a_running_trial(world: dict[str, object]) -> None:
    trial = world["trial_a"]
    Trial.objects.filter(pk=trial.pk).update(status=TrialStatus.RUNNING)
    response = client_for(world["engineer"]).post(reverse("trial-cancel", args=[trial.pk]))
    assert response.status_code == 302
    trial.refresh_from_db()
    assert trial.status == TrialStatus.CANCELLED and trial.finished_at is not None


def test_cancel_needs_post(world: dict[str, object]) -> None:
    assert client_for(world["engineer"]).get(reverse("trial-cancel", args=[world["trial_a"].pk])).status_code == 405


def test_csrf_is_enforced_on_forms(world: dict[str, object]) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["engineer"])
    assert client.post(reverse("task-create"), _task_post()).status_code == 403
    assert client.post(reverse("trial-cancel", args=[world["trial_a"].pk])).status_code == 403
    assert not Task.objects.filter(name="Screw driving A4").exists()
    assert 'name="csrfmiddlewaretoken"' in client.get(reverse("task-create")).content.decode()


# --- Integrators: their own organization only; others' objects are 404 ------------------------


def test_integrator_of_b_gets_404_for_a_trial_of_a(world: dict[str, object]) -> None:
    client, trial = client_for(world["integrator"]), world["trial_a"]
    for url in (
        reverse("trial-detail", args=[trial.pk]),
        reverse("trial-progress", args=[trial.pk]),
        reverse("trial-episodes", args=[trial.pk]),
        reverse("episode-detail", args=[trial.pk, 0]),
        reverse("task-detail", args=[world["task"].pk]),
        reverse("robot-detail", args=[world["robot_a"].pk]),
    ):
        assert client.get(url).status_code == 404, url


def test_integrator_lists_show_only_its_organization(world: dict[str, object]) -> None:
    client = client_for(world["integrator"])
    trials = client.get(reverse("trial-list")).content.decode()
    assert f"#{world['trial_b'].pk}<" in trials and f"#{world['trial_a'].pk}<" not in trials
    robots = client.get(reverse("robot-list")).content.decode()
    assert "Rig B" in robots and "Sim cell A" not in robots
    tasks = client.get(reverse("task-list")).content.decode()
    assert "B&#x27;s own task" in tasks and "Kitting brackets" not in tasks
    assert client.get(reverse("trial-detail", args=[world["trial_b"].pk])).status_code == 200


def test_integrator_cannot_schedule(world: dict[str, object]) -> None:
    client = client_for(world["integrator"])
    task_b = world["trial_b"].task
    assert client.get(reverse("trial-create", args=[task_b.pk])).status_code == 403
    assert client.get(reverse("task-create")).status_code == 403


def test_engineer_of_a_gets_404_for_b(world: dict[str, object]) -> None:
    client, trial_b = client_for(world["engineer"]), world["trial_b"]
    assert client.get(reverse("trial-detail", args=[trial_b.pk])).status_code == 404
    assert client.post(reverse("trial-cancel", args=[trial_b.pk])).status_code == 404
    assert client.get(reverse("trial-create", args=[trial_b.task.pk])).status_code == 404
    trial_b.refresh_from_db()
    assert trial_b.status == TrialStatus.QUEUED


# --- What the pages show ----------------------------------------------------------------------


def test_trial_page_shows_progress_success_rate_and_median(world: dict[str, object]) -> None:
    page = client_for(world["engineer"]).get(reverse("trial-detail", args=[world["trial_a"].pk])).content.decode()
    assert 'value="2" max="4"' in page and "2 / 4 episodes · 50%" in page
    assert 'data-testid="success-rate">50%' in page
    # 1 of 2: Wilson 95% interval 0.0945-0.9055 (Newcombe 1998, Table I method 3), shown with n.
    assert 'n = 2 · <span data-testid="success-interval">95% CI 9–91%</span>' in page
    assert "14.0 s" in page  # median of 8 s and 20 s
    # The live header does not poll on its own: the statistics panel's refresh carries it (one read).
    assert "stats/trial/" in page or reverse("stats-trial-panel", args=[world["trial_a"].pk]) in page
    assert f"{reverse('stats-trial-panel', args=[world['trial_a'].pk])}?live=1" in page


def test_progress_fragment_brings_the_final_state(world: dict[str, object]) -> None:
    trial = world["trial_a"]
    client = client_for(world["engineer"])
    assert "hx-trigger" not in client.get(reverse("trial-progress", args=[trial.pk])).content.decode()
    Trial.objects.filter(pk=trial.pk).update(status=TrialStatus.COMPLETED)
    fragment = client.get(reverse("trial-progress", args=[trial.pk])).content.decode()
    assert "hx-trigger" not in fragment and "<html" not in fragment
    assert 'id="cycle-data"' in fragment  # the chart's data arrives with the final state
    final = client.get(reverse("trial-progress", args=[trial.pk]))
    assert final["HX-Trigger"] == "trial-finished"  # tells the episode table to refresh now


def test_episode_filters(world: dict[str, object]) -> None:
    client, trial = client_for(world["engineer"]), world["trial_a"]
    url = reverse("trial-episodes", args=[trial.pk])
    failures = client.get(url, {"outcome": "failure"}).content.decode()
    assert failures.count('data-testid="episode-link"') == 1 and ">1</a>" in failures
    with_faults = client.get(url, {"faults": "yes"}).content.decode()
    assert with_faults.count('data-testid="episode-link"') == 1 and ">1</a>" in with_faults
    without = client.get(url, {"faults": "no"}).content.decode()
    assert without.count('data-testid="episode-link"') == 1 and ">0</a>" in without


def test_episode_page_lists_its_events(world: dict[str, object]) -> None:
    page = client_for(world["engineer"]).get(reverse("episode-detail", args=[world["trial_a"].pk, 1])).content.decode()
    assert "Part dropped" in page and "part fell off the table" in page


def test_task_list_search_filter_and_sort_by_fit(world: dict[str, object]) -> None:
    org = world["org_a"]
    site = SiteFactory(organization=org, name="Plant Ulm")
    TaskFactory(organization=org, name="Low fit", fit_score=20.0, site=site, status="approved")
    TaskFactory(organization=org, name="High fit", fit_score=90.0, site=site, part="Bolt M8")
    client = client_for(world["engineer"])
    page = client.get(reverse("task-list"), {"order": "fit"}).content.decode()
    assert page.index("High fit") < page.index("Low fit") < page.index("Kitting brackets")  # unrated last
    assert "Low fit" not in client.get(reverse("task-list"), {"q": "bolt"}).content.decode()
    assert "High fit" in client.get(reverse("task-list"), {"q": "bolt"}).content.decode()
    approved = client.get(reverse("task-list"), {"status": "approved"}).content.decode()
    assert "Low fit" in approved and "High fit" not in approved
    at_site = client.get(reverse("task-list"), {"site": site.pk}).content.decode()
    assert "High fit" in at_site and "Kitting brackets" not in at_site


# --- Query-count guards -----------------------------------------------------------------------


def test_list_pages_do_not_grow_queries_with_rows(world: dict[str, object], django_assert_max_num_queries) -> None:
    org, engineer = world["org_a"], world["engineer"]
    robot = world["robot_a"]
    for n in range(25):
        task = TaskFactory(organization=org, fit_score=float(n), labour_cost_per_hour=Decimal("40"))
        trial = TrialFactory(task=task, robot=robot)
        episode = EpisodeFactory(trial=world["trial_a"] if n < 2 else trial, index=n + 2 if n < 2 else 0)
        EpisodeEventFactory(episode=episode)
    client = client_for(engineer)
    # session + user + groups (nav) + page queries; fixed whatever the number of rows.
    with django_assert_max_num_queries(7):
        assert client.get(reverse("task-list")).status_code == 200
    with django_assert_max_num_queries(8):
        assert client.get(reverse("trial-list")).status_code == 200
    # The episode grid adds two: the first success/failure indexes and the trial's stored bytes.
    with django_assert_max_num_queries(14):
        assert client.get(reverse("trial-detail", args=[world["trial_a"].pk])).status_code == 200
    with django_assert_max_num_queries(8):
        assert client.get(reverse("trial-episodes", args=[world["trial_a"].pk])).status_code == 200
    # The task page adds one: its blind A/B comparisons.
    with django_assert_max_num_queries(8):
        assert client.get(reverse("task-detail", args=[world["task"].pk])).status_code == 200


def test_integrator_reads_its_own_pages(world: dict[str, object]) -> None:
    client, trial_b = client_for(world["integrator"]), world["trial_b"]
    EpisodeFactory(trial=trial_b, index=0)
    for url in (
        reverse("home"),
        reverse("trial-list"),
        reverse("trial-detail", args=[trial_b.pk]),
        reverse("trial-progress", args=[trial_b.pk]),
        reverse("trial-episodes", args=[trial_b.pk]),
        reverse("episode-detail", args=[trial_b.pk, 0]),
        reverse("robot-list"),
        reverse("robot-detail", args=[world["robot_b"].pk]),
        reverse("policy-list"),
        reverse("report-index"),
    ):
        assert client.get(url).status_code == 200, url


def test_engaged_integrator_reads_the_customers_task_but_cannot_edit_it(world: dict[str, object]) -> None:
    task = world["task"]
    task.integrator = world["integrator"].organization
    task.save(update_fields=["integrator"])
    client = client_for(world["integrator"])
    assert client.get(reverse("task-detail", args=[task.pk])).status_code == 200
    assert client.get(reverse("task-edit", args=[task.pk])).status_code == 403
    # The customer's trial is evidence the integrator reads, but only the robot's organization cancels it.
    assert client.get(reverse("trial-detail", args=[world["trial_a"].pk])).status_code == 200
    assert client.post(reverse("trial-cancel", args=[world["trial_a"].pk])).status_code in (403, 404)
    world["trial_a"].refresh_from_db()
    assert world["trial_a"].status != "cancelled"


def test_superuser_sees_every_organization(world: dict[str, object]) -> None:
    root = User.objects.create_superuser(username="root", password="root-pass-123")
    client = client_for(root)
    assert client.get(reverse("trial-detail", args=[world["trial_b"].pk])).status_code == 200
    assert client.get(reverse("trial-detail", args=[world["trial_a"].pk])).status_code == 200


def test_live_episode_refresh_keeps_the_page_and_filters(world: dict[str, object]) -> None:
    trial = world["trial_a"]
    url = reverse("trial-episodes", args=[trial.pk])
    fragment = client_for(world["engineer"]).get(url, {"outcome": "failure", "page": "1"}).content.decode()
    assert f'hx-get="{url}?outcome=failure&amp;page=1"' in fragment


def test_schedule_page_says_when_no_policy_version_is_available(world: dict[str, object]) -> None:
    engineer = world["engineer"]
    task = world["task"]
    Policy.objects.update(organization=OrganizationFactory())  # every version now belongs to someone else
    page = client_for(engineer).get(reverse("trial-create", args=[task.pk])).content.decode()
    assert "No policy version is available to you yet" in page


def test_task_list_sorts_by_expected_payback_and_shows_it(world: dict[str, object]) -> None:
    from decimal import Decimal

    from reports.models import CostModel
    from tests.factories import EpisodeFactory

    org, robot = world["trial_a"].task.organization, world["trial_a"].robot
    # Names sort against the expected order, so only a payback sort passes.
    fast, slow, unknown = (TaskFactory(organization=org, name=n) for n in ("ZZ fast", "AA slow", "AB no cost model"))
    for task, capex in ((fast, "20000"), (slow, "200000")):
        trial = TrialFactory(task=task, robot=robot, episodes_planned=4)
        for i in range(4):
            EpisodeFactory(trial=trial, index=i, outcome="success", cycle_time_s=10.0)
        # Same evidence; the slow task's cell costs ten times as much, so it pays back later.
        CostModel.objects.create(task=task, robot_capex=Decimal(capex))
    page = client_for(world["engineer"]).get(reverse("task-list") + "?order=payback").content.decode()
    assert "Payback, months: base case" in page
    assert page.index(fast.name) < page.index(slow.name) < page.index(unknown.name)
    # The figure shown is the dashboard's (the base case), not a second payback for the same task.
    from reports.roi.report import task_roi_report

    base = task_roi_report(task=fast, details=False).roi.payback_months
    assert f"{base:.1f} <small" in page
    by_name = client_for(world["engineer"]).get(reverse("task-list") + "?order=name").content.decode()
    assert "Payback, months: base case" not in by_name and by_name.index(slow.name) < by_name.index(fast.name)


# --- Smaller defects of issue 13 item 13 ---------------------------------------------------------


def test_episode_table_shows_the_date_with_the_time(world: dict[str, object]) -> None:
    trial = world["trial_a"]
    episode = trial.episodes.get(index=0)
    page = client_for(world["engineer"]).get(reverse("trial-detail", args=[trial.pk])).content.decode()
    assert episode.ended_at.strftime("%Y-%m-%d %H:%M:%S") in page


def test_episode_filters_are_kept_in_the_page_url(world: dict[str, object]) -> None:
    trial, client = world["trial_a"], client_for(world["engineer"])
    response = client.get(reverse("trial-episodes", args=[trial.pk]), {"outcome": "failure"})
    assert response["HX-Replace-Url"] == reverse("trial-detail", args=[trial.pk]) + "?outcome=failure"
    reloaded = client.get(response["HX-Replace-Url"]).content.decode()
    assert '<option value="failure" selected>' in reloaded
    assert reverse("episode-detail", args=[trial.pk, 1]) in reloaded
    assert reverse("episode-detail", args=[trial.pk, 0]) + '"' not in reloaded


def test_schedule_form_starts_on_the_only_choice(world: dict[str, object]) -> None:
    page = client_for(world["engineer"]).get(reverse("trial-create", args=[world["task"].pk])).content.decode()
    assert f'<option value="{world["robot_a"].pk}" selected>' in page  # the organization's only robot


def test_schedule_form_with_several_choices_asks(world: dict[str, object]) -> None:
    RobotFactory(organization=world["org_a"], name="Second cell")
    page = client_for(world["engineer"]).get(reverse("trial-create", args=[world["task"].pk])).content.decode()
    assert f'<option value="{world["robot_a"].pk}" selected>' not in page


def test_forbidden_page_is_a_page_with_the_reason(world: dict[str, object]) -> None:
    response = client_for(world["manager"]).get(reverse("task-create"))
    assert response.status_code == 403
    html = response.content.decode()
    assert 'data-testid="forbidden"' in html and "Only engineers can do this." in html and "<nav" in html


def test_favicon_is_served() -> None:
    response = Client().get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith(".svg")
    from django.contrib.staticfiles import finders

    assert finders.find("favicon.svg")


def test_episode_table_filters_by_event_category(world: dict[str, object]) -> None:
    trial, client = world["trial_a"], client_for(world["engineer"])
    page = client.get(reverse("trial-episodes", args=[trial.pk]), {"category": "drop"}).content.decode()
    assert reverse("episode-detail", args=[trial.pk, 1]) in page  # episode 1 has the drop fault
    assert reverse("episode-detail", args=[trial.pk, 0]) + '"' not in page
    assert (
        "No episode matches"
        in client.get(reverse("trial-episodes", args=[trial.pk]), {"category": "collision"}).content.decode()
    )


def test_trial_page_counts_lost_episodes_beside_the_figures_and_shows_one_card_per_outcome(
    world: dict[str, object], settings, tmp_path
) -> None:
    settings.MEDIA_ROOT = tmp_path
    trial = world["trial_a"]
    videos = {
        e.index: episode_media_make(episode=e, kind=MediaKind.VIDEO, name="top", data=b"mp4-%d" % e.index)
        for e in trial.episodes.all()
    }
    # A later chunk kept a video of its own first success; episode 0 is still the trial's first.
    later = EpisodeFactory(trial=trial, index=3, outcome=EpisodeOutcome.SUCCESS)
    later_video = episode_media_make(episode=later, kind=MediaKind.VIDEO, name="top", data=b"mp4-3")
    EpisodeFactory(trial=trial, index=1, outcome=EpisodeOutcome.LOST, cycle_time_s=0.0)
    EpisodeFactory(trial=trial, index=2, outcome=EpisodeOutcome.LOST, cycle_time_s=0.0)
    Trial.objects.filter(pk=trial.pk).update(status=TrialStatus.COMPLETED)
    client = client_for(world["manager"])
    page = client.get(reverse("trial-detail", args=[trial.pk])).content.decode()
    assert "2 episodes lost to infrastructure, not counted." in page
    assert "3 / 4 episodes" in page  # lost attempts are not done
    assert page.count("First success · ") == 1 and page.count("First failure · ") == 1

    def media_url(index: int, media_id: int) -> str:
        return reverse("episode-media", kwargs={"pk": trial.pk, "index": index, "media_id": media_id})

    assert media_url(0, videos[0].pk) in page and media_url(3, later_video.pk) not in page
    # An index with a lost attempt and its counted re-run shows the counted one (not a 500).
    assert client.get(reverse("episode-detail", args=[trial.pk, 1])).status_code == 200
    assert client.get(media_url(1, videos[1].pk)).status_code == 200
    assert client.get(reverse("episode-detail", args=[trial.pk, 2])).status_code == 200  # only lost there
