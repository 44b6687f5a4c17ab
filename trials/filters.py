"""django-filter FilterSets for the trials API: `?field=value` filters plus `?since=` for sync.
Foreign keys filter by plain id (IntFilter), so an id of another organization's object matches
nothing instead of revealing, through a validation error, whether it exists."""

from __future__ import annotations

from common.api_support import IntFilter, SinceFilterSet
from trials.models import Episode, EpisodeEvent, Task, Trial


class TaskFilter(SinceFilterSet):
    since_fields = ("created_at", "updated_at")
    site = IntFilter(field_name="site_id")
    integrator = IntFilter(field_name="integrator_id")

    class Meta:
        model = Task
        fields = ["status"]


class TrialFilter(SinceFilterSet):
    # A trial changes when it is created, starts and finishes: any of those after `since` is news.
    since_fields = ("created_at", "started_at", "finished_at")
    task = IntFilter(field_name="task_id")
    robot = IntFilter(field_name="robot_id")
    policy_version = IntFilter(field_name="policy_version_id")

    class Meta:
        model = Trial
        fields = ["status"]


class EpisodeFilter(SinceFilterSet):
    trial = IntFilter(field_name="trial_id")
    index_min = IntFilter(field_name="index", lookup_expr="gte", min_value=0)
    index_max = IntFilter(field_name="index", lookup_expr="lte", min_value=0)

    class Meta:
        model = Episode
        fields = ["outcome", "source", "external_id"]


class EventFilter(SinceFilterSet):
    since_fields = ("episode__created_at",)
    trial = IntFilter(field_name="episode__trial_id")
    episode = IntFilter(field_name="episode_id")

    class Meta:
        model = EpisodeEvent
        fields = ["kind", "category", "severity"]
