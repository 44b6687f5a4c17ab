"""A real worker process, on a real broker, changes the real test database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from kombu import Connection

from tests.factories import EpisodeFactory, TrialFactory
from tests.support import WorkerProcess, wait_until
from trials.models import Trial, TrialStatus
from trials.tasks import trial_refresh_status_task

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def _trial_with_all_episodes() -> Trial:
    trial = TrialFactory(episodes_planned=3)
    for index in range(3):
        EpisodeFactory(trial=trial, index=index)
    return trial


def _run_and_check(
    start_worker: Callable[..., WorkerProcess], broker_env: dict[str, str], connection: Connection
) -> None:
    trial = _trial_with_all_episodes()
    assert trial.status == TrialStatus.QUEUED
    worker = start_worker(broker_env=broker_env)
    with connection:
        trial_refresh_status_task.apply_async(args=[trial.pk], connection=connection)

    def completed() -> bool:
        trial.refresh_from_db()
        return trial.status == TrialStatus.COMPLETED

    try:
        wait_until(completed, timeout=60, what="the worker to complete the trial")
    except TimeoutError:
        pytest.fail(f"worker did not process the task; its log:\n{worker.log()}")
    assert trial.finished_at is not None and trial.started_at is not None


@pytest.mark.redis
def test_worker_on_redis_broker_updates_database(start_worker: Callable[..., WorkerProcess], redis_url: str) -> None:
    _run_and_check(start_worker, {"REDIS_URL": redis_url}, Connection(redis_url))


def test_worker_on_embedded_filesystem_broker_updates_database(
    start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    broker_dir = tmp_path / "broker"
    queue = broker_dir / "queue"
    queue.mkdir(parents=True)
    (broker_dir / "processed").mkdir()
    connection = Connection(
        "filesystem://",
        transport_options={"data_folder_in": str(queue), "data_folder_out": str(queue)},
    )
    _run_and_check(start_worker, {"CELERY_FS_BROKER_DIR": str(broker_dir)}, connection)
