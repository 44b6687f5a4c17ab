"""A sweep through a real Celery worker on a real Redis broker: every condition completes, its levels reach
the worker's episodes, and the results page counts what the worker recorded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from kombu import Connection

from accounts.models import Role
from core.policy import onnx_runtime
from tests.factories import RobotFactory, TaskFactory, UserFactory, client_for
from tests.support import WorkerProcess, wait_until
from tests.trials.runner_support import FAST_CELL, reach_policy_version
from trials.models import Episode, TrialStatus
from trials.sweep_selectors import sweep_results
from trials.sweep_services import sweep_schedule
from trials.tasks import trial_start_task

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.redis]


def test_a_sweep_runs_every_condition_through_a_real_worker(
    start_worker: Callable[..., WorkerProcess], settings, tmp_path: Path, redis_url: str
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    onnx_runtime.cache_clear()
    user = UserFactory(role=Role.ENGINEER)
    task = TaskFactory(organization=user.organization, instruction="put the part in the tray")
    robot = RobotFactory(organization=user.organization, sim_cell_key=FAST_CELL)
    sweep = sweep_schedule(
        task=task, policy_version=reach_policy_version(), robot=robot, name="noise", design="one_at_a_time",
        factors={"action_noise": [0.25]}, episodes_per_condition=6, seed=11, created_by=user, start_runner=False,
    )  # fmt: skip
    conditions = list(sweep.conditions.order_by("pk"))
    worker = start_worker(broker_env={"REDIS_URL": redis_url, "MEDIA_ROOT": str(settings.MEDIA_ROOT)})
    with Connection(redis_url) as connection:
        for trial in conditions:
            trial_start_task.apply_async(args=[trial.pk], connection=connection)

    def finished() -> bool:
        return all(t.is_finished for t in sweep.conditions.all())

    try:
        wait_until(finished, timeout=120, interval=0.2, what="every condition to finish")
    except TimeoutError:
        pytest.fail(f"conditions unfinished; worker log:\n{worker.log()[-6000:]}")
    assert {t.status for t in sweep.conditions.all()} == {TrialStatus.COMPLETED}
    nominal, noisy = (
        [(e.outcome, e.metrics["steps"], e.cycle_time_s) for e in Episode.objects.filter(trial=t).order_by("index")]
        for t in conditions
    )
    assert len(nominal) == len(noisy) == 6
    assert nominal != noisy  # the same seeds under action noise: other episodes
    figures = sweep_results(sweep=sweep).figures
    assert [c.episodes for c in figures.conditions] == [6, 6]
    assert figures.conditions[1].vs_nominal is not None and figures.conditions[1].vs_nominal.n_pairs == 6
    page = client_for(user).get(f"/sweeps/{sweep.pk}/").content.decode()
    assert "action_noise=0.25" in page and f"/trials/{conditions[1].pk}/" in page
