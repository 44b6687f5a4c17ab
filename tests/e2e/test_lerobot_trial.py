"""A trial on the factory cell, run by a real Celery worker, whose policy is a LeRobot ACT policy served by
`python -m policies.serve_lerobot` from the LeRobot environment (issue 17)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from kombu import Connection

from policies.models import PolicyVersion
from tests.factories import PolicyFactory, RobotFactory, TaskFactory, TrialFactory
from tests.lerobot_env import act_policy_served
from tests.support import WorkerProcess, wait_until
from trials.models import Episode, TrialStatus
from trials.tasks import trial_start_task

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.redis]


def test_factory_trial_with_a_served_lerobot_act_policy_records_episodes_with_latencies(
    start_worker: Callable[..., WorkerProcess],
    redis_url: str,
    settings,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    with act_policy_served(tmp_path) as url:
        task = TaskFactory(instruction="put the bolt in the tray")
        version = PolicyVersion.objects.create(
            policy=PolicyFactory(),
            version="act-random",
            kind=PolicyVersion.Kind.OPENPI,
            endpoint_url=url,
            remote_config={"execute_steps": 5},
        )
        trial = TrialFactory(
            task=task,
            robot=RobotFactory(organization=task.organization, sim_cell_key="factory-kitting"),
            policy_version=version,
            episodes_planned=3,
            episode_timeout_s=2.0,
        )
        worker = start_worker(broker_env={"REDIS_URL": redis_url, "MEDIA_ROOT": str(settings.MEDIA_ROOT)})
        with Connection(redis_url) as connection:
            trial_start_task.apply_async(args=[trial.pk], connection=connection)

        def finished() -> bool:
            trial.refresh_from_db()
            return trial.is_finished

        try:
            wait_until(finished, timeout=180, interval=0.2, what="the trial to finish")
        except TimeoutError:
            pytest.fail(f"trial is {trial.status}; worker log:\n{worker.log()[-6000:]}")
    assert trial.status == TrialStatus.COMPLETED, trial.status_message
    episodes = list(Episode.objects.filter(trial=trial))
    assert [e.index for e in episodes] == [0, 1, 2]
    assert all(e.outcome in ("success", "failure") for e in episodes)
    assert all(e.metrics["inferences"] > 0 and e.metrics["policy_latency_median_ms"] > 0 for e in episodes)
    assert all("server_infer_median_ms" in e.metrics for e in episodes)
