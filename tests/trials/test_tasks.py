"""trials.queue sends tasks by name (services and the runner cannot import trials.tasks, which imports
them): a renamed or moved task must fail here, not leave messages no worker understands."""

from __future__ import annotations

from unittest import mock

from config.celery import app
from trials import queue, tasks


def test_queue_names_are_the_registered_tasks() -> None:
    # shared_task gives a proxy: compare the task object behind it with what each name runs.
    assert app.tasks[queue.TRIAL_START_TASK] is tasks.trial_start_task._get_current_object()
    assert app.tasks[queue.TRIAL_RUN_CHUNK_TASK] is tasks.trial_run_chunk_task._get_current_object()


def test_enqueue_sends_one_message_per_chunk_with_its_id() -> None:
    with mock.patch.object(app, "send_task") as send:
        queue.trial_start_enqueue(trial_id=7)
        queue.chunks_enqueue(chunk_ids=[3, 4])
    assert send.call_args_list == [
        mock.call(queue.TRIAL_START_TASK, args=[7]),
        mock.call(queue.TRIAL_RUN_CHUNK_TASK, args=[3]),
        mock.call(queue.TRIAL_RUN_CHUNK_TASK, args=[4]),
    ]
