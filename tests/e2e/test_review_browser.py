"""A reviewer in real headless Chromium marks episodes from the keyboard (static/js/review.js): j moves to the
next card, f on a success opens the reason field, Enter sends the override, c confirms; the statistics panel
then shows the reviewed success rate and "2 reviewed of 6". No CSP violation is logged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from accounts.models import Role
from tests.factories import EpisodeFactory, TrialFactory, UserFactory
from trials.models import Episode, EpisodeOutcome, EpisodeReview, TrialStatus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PASSWORD = "browser-test-pass-1"  # noqa: S105


def test_reviewer_overrides_and_confirms_from_the_keyboard(live_server: Any, browser: Any) -> None:
    trial = TrialFactory(
        episodes_planned=6, status=TrialStatus.COMPLETED, episode_timeout_s=20.0, stages=["reach", "grasp", "place"]
    )
    for i in range(6):
        # 0 and 1: successes near the 20 s limit (in the queue); 2-5: plain successes.
        EpisodeFactory(
            trial=trial,
            index=i,
            outcome=EpisodeOutcome.SUCCESS,
            cycle_time_s=19.0 if i < 2 else 9.0,
            stage_reached=3 if i != 0 else 2,
            progress=1.0 if i != 0 else 0.66,
        )
    UserFactory(username="rita", organization=trial.robot.organization, role=Role.REVIEWER, password=PASSWORD)
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{live_server.url}/login/?next=/trials/{trial.pk}/review/")
    page.fill("#id_username", "rita")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector('[data-testid="review-card-0"].is-current')
    folder = Path(settings.VAR_DIR) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / "review-01-queue.png"), full_page=True)

    page.keyboard.press("j")
    page.wait_for_selector('[data-testid="review-card-1"].is-current')
    page.keyboard.press("k")
    page.wait_for_selector('[data-testid="review-card-0"].is-current')
    page.keyboard.press("f")  # an override: the reason field takes the focus first
    reason = page.locator('[data-testid="review-card-0"] [data-review-reason]')
    assert reason.evaluate("el => el === document.activeElement")
    reason.type("part slid off the tray after release")
    with page.expect_navigation():
        reason.press("Enter")
    # Back on the page at the next card of the queue (episode 1).
    page.wait_for_selector('[data-testid="review-card-1"].is-current')
    with page.expect_navigation():
        page.keyboard.press("c")

    reviews = list(
        EpisodeReview.objects.order_by("pk").values_list("episode__index", "outcome_before", "outcome_after")
    )
    assert reviews == [(0, "success", "failure"), (1, "success", "success")]
    assert EpisodeReview.objects.first().reason == "part slid off the tray after release"  # type: ignore[union-attr]
    assert Episode.objects.get(trial=trial, index=0).detected_outcome == "success"

    page.goto(f"{live_server.url}/trials/{trial.pk}/")
    page.wait_for_selector('[data-testid="stats-success-simulation"]')
    assert page.inner_text('[data-testid="stats-success-simulation"]') == "83.3%"
    assert "2 reviewed of 6" in page.inner_text('[data-testid="stats-reviewed-simulation"]')
    assert page.inner_text('[data-testid="funnel-simulation-reached-3"]') == "5"  # episode 0 stopped at grasp
    page.locator("[data-testid=stats-funnel]").screenshot(path=str(folder / "review-02-stage-funnel.png"))
    assert not problems, problems
