"""Celery tasks: take ids, call one service, own retries and the failure path."""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery import shared_task
from celery.signals import worker_ready, worker_shutting_down
from django.conf import settings
from django.db import close_old_connections

from core.policy.onnx_runtime import PolicySpecError
from core.policy.remote import RemoteConfigError
from trials import lerobot_export, queue, runner
from trials.models import TrialChunk
from trials.services import trial_fail, trial_refresh_status

logger = logging.getLogger(__name__)

CHUNK_MAX_RETRIES = 3
# Errors that a retry cannot fix: fail the trial at once, with the reason.
PERMANENT_ERRORS = (PolicySpecError, RemoteConfigError, NotImplementedError, FileNotFoundError, KeyError)


@shared_task(acks_late=True, autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def trial_refresh_status_task(trial_id: int) -> str:
    """Recompute a trial's status from its recorded episodes; returns the new status."""
    return trial_refresh_status(trial_id=trial_id).status


@shared_task(name=queue.TRIAL_START_TASK, acks_late=True)
def trial_start_task(trial_id: int) -> None:
    """Hand a scheduled trial to the runner; a trial the runner cannot start is failed, with why."""
    try:
        runner.trial_start(trial_id=trial_id)
    except (NotImplementedError, RemoteConfigError) as exc:  # RemoteConfigError: the pre-flight check
        trial_fail(trial_id=trial_id, reason=str(exc))


@shared_task(name=queue.TRIAL_RUN_CHUNK_TASK, bind=True, acks_late=True, max_retries=CHUNK_MAX_RETRIES)
def trial_run_chunk_task(self: Any, chunk_id: int) -> dict[str, Any]:
    """Run one chunk of a simulated trial. A failing chunk is retried (with backoff) up to
    CHUNK_MAX_RETRIES times, then its trial is failed with the reason; errors a retry cannot fix
    (policy not matching its spec, unknown cell, remote policy kinds) fail the trial at once.
    Returns what the chunk ran, skipped and why it stopped."""
    try:
        result = runner.chunk_run(chunk_id=chunk_id)
    except TrialChunk.DoesNotExist:
        return {"ran": [], "skipped": [], "stopped": "chunk no longer exists"}
    except PERMANENT_ERRORS as exc:
        trial_id = TrialChunk.objects.values_list("trial_id", flat=True).get(pk=chunk_id)
        trial_fail(trial_id=trial_id, reason=f"{type(exc).__name__}: {exc}")
        raise
    except Exception as exc:
        trial_id, first, stop = TrialChunk.objects.values_list("trial_id", "first_index", "stop_index").get(pk=chunk_id)
        if self.request.retries >= CHUNK_MAX_RETRIES:
            # Name the chunk and its episode indices: a chunk id alone read as an episode number.
            trial_fail(
                trial_id=trial_id,
                reason=f"chunk {chunk_id} (episodes {first}-{stop - 1}) failed {CHUNK_MAX_RETRIES + 1} times: "
                f"{type(exc).__name__}: {exc}",
            )
            raise
        countdown = 2 ** (self.request.retries + 1)
        runner.chunk_release(chunk_id=chunk_id, retry_in_s=countdown)
        raise self.retry(exc=exc, countdown=countdown) from exc
    return {"ran": result.ran, "skipped": result.skipped, "lost": result.lost, "stopped": result.stopped}


@shared_task(name=queue.LEROBOT_EXPORT_TASK, acks_late=True)
def lerobot_export_task(export_id: int) -> dict[str, Any]:
    """Build a LeRobotDataset export (its failures are written on the export row, not retried:
    a retry cannot fix a recording that does not fit). Returns its status and counts."""
    export = lerobot_export.dataset_export_run(export_id=export_id)
    return {"status": export.status, "episodes": export.episodes_done, "error": export.error}


@shared_task(acks_late=True)
def lerobot_exports_expire_task() -> dict[str, int]:
    """Periodic (Celery beat): remove the zips of exports older than LEROBOT_EXPORT_KEEP_DAYS, mark them
    expired, then the zips no export names. Returns how many of each and the bytes freed."""
    expired = lerobot_export.dataset_exports_expire()
    orphans = lerobot_export.export_orphans_sweep()
    freed = sum(e.size_bytes for e in expired) + sum(o.size_bytes for o in orphans)
    return {"expired": len(expired), "orphans": len(orphans), "bytes_freed": freed}


@shared_task(acks_late=True)
def trial_reap_task() -> list[int]:
    """Re-enqueue chunks whose worker died (for a beat schedule; workers also reap by themselves).
    Returns the chunk ids re-enqueued."""
    return runner.chunks_reap()


# Every worker reaps periodically in its main process, so `make demo` (no beat) and a fresh worker
# started after a crash recover lost chunks without any extra service.
_reaper_stop = threading.Event()


def _reaper_loop() -> None:
    interval = float(settings.TRIAL_REAPER_INTERVAL_S)
    while not _reaper_stop.is_set():
        try:
            close_old_connections()
            reaped = runner.chunks_reap()
            if reaped:
                logger.warning("reaper re-enqueued chunks %s", reaped)
        except Exception:
            logger.exception("chunk reaper failed; will try again")
        _reaper_stop.wait(interval)


@worker_ready.connect
def _start_reaper(**_: Any) -> None:
    if float(settings.TRIAL_REAPER_INTERVAL_S) <= 0:
        return
    threading.Thread(target=_reaper_loop, name="trial-chunk-reaper", daemon=True).start()


@worker_shutting_down.connect
def _stop_reaper(**_: Any) -> None:
    _reaper_stop.set()
