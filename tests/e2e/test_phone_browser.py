"""At phone width (390 px) pages fit the screen: wide tables scroll inside their box instead of being
cut off, and chart titles do not run into their legends (issue 13 item 13)."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Role
from tests.factories import EpisodeFactory, OrganizationFactory, RobotFactory, TaskFactory, TrialFactory, UserFactory
from trials.models import EpisodeOutcome, TrialStatus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PASSWORD = "browser-test-pass-1"  # noqa: S105

FITS = "document.documentElement.scrollWidth <= window.innerWidth + 1"


def _login(page: Any, live_server: Any, next_url: str) -> None:
    page.goto(f"{live_server.url}/login/?next={next_url}")
    page.fill("#id_username", "phone")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")


def test_task_table_and_trial_chart_fit_a_phone(live_server: Any, browser: Any) -> None:
    org = OrganizationFactory()
    UserFactory(username="phone", organization=org, role=Role.ENGINEER, password=PASSWORD)
    for n in range(3):
        TaskFactory(organization=org, name=f"Kitting: brackets into assembly trays, station {n}", fit_score=60.0 + n)
    task = TaskFactory(organization=org, name="Short task")
    trial = TrialFactory(
        task=task, robot=RobotFactory(organization=org), episodes_planned=12, status=TrialStatus.COMPLETED
    )
    for i in range(12):
        EpisodeFactory(
            trial=trial, index=i, cycle_time_s=8.0 + i * 0.7,
            outcome=EpisodeOutcome.FAILURE if i % 4 == 3 else EpisodeOutcome.SUCCESS,
        )  # fmt: skip
    page = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True).new_page()
    page.set_default_timeout(20_000)
    _login(page, live_server, "/tasks/")
    page.wait_for_selector("#task-table")
    assert page.evaluate(FITS), page.evaluate("document.documentElement.scrollWidth")
    # The table's last column can be scrolled to inside its box.
    box = page.evaluate(
        "(() => { const t = document.getElementById('task-table'); const b = t.parentElement;"
        " return [t.scrollWidth, b.clientWidth, getComputedStyle(b).overflowX]; })()"
    )
    assert box[0] <= box[1] or box[2] in ("auto", "scroll"), box

    page.goto(f"{live_server.url}/trials/{trial.pk}/")
    page.wait_for_selector("#cycle-chart .main-svg")
    assert page.evaluate(FITS), page.evaluate("document.documentElement.scrollWidth")
    # Plotly draws the title and legend after the plot's first SVG, and a live refresh may redraw the chart:
    # wait until both are there, then measure them in the same tick. (Predicates are functions: Playwright
    # polls an expression with eval(), which the Content-Security-Policy refuses.)
    overlap = page.wait_for_function(
        "() => { const c = document.getElementById('cycle-chart');"
        " const tt = c && c.querySelector('.gtitle'), ll = c && c.querySelector('.legend');"
        " if (!tt || !ll) return null;"
        " const t = tt.getBoundingClientRect(), l = ll.getBoundingClientRect();"
        " return {overlap: !(t.right <= l.left || l.right <= t.left || t.bottom <= l.top || l.bottom <= t.top)}; }"
    ).json_value()
    assert not overlap["overlap"]
    # One set of bins for every outcome (failure bins started at -2.5 s while successes' did not).
    bins = page.wait_for_function(
        "() => { const c = document.getElementById('cycle-chart');"
        " return c && c._fullData ? c._fullData.map(d => [d.xbins.start, d.xbins.size]) : null; }"
    ).json_value()
    assert len(bins) == 2 and bins[0] == bins[1] and bins[0][0] >= 0, bins
