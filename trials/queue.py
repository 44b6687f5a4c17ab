"""Enqueue the trials' Celery tasks by their registered names.

trials.tasks imports the runner and the services (a task loads, calls one service, owns the failure
path), so the services and the runner cannot import the task objects back without a circle. They send
the same messages through these functions instead: tasks -> runner -> services -> queue, one way.
tests/trials/test_tasks.py checks that every name here is a registered task."""

from __future__ import annotations

from collections.abc import Iterable

from celery import current_app

TRIAL_START_TASK = "trials.tasks.trial_start_task"
TRIAL_RUN_CHUNK_TASK = "trials.tasks.trial_run_chunk_task"


def trial_start_enqueue(*, trial_id: int) -> None:
    """Ask a worker to start the trial (trials.tasks.trial_start_task). Returns nothing."""
    current_app.send_task(TRIAL_START_TASK, args=[trial_id])


def chunks_enqueue(*, chunk_ids: Iterable[int]) -> None:
    """One trials.tasks.trial_run_chunk_task message per chunk. Returns nothing."""
    for chunk_id in chunk_ids:
        current_app.send_task(TRIAL_RUN_CHUNK_TASK, args=[chunk_id])


LEROBOT_EXPORT_TASK = "trials.tasks.lerobot_export_task"


def lerobot_export_enqueue(*, export_id: int) -> None:
    """Ask a worker to build a LeRobot dataset export (trials.tasks.lerobot_export_task)."""
    current_app.send_task(LEROBOT_EXPORT_TASK, args=[export_id])
