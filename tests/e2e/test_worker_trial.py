"""Simulated trials through real Celery worker processes on a real Redis broker."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from kombu import Connection

from core.policy import onnx_runtime
from policies.services import reference_policy_version_ensure
from tests.factories import RobotFactory, TaskFactory, TrialFactory
from tests.support import WorkerProcess, wait_until
from tests.trials.runner_support import reach_trial
from trials.models import Episode, EpisodeMedia, Trial, TrialStatus
from trials.tasks import trial_start_task

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.redis]


@pytest.fixture
def worker_env(settings, tmp_path: Path, redis_url: str) -> dict[str, str]:
    settings.MEDIA_ROOT = tmp_path / "media"
    onnx_runtime.cache_clear()
    return {
        "REDIS_URL": redis_url,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "TRIAL_CHUNK_EPISODES": "5",
        # Short lease and reaper period so a killed worker's chunk is taken over within seconds; the
        # broker's own redelivery (visibility timeout) stays at its production value and plays no part.
        "TRIAL_CHUNK_LEASE_S": "3",
        "TRIAL_REAPER_INTERVAL_S": "0.5",
        "CELERY_VISIBILITY_TIMEOUT": "3600",
    }


def _start(trial: Trial, redis_url: str) -> None:
    with Connection(redis_url) as connection:
        trial_start_task.apply_async(args=[trial.pk], connection=connection)


def _wait_finished(trial: Trial, worker: WorkerProcess, timeout: float) -> None:
    def finished() -> bool:
        trial.refresh_from_db()
        return trial.is_finished

    try:
        wait_until(finished, timeout=timeout, interval=0.2, what="the trial to finish")
    except TimeoutError:
        pytest.fail(f"trial {trial.pk} is {trial.status} after {timeout}s; worker log:\n{worker.log()[-6000:]}")


def test_trial_of_ten_episodes_completes_through_a_real_worker(
    start_worker: Callable[..., WorkerProcess], worker_env: dict[str, str], redis_url: str
) -> None:
    trial = reach_trial(episodes=10)
    worker = start_worker(broker_env=worker_env)
    _start(trial, redis_url)
    _wait_finished(trial, worker, timeout=60)
    assert trial.status == TrialStatus.COMPLETED, trial.status_message
    episodes = list(Episode.objects.filter(trial=trial))
    assert [e.index for e in episodes] == list(range(10))
    assert all(e.metrics["policy_latency_median_ms"] > 0 and e.source == "simulation" for e in episodes)
    assert trial.chunks.count() == 2


def test_reference_policy_trial_on_factory_cell_through_a_real_worker(
    start_worker: Callable[..., WorkerProcess], worker_env: dict[str, str], redis_url: str, settings
) -> None:
    version = reference_policy_version_ensure(cell_key="factory-kitting")
    task = TaskFactory(instruction="place the bracket in the tray")
    trial = TrialFactory(
        task=task,
        robot=RobotFactory(organization=task.organization, sim_cell_key="factory-kitting"),
        policy_version=version,
        episodes_planned=10,
        seed=2026,
        episode_timeout_s=15.0,
    )
    worker = start_worker(broker_env=worker_env)
    _start(trial, redis_url)
    _wait_finished(trial, worker, timeout=120)
    assert trial.status == TrialStatus.COMPLETED, trial.status_message
    episodes = list(Episode.objects.filter(trial=trial).prefetch_related("events"))
    assert [e.index for e in episodes] == list(range(10))
    assert all(0 < e.cycle_time_s <= 15.0 + 1e-6 for e in episodes)
    # Whatever the policy achieves, every failed episode says why (timeout, drop, collision, ...).
    assert all(e.events.exists() for e in episodes if e.outcome == "failure")
    assert all(e.metrics["policy_latency_median_ms"] > 0 and e.metrics["steps"] > 0 for e in episodes)
    # Every episode is recorded by the worker: the policy's camera at every step, and the overview.
    for e in episodes:
        front = EpisodeMedia.objects.get(episode=e, kind="video", name="front")
        assert front.frames == e.metrics["steps"] and front.size_bytes > 1000
        assert EpisodeMedia.objects.filter(episode=e, kind="video", name="overview").exists()


def test_killed_worker_trial_completes_with_exactly_n_episodes(
    start_worker: Callable[..., WorkerProcess], worker_env: dict[str, str], redis_url: str
) -> None:
    n = 60
    trial = reach_trial(episodes=n, episode_timeout_s=10.0)
    first = start_worker(broker_env=worker_env)
    _start(trial, redis_url)
    wait_until(
        lambda: Episode.objects.filter(trial=trial).count() >= 3, timeout=60, interval=0.01, what="first episodes"
    )
    first.kill()
    done_at_kill = Episode.objects.filter(trial=trial).count()
    assert done_at_kill < n, "the trial finished before the worker could be killed"
    second = start_worker(broker_env=worker_env)
    _wait_finished(trial, second, timeout=60)
    assert trial.status == TrialStatus.COMPLETED, trial.status_message
    indices = list(Episode.objects.filter(trial=trial).values_list("index", flat=True))
    assert sorted(indices) == list(range(n))  # exactly N, none duplicated, none missing
    assert "re-enqueu" in second.log()  # recovered by the reaper, not by luck
