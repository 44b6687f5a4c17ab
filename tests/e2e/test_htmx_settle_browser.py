"""A chart drawn while htmx is still settling a swap stays drawn, in real headless Chromium.

htmx (2.x) copies the old element's class and style onto a swapped-in element with the same id, and puts the
new element's own back 20 ms later (its "settle", for CSS transitions). A chart drawn inside those 20 ms, by
the window's load event or another swap's afterSettle, lost plotly's classes when the settle put the old
class back: its layers fell out of plotly's stylesheet and stacked as plain blocks (seen in CI on the trial
page, whose statistics panel swaps the live section in out of band while the page is still loading)."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Role
from tests.factories import EpisodeFactory, OrganizationFactory, RobotFactory, TaskFactory, TrialFactory, UserFactory
from trials.models import EpisodeOutcome, TrialStatus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PASSWORD = "browser-test-pass-1"  # noqa: S105

# Swap the statistics panel and (out of band) the live section in again from a fresh read of the panel, then
# fire the window's load event inside the settle window, as a page still loading its videos would.
SWAP_THEN_LOAD = """async (url) => {
  const html = await (await fetch(url, { headers: { "HX-Request": "true" } })).text();
  htmx.swap(document.getElementById("stats-panel"), html, { swapStyle: "outerHTML", swapDelay: 0, settleDelay: 20 });
  window.dispatchEvent(new Event("load"));
  await new Promise((done) => setTimeout(done, 300));
  return Array.from(document.querySelectorAll("[data-drawn]")).map((chart) => {
    const svg = chart.querySelector(".main-svg");
    return { id: chart.id, plotly: chart.classList.contains("js-plotly-plot"),
             position: svg ? getComputedStyle(svg).position : null };
  });
}"""


def test_a_chart_drawn_during_a_swap_s_settle_keeps_plotly_s_classes(live_server: Any, browser: Any) -> None:
    org = OrganizationFactory()
    UserFactory(username="erika", organization=org, role=Role.ENGINEER, password=PASSWORD)
    task = TaskFactory(organization=org)
    trial = TrialFactory(
        task=task, robot=RobotFactory(organization=org), status=TrialStatus.COMPLETED, episodes_planned=12
    )
    for i in range(12):
        outcome = EpisodeOutcome.FAILURE if i % 4 == 3 else EpisodeOutcome.SUCCESS
        EpisodeFactory(trial=trial, index=i, outcome=outcome, cycle_time_s=9.0 + i * 0.3)

    page = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "erika")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/trials/{trial.pk}/")
    page.wait_for_selector("#stats-panel [data-drawn] .main-svg", state="attached")
    page.wait_for_selector("#cycle-chart .main-svg", state="attached")
    page.wait_for_load_state("networkidle")

    charts = page.evaluate(SWAP_THEN_LOAD, f"/reports/trials/{trial.pk}/stats/panel/?live=1")

    assert "cycle-chart" in {c["id"] for c in charts}
    assert len(charts) >= 2, charts  # the cycle chart and at least one of the panel's figures
    assert all(c["plotly"] and c["position"] == "absolute" for c in charts), charts
