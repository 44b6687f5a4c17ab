"""TrialSourceSummary: the per-trial, per-source running totals kept by episodes_record, their rebuild
(service and management command) and the migration's backfill. Each is checked against a fresh count
over Episode and EpisodeEvent made here in Python, independent of the code under test."""

from __future__ import annotations

import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from tests.factories import EpisodeEventFactory, EpisodeFactory, TrialFactory
from trials.models import Episode, EpisodeEvent, EventKind, TrialSourceSummary
from trials.services import (
    EpisodeConflictError,
    EpisodeInput,
    EventInput,
    TrialRuleError,
    episodes_record,
    trial_cancel,
    trial_summaries_rebuild,
)

T0 = timezone.now().replace(microsecond=0)
FIGURES = ("episodes", "successes", "cycle_time_sum_s", "cycle_time_sq_sum_s2", "interventions")


def _episode(
    index: int | None = None,
    *,
    external_id: str | None = None,
    outcome: str = "success",
    cycle_time_s: float = 10.0,
    source: str = "integrator_upload",
    interventions: int = 1,
    faults: int = 0,
) -> EpisodeInput:
    events = [EventInput(kind="intervention", category="grasp_miss", t_offset_s=1.0 + i) for i in range(interventions)]
    events += [EventInput(kind="fault", category="drop", t_offset_s=0.5 + i) for i in range(faults)]
    return EpisodeInput(
        index=index,
        external_id=external_id,
        outcome=outcome,
        cycle_time_s=cycle_time_s,
        started_at=T0,
        ended_at=T0 + timedelta(seconds=cycle_time_s),
        source=source,
        events=tuple(events),
    )


def _fresh_totals(trial_ids: list[int]) -> dict[tuple[int, str], dict[str, float]]:
    """The summary figures recounted row by row in Python from the recorded episodes and events."""
    out: dict[tuple[int, str], dict[str, float]] = {}
    interventions: dict[int, int] = {}
    for event in EpisodeEvent.objects.filter(episode__trial_id__in=trial_ids, kind=EventKind.INTERVENTION):
        interventions[event.episode_id] = interventions.get(event.episode_id, 0) + 1
    for e in Episode.objects.filter(trial_id__in=trial_ids):
        row = out.setdefault((e.trial_id, e.source), dict.fromkeys(FIGURES, 0))
        row["episodes"] += 1
        row["successes"] += e.outcome == "success"
        row["cycle_time_sum_s"] += e.cycle_time_s
        row["cycle_time_sq_sum_s2"] += e.cycle_time_s**2
        row["interventions"] += interventions.get(e.pk, 0)
    return out


def _stored(trial_ids: list[int]) -> dict[tuple[int, str], dict[str, float]]:
    return {
        (s.trial_id, s.source): {f: getattr(s, f) for f in FIGURES}
        for s in TrialSourceSummary.objects.filter(trial_id__in=trial_ids)
    }


def _assert_consistent(trial_ids: list[int]) -> None:
    fresh = _fresh_totals(trial_ids)
    # A rebuild keeps a zeroed row (and its revision) for a source whose episodes are all gone.
    stored = {k: v for k, v in _stored(trial_ids).items() if any(v.values())}
    assert stored.keys() == fresh.keys()
    for key, figures in fresh.items():
        for name, value in figures.items():
            assert stored[key][name] == pytest.approx(value, rel=1e-12), (key, name)


@pytest.mark.django_db
def test_summary_equals_a_fresh_count_after_retries_duplicates_conflicts_and_refusals() -> None:
    trial = TrialFactory(episodes_planned=40)
    other = TrialFactory(episodes_planned=5)
    batch = [
        _episode(external_id=f"u{i}", cycle_time_s=9.0 + i / 7, outcome="failure" if i % 4 == 0 else "success")
        for i in range(6)
    ]
    episodes_record(trial_id=trial.pk, episodes=batch)
    episodes_record(trial_id=trial.pk, episodes=batch)  # a retried upload: nothing new
    # Half re-sent, half new, and other sources in the same trial.
    episodes_record(
        trial_id=trial.pk,
        episodes=[*batch[3:], _episode(external_id="u6", interventions=3, faults=2, outcome="aborted")],
    )
    episodes_record(
        trial_id=trial.pk,
        episodes=[_episode(20, source="simulation", cycle_time_s=12.5), _episode(21, source="robot_agent", faults=1)],
    )
    episodes_record(trial_id=trial.pk, episodes=[_episode(20, source="simulation", cycle_time_s=12.5)])  # redone chunk
    before = _stored([trial.pk])
    with pytest.raises(EpisodeConflictError):  # rolled back whole: the summary must not move either
        episodes_record(
            trial_id=trial.pk, episodes=[_episode(external_id="u7"), _episode(external_id="u0", outcome="aborted")]
        )
    with pytest.raises(TrialRuleError):
        episodes_record(trial_id=trial.pk, episodes=[_episode(external_id="u8"), _episode(99)])
    assert _stored([trial.pk]) == before
    episodes_record(trial_id=other.pk, episodes=[_episode(0, interventions=0)])
    trial_cancel(trial_id=other.pk)
    with pytest.raises(TrialRuleError):
        episodes_record(trial_id=other.pk, episodes=[_episode(1)])

    _assert_consistent([trial.pk, other.pk])
    stored = _stored([trial.pk])
    assert stored[(trial.pk, "integrator_upload")]["episodes"] == 7
    assert stored[(trial.pk, "integrator_upload")]["interventions"] == 6 + 3
    assert stored[(trial.pk, "simulation")]["episodes"] == stored[(trial.pk, "robot_agent")]["episodes"] == 1
    # Every recording that inserted rows bumped the revision; the retries and refusals did not.
    assert TrialSourceSummary.objects.get(trial=trial, source="integrator_upload").revision == 2


@pytest.mark.django_db(transaction=True)
def test_two_workers_recording_chunks_of_one_trial_at_once_lose_no_count() -> None:
    trial = TrialFactory(episodes_planned=80)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker(first: int) -> None:
        try:
            start.wait(timeout=10)
            for chunk in range(first, 80, 20):  # worker 0: 0-9, 20-29, ...; worker 1: 10-19, 30-39, ...
                items = [_episode(i, source="simulation", cycle_time_s=8.0 + i / 10) for i in range(chunk, chunk + 10)]
                episodes_record(trial_id=trial.pk, episodes=items)
                episodes_record(trial_id=trial.pk, episodes=items[:3])  # a redelivered message
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(first,)) for first in (0, 10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    _assert_consistent([trial.pk])
    summary = TrialSourceSummary.objects.get(trial=trial)
    assert summary.episodes == 80 and summary.interventions == 80
    assert summary.revision == 8  # one per inserting chunk: no update was lost or doubled


@pytest.mark.django_db
def test_factories_keep_the_summary_as_episodes_record_would() -> None:
    episode = EpisodeFactory(cycle_time_s=3.0)
    EpisodeEventFactory(episode=episode, kind=EventKind.INTERVENTION)
    EpisodeEventFactory(episode=episode, kind=EventKind.FAULT)
    EpisodeFactory(trial=episode.trial, outcome="failure", cycle_time_s=4.0)
    _assert_consistent([episode.trial_id])


@pytest.mark.django_db
def test_rebuild_repairs_summaries_edited_by_hand_and_raises_revisions() -> None:
    trials = [TrialFactory(episodes_planned=10) for _ in range(3)]
    for trial in trials:
        episodes_record(trial_id=trial.pk, episodes=[_episode(i, interventions=i % 3) for i in range(4)])
    episodes_record(trial_id=trials[0].pk, episodes=[_episode(5, source="simulation")])
    # Drift: an operator deletes episodes and corrupts a row; a summary row goes missing.
    Episode.objects.filter(trial=trials[0], index__in=[0, 5]).delete()
    TrialSourceSummary.objects.filter(trial=trials[1]).update(episodes=999, successes=0)
    TrialSourceSummary.objects.filter(trial=trials[2]).delete()
    revision = TrialSourceSummary.objects.get(trial=trials[0], source="integrator_upload").revision

    written = trial_summaries_rebuild(trial_ids=[t.pk for t in trials], batch_size=2)

    assert written == 4
    _assert_consistent([t.pk for t in trials])
    upload = TrialSourceSummary.objects.get(trial=trials[0], source="integrator_upload")
    assert (upload.episodes, upload.revision) == (3, revision + 1)
    # The simulation row lost its only episode: kept at zero with a higher revision, never restarted at 1.
    simulation = TrialSourceSummary.objects.get(trial=trials[0], source="simulation")
    assert (simulation.episodes, simulation.interventions, simulation.revision) == (0, 0, 2)
    episodes_record(trial_id=trials[0].pk, episodes=[_episode(6, source="simulation")])
    assert TrialSourceSummary.objects.get(trial=trials[0], source="simulation").revision == 3


@pytest.mark.django_db
def test_rebuild_command_rebuilds_one_trial_or_all() -> None:
    first, second = TrialFactory(episodes_planned=5), TrialFactory(episodes_planned=5)
    for trial in (first, second):
        episodes_record(trial_id=trial.pk, episodes=[_episode(0), _episode(1, source="simulation")])
    TrialSourceSummary.objects.update(interventions=0)

    out = StringIO()
    call_command("trial_summaries_rebuild", "--trial", str(first.pk), stdout=out)
    assert "2 summary rows of 1 trial" in out.getvalue()
    assert _stored([second.pk])[(second.pk, "simulation")]["interventions"] == 0  # left alone
    _assert_consistent([first.pk])

    out = StringIO()
    call_command("trial_summaries_rebuild", stdout=out)
    assert "4 summary rows of every trial" in out.getvalue()
    _assert_consistent([first.pk, second.pk])


@pytest.mark.django_db(transaction=True)
def test_migration_backfills_summaries_of_existing_episodes() -> None:
    # The trial is made with today's models; the episodes with the models as they were at 0003, so
    # later fields of Episode and Trial never break this test.
    trial = TrialFactory(episodes_planned=10)
    target = [("trials", "0003_trialchunk")]
    executor = MigrationExecutor(connection)
    executor.migrate(target)
    try:
        old = executor.loader.project_state(target).apps
        old_episode, old_event = old.get_model("trials", "Episode"), old.get_model("trials", "EpisodeEvent")
        rows = old_episode.objects.bulk_create(
            old_episode(
                trial_id=trial.pk,
                index=i,
                outcome="success" if i % 3 else "failure",
                cycle_time_s=5.0 + i,
                started_at=T0,
                ended_at=T0 + timedelta(seconds=5.0 + i),
                source="simulation",
            )
            for i in range(6)
        )
        old_event.objects.bulk_create(
            old_event(episode_id=rows[i].pk, kind=kind, category="grasp_miss", severity="warning", t_offset_s=2.0)
            for i in (0, 0, 4)
            for kind in ("intervention", "fault")
        )
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
    _assert_consistent([trial.pk])
    assert _stored([trial.pk])[(trial.pk, "simulation")]["interventions"] == 3
