"""Reads for trials, and who may see what.

Visibility rules (one place, used by pages and API alike):
- superusers see everything;
- a task is visible to its owner organization and to the integrator organization engaged on it;
- trials: the task owner sees every trial of its tasks; anyone sees trials run on its own robots
  (so an integrator sees only its own robots' trials);
- robots: only the owner organization's.
Another organization's object is simply absent from these querysets, so views and API answer 404.
"""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from accounts.models import User
from trials.models import Episode, EpisodeOutcome, Task, Trial


def _sees_everything(user: User) -> bool:
    return bool(user.is_superuser)


def task_list_for_user(*, user: User) -> QuerySet[Task]:
    """Tasks the user may read, with `trial_count`."""
    tasks = Task.objects.select_related("site", "organization", "integrator").annotate(trial_count=Count("trials"))
    if _sees_everything(user):
        return tasks
    return tasks.visible_to_organization(user.organization_id)


def trial_list_for_user(*, user: User) -> QuerySet[Trial]:
    """Trials the user may read."""
    trials = Trial.objects.select_related("task", "robot", "policy_version__policy")
    if _sees_everything(user):
        return trials
    org = user.organization_id
    return trials.filter(Q(task__organization_id=org) | Q(robot__organization_id=org))


def trial_list_writable_by_user(*, user: User) -> QuerySet[Trial]:
    """Trials the user may write to (push episodes, cancel): those on its organization's robots."""
    trials = Trial.objects.select_related("task", "robot", "policy_version__policy")
    if _sees_everything(user):
        return trials
    return trials.filter(robot__organization_id=user.organization_id)


def trial_progress(*, trial: Trial) -> dict[str, int]:
    """Episodes recorded so far by outcome, in one query: {'done', 'success', 'failure', 'aborted'}."""
    counts = Episode.objects.filter(trial=trial).aggregate(
        done=Count("id"),
        success=Count("id", filter=Q(outcome=EpisodeOutcome.SUCCESS)),
        failure=Count("id", filter=Q(outcome=EpisodeOutcome.FAILURE)),
        aborted=Count("id", filter=Q(outcome=EpisodeOutcome.ABORTED)),
    )
    return {key: int(value or 0) for key, value in counts.items()}
