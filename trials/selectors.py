from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from accounts.models import User
from trials.models import Episode, EpisodeOutcome, Task, Trial


def task_list_for_user(*, user: User) -> QuerySet[Task]:
    """Tasks the user may read: their organization's; staff without an organization see all."""
    tasks = Task.objects.select_related("site", "organization").annotate(trial_count=Count("trials"))
    if user.organization_id is None and user.is_superuser:
        return tasks
    return tasks.filter(organization_id=user.organization_id)


def trial_progress(*, trial: Trial) -> dict[str, int]:
    """Episodes recorded so far by outcome, in one query: {'done', 'success', 'failure', 'aborted'}."""
    counts = Episode.objects.filter(trial=trial).aggregate(
        done=Count("id"),
        success=Count("id", filter=Q(outcome=EpisodeOutcome.SUCCESS)),
        failure=Count("id", filter=Q(outcome=EpisodeOutcome.FAILURE)),
        aborted=Count("id", filter=Q(outcome=EpisodeOutcome.ABORTED)),
    )
    return {key: int(value or 0) for key, value in counts.items()}
