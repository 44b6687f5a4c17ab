from __future__ import annotations

from celery import shared_task

from robots.services import robots_mark_stale


@shared_task(acks_late=True)
def robots_mark_stale_task() -> dict[str, int]:
    """Periodic (Celery beat): stale robots offline, expired job leases back to the queue."""
    offline, requeued = robots_mark_stale()
    return {"offline": offline, "requeued": requeued}
