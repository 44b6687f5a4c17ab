"""Celery tasks: take ids, call one service, own retries and the failure path."""

from __future__ import annotations

from celery import shared_task

from trials import runner
from trials.services import trial_fail, trial_refresh_status


@shared_task(acks_late=True, autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def trial_refresh_status_task(trial_id: int) -> str:
    """Recompute a trial's status from its recorded episodes; returns the new status."""
    return trial_refresh_status(trial_id=trial_id).status


@shared_task(acks_late=True)
def trial_start_task(trial_id: int) -> None:
    """Hand a scheduled trial to the runner; a trial the runner cannot start is failed, with why."""
    try:
        runner.trial_start(trial_id=trial_id)
    except NotImplementedError as exc:
        trial_fail(trial_id=trial_id, reason=str(exc))
