from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import TrialFactory
from trials.models import Episode, EpisodeEvent, TrialStatus
from trials.services import (
    EpisodeConflictError,
    EpisodeInput,
    EventInput,
    TrialRuleError,
    episodes_record,
    trial_cancel,
)

pytestmark = pytest.mark.django_db

T0 = timezone.now().replace(microsecond=0)


def _episode(
    index: int | None = None, external_id: str | None = None, outcome: str = "success", **kw: object
) -> EpisodeInput:
    cycle = float(kw.pop("cycle_time_s", 10.0))  # type: ignore[arg-type]
    return EpisodeInput(
        index=index,
        external_id=external_id,
        outcome=outcome,
        cycle_time_s=cycle,
        started_at=T0,
        ended_at=T0 + timedelta(seconds=cycle),
        source="integrator_upload",
        events=kw.pop("events", (EventInput(kind="intervention", category="grasp_miss", t_offset_s=1.5),)),  # type: ignore[arg-type]
    )


def test_records_episodes_and_events_and_completes_trial() -> None:
    trial = TrialFactory(episodes_planned=2)
    result = episodes_record(trial_id=trial.pk, episodes=[_episode(0), _episode(1, outcome="failure")])
    assert [e.index for e in result.created] == [0, 1]
    assert EpisodeEvent.objects.filter(episode__trial=trial).count() == 2
    trial.refresh_from_db()
    assert trial.status == TrialStatus.COMPLETED


def test_resending_same_batch_creates_nothing_new() -> None:
    trial = TrialFactory(episodes_planned=5)
    batch = [_episode(external_id="a"), _episode(external_id="b")]
    first = episodes_record(trial_id=trial.pk, episodes=batch)
    again = episodes_record(trial_id=trial.pk, episodes=batch)
    assert again.created == [] and {e.pk for e in again.existing} == {e.pk for e in first.created}
    assert Episode.objects.filter(trial=trial).count() == 2
    assert EpisodeEvent.objects.filter(episode__trial=trial).count() == 2


def test_same_external_id_with_other_content_is_a_conflict_and_writes_nothing() -> None:
    trial = TrialFactory(episodes_planned=5)
    episodes_record(trial_id=trial.pk, episodes=[_episode(external_id="a")])
    with pytest.raises(EpisodeConflictError) as info:
        episodes_record(
            trial_id=trial.pk, episodes=[_episode(external_id="new"), _episode(external_id="a", outcome="failure")]
        )
    assert info.value.conflicts[0].position == 1 and "outcome" in info.value.conflicts[0].reason
    assert Episode.objects.filter(trial=trial).count() == 1


def test_index_outside_plan_rejects_whole_batch() -> None:
    trial = TrialFactory(episodes_planned=2)
    with pytest.raises(TrialRuleError):
        episodes_record(trial_id=trial.pk, episodes=[_episode(0), _episode(2)])
    assert not Episode.objects.filter(trial=trial).exists()


def test_redone_simulation_chunk_records_only_missing_indices() -> None:
    trial = TrialFactory(episodes_planned=4)
    episodes_record(trial_id=trial.pk, episodes=[_episode(0), _episode(1)])
    result = episodes_record(trial_id=trial.pk, episodes=[_episode(i) for i in range(4)])
    assert [e.index for e in result.created] == [2, 3]
    assert Episode.objects.filter(trial=trial).count() == 4


def test_cancelled_trial_takes_no_new_episodes() -> None:
    trial = TrialFactory(episodes_planned=3)
    trial_cancel(trial_id=trial.pk)
    with pytest.raises(TrialRuleError):
        episodes_record(trial_id=trial.pk, episodes=[_episode(0)])


@pytest.mark.parametrize(
    "metrics",
    [{"x": float("nan")}, {"x": {"nested": 1}}, {"video": 3}, {"attempt": "2"}, {"bad name": 1.0}],
)
def test_record_refuses_metrics_outside_the_episode_rules(metrics: dict[str, object]) -> None:
    trial = TrialFactory(episodes_planned=2)
    item = EpisodeInput(
        outcome="success",
        cycle_time_s=1.0,
        started_at=T0,
        ended_at=T0 + timedelta(seconds=1),
        source="simulation",
        index=0,
        metrics=metrics,
    )
    with pytest.raises(TrialRuleError) as error:
        episodes_record(trial_id=trial.pk, episodes=[item])
    assert error.value.field == "metrics"
    assert not Episode.objects.filter(trial=trial).exists()


def test_record_keeps_the_metrics_trialbench_writes_itself() -> None:
    trial = TrialFactory(episodes_planned=1)
    metrics = {"steps": 3, "sim_time_s": 1.5, "video": "trials/1/e.gif", "robot_id": 2, "attempt": 1}
    item = EpisodeInput(
        outcome="success",
        cycle_time_s=1.0,
        started_at=T0,
        ended_at=T0 + timedelta(seconds=1),
        source="simulation",
        index=0,
        metrics=metrics,
    )
    assert episodes_record(trial_id=trial.pk, episodes=[item]).created[0].metrics == metrics
