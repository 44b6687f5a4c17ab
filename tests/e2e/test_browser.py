"""The engineer's flow in a real headless Chromium, against the live server, a real Celery worker
process and the real simulation runner: log in, scope a task, schedule a simulated trial, watch the
progress bar reach 100% without a reload, open an episode. Screenshots go to VAR_DIR/screenshots/."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from accounts.models import Organization, Role
from core.fit import FIT_DERIVED_KEYS, FIT_FACTOR_KEYS
from core.policy import onnx_runtime
from robots.models import Robot, RobotKind, Site
from tests.factories import UserFactory
from tests.support import WorkerProcess
from tests.trials.runner_support import FAST_CELL, reach_policy_version
from trials.models import Episode, EpisodeMedia, Task, Trial, TrialStatus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.worker]

PASSWORD = "browser-test-pass-1"  # noqa: S105
# Enough episodes, in chunks of 4 (one Celery task each), that the trial runs for a few seconds.
EPISODES = 40


@pytest.fixture
def screenshots() -> Callable[[Any, str], None]:
    folder = Path(settings.VAR_DIR) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)

    def shoot(page: Any, name: str) -> None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    return shoot


def test_engineer_scopes_a_task_and_watches_a_simulated_trial_finish(
    live_server: Any,
    browser: Any,
    embedded_broker_worker: Callable[..., WorkerProcess],
    screenshots: Callable[[Any, str], None],
    settings: Any,
    tmp_path: Path,
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    onnx_runtime.cache_clear()
    org = Organization.objects.create(name="Nordwerk Components", slug="nordwerk")
    Site.objects.create(organization=org, name="Plant Augsburg")
    robot = Robot.objects.create(
        organization=org, name="Sim reach cell", kind=RobotKind.SIMULATED, sim_cell_key=FAST_CELL
    )
    version = reach_policy_version()
    UserFactory(
        username="erika", first_name="Erika", last_name="Maier", organization=org, role=Role.ENGINEER, password=PASSWORD
    )
    worker = embedded_broker_worker(MEDIA_ROOT=str(settings.MEDIA_ROOT), TRIAL_CHUNK_EPISODES="4")

    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    url = live_server.url

    # Log in.
    page.goto(f"{url}/")
    assert "/login/" in page.url
    screenshots(page, "01-login")
    page.fill("#id_username", "erika")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("h1:has-text('Candidate tasks')")
    assert page.text_content("[data-testid=current-user]").strip() == "Erika Maier"

    # Scope a task; a bad takt first, to see the field-level message and that nothing is saved.
    page.click("text=New task")
    page.fill("#id_name", "Kitting: brackets into trays")
    page.fill("#id_station", "Line 2 / K1")
    page.fill("#id_part", "Steel bracket BR-118")
    page.fill("#id_instruction", "put the part in the tray")
    page.fill("#id_manual_cycle_time_s", "9.5")
    page.fill("#id_takt_time_s", "0")
    page.fill("#id_annual_volume", "480000")
    page.fill("#id_labour_cost_per_hour", "48")
    for key, rating in zip(FIT_FACTOR_KEYS, ["2", "2", "4", "1", "2", "4", "4"], strict=True):
        if key not in FIT_DERIVED_KEYS:  # cycle vs takt and volume come from the figures
            page.select_option(f"#id_fit_{key}", rating)
    page.click("button:has-text('Create task')")
    assert page.text_content("#id_takt_time_s_error") == "Takt time must be greater than 0 seconds."
    assert not Task.objects.exists()
    screenshots(page, "02-task-form-error")
    page.fill("#id_takt_time_s", "12")
    page.click("button:has-text('Create task')")
    page.wait_for_selector("[data-testid=fit-score]")
    task = Task.objects.get()
    assert page.text_content("[data-testid=fit-score]").startswith(f"{task.fit_score:.0f}")
    screenshots(page, "03-task-detail")

    # Schedule a trial on the simulated robot.
    page.click("text=Schedule a trial")
    page.select_option("#id_policy_version", str(version.pk))
    page.select_option("#id_robot", str(robot.pk))
    page.fill("#id_episodes_planned", str(EPISODES))
    page.fill("#id_seed", "100")
    page.fill("#id_episode_timeout_s", "10")
    assert page.input_value("#id_instruction") == "put the part in the tray"
    page.click("button:has-text('Queue trial')")
    page.wait_for_selector("#trial-progress")
    trial = Trial.objects.get()
    assert page.url.endswith(f"/trials/{trial.pk}/")

    # Watch the bar fill in place: a marker set on this document survives only if nothing reloads, and
    # htmx's swap events show the new values came from polling.
    page.evaluate(
        """() => { window.__noReload = true; window.__swaps = 0;
        const p = document.getElementById('trial-progress'); window.__first = Number(p.value);
        document.body.addEventListener('htmx:afterSwap', () => { window.__swaps += 1; }); }"""
    )
    screenshots(page, "04a-trial-live")
    try:
        page.wait_for_function(
            f"() => {{ const p = document.getElementById('trial-progress'); return p && Number(p.value) >= {EPISODES}"
            " && document.getElementById('trial-live').dataset.status === 'completed'; }",
            timeout=120_000,
        )
    except Exception:
        trial.refresh_from_db()
        pytest.fail(f"trial is {trial.status} ({trial.status_message}); worker log:\n{worker.log()[-5000:]}")
    assert page.evaluate("window.__noReload") is True
    assert page.evaluate("window.__first") < EPISODES  # it was not already done when we started watching
    assert page.evaluate("window.__swaps") >= 1
    assert page.evaluate("Number(document.getElementById('trial-progress').value)") == EPISODES
    assert page.text_content("[data-testid=progress-label]").strip().endswith("100%")
    trial.refresh_from_db()
    assert trial.status == TrialStatus.COMPLETED and Episode.objects.filter(trial=trial).count() == EPISODES
    page.wait_for_function(f"() => document.querySelectorAll('[data-testid=episode-link]').length === {EPISODES}")
    page.wait_for_selector("#cycle-chart .main-svg")  # plotly drew the histogram from the final state
    # The first failure's (and success's, if any) recording is offered with its poster, and the grid's poster
    # thumbnails actually load.
    page.wait_for_selector(".videos video[poster]", state="attached")
    page.wait_for_function("() => [...document.querySelectorAll('#episode-grid img')].some(i => i.naturalWidth > 0)")
    assert EpisodeMedia.objects.filter(episode__trial=trial, kind="poster").count() == EPISODES
    screenshots(page, "04-trial-completed")

    # Open an episode.
    page.locator("[data-testid=episode-link]").nth(2).click()
    page.wait_for_selector("h1:has-text('Episode 2')")
    outcome = Episode.objects.get(trial=trial, index=2).outcome
    assert outcome.capitalize() in page.text_content("h1")
    screenshots(page, "05-episode")

    for path, name in (
        ("/trials/", "06-trials"),
        ("/robots/", "07-robots"),
        ("/policies/", "08-policies"),
        ("/", "09-task-list"),
    ):
        page.goto(f"{url}{path}")
        screenshots(page, name)
    mobile = browser.new_context(viewport={"width": 390, "height": 844}, storage_state=context.storage_state())
    mobile_page = mobile.new_page()
    mobile_page.goto(f"{url}/trials/{trial.pk}/")
    screenshots(mobile_page, "10-trial-mobile")
    mobile.close()
    context.close()
