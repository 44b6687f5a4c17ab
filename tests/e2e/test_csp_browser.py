"""Every page in real headless Chromium under the site's Content-Security-Policy: no violation (a
`securitypolicyviolation` event or a console error), charts drawn by plotly.js, and the behaviour that used
to live in inline handlers (confirm dialogs, the auto-submitting filter, the fit bars) still working."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from accounts.models import Role, User
from core.fit import FIT_FACTOR_KEYS, fit_assess
from reports.models import AcceptanceCriteria
from robots.models import RobotKind
from tests.e2e.browser_support import PASSWORD, log_in, watched_page
from tests.factories import (
    CostModelFactory,
    EpisodeEventFactory,
    EpisodeFactory,
    OrganizationFactory,
    RobotFactory,
    TaskFactory,
    TrialFactory,
    UserFactory,
)
from tests.trials.recording_support import FAST_CELL, RecordingCache, recorded_episode, recorded_grid_sweep
from tests.trials.runner_support import reach_policy_version
from trials.blind.services import blind_comparison_cancel, blind_comparison_schedule
from trials.models import EpisodeOutcome, EpisodeSource, EventCategory, EventKind, Trial, TrialStatus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

RECORDINGS = RecordingCache()  # one recorded rollout for every test of this module


def _record(trial: Any, n: int, *, fail_every: int, source: str) -> None:
    for i in range(n):
        failed = i % fail_every == fail_every - 1
        episode = EpisodeFactory(
            trial=trial,
            index=i,
            outcome=EpisodeOutcome.FAILURE if failed else EpisodeOutcome.SUCCESS,
            cycle_time_s=9.5 + (i * 7 % 13) * 0.35,
            source=source,
            external_id=f"{trial.pk}-{i}" if source != EpisodeSource.SIMULATION else None,
        )
        if failed:
            EpisodeEventFactory(episode=episode, kind=EventKind.FAULT, category=EventCategory.GRASP_MISS)
        elif i % 20 == 3:
            EpisodeEventFactory(episode=episode, kind=EventKind.INTERVENTION, category=EventCategory.OTHER)


def _world() -> dict[str, Any]:
    org = OrganizationFactory(name="Nordwerk Components")
    UserFactory(username="erika", organization=org, role=Role.ENGINEER, password=PASSWORD)
    ratings = dict.fromkeys(FIT_FACTOR_KEYS, 4)
    task = TaskFactory(
        organization=org,
        name="Kitting brackets",
        takt_time_s=12.0,
        manual_cycle_time_s=11.0,
        fit_factors=ratings,
        fit_score=fit_assess(ratings=ratings).score,
    )
    CostModelFactory(task=task, robot_capex=Decimal("38000"), input_ranges={"robot_capex": [34000, 50000]})
    AcceptanceCriteria.objects.create(task=task, name="fat", min_success_lower_bound=0.75)
    robot = RobotFactory(organization=org, name="Sim kitting cell")
    a = TrialFactory(task=task, robot=robot, status=TrialStatus.COMPLETED, episodes_planned=80)
    _record(a, 80, fail_every=8, source=EpisodeSource.SIMULATION)
    b = TrialFactory(task=task, robot=robot, status=TrialStatus.COMPLETED, episodes_planned=60)
    _record(b, 60, fail_every=5, source=EpisodeSource.SIMULATION)
    physical = RobotFactory(organization=org, name="Cell 3 arm", kind=RobotKind.PHYSICAL, agent_token_sha256="0" * 64)
    # A trial whose episodes were recorded: the episode page's players, timeline and trajectory plots, and
    # the trial page's thumbnail grid.
    recorded = TrialFactory(
        task=TaskFactory(organization=org, name="Reach and place"),
        robot=RobotFactory(organization=org, name="Sim reach cell", sim_cell_key=FAST_CELL),
        status=TrialStatus.COMPLETED,
        episodes_planned=2,
    )
    run = RECORDINGS.run()
    recorded_episode(trial=recorded, index=0, run=run, faults_at_s=(1.0,))
    recorded_episode(trial=recorded, index=1, run=run, outcome=EpisodeOutcome.FAILURE)
    # A blind A/B on the physical robot, cancelled after one pair: its unblinded page.
    engineer = User.objects.get(username="erika")
    blind = blind_comparison_schedule(
        task=task, version_a=reach_policy_version(seed=1), version_b=reach_policy_version(seed=2), robot=physical,
        pairs=3, created_by=engineer,
    )  # fmt: skip
    for arm, outcome in zip(
        Trial.objects.filter(blind=blind), (EpisodeOutcome.SUCCESS, EpisodeOutcome.FAILURE), strict=True
    ):
        EpisodeFactory(trial=arm, index=0, outcome=outcome, source=EpisodeSource.ROBOT_AGENT)
    blind_comparison_cancel(comparison=blind)
    return {
        "task": task,
        "blind": blind,
        "a": a,
        "b": b,
        "physical": physical,
        "policy_version": a.policy_version,
        "recorded": recorded,
    }


def _pages(w: dict[str, Any]) -> list[tuple[str, str, tuple[str, ...]]]:
    """(path, a selector that shows the page is there, ids of charts that must be drawn)."""
    task, a, b = w["task"].pk, w["a"].pk, w["b"].pk
    sim = f"trial{a}-simulation"
    return [
        ("/", "h1", ()),
        ("/tasks/", "h1", ()),
        (f"/tasks/{task}/", "[data-testid=task-stats-panel]", (f"task{task}-simulation-cycle",)),
        ("/tasks/new/", "form", ()),
        (f"/tasks/{task}/edit/", "form", ()),
        (f"/tasks/{task}/trials/new/", "[data-testid=plan-answer]", ()),
        (f"/tasks/{task}/blind/new/", "[data-testid=blind-form]", ()),
        (f"/blind/{w['blind'].pk}/", "[data-testid=blind-unblinded]", ()),
        ("/trials/", "select[name=status]", ()),
        (f"/trials/{a}/", "[data-testid=stats-panel]", ("cycle-chart", f"{sim}-cycle", f"{sim}-pareto", f"{sim}-oee")),
        (f"/trials/{a}/episodes/7/", "h1", ()),
        (f"/trials/{w['recorded'].pk}/", "#episode-grid img", ("cycle-chart",)),
        (f"/trials/{w['recorded'].pk}/episodes/0/", "#trajectory-plots[data-plots-drawn='1']", ()),
        (f"/trials/{w['recorded'].pk}/review/?show=unreviewed", "[data-review-card].is-current video", ()),
        (f"/sweeps/{recorded_grid_sweep(task=w['task'], run=RECORDINGS.run()).pk}/", "#sweep-heatmap .main-svg", ()),
        (f"/reports/trials/compare/?a={a}&b={b}", "[data-testid=comparison]", ()),
        (f"/reports/tasks/{task}/stats/", "[data-testid=criteria-list]", (f"task{task}-simulation-cycle",)),
        (f"/reports/tasks/{task}/acceptance/new/", "form", ()),
        ("/reports/", "#dashboard-table", ("dashboard-chart",)),
        ("/reports/shortlist/", "[data-testid=shortlist-entry]", ()),
        (f"/reports/tasks/{task}/roi/", "[data-testid=verdict]", ("cash-flow-chart", "tornado-chart")),
        (f"/reports/tasks/{task}/roi/print/", "body.print-page", ("cash-flow-chart", "tornado-chart")),
        (f"/reports/tasks/{task}/costs/", "form", ()),
        ("/policies/", "h1", ()),
        (f"/policies/versions/{w['policy_version'].pk}/", "h1", ()),
        ("/policies/versions/new/", "form", ()),
        ("/robots/", "h1", ()),
        (f"/robots/{w['physical'].pk}/", "[data-testid=issue-token]", ()),
        ("/account/tokens/", "h1", ()),
        ("/account/uploads/csv/", "form", ()),
        ("/api/v1/docs/", ".swagger-ui .info", ()),
        ("/no-such-page/", "body", ()),
    ]


@pytest.fixture(scope="module")
def _recordings() -> Iterator[RecordingCache]:
    yield RECORDINGS
    RECORDINGS.remove()


@pytest.fixture(autouse=True)
def _media_root(settings: Any, tmp_path: Any, _recordings: RecordingCache) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def _watched(browser: Any) -> tuple[Any, Callable[[], list[str]]]:
    page, recorded = watched_page(browser)

    def problems() -> list[str]:
        # A 404 page logs its own status as a console error: that one is the page, not a violation.
        return [e for e in recorded() if "404 (Not Found)" not in e]

    return page, problems


# Every figure the server sent (the JSON the drawer reads, static/js/charts.js) that has its element on the
# page (the one-page report shows three of the report's figures), and the trial page's cycle-time histogram
# (static/js/trial.js).
FIGURE_TARGETS = """() => {
  const ids = [];
  document.querySelectorAll('script[type="application/json"]#roi-charts, script[type="application/json"].stats-charts')
    .forEach((data) => ids.push(...Object.keys(JSON.parse(data.textContent)).filter((id) => document.getElementById(id))));
  if (document.getElementById("cycle-data")) ids.push("cycle-chart");
  return ids;
}"""


def _charts_drawn(page: Any, expected: tuple[str, ...]) -> None:
    targets = page.evaluate(FIGURE_TARGETS)
    assert set(expected) <= set(targets), f"figures missing from the page: {set(expected) - set(targets)}"
    for chart_id in targets:
        try:
            page.wait_for_selector(f"#{chart_id} .main-svg", state="attached", timeout=10_000)
        except PlaywrightTimeout as exc:
            raise AssertionError(f"{chart_id} not drawn") from exc
        # plotly's own stylesheet applied (static/vendor/plotly/plotly.css): its SVG layers are stacked.
        # Waited for, not read once: the statistics panel's swap can redraw a chart (the trial page's
        # cycle chart comes back out of band), and mid-draw its SVG is not yet inside plotly's classes.
        stacked = (
            f"() => {{ const svg = document.querySelector('#{chart_id} .main-svg');"
            " return !!svg && getComputedStyle(svg).position === 'absolute'; }"
        )
        try:
            page.wait_for_function(stacked, timeout=10_000)
        except PlaywrightTimeout as exc:
            raise AssertionError(f"{chart_id}: plotly's stylesheet not applied") from exc


def test_every_page_renders_under_the_policy_without_a_violation(live_server: Any, browser: Any) -> None:
    world = _world()
    page, problems = _watched(browser)

    response = page.goto(f"{live_server.url}/login/")
    policy = response.header_value("content-security-policy")
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
    page.wait_for_selector("#id_username")
    assert problems() == [], "/login/"
    log_in(page, live_server.url, "erika")

    failures: dict[str, list[str]] = {}
    for path, ready, charts in _pages(world):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_selector(ready, state="attached")
        try:
            page.wait_for_load_state("networkidle")
            _charts_drawn(page, charts)
        except AssertionError as exc:
            failures[path] = [str(exc), *problems()]
            continue
        found = problems()
        if found:
            failures[path] = found
    assert failures == {}, "\n".join(f"{path}: {found}" for path, found in failures.items())
    page.context.close()


def test_behaviour_moved_out_of_inline_handlers_still_works(live_server: Any, browser: Any) -> None:
    world = _world()
    page, problems = _watched(browser)
    log_in(page, live_server.url, "erika")

    # The status filter submits itself when changed (was onchange=).
    page.goto(f"{live_server.url}/trials/")
    page.select_option("select[name=status]", "completed")
    page.wait_for_url("**/trials/?status=completed")

    # The fit bars get their width from data-bar-width (was style=).
    page.goto(f"{live_server.url}/tasks/{world['task'].pk}/")
    width = page.evaluate("document.querySelector('[data-bar-width]').style.width")
    assert width.endswith("%") and width != "0%"

    # A confirm dialog guards the token reissue (was onsubmit=): dismissing it sends nothing.
    robot = world["physical"]
    page.goto(f"{live_server.url}/robots/{robot.pk}/")
    messages: list[str] = []

    def dismiss(dialog: Any) -> None:
        messages.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.click("[data-testid=issue-token]")
    page.wait_for_timeout(300)
    assert messages == ["Issue a new agent token for Cell 3 arm? The current one stops working."]
    robot.refresh_from_db()
    assert robot.agent_token_sha256 == "0" * 64
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("[data-testid=issue-token]")
    page.wait_for_selector("[data-testid=agent-token]")

    # The print button opens the print dialog (was onclick=): window.print is called.
    page.goto(f"{live_server.url}/reports/tasks/{world['task'].pk}/roi/print/")
    page.evaluate("window.print = () => { document.body.dataset.printed = '1'; }")
    page.click("button[data-print]")
    assert page.get_attribute("body", "data-printed") == "1"
    assert problems() == []
    page.context.close()


def test_admin_pages_render_under_the_policy(live_server: Any, browser: Any) -> None:
    world = _world()
    UserFactory(username="root", organization=None, is_superuser=True, is_staff=True, password=PASSWORD)
    page, problems = _watched(browser)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    failures: dict[str, list[str]] = {}
    for path in (
        "/admin/",
        "/admin/trials/task/",
        f"/admin/trials/task/{world['task'].pk}/change/",
        "/admin/trials/trial/",
    ):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_selector("#content", state="attached")
        page.wait_for_load_state("networkidle")
        found = problems()
        if found:
            failures[path] = found
    assert failures == {}, "\n".join(f"{path}: {found}" for path, found in failures.items())
    page.context.close()
