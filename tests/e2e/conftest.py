"""Browser fixtures: real headless Chromium (Debian's, never a downloaded one) and a Celery worker on a
private embedded (filesystem) broker that the live server's in-process producer also publishes to."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from config.celery import app as celery_app
from tests.support import WorkerProcess

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are still
    # synchronous and safe, so Django's async guard is lifted for the test's duration only.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} not found: `apt-get install chromium` (done by .ci/run)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _reset_producer_pools() -> None:
    # The app caches its connection and producer pools, keyed by the transport options they were
    # made with; dropping them makes the next publish use the options set below.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def embedded_broker_worker(
    start_worker: Callable[..., WorkerProcess], tmp_path: Path, settings: Any
) -> Iterator[Callable[..., WorkerProcess]]:
    """Point this process's Celery producer at a private filesystem broker folder and return a function
    that starts a real worker process on the same folder (extra env vars allowed)."""
    broker_dir = tmp_path / "broker"
    options = {
        "data_folder_in": str(broker_dir / "queue"),
        "data_folder_out": str(broker_dir / "queue"),
        "processed_folder": str(broker_dir / "processed"),
        "control_folder": str(broker_dir / "control"),
        "store_processed": False,
        "polling_interval": 0.1,
    }
    for folder in ("queue", "processed", "control"):
        (broker_dir / folder).mkdir(parents=True)
    saved = (celery_app.conf.broker_url, celery_app.conf.broker_transport_options)
    celery_app.conf.broker_url = "filesystem://"
    celery_app.conf.broker_transport_options = options
    _reset_producer_pools()

    def start(**env: str) -> WorkerProcess:
        return start_worker(broker_env={"CELERY_FS_BROKER_DIR": str(broker_dir), **env})

    yield start
    celery_app.conf.broker_url, celery_app.conf.broker_transport_options = saved
    _reset_producer_pools()
