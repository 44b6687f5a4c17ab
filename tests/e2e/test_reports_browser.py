"""A manager in real headless Chromium: the ROI dashboard and a task's ROI report, with every plotly chart
drawn by the vendored plotly.js (no network), and the one-page print version. Screenshots go to
VAR_DIR/screenshots/."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from accounts.models import Role
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
from trials.models import EpisodeOutcome, EpisodeSource, EventKind, TrialStatus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

REPORT_CHARTS = ("cash-flow-chart", "payback-histogram", "npv-histogram", "tornado-chart", "heatmap-chart")


def _task(org: Any, name: str, *, successes: int, n: int, capex: str, source: str, volume: int) -> Any:
    task = TaskFactory(
        organization=org,
        name=name,
        annual_volume=volume,
        takt_time_s=30.0,
        manual_cycle_time_s=28.0,
        shifts_per_day=2,
        labour_cost_per_hour=Decimal("44.00"),
    )
    CostModelFactory(
        task=task,
        robot_capex=Decimal(capex),
        input_ranges={"robot_capex": [float(capex) * 0.9, float(capex) * 1.3], "ramp_up_months": [2, 6]},
        input_notes={"robot_capex": "Vendor quote", "recovery_time_s": "Timed at the cell"},
    )
    trial = TrialFactory(task=task, robot=RobotFactory(organization=org), status=TrialStatus.COMPLETED)
    for i in range(n):
        episode = EpisodeFactory(
            trial=trial,
            index=i,
            outcome=EpisodeOutcome.SUCCESS if i < successes else EpisodeOutcome.FAILURE,
            cycle_time_s=10.0 + (i * 7 % 11) * 0.4,
            source=source,
            external_id=f"{name}-{i}" if source != EpisodeSource.SIMULATION else None,
        )
        if i % 40 == 0:
            EpisodeEventFactory(episode=episode, kind=EventKind.INTERVENTION)
    return task


def _charts_drawn(page: Any, ids: tuple[str, ...]) -> None:
    for chart_id in ids:
        page.wait_for_selector(f"#{chart_id} .plot-container .main-svg", state="attached")
        assert page.locator(f"#{chart_id} .main-svg").count() >= 1, chart_id


def test_manager_reads_the_dashboard_and_a_task_report_with_charts(live_server: Any, browser: Any) -> None:
    org = OrganizationFactory(name="Nordwerk Components")
    UserFactory(
        username="greta", first_name="Greta", last_name="Lind", organization=org, role=Role.MANAGER, password=PASSWORD
    )
    kitting = _task(org, "Kitting brackets", successes=92, n=100, capex="38000", source="simulation", volume=260_000)
    _task(org, "Deburring housings", successes=45, n=60, capex="90000", source="robot_agent", volume=60_000)
    _task(org, "Screw feeding", successes=70, n=80, capex="52000", source="simulation", volume=180_000)
    TaskFactory(organization=org, name="Label checking")  # no cost model, no trials: a message, not a crash
    folder = Path(settings.VAR_DIR) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)

    page, problems = watched_page(browser)
    external: list[str] = []
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(live_server.url) else None)
    log_in(page, live_server.url, "greta", next_path="/reports/")

    page.wait_for_selector("h1:has-text('ROI dashboard')")
    rows = page.locator("#dashboard-table tbody tr")
    assert rows.count() == 4
    assert "10,000 draws, seed 0" in page.text_content("main")  # the report's Monte Carlo
    assert "No base cost model yet." in page.text_content("#dashboard-table")
    _charts_drawn(page, ("dashboard-chart",))
    page.screenshot(path=str(folder / "reports-01-dashboard.png"), full_page=True)

    page.click("#dashboard-table a:has-text('Kitting brackets')")
    page.wait_for_selector("h1:has-text('Kitting brackets')")
    assert f"/reports/tasks/{kitting.pk}/roi/" in page.url
    assert "Evidence: simulation, 100 episodes" in page.text_content("[data-testid=verdict]")
    _charts_drawn(page, REPORT_CHARTS)
    assert problems() == []  # the payback heat map among them: no colour bar, which the CSP would refuse
    page.screenshot(path=str(folder / "reports-02-task-roi.png"), full_page=True)

    page.click("text=One-page report")
    page.wait_for_selector("body.print-page")
    _charts_drawn(page, ("cash-flow-chart", "payback-histogram", "tornado-chart"))
    page.emulate_media(media="print")
    page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi, as the PDF prints it
    page.screenshot(path=str(folder / "reports-03-one-page.png"), full_page=True)
    assert external == []  # plotly.js and every asset are served locally
    assert problems() == []
    page.context.close()


def test_engineer_corrects_a_bad_range_in_the_cost_model_form(live_server: Any, browser: Any) -> None:
    org = OrganizationFactory(name="Nordwerk Components")
    UserFactory(username="erik", organization=org, role=Role.ENGINEER, password=PASSWORD)
    task = _task(org, "Kitting brackets", successes=46, n=50, capex="38000", source="simulation", volume=260_000)
    folder = Path(settings.VAR_DIR) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    page, problems = watched_page(browser)
    log_in(page, live_server.url, "erik", next_path=f"/reports/tasks/{task.pk}/roi/")
    page.click("text=Edit base costs")
    page.wait_for_selector("h1:has-text('Base cost model')")
    page.fill("#id_low_integration_cost", "25000")  # above the value 20,000: the range must contain it
    page.fill("#id_high_integration_cost", "40000")
    page.fill("#id_note_integration_cost", "Integrator quote IQ-77")
    page.click("button:has-text('Save base costs')")
    error = page.text_content("#id_low_integration_cost_error")
    assert "must contain the value 20000" in error
    page.screenshot(path=str(folder / "reports-04-cost-form-error.png"), full_page=True)
    page.fill("#id_low_integration_cost", "15000")
    page.click("button:has-text('Save base costs')")
    page.wait_for_selector("text=Base cost model saved.")
    assert "Integrator quote IQ-77" in page.text_content("#assumptions")
    _charts_drawn(page, REPORT_CHARTS)
    assert problems() == []
    page.context.close()
