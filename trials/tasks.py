from __future__ import annotations

from celery import shared_task

from trials.services import trial_refresh_status


@shared_task(acks_late=True, autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def trial_refresh_status_task(trial_id: int) -> str:
    """Recompute a trial's status from its recorded episodes; returns the new status."""
    return trial_refresh_status(trial_id=trial_id).status
