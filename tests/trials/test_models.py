"""Structural rules hold in the database itself, not only in forms: bypass validation and see them fire."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from tests.factories import EpisodeEventFactory, EpisodeFactory, TaskFactory, TrialFactory
from trials.models import Episode, EpisodeEvent, Task, Trial

pytestmark = pytest.mark.django_db


def _violates(func) -> bool:  # type: ignore[no-untyped-def]
    try:
        with transaction.atomic():
            func()
    except IntegrityError:
        return True
    return False


def test_negative_cycle_time_is_rejected_by_database() -> None:
    episode = EpisodeFactory()
    assert _violates(lambda: Episode.objects.filter(pk=episode.pk).update(cycle_time_s=-1.0))


def test_duplicate_episode_index_is_rejected_by_database() -> None:
    episode = EpisodeFactory(index=3)
    assert _violates(lambda: EpisodeFactory(trial=episode.trial, index=3))
    assert Episode.objects.filter(trial=episode.trial).count() == 1


def test_external_id_unique_per_trial_but_free_across_trials_and_when_null() -> None:
    first = EpisodeFactory(index=0, external_id="rig-7/run-1")
    assert _violates(lambda: EpisodeFactory(trial=first.trial, index=1, external_id="rig-7/run-1"))
    EpisodeFactory(index=0, external_id="rig-7/run-1")  # same id in another trial is fine
    EpisodeFactory(trial=first.trial, index=2, external_id=None)
    EpisodeFactory(trial=first.trial, index=3, external_id=None)
    assert Episode.objects.filter(trial=first.trial).count() == 3


def test_episode_must_end_after_it_starts() -> None:
    now = timezone.now()
    assert _violates(lambda: EpisodeFactory(started_at=now, ended_at=now - timedelta(seconds=1)))


def test_unknown_outcome_and_category_are_rejected_by_database() -> None:
    episode = EpisodeFactory()
    assert _violates(lambda: Episode.objects.filter(pk=episode.pk).update(outcome="maybe"))
    event = EpisodeEventFactory(episode=episode)
    assert _violates(lambda: EpisodeEvent.objects.filter(pk=event.pk).update(category="gremlins"))
    assert _violates(lambda: EpisodeEvent.objects.filter(pk=event.pk).update(t_offset_s=-0.5))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("manual_cycle_time_s", 0),
        ("takt_time_s", -3),
        ("shifts_per_day", 4),
        ("hours_per_shift", 25),
        ("labour_cost_per_hour", -1),
    ],
)
def test_task_rejects_impossible_values(field: str, value: float) -> None:
    task = TaskFactory()
    assert _violates(lambda: Task.objects.filter(pk=task.pk).update(**{field: value}))


@pytest.mark.parametrize("episodes", [0, 10_001])
def test_trial_episode_count_is_bounded(episodes: int) -> None:
    trial = TrialFactory()
    assert _violates(lambda: Trial.objects.filter(pk=trial.pk).update(episodes_planned=episodes))


def test_successful_queryset_filters_outcomes() -> None:
    trial = TrialFactory()
    EpisodeFactory(trial=trial, index=0, outcome="success")
    EpisodeFactory(trial=trial, index=1, outcome="failure")
    assert list(Episode.objects.filter(trial=trial).successful().values_list("index", flat=True)) == [0]


def test_migration_recomputes_stored_fit_from_the_task_figures() -> None:
    import importlib

    from django.apps import apps

    from tests.factories import TaskFactory

    migration = importlib.import_module("trials.migrations.0005_task_fit_from_figures")
    stale = dict.fromkeys(("part_variation", "precision", "payload", "safety_exposure", "ergonomics"), 3)
    task = TaskFactory(
        manual_cycle_time_s=30.0,
        takt_time_s=20.0,
        fit_factors=stale | {"cycle_vs_takt": 5, "volume": 3},
        fit_score=59.0,
    )
    migration.recompute(apps, None)
    task.refresh_from_db()
    # cycle vs takt 1/5 (-9), volume 2 x 8 h x 230 days = 3,680 h a year: 4/5 (+2.5)
    assert task.fit_factors["cycle_vs_takt"] == 1 and task.fit_factors["volume"] == 4 and task.fit_score == 43.5
