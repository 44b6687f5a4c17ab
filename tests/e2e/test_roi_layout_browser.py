"""What the manager is shown, checked in real headless Chromium (issue 13): the dashboard chart plots
exactly the table's figures, and the one-page report fits its A4 page with every tornado bar labelled and the
P10/P50/P90 labels apart, both in the page Chromium prints and in the PDF it prints, rendered to PNG."""

from __future__ import annotations

import io
import re
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache

from accounts.models import Role
from tests.factories import (
    CostModelFactory,
    OrganizationFactory,
    RobotFactory,
    TaskFactory,
    TrialFactory,
    UserFactory,
    client_for,
    episodes_make,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PASSWORD = "browser-test-pass-1"  # noqa: S105
A4_PX = (794, 1123)  # A4 at 96 dpi
MARGIN_PX = 38  # @page margin 10 mm at 96 dpi


def _task(org: Any, name: str, *, successes: int, n: int, capex: str, volume: int, wide: bool = False) -> Any:
    task = TaskFactory(
        organization=org, name=name, annual_volume=volume, takt_time_s=30.0, labour_cost_per_hour=Decimal("44.00")
    )
    high = float(capex) * (3.0 if wide else 1.3)
    CostModelFactory(
        task=task,
        robot_capex=Decimal(capex),
        input_ranges={"robot_capex": [float(capex) * 0.9, high], "ramp_up_months": [2, 6]},
    )
    episodes_make(TrialFactory(task=task, robot=RobotFactory(organization=org)), n, successes=successes)
    return task


@pytest.fixture
def manager_world() -> dict[str, Any]:
    cache.clear()
    org = OrganizationFactory(name="Nordwerk Components")
    manager = UserFactory(username="greta", organization=org, role=Role.MANAGER, password=PASSWORD)
    tasks = [
        _task(org, "Kitting brackets", successes=30, n=50, capex="70000", volume=260_000, wide=True),
        _task(org, "Deburring housings", successes=55, n=60, capex="40000", volume=120_000),
        _task(org, "Screw feeding", successes=70, n=80, capex="52000", volume=180_000),
        _task(org, "Box packing", successes=20, n=40, capex="90000", volume=20_000),
        # Large figures (seven-digit money, four-digit percentages of nothing): the widest tiles.
        _task(org, "Press line transfer, both shifts", successes=99, n=100, capex="2400000", volume=9_000_000),
    ]
    TaskFactory(organization=org, name="Label checking")  # no cost model: in the table, not in the chart
    return {"manager": manager, "tasks": tasks}


def _login(browser: Any, live_server: Any, next_url: str) -> Any:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{live_server.url}/login/?next={next_url}")
    page.fill("#id_username", "greta")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    return page


def _number(text: str) -> float:
    """'EUR 12,346' or '−1,234' as a float: the money filter puts the ISO 4217 code first."""
    amount = text.strip().split("\u00a0")[-1]
    return float(amount.replace(",", "").replace("\u2212", "-"))


def test_dashboard_chart_plots_exactly_each_table_row(live_server: Any, browser: Any, manager_world: Any) -> None:
    page = _login(browser, live_server, "/reports/")
    page.wait_for_selector("#dashboard-chart .scatterlayer .point")
    rows = page.eval_on_selector_all(
        "#dashboard-table tbody tr",
        """trs => trs.map(tr => ({task: tr.dataset.task, name: tr.querySelector('td:nth-child(2) a').textContent,
            npv: tr.querySelector('[data-testid=npv] strong') ? tr.querySelector('[data-testid=npv] strong').textContent : null,
            cls: tr.querySelector('[data-testid=npv] strong') ? tr.querySelector('[data-testid=npv] strong').className : null}))""",
    )
    shown = [r for r in rows if r["npv"] is not None]
    assert len(shown) == 5 and len(rows) == 6
    # What is drawn, read back from the SVG: each marker's pixel position through the axis' own scale, its
    # tick label and its colour, top to bottom.
    plotted = page.evaluate(
        """() => {
        const gd = document.getElementById('dashboard-chart');
        const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
        const points = [...gd.querySelectorAll('.scatterlayer .point')].map(p => {
            const m = p.getAttribute('transform').match(/translate\\(([-\\d.e]+),\\s*([-\\d.e]+)\\)/);
            return {x: xa.p2l(parseFloat(m[1])), y: ya.p2l(parseFloat(m[2])), colour: p.style.fill};
        });
        const ticks = [...gd.querySelectorAll('.ytick text')].map(t => t.textContent);
        return {points: points.sort((a, b) => a.y - b.y), ticks, pxPerUnit: xa._m};
    }"""
    )
    assert len(plotted["points"]) == len(shown)
    assert plotted["ticks"] == [r["name"] for r in shown]
    tolerance = 1.5 / abs(plotted["pxPerUnit"])  # one and a half pixels, in money
    for row, point in zip(shown, plotted["points"], strict=True):
        assert point["x"] == pytest.approx(_number(row["npv"]), abs=max(tolerance, 0.5)), row["name"]
        red = "180, 35, 24" in point["colour"]
        assert red == (row["cls"] == "neg") == (_number(row["npv"]) < 0), row["name"]
    page.context.close()


def _boxes_overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"] and b["top"] < a["bottom"]


# A wide Monte Carlo (P90 beyond the horizon), a narrow one, and seven-digit figures.
@pytest.mark.parametrize("which", [0, 2, 4])
def test_one_page_report_fits_the_page_with_every_label(
    live_server: Any, browser: Any, manager_world: Any, which: int
) -> None:
    task = manager_world["tasks"][which]
    page = _login(browser, live_server, f"/reports/tasks/{task.pk}/roi/print/")
    page.emulate_media(media="print")
    content_width = A4_PX[0] - 2 * MARGIN_PX
    page.set_viewport_size({"width": content_width, "height": A4_PX[1]})
    page.wait_for_selector("body[data-charts-drawn]")
    page.wait_for_selector("#tornado-chart .ytick text")
    folder = Path(settings.VAR_DIR) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"reports-05-one-page-layout-{which}.png"), full_page=True)

    outside = page.evaluate(
        """w => [...document.querySelectorAll('main *')].filter(e => {
            const r = e.getBoundingClientRect();
            return r.width > 0 && (r.right > w + 0.5 || r.left < -0.5);
        }).map(e => e.className && e.className.baseVal !== undefined ? e.tagName : (e.className || e.tagName) + ': ' + e.textContent.slice(0, 40))""",
        content_width,
    )
    assert outside == []
    assert page.evaluate("document.documentElement.scrollWidth") <= content_width
    # Plotly does not clip its titles and labels to the chart: each chart's text stays inside its own box.
    spilled = page.evaluate(
        """() => [...document.querySelectorAll('.roi-chart')].flatMap(chart => {
            const c = chart.getBoundingClientRect();
            return [...chart.querySelectorAll('text')].filter(t => {
                const r = t.getBoundingClientRect();
                return r.width > 0 && (r.left < c.left - 1 || r.right > c.right + 1);
            }).map(t => chart.id + ': ' + t.textContent);
        })"""
    )
    assert spilled == []
    clipped = page.evaluate(
        """() => [...document.querySelectorAll('.kpi *')].filter(e => e.scrollWidth > e.clientWidth + 1)
            .map(e => e.textContent)"""
    )
    assert clipped == []

    tornado = page.evaluate(
        """() => {
        const gd = document.getElementById('tornado-chart');
        const bars = new Set(gd.data[0].y);
        const ya = gd._fullLayout.yaxis;
        const ticks = [...gd.querySelectorAll('.ytick text')].map(t => t.textContent).filter(Boolean);
        return {bars: [...bars], ticks};
    }"""
    )
    assert len(tornado["bars"]) >= 5
    assert sorted(tornado["ticks"]) == sorted(tornado["bars"])  # every bar has its label

    if page.locator("#payback-histogram.roi-chart-note").count():  # nothing pays back: words, no labels
        assert "None of the" in page.text_content("#payback-histogram")
        page.context.close()
        return
    labels = page.evaluate(
        """() => [...document.querySelectorAll('#payback-histogram .annotation')].map(a => {
            const r = a.querySelector('.annotation-text').getBoundingClientRect();
            return {text: a.textContent, left: r.left, right: r.right, top: r.top, bottom: r.bottom};
        })"""
    )
    texts = [label["text"] for label in labels]
    title = page.evaluate(
        """() => { const r = document.querySelector('#payback-histogram .gtitle').getBoundingClientRect();
            return {text: 'title', left: r.left, right: r.right, top: r.top, bottom: r.bottom}; }"""
    )
    drawn = page.evaluate("() => document.getElementById('payback-histogram').layout.annotations.map(a => a.text)")
    assert sorted(texts) == sorted(drawn) and {"P10", "P50"} <= set(texts)
    for i, a in enumerate([*labels, title]):
        for b in [*labels, title][i + 1 :]:
            assert not _boxes_overlap(a, b), (a["text"], b["text"])
    page.context.close()


@pytest.mark.parametrize("which", [0, 4])
def test_pdf_renders_on_one_page_inside_its_margins(manager_world: Any, which: int) -> None:
    from PIL import Image

    task = manager_world["tasks"][which]
    response = client_for(manager_world["manager"]).get(f"/reports/tasks/{task.pk}/roi.pdf")
    assert response.status_code == 200, response.content[:200]
    info = subprocess.run(["pdfinfo", "-"], input=response.content, capture_output=True, check=True).stdout.decode()  # noqa: S603,S607
    assert re.search(r"^Pages:\s+1$", info, re.M), info
    dpi = 60
    png = subprocess.run(  # noqa: S603
        ["pdftoppm", "-png", "-r", str(dpi), "-f", "1", "-l", "1", "-"],  # noqa: S607
        input=response.content,
        capture_output=True,
        check=True,
    ).stdout
    image = Image.open(io.BytesIO(png)).convert("L")
    width, height = image.size
    assert width == pytest.approx(210 / 25.4 * dpi, abs=2)
    folder = Path(settings.VAR_DIR) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    image.save(folder / f"reports-06-pdf-page-{which}.png")
    ink = image.point(lambda v: 255 if v < 235 else 0)
    box = ink.getbbox()
    assert box is not None, "the page is blank"
    margin = round(8 / 25.4 * dpi)  # 8 of the 10 mm margins must stay blank: nothing runs off the page
    left, top, right, bottom = box
    assert left >= margin and top >= margin, box
    assert right <= width - margin and bottom <= height - margin, box
    assert right - left > width * 0.6  # the content spans the page, it was not shrunk into a corner
