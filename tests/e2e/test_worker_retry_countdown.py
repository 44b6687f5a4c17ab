"""A worker SIGKILLed while one of its chunks waits out a retry countdown: the retry message dies with it
(held in that worker's memory), so recovery must come from the database, within a few lease periods,
on Redis and on the embedded filesystem broker alike."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from kombu import Connection

from core.policy import onnx_runtime
from tests.support import WorkerProcess, wait_until
from tests.trials.runner_support import reach_trial
from trials.models import Episode, Trial, TrialStatus
from trials.tasks import trial_start_task

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

LEASE_S = 3.0


def _env(media: Path) -> dict[str, str]:
    return {
        "MEDIA_ROOT": str(media),
        "TMPDIR": str(media.parent / "worker-tmp"),
        "TRIAL_CHUNK_EPISODES": "5",
        "TRIAL_CHUNK_LEASE_S": str(LEASE_S),
        "TRIAL_REAPER_INTERVAL_S": "0.5",
        "CELERY_VISIBILITY_TIMEOUT": "3600",  # Redis's own redelivery must play no part
    }


def _blocked_media(tmp_path: Path) -> tuple[Path, Path]:
    # A regular file where the worker's recordings folder goes (under its TMPDIR): the first episode
    # cannot be recorded (FileExistsError, a transient error the task retries with a countdown) until
    # the file is removed, and nothing is written to the database before that.
    media = tmp_path / "media"
    media.mkdir()
    worker_tmp = tmp_path / "worker-tmp"
    worker_tmp.mkdir()
    blocker = worker_tmp / "trialbench-recordings"
    blocker.write_text("not a folder")
    return blocker, media


def _retry_message_taken(worker: WorkerProcess) -> bool:
    """Whether the worker has taken back the retry message it published: "Retry in" is logged when the
    message is sent, and until the worker receives it again it sits in the broker, where the next worker
    would take it straight away and the reaper would have nothing to recover."""
    log = worker.log()
    retried = re.search(r"\[([0-9a-f-]{36})\] retry: Retry in", log)
    return retried is not None and log.count(f"[{retried.group(1)}] received") >= 2


def _kill_in_countdown_then_recover(
    trial: Trial,
    start: Callable[[], WorkerProcess],
    blocker: Path,
    publish: Callable[[], None],
    held: Callable[[], bool] = lambda: True,
) -> tuple[WorkerProcess, float]:
    first = start()
    publish()
    wait_until(lambda: "Retry in" in first.log(), timeout=60, interval=0.05, what="a chunk in its retry countdown")
    wait_until(lambda: _retry_message_taken(first), timeout=10, interval=0.02, what="the retry message taken back")
    wait_until(held, timeout=10, interval=0.02, what="the worker to hold every message")
    first.kill()
    assert not Episode.objects.filter(trial=trial).exists()
    blocker.unlink()
    killed_at = time.monotonic()
    second = start()
    return second, killed_at


def _assert_recovered(trial: Trial, worker: WorkerProcess, killed_at: float, n: int) -> None:
    def finished() -> bool:
        trial.refresh_from_db()
        return trial.is_finished

    try:
        wait_until(finished, timeout=60, interval=0.2, what="the trial to finish")
    except TimeoutError:
        pytest.fail(f"trial {trial.pk} is {trial.status}; worker log:\n{worker.log()[-6000:]}")
    assert trial.status == TrialStatus.COMPLETED, trial.status_message
    assert sorted(Episode.objects.filter(trial=trial).values_list("index", flat=True)) == list(range(n))
    assert "re-enqueu" in worker.log()  # the reaper recovered it, not a message the dead worker held
    # Worker start-up (~ several seconds on a shared machine) plus a few lease periods, not an hour.
    assert time.monotonic() - killed_at < 45


@pytest.mark.redis
def test_chunk_killed_in_its_retry_countdown_recovers_on_redis(
    start_worker: Callable[..., WorkerProcess], redis_url: str, settings, tmp_path: Path
) -> None:
    onnx_runtime.cache_clear()
    blocker, media = _blocked_media(tmp_path)
    settings.MEDIA_ROOT = media
    trial = reach_trial(episodes=10)
    env = {"REDIS_URL": redis_url, **_env(media)}

    def publish() -> None:
        with Connection(redis_url) as connection:
            trial_start_task.apply_async(args=[trial.pk], connection=connection)

    worker, killed_at = _kill_in_countdown_then_recover(trial, lambda: start_worker(broker_env=env), blocker, publish)
    _assert_recovered(trial, worker, killed_at, 10)


def test_chunk_killed_in_its_retry_countdown_recovers_on_the_filesystem_broker(
    embedded_broker_worker: Callable[..., WorkerProcess], settings, tmp_path: Path
) -> None:
    onnx_runtime.cache_clear()
    blocker, media = _blocked_media(tmp_path)
    settings.MEDIA_ROOT = media
    trial = reach_trial(episodes=10)
    queue = tmp_path / "broker" / "queue"  # embedded_broker_worker's folder
    worker, killed_at = _kill_in_countdown_then_recover(
        trial,
        lambda: embedded_broker_worker(**_env(media)),
        blocker,
        lambda: trial_start_task.delay(trial.pk),
        held=lambda: not any(queue.iterdir()),  # the worker took every message, the retry's included
    )
    _assert_recovered(trial, worker, killed_at, 10)
