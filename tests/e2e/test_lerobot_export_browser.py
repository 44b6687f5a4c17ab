"""An engineer in real headless Chromium exports a trial's recorded episodes as a LeRobotDataset from the
trial page: the form starts the job, the exports list shows it queued with a progress bar, a real Celery
worker (started only then, so the queued state is seen for certain) builds it, the list turns to done
without a reload (htmx polling), and the downloaded zip opens as a v3.0 dataset with the trial's
episodes and labels. The same from a sweep's page: one dataset of every condition, each episode naming
its condition. No console error or CSP violation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings

from accounts.models import Role
from core.lerobot.dataset_read import dataset_open
from tests.e2e.browser_support import PASSWORD, log_in, watched_page
from tests.factories import UserFactory
from tests.support import WorkerProcess
from tests.trials.recording_support import RecordingCache
from tests.trials.test_lerobot_export import recorded_sweep, recorded_trial
from trials.models import DatasetExport, ExportStatus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.worker]


@pytest.fixture
def recordings() -> Iterator[RecordingCache]:
    cache = RecordingCache()
    yield cache
    cache.remove()


def test_engineer_exports_a_trial_as_lerobot_dataset_watches_progress_and_downloads_it(
    live_server: Any,
    browser: Any,
    embedded_broker_worker: Callable[..., WorkerProcess],
    recordings: RecordingCache,
    settings: Any,
    tmp_path: Path,
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    trial = recorded_trial(recordings)  # episodes: success, failure (reviewed; a fault, an intervention), success
    UserFactory(username="erika", organization=trial.robot.organization, role=Role.ENGINEER, password=PASSWORD)
    page, problems = watched_page(browser, accept_downloads=True)
    log_in(page, live_server.url, "erika", next_path=f"/trials/{trial.pk}/")
    page.wait_for_selector('[data-testid="lerobot-export-form"]', state="attached")
    page.click('[data-testid="lerobot-export-form"] summary')
    page.wait_for_selector('[data-testid="lerobot-exports"]')
    assert "No export yet." in page.inner_text('[data-testid="lerobot-exports"]')

    with page.expect_navigation():
        page.click('[data-testid="lerobot-export-submit"]')
    export = DatasetExport.objects.get(trial=trial)
    assert export.status == ExportStatus.QUEUED and export.episodes_total == 3
    page.click('[data-testid="lerobot-export-form"] summary')
    queued = page.wait_for_selector('[data-testid="lerobot-export"][data-status="queued"]')
    assert queued is not None and "0 / 3 episodes" in queued.inner_text()
    assert page.locator('[data-testid="lerobot-export"] progress').get_attribute("max") == "3"
    folder = Path(django_settings.VAR_DIR) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / "lerobot-export-01-queued.png"), full_page=True)

    worker = embedded_broker_worker(MEDIA_ROOT=str(settings.MEDIA_ROOT))
    try:
        page.wait_for_selector('[data-testid="lerobot-export"][data-status="done"]', timeout=120_000)
    except Exception:
        export.refresh_from_db()
        pytest.fail(f"export is {export.status} ({export.error}); worker log:\n{worker.log()[-6000:]}")
    done = page.inner_text('[data-testid="lerobot-export"][data-status="done"]')
    assert "3 / 3 episodes" in done and "kept until" in done
    page.screenshot(path=str(folder / "lerobot-export-02-done.png"), full_page=True)

    with page.expect_download() as caught:
        page.click('[data-testid="lerobot-download"]')
    download = caught.value
    assert download.suggested_filename == f"trial-{trial.pk}-lerobot-{export.pk}.zip"
    download.save_as(tmp_path / "got.zip")
    dataset = dataset_open(tmp_path / "got.zip", workdir=tmp_path / "open")
    steps = recordings.run().steps
    assert dataset.info["codebase_version"] == "v3.0" and dataset.info["total_frames"] == 3 * steps
    episodes = list(dataset.episodes())
    assert [e.outcome for e in episodes] == ["success", "failure", "success"]
    assert [e.intervention_frames for e in episodes] == [0, 1, 0]
    assert problems() == []


def test_engineer_exports_every_condition_of_a_sweep_from_its_page(
    live_server: Any,
    browser: Any,
    embedded_broker_worker: Callable[..., WorkerProcess],
    recordings: RecordingCache,
    settings: Any,
    tmp_path: Path,
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    sweep = recorded_sweep(recordings, episodes=1)  # nominal, light_intensity=0.4 (failed), light_colour=warm-3000k
    UserFactory(username="erika", organization=sweep.robot.organization, role=Role.ENGINEER, password=PASSWORD)
    worker = embedded_broker_worker(MEDIA_ROOT=str(settings.MEDIA_ROOT))
    page, problems = watched_page(browser, accept_downloads=True)
    log_in(page, live_server.url, "erika", next_path=f"/sweeps/{sweep.pk}/")
    page.click('[data-testid="lerobot-export-form"] summary')
    page.wait_for_selector('[data-testid="lerobot-exports"]')
    with page.expect_navigation():
        page.click('[data-testid="lerobot-export-submit"]')
    assert page.url.endswith(f"/sweeps/{sweep.pk}/")
    page.click('[data-testid="lerobot-export-form"] summary')
    try:
        page.wait_for_selector('[data-testid="lerobot-export"][data-status="done"]', timeout=120_000)
    except Exception:
        pytest.fail(f"worker log:\n{worker.log()[-6000:]}")
    assert "3 / 3 episodes" in page.inner_text('[data-testid="lerobot-export"][data-status="done"]')
    with page.expect_download() as caught:
        page.click('[data-testid="lerobot-download"]')
    assert caught.value.suggested_filename.startswith(f"sweep-{sweep.pk}-lerobot-")
    caught.value.save_as(tmp_path / "sweep.zip")
    episodes = list(dataset_open(tmp_path / "sweep.zip", workdir=tmp_path / "open").episodes())
    assert [e.metadata["condition"] for e in episodes] == ["nominal", "light_intensity=0.4", "light_colour=warm-3000k"]
    assert [e.outcome for e in episodes] == ["success", "failure", "success"]
    assert problems() == []
