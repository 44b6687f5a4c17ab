"""The episode page in real headless Chromium with a real recording (an expert rollout of factory-kitting,
H.264 from PyAV, served by the permission-checked media view with byte ranges): the video plays, a fault
marker seeks it, and the trajectory plots' cursor follows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from accounts.models import Role
from core.recording.recorder import OverviewSettings
from tests.e2e.browser_support import PASSWORD, log_in, watched_page
from tests.factories import OrganizationFactory, RobotFactory, TaskFactory, TrialFactory, UserFactory
from tests.trials.recording_support import recorded_episode, recorded_rollout
from trials.models import EpisodeOutcome, Trial, TrialStatus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

FAULT_AT_S = 1.6
CURSOR = "() => Number(document.getElementById('trajectory-plots').dataset.cursorS)"
PLOT_CURSOR = "() => document.getElementById('plot-actions').layout.shapes[0].x0"


def _recorded_trial(tmp_path: Path) -> Any:
    org = OrganizationFactory(name="Nordwerk Components")
    UserFactory(username="erika", organization=org, role=Role.ENGINEER, password=PASSWORD)
    trial = TrialFactory(
        task=TaskFactory(organization=org, name="Kitting brackets"),
        robot=RobotFactory(organization=org, name="Sim kitting cell", sim_cell_key="factory-kitting"),
        episodes_planned=2,
    )
    # A 5 fps overview, so both players hold enough frames to seek in.
    run = recorded_rollout(
        cell_key="factory-kitting", seed=2, folder=tmp_path / "rec", overview=OverviewSettings(px=96, fps=5.0)
    )
    recorded_episode(trial=trial, index=0, run=run, faults_at_s=(FAULT_AT_S,))
    recorded_episode(trial=trial, index=1, run=run, outcome=EpisodeOutcome.FAILURE, review_state="overridden")
    Trial.objects.filter(pk=trial.pk).update(status=TrialStatus.COMPLETED)
    return trial, run


def test_play_the_video_then_a_fault_marker_seeks_it_and_the_plot_cursor_follows(
    live_server: Any, browser: Any, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    trial, run = _recorded_trial(tmp_path)
    page, problems = watched_page(browser)
    shots = Path(settings.VAR_DIR) / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)

    def shoot(page: Any, name: str) -> None:
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

    log_in(page, live_server.url, "erika")

    # The trial page: poster thumbnails load, the first success and failure are marked, a filter narrows
    # the grid in place.
    page.goto(f"{live_server.url}/trials/{trial.pk}/")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#episode-grid img')].filter(i => i.naturalWidth > 0).length === 2"
    )
    assert page.locator(".episode-card.first-success").get_attribute("data-index") == "0"
    assert page.locator(".episode-card.first-failure").get_attribute("data-index") == "1"
    page.wait_for_selector(".videos video[poster]")
    shoot(page, "11-trial-grid")
    page.select_option("select[name=review]", "overridden")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=episode-card]').length === 1")
    assert page.locator("[data-testid=episode-card]").get_attribute("data-index") == "1"
    page.wait_for_url(f"**/trials/{trial.pk}/?*review=overridden*")

    page.goto(f"{live_server.url}/trials/{trial.pk}/episodes/0/")
    page.wait_for_selector("#trajectory-plots[data-plots-drawn='1']")
    page.wait_for_selector("#plot-actions .main-svg", state="attached")
    videos = page.locator("video[data-episode-video]")
    assert videos.count() == 2
    # Chromium decoded the H.264 stream: its duration is the recording's.
    page.wait_for_function(
        "() => [...document.querySelectorAll('video[data-episode-video]')].every(v => v.readyState >= 1)"
    )
    duration = page.evaluate("document.querySelector('video[data-episode-video]').duration")
    assert duration == pytest.approx(run.sim_time_s, abs=0.15)

    # Play: currentTime advances, and the cursor with it.
    page.evaluate("document.querySelector('video[data-episode-video]').play()")
    page.wait_for_function("() => document.querySelector('video[data-episode-video]').currentTime > 0.5")
    page.wait_for_function(f"() => ({CURSOR})() > 0.3")
    page.evaluate("document.querySelector('video[data-episode-video]').pause()")

    # Click the fault marker: every player seeks to its time (within 0.2 s) and the cursor goes there.
    marker = page.locator("[data-testid=marker-fault]")
    assert marker.count() == 1
    page.evaluate("document.querySelector('video[data-episode-video]').currentTime = 0")
    page.wait_for_function(f"() => ({CURSOR})() < 0.05")
    marker.click()
    page.wait_for_function("() => [...document.querySelectorAll('video[data-episode-video]')].every(v => !v.seeking)")
    times = page.evaluate("[...document.querySelectorAll('video[data-episode-video]')].map(v => v.currentTime)")
    assert all(abs(t - FAULT_AT_S) <= 0.2 for t in times), times
    assert page.evaluate(CURSOR) == pytest.approx(FAULT_AT_S, abs=0.2)
    assert page.evaluate(PLOT_CURSOR) == pytest.approx(FAULT_AT_S, abs=0.2)
    assert page.text_content("[data-testid=video-time]").strip() == f"{page.evaluate(CURSOR):.2f}"

    # Keyboard: a stage marker reached with Tab and pressed with Enter seeks too.
    stage = page.locator("[data-testid=marker-stage]").first
    stage.focus()
    page.keyboard.press("Enter")
    first_stage_s = run.stages.reached_at_s[0]
    page.wait_for_function(f"() => Math.abs(({CURSOR})() - {first_stage_s}) < 0.2")
    assert problems() == []
    shoot(page, "10-episode-recording")
    page.context.close()
