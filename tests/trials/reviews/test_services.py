"""The review services: a confirmation or override changes the counted outcome and the trial's summary,
keeps the reported outcome and writes the audit trail; bulk reviews are all or nothing."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from accounts.models import Role, User
from reports.roi.report import task_roi_report
from reports.stats.selectors import trial_statistics
from tests.factories import CostModelFactory, EpisodeFactory, TrialFactory, UserFactory, episodes_make
from trials.models import Episode, EpisodeOutcome, EpisodeReview, EpisodeSource, ReviewState, Trial, TrialSourceSummary
from trials.reviews.services import episode_review, episodes_review_bulk
from trials.selectors import trial_source_totals
from trials.services import TrialRuleError, trial_summaries_rebuild

pytestmark = pytest.mark.django_db


@pytest.fixture
def trial() -> Trial:
    trial = TrialFactory.create(episodes_planned=10)
    episodes_make(trial, 10, successes=8)  # indexes 0-7 succeed, 8-9 fail
    return trial


@pytest.fixture
def engineer(trial: Trial) -> User:
    return UserFactory.create(organization=trial.robot.organization, role=Role.ENGINEER)


def _summary(trial: Trial) -> TrialSourceSummary:
    return TrialSourceSummary.objects.get(trial=trial, source=EpisodeSource.SIMULATION)


def _at(trial: Trial, index: int) -> Episode:
    return Episode.objects.get(trial=trial, index=index)


def _summary_equals_recount(trial: Trial) -> None:
    row = _summary(trial)
    fresh = trial_source_totals(trial_ids=[trial.pk])[(trial.pk, EpisodeSource.SIMULATION.value)]
    assert (row.episodes, row.successes, row.reviewed) == (fresh.episodes, fresh.successes, fresh.reviewed)


def test_override_changes_the_counted_outcome_the_success_rate_and_the_summary(trial: Trial, engineer: User) -> None:
    assert trial_statistics(trial_id=trial.pk).sources[0].success.successes == 8
    revision = _summary(trial).revision
    review = episode_review(
        episode=_at(trial, 3), reviewer=engineer, outcome=EpisodeOutcome.FAILURE, reason="part fell after release"
    )
    episode = _at(trial, 3)
    assert (episode.outcome, episode.detected_outcome, episode.review_state) == ("failure", "success", "overridden")
    assert episode.reviewed_by == engineer and episode.reviewed_at is not None
    assert (review.reviewer, review.outcome_before, review.outcome_after, review.reason) == (
        engineer,
        "success",
        "failure",
        "part fell after release",
    )
    assert review.created_at is not None
    block = trial_statistics(trial_id=trial.pk).sources[0]
    assert (block.success.successes, block.success.n) == (7, 10)
    summary = _summary(trial)
    assert (summary.successes, summary.reviewed, summary.revision) == (7, 1, revision + 1)
    _summary_equals_recount(trial)


def test_confirm_keeps_the_outcome_and_counts_as_reviewed(trial: Trial, engineer: User) -> None:
    episode_review(episode=_at(trial, 8), reviewer=engineer, outcome=EpisodeOutcome.FAILURE)
    episode = _at(trial, 8)
    assert (episode.outcome, episode.detected_outcome, episode.review_state) == ("failure", "failure", "confirmed")
    assert (_summary(trial).successes, _summary(trial).reviewed) == (8, 1)
    _summary_equals_recount(trial)


def test_re_review_keeps_the_first_detected_outcome_and_every_change(trial: Trial, engineer: User) -> None:
    episode_review(episode=_at(trial, 0), reviewer=engineer, outcome="failure", reason="no part in the tray")
    episode_review(episode=_at(trial, 0), reviewer=engineer, outcome="aborted", reason="operator stopped it")
    episode = _at(trial, 0)
    assert (episode.outcome, episode.detected_outcome, episode.review_state) == ("aborted", "success", "overridden")
    episode_review(episode=_at(trial, 0), reviewer=engineer, outcome="success", reason="video shows it placed")
    episode = _at(trial, 0)
    assert (episode.outcome, episode.detected_outcome, episode.review_state) == ("success", "success", "confirmed")
    trail = list(EpisodeReview.objects.filter(episode=episode).values_list("outcome_before", "outcome_after"))
    assert trail == [("success", "failure"), ("failure", "aborted"), ("aborted", "success")]
    assert (_summary(trial).successes, _summary(trial).reviewed) == (8, 1)  # one episode, reviewed three times
    _summary_equals_recount(trial)


def test_override_without_reason_and_bad_outcome_are_refused_naming_the_field(trial: Trial, engineer: User) -> None:
    with pytest.raises(TrialRuleError) as no_reason:
        episode_review(episode=_at(trial, 1), reviewer=engineer, outcome="failure", reason="  ")
    assert no_reason.value.field == "reason"
    with pytest.raises(TrialRuleError) as lost:
        episode_review(episode=_at(trial, 1), reviewer=engineer, outcome="lost", reason="x")
    assert lost.value.field == "outcome"
    assert not EpisodeReview.objects.exists() and _at(trial, 1).review_state == ReviewState.UNREVIEWED


def test_a_lost_episode_cannot_be_reviewed(engineer: User, trial: Trial) -> None:
    other = TrialFactory.create(robot=trial.robot, task=trial.task, episodes_planned=3)
    lost = EpisodeFactory.create(trial=other, index=0, outcome=EpisodeOutcome.LOST)
    with pytest.raises(TrialRuleError) as refused:
        episode_review(episode=lost, reviewer=engineer, outcome="failure", reason="x")
    assert refused.value.field == "episode" and not EpisodeReview.objects.exists()


@pytest.mark.parametrize("role", [Role.MANAGER, Role.INTEGRATOR])
def test_managers_and_integrators_may_not_review(trial: Trial, role: Role) -> None:
    user = UserFactory.create(organization=trial.robot.organization, role=role)
    with pytest.raises(PermissionDenied):
        episode_review(episode=_at(trial, 0), reviewer=user, outcome="success")
    assert not EpisodeReview.objects.exists()


def test_a_reviewer_of_the_task_organization_may_review_an_integrator_trial() -> None:
    trial = TrialFactory.create(robot__organization=UserFactory.create().organization)
    episode = EpisodeFactory.create(trial=trial, index=0)
    reviewer = UserFactory.create(organization=trial.task.organization, role=Role.REVIEWER)
    assert episode_review(episode=episode, reviewer=reviewer, outcome="success").outcome_after == "success"
    outsider = UserFactory.create(role=Role.REVIEWER)
    with pytest.raises(PermissionDenied):
        episode_review(episode=episode, reviewer=outsider, outcome="success")


def test_bulk_review_applies_to_every_episode_or_none(trial: Trial, engineer: User) -> None:
    with pytest.raises(TrialRuleError) as missing:
        episodes_review_bulk(trial=trial, indexes=[1, 2, 42], reviewer=engineer, outcome="failure", reason="jammed")
    assert missing.value.field == "indexes"
    assert not EpisodeReview.objects.exists() and _summary(trial).successes == 8
    with pytest.raises(TrialRuleError) as repeated:
        episodes_review_bulk(trial=trial, indexes=[1, 1], reviewer=engineer, outcome="failure", reason="jammed")
    assert repeated.value.field == "indexes"
    with pytest.raises(TrialRuleError) as no_reason:  # 1 would be overridden: a reason is needed
        episodes_review_bulk(trial=trial, indexes=[8, 1], reviewer=engineer, outcome="failure")
    assert no_reason.value.field == "reason" and not EpisodeReview.objects.exists()

    reviews = episodes_review_bulk(trial=trial, indexes=[9, 1, 2], reviewer=engineer, outcome="failure", reason="jam")
    assert [r.episode.index for r in reviews] == [1, 2, 9]
    assert [_at(trial, i).review_state for i in (1, 2, 9)] == ["overridden", "overridden", "confirmed"]
    summary = _summary(trial)
    assert (summary.successes, summary.reviewed) == (6, 3)
    _summary_equals_recount(trial)


def test_rebuild_agrees_with_the_summaries_kept_by_reviews(trial: Trial, engineer: User) -> None:
    episodes_review_bulk(trial=trial, indexes=[0, 1], reviewer=engineer, outcome="aborted", reason="e-stop")
    episode_review(episode=_at(trial, 9), reviewer=engineer, outcome="success", reason="placed, detector missed it")
    kept = _summary(trial)
    trial_summaries_rebuild(trial_ids=[trial.pk])
    rebuilt = _summary(trial)
    assert (kept.episodes, kept.successes, kept.reviewed) == (rebuilt.episodes, rebuilt.successes, rebuilt.reviewed)
    assert (rebuilt.successes, rebuilt.reviewed) == (7, 3)


def test_roi_evidence_counts_the_reviewed_outcome_and_says_how_many(trial: Trial, engineer: User) -> None:
    CostModelFactory.create(task=trial.task)
    before = task_roi_report(task=trial.task, draws=200, details=False)
    assert (before.episodes, before.successes, before.reviewed) == (10, 8, 0)
    episode_review(episode=_at(trial, 9), reviewer=engineer, outcome="success", reason="placed")
    episode_review(episode=_at(trial, 0), reviewer=engineer, outcome="success")
    after = task_roi_report(task=trial.task, draws=200, details=False)
    assert (after.episodes, after.successes, after.reviewed) == (10, 9, 2)
    assert after.to_dict()["reviewed"] == 2
