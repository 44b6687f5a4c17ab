from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from trials.models import Trial, TrialStatus
from trials.selectors import trial_progress


@transaction.atomic
def trial_refresh_status(*, trial_id: int) -> Trial:
    """Move a trial forward from what its episodes say: queued -> running once an episode exists,
    running -> completed once every planned episode is recorded. Finished trials are left alone.
    Returns the trial; raises Trial.DoesNotExist."""
    # Row lock: workers finishing the last two episodes at once must not both finish the trial.
    trial = Trial.objects.select_for_update().get(pk=trial_id)
    if trial.is_finished:
        return trial
    done = trial_progress(trial=trial)["done"]
    now = timezone.now()
    fields: list[str] = []
    if done > 0 and trial.status == TrialStatus.QUEUED:
        trial.status = TrialStatus.RUNNING
        trial.started_at = trial.started_at or now
        fields += ["status", "started_at"]
    if done >= trial.episodes_planned:
        trial.status = TrialStatus.COMPLETED
        trial.started_at = trial.started_at or now
        trial.finished_at = now
        fields += ["status", "started_at", "finished_at"]
    if fields:
        trial.save(update_fields=sorted(set(fields)))
    return trial
