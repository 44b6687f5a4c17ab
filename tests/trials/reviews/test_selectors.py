"""The review queue: each proposed episode says why, unreviewed first; look-alikes of earlier overrides;
the funnel selector equals a hand count of stage_reached."""

from __future__ import annotations

import pytest

from accounts.models import Role
from reports.stats.selectors import trial_panel, trial_stage_funnel
from tests.factories import EpisodeEventFactory, EpisodeFactory, TrialFactory, UserFactory
from trials.models import EpisodeOutcome, EventCategory, EventKind, Trial
from trials.reviews.selectors import episode_review_history, review_queue
from trials.reviews.services import episode_review

pytestmark = pytest.mark.django_db


@pytest.fixture
def trial() -> Trial:
    trial = TrialFactory.create(episodes_planned=20, episode_timeout_s=30.0)
    EpisodeFactory.create(trial=trial, index=0, cycle_time_s=10.0)  # an ordinary success: not proposed
    EpisodeFactory.create(trial=trial, index=1, cycle_time_s=27.5)  # 27.5 s >= 90 % of 30 s
    EpisodeFactory.create(trial=trial, index=2, cycle_time_s=26.9)  # just under: not proposed
    faulted = EpisodeFactory.create(trial=trial, index=3, cycle_time_s=12.0)
    EpisodeEventFactory.create(episode=faulted, kind=EventKind.FAULT, category=EventCategory.COLLISION)
    EpisodeFactory.create(trial=trial, index=4, outcome=EpisodeOutcome.FAILURE)  # no fault at all
    explained = EpisodeFactory.create(trial=trial, index=5, outcome=EpisodeOutcome.FAILURE)
    EpisodeEventFactory.create(episode=explained, kind=EventKind.FAULT, category=EventCategory.DROP)
    EpisodeFactory.create(trial=trial, index=6, outcome=EpisodeOutcome.LOST)  # never reviewed
    return trial


def test_queue_says_why_each_episode_is_worth_a_look(trial: Trial) -> None:
    queue = review_queue(trial=trial)
    assert [(i.episode.index, i.reasons) for i in queue] == [
        (1, ["success near the time limit (27.5 s of 30 s)"]),
        (3, ["success with 1 fault event"]),
        (4, ["failure with no fault event"]),
    ]
    assert all(i.following == j.episode.index for i, j in zip(queue, queue[1:], strict=False))


def test_reviewed_episodes_come_last_and_look_alikes_of_overrides_are_proposed(trial: Trial) -> None:
    engineer = UserFactory.create(organization=trial.robot.organization, role=Role.ENGINEER)
    # A reviewer found that failures ending in a dropped part at stage 4 were in fact placed.
    other = TrialFactory.create(task=trial.task, robot=trial.robot, episodes_planned=5)
    earlier = EpisodeFactory.create(trial=other, index=0, outcome=EpisodeOutcome.FAILURE, stage_reached=4)
    EpisodeEventFactory.create(episode=earlier, kind=EventKind.FAULT, category=EventCategory.DROP)
    episode_review(episode=earlier, reviewer=engineer, outcome="success", reason="placed; the drop was after release")
    same = EpisodeFactory.create(trial=trial, index=7, outcome=EpisodeOutcome.FAILURE, stage_reached=4)
    EpisodeEventFactory.create(episode=same, kind=EventKind.FAULT, category=EventCategory.DROP)
    episode_review(episode=trial.episodes.get(index=1), reviewer=engineer, outcome="success")  # confirmed
    queue = review_queue(trial=trial)
    assert [i.episode.index for i in queue] == [3, 4, 7, 1]
    like = next(i for i in queue if i.episode.index == 7)
    assert like.reasons == [
        "like 1 episode of this task a reviewer overrode (reported failure, first fault drop, stage 4)"
    ]
    assert queue[-1].episode.review_state == "confirmed"
    # Index 5 failed with the same fault but no stage reported: not the same pattern.
    assert 5 not in [i.episode.index for i in queue]
    assert [r.reason for r in episode_review_history(episode=earlier)] == ["placed; the drop was after release"]


def test_queue_is_bounded_in_queries(trial: Trial, django_assert_max_num_queries) -> None:  # noqa: ANN001
    with django_assert_max_num_queries(3):
        assert len(review_queue(trial=trial, limit=2)) == 2


def test_stage_funnel_selector_equals_a_hand_count(django_assert_max_num_queries) -> None:  # noqa: ANN001
    trial = TrialFactory.create(episodes_planned=20, stages=["reach", "grasp", "lift", "place"])
    reached = [0, 1, 2, 2, 3, 4, 4, None]
    progress = [0.0, 0.25, 0.5, 0.5, 0.75, 1.0, 1.0, None]
    for i, (stage, p) in enumerate(zip(reached, progress, strict=True)):
        EpisodeFactory.create(trial=trial, index=i, stage_reached=stage, progress=p)
    EpisodeFactory.create(trial=trial, index=8, outcome=EpisodeOutcome.LOST, stage_reached=4)  # not counted
    with django_assert_max_num_queries(1):
        (funnel,) = trial_stage_funnel(trial_id=trial.pk, stage_names=("reach", "grasp", "lift", "place"))
    f = funnel.funnel
    assert funnel.source == "simulation" and (f.n, f.n_unreported) == (7, 1)
    # By hand over the 7 that reported: reach 6, grasp 5, lift 3, place 2.
    assert [(s.name, s.reached) for s in f.stages] == [("reach", 6), ("grasp", 5), ("lift", 3), ("place", 2)]
    assert f.progress_n == 7 and f.mean_progress == pytest.approx(4.0 / 7)
    panel = trial_panel(trial_id=trial.pk)
    assert panel.funnel == (funnel,)
    assert panel.to_dict()["funnel"][0]["funnel"]["stages"][1]["reached"] == 5
