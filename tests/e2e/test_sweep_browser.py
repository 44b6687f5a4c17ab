"""An engineer in real headless Chromium reads a finished robustness sweep's page: success per condition
with its Wilson interval and the paired change from nominal, each factor's sensitivity, the worst condition
named, the two-factor heat map drawn by plotly under the site's Content-Security-Policy without a
violation, and, through each condition's link, that condition's recorded videos."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from accounts.models import Role
from core.paired import PairedTable, compare_success_paired
from tests.e2e.browser_support import PASSWORD, log_in, watched_page
from tests.factories import OrganizationFactory, TaskFactory, UserFactory
from tests.trials.recording_support import GRID_SWEEP_OUTCOMES, RecordingCache, recorded_grid_sweep

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

WORST = "light_intensity=0.4, action_noise=0.2"


@pytest.fixture
def recordings() -> Iterator[RecordingCache]:
    cache = RecordingCache()
    yield cache
    cache.remove()


def _table(page: Any, testid: str) -> list[list[str]]:
    return page.eval_on_selector_all(
        f"[data-testid={testid}] tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.innerText.trim()))"
    )


def _paired_text(lost: int, n: int, *, drop: bool = False) -> str:
    """The page's text for the paired 95 % interval (core.paired: Newcombe) of a condition's change from
    nominal, or of the drop (the change negated), when nominal succeeded on all `n` seeds and the condition
    lost `lost` of them."""
    table = PairedTable(both=n - lost, only_a=lost, only_b=0, neither=0)
    ci = compare_success_paired(table, labels=("nominal", "other")).difference_ci
    assert ci is not None and ci.low is not None and ci.high is not None
    low, high = (-ci.high, -ci.low) if drop else (ci.low, ci.high)
    return f"{low:+.0%} to {high:+.0%}"


def test_engineer_reads_a_finished_sweep_and_opens_each_conditions_videos(
    live_server: Any, browser: Any, recordings: RecordingCache, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    org = OrganizationFactory(name="Nordwerk Components")
    UserFactory(username="erika", organization=org, role=Role.ENGINEER, password=PASSWORD)
    sweep = recorded_grid_sweep(task=TaskFactory(organization=org, name="Kitting brackets"), run=recordings.run())
    page, problems = watched_page(browser)
    log_in(page, live_server.url, "erika", next_path=f"/sweeps/{sweep.pk}/")
    page.wait_for_selector("#sweep-heatmap .main-svg")
    page.wait_for_load_state("networkidle")  # the acceptance panel's swap and the heat map's draw

    assert page.inner_text("[data-testid=sweep-worst]") == f"Worst condition: {WORST}, 1/5 successes (20%)."
    rows = _table(page, "sweep-conditions")
    # Condition, status, successes, success, Wilson 95 % (worked by hand: 2/5 is 11.8 % to 76.9 %).
    assert [r[:5] for r in rows] == [
        ["nominal", "Completed", "5 / 5", "100%", "57% to 100%"],
        ["light_intensity=0.4", "Completed", "2 / 5", "40%", "12% to 77%"],
        [WORST, "Completed", "1 / 5", "20%", "4% to 62%"],
        ["action_noise=0.2", "Completed", "4 / 5", "80%", "38% to 96%"],
    ]
    # Change from nominal, its paired interval, pairs, McNemar's exact p (3 discordant pairs, all one way:
    # 2 x 0.5^3 = 0.25).
    assert [r[5:] for r in rows] == [
        ["—", "—", "—", "—"],
        ["-60%", _paired_text(3, 5), "5 (3 lost, 0 gained)", "0.25"],
        ["-80%", _paired_text(4, 5), "5 (4 lost, 0 gained)", "0.125"],
        ["-20%", _paired_text(1, 5), "5 (1 lost, 0 gained)", "1"],
    ]
    worst_row = page.locator("[data-testid=sweep-conditions] tr.worst")
    assert worst_row.count() == 1 and worst_row.locator("td").first.inner_text() == WORST
    assert _table(page, "sweep-sensitivity") == [
        ["light_intensity", "0.4", "+60%", _paired_text(3, 5, drop=True), "5", "0.25"],
        ["action_noise", "0.2", "+20%", _paired_text(1, 5, drop=True), "5", "1"],
    ]

    assert problems() == []  # no console error, no CSP violation (the heat map is drawn by now)

    # The heat map: every condition's rate in its cell (light_intensity across, action_noise up), the
    # scale in words (no colour bar: plotly styles its fill inline, which the policy refuses).
    heatmap = page.locator("#sweep-heatmap")
    # plotly labels the cells row by row from the bottom: action_noise 0 (0.4, 1), then 0.2 (0.4, 1).
    assert heatmap.locator(".heatmap-label text").all_text_contents() == ["40%", "100%", "20%", "80%"]
    assert heatmap.locator(".colorbar").count() == 0
    assert heatmap.locator(".annotation-text").text_content() == "Colour: red 0 %, amber 50 %, green 100 % success"
    assert page.evaluate("getComputedStyle(document.querySelector('#sweep-heatmap .main-svg')).position") == (
        "absolute"  # plotly's own stylesheet applied
    )

    # Each condition's link opens its trial: the five episodes' posters and the first success's or
    # failure's video, which loads from the permission-checked media view.
    for label, letters in GRID_SWEEP_OUTCOMES.items():
        page.click(f"[data-testid=sweep-conditions] a:text-is('{label}')")
        page.wait_for_selector("#episode-grid")
        page.wait_for_load_state("networkidle")  # the statistics panel's swap brings the videos back (out of band)
        page.wait_for_function(
            "n => [...document.querySelectorAll('#episode-grid img')].filter(i => i.naturalWidth > 0).length === n",
            arg=len(letters),
        )
        firsts = page.locator(".videos video").evaluate_all("vs => vs.map(v => v.getAttribute('aria-label'))")
        expected = {
            f"Episode {letters.index(o)} ({name})" for o, name in (("s", "success"), ("f", "failure")) if o in letters
        }
        assert set(firsts) == expected, label
        page.evaluate("() => { const v = document.querySelector('.videos video'); v.preload = 'metadata'; v.load(); }")
        page.wait_for_function("() => document.querySelector('.videos video').readyState >= 1")
        assert page.evaluate("document.querySelector('.videos video').duration") > 0
        assert problems() == [], label
        page.go_back()
        page.wait_for_selector("#sweep-heatmap .main-svg")
    page.context.close()
