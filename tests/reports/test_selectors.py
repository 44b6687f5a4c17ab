"""reports.stats.selectors: figures aggregated in the database equal a plain per-row computation, sources are
kept apart, visibility holds, and every selector runs in a bounded number of queries."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from core import stats
from reports.stats import selectors
from tests.factories import (
    CostModelFactory,
    PolicyVersionFactory,
    TaskFactory,
    TrialFactory,
    UserFactory,
)
from trials.models import Episode, EpisodeEvent, EpisodeOutcome, EpisodeSource, EventCategory, EventKind, Task, Trial

pytestmark = pytest.mark.django_db

SIM = EpisodeSource.SIMULATION
AGENT = EpisodeSource.ROBOT_AGENT
UPLOAD = EpisodeSource.INTEGRATOR_UPLOAD


def add_episodes(trial, outcomes, *, cycle_times=None, source=SIM, start_index=0, events=None):
    """Bulk-create episodes; `outcomes` is a string of s/f/a; `events` maps position -> [(kind, category, t)]."""
    now = timezone.now()
    codes = {"s": EpisodeOutcome.SUCCESS, "f": EpisodeOutcome.FAILURE, "a": EpisodeOutcome.ABORTED}
    cycle_times = cycle_times if cycle_times is not None else [10.0 + (i % 5) for i in range(len(outcomes))]
    episodes = Episode.objects.bulk_create(
        Episode(
            trial=trial,
            index=start_index + i,
            outcome=codes[o],
            cycle_time_s=ct,
            started_at=now,
            ended_at=now + timedelta(seconds=ct),
            source=source,
        )
        for i, (o, ct) in enumerate(zip(outcomes, cycle_times, strict=True))
    )
    EpisodeEvent.objects.bulk_create(
        EpisodeEvent(episode=episodes[pos], kind=kind, category=cat, t_offset_s=t)
        for pos, evs in (events or {}).items()
        for kind, cat, t in evs
    )
    return episodes


IV, FAULT = EventKind.INTERVENTION, EventKind.FAULT


def naive_figures(trial_ids, *, source):
    """The same figures computed row by row from model instances: the reference for the database path."""
    episodes = list(Episode.objects.filter(trial_id__in=trial_ids, source=source).order_by("trial_id", "index"))
    events = list(EpisodeEvent.objects.filter(episode__in=episodes))
    by_episode: dict[int, list[EpisodeEvent]] = {}
    for ev in events:
        by_episode.setdefault(ev.episode_id, []).append(ev)
    best_success = best_clean = run_s = run_c = 0
    prev_trial = None
    failed = Counter()
    for ep in episodes:
        if ep.trial_id != prev_trial:
            run_s = run_c = 0
            prev_trial = ep.trial_id
        ok = ep.outcome == EpisodeOutcome.SUCCESS
        intervened = any(e.kind == IV for e in by_episode.get(ep.pk, []))
        run_s = run_s + 1 if ok else 0
        run_c = run_c + 1 if ok and not intervened else 0
        best_success, best_clean = max(best_success, run_s), max(best_clean, run_c)
        if not ok:
            evs = sorted(by_episode.get(ep.pk, []), key=lambda e: (e.t_offset_s, e.pk))
            failed[evs[0].category if evs else stats.UNATTRIBUTED] += 1
    good = [ep.cycle_time_s for ep in episodes if ep.outcome == EpisodeOutcome.SUCCESS]
    return {
        "n": len(episodes),
        "successes": len(good),
        "median": float(np.median(good)) if good else None,
        "p90": float(np.percentile(good, 90)) if good else None,
        "interventions": sum(1 for e in events if e.kind == IV),
        "hours": sum(ep.cycle_time_s for ep in episodes) / 3600,
        "longest_success": best_success,
        "longest_clean": best_clean,
        "failed": dict(failed),
        "events": dict(Counter(e.category for e in events)),
    }


@pytest.fixture
def trial_with_history():
    trial = TrialFactory(episodes_planned=40)
    outcomes = "ssssfsssssssaff" + "s" * 20 + "fssss"
    events = {
        2: [(IV, EventCategory.GRASP_MISS, 3.0)],
        4: [(FAULT, EventCategory.PERCEPTION, 1.0), (IV, EventCategory.GRASP_MISS, 4.0)],
        12: [(FAULT, EventCategory.SAFETY_STOP, 2.0)],
        13: [(IV, EventCategory.DROP, 5.0), (FAULT, EventCategory.COLLISION, 0.5)],
        20: [(IV, EventCategory.OTHER, 1.0)],
    }
    add_episodes(trial, outcomes, events=events)
    return trial


def test_trial_statistics_match_a_per_row_computation(trial_with_history):
    trial = trial_with_history
    result = selectors.trial_statistics(trial_id=trial.pk)
    assert [b.source for b in result.sources] == [SIM]
    block = result.sources[0]
    ref = naive_figures([trial.pk], source=SIM)
    assert block.n_episodes == ref["n"] == 40
    assert block.success.successes == ref["successes"]
    assert block.cycle_time.median_s == pytest.approx(ref["median"])
    assert block.cycle_time.p90_s == pytest.approx(ref["p90"])
    assert block.interventions.interventions == ref["interventions"] == 4
    assert block.interventions.operating_hours == pytest.approx(ref["hours"])
    assert block.longest_success_run == ref["longest_success"]
    assert block.longest_run_without_intervention == ref["longest_clean"]
    assert {b.category: b.count for b in block.failures_by_category} == ref["failed"]
    # Failed episode 4 is attributed to its first event (perception at 1.0 s), 13 to collision at 0.5 s;
    # the Pareto keeps event categories (issue 13: collision, timeout, stops were lumped as "robot fault").
    assert ref["failed"] == {"perception": 1, "safety_stop": 1, "collision": 1, "unattributed": 2}
    assert block.events_by_category == ref["events"]
    assert block.success.claim.endswith("n = 40")
    assert block.takt.n == ref["successes"]
    # No cost model: the default recovery time is used and said so.
    assert result.recovery_time_s == 60.0 and "default" in result.recovery_time_source
    assert block.throughput.recovery_time_s == 60.0
    json.dumps(result.to_dict())


def test_trial_statistics_uses_the_base_cost_model_recovery_time(trial_with_history):
    CostModelFactory(task=trial_with_history.task, recovery_time_s=30.0)
    result = selectors.trial_statistics(trial_id=trial_with_history.pk)
    assert result.recovery_time_s == 30.0 and result.recovery_time_source == "base cost model of the task"
    block = result.sources[0]
    assert block.oee.waterfall[1].seconds == pytest.approx(-4 * 30.0)


def test_sources_are_never_pooled():
    trial = TrialFactory(episodes_planned=30)
    add_episodes(trial, "s" * 10, source=SIM, cycle_times=[5.0] * 10, events={0: [(FAULT, EventCategory.DROP, 1.0)]})
    add_episodes(
        trial,
        "ssff",
        source=UPLOAD,
        cycle_times=[20.0] * 4,
        start_index=10,
        events={2: [(IV, EventCategory.PERCEPTION, 1.0), (FAULT, EventCategory.DROP, 2.0)]},
    )
    result = selectors.trial_statistics(trial_id=trial.pk)
    blocks = {b.source: b for b in result.sources}
    assert blocks[SIM].events_by_category == {"drop": 1}
    assert blocks[UPLOAD].events_by_category == {"drop": 1, "perception": 1}
    assert (blocks[SIM].interventions.interventions, blocks[UPLOAD].interventions.interventions) == (0, 1)
    assert [(b.category, b.count) for b in blocks[UPLOAD].failures_by_category] == [
        ("perception", 1),
        ("unattributed", 1),
    ]
    assert set(blocks) == {SIM, UPLOAD}
    assert (blocks[SIM].n_episodes, blocks[SIM].success.successes, blocks[SIM].cycle_time.median_s) == (10, 10, 5.0)
    assert (blocks[UPLOAD].n_episodes, blocks[UPLOAD].success.successes, blocks[UPLOAD].cycle_time.median_s) == (
        4,
        2,
        20.0,
    )
    assert blocks[UPLOAD].source_label == "Integrator upload"
    assert "never pooled" in result.note
    only = selectors.trial_statistics(trial_id=trial.pk, source=UPLOAD)
    assert [b.source for b in only.sources] == [UPLOAD]
    with pytest.raises(ValueError):
        selectors.trial_statistics(trial_id=trial.pk, source="guess")


def test_empty_trial_and_single_episode_do_not_crash():
    empty = TrialFactory()
    result = selectors.trial_statistics(trial_id=empty.pk)
    assert result.sources == () and "not enough data" in result.note
    json.dumps(result.to_dict())
    requested = selectors.trial_statistics(trial_id=empty.pk, source=AGENT)
    assert requested.sources[0].n_episodes == 0 and requested.sources[0].success.rate is None
    assert requested.sources[0].oee is None
    one = TrialFactory()
    add_episodes(one, "s", cycle_times=[9.0])
    block = selectors.trial_statistics(trial_id=one.pk).sources[0]
    assert block.success.claim == "at least 5% success at 95% confidence, exact binomial, n = 1"
    assert block.cycle_time.median_s == 9.0 and block.cycle_time.median_ci is None
    assert block.interventions.interventions == 0 and block.interventions.mtbi_h is None
    assert block.interventions.mtbi_lower_bound_h > 0
    json.dumps(block.to_dict())


def test_trial_statistics_query_count_does_not_grow_with_episodes(django_assert_max_num_queries):
    small, large = TrialFactory(), TrialFactory(episodes_planned=500)
    add_episodes(small, "sf" * 5, events={1: [(IV, EventCategory.DROP, 1.0)]})
    add_episodes(large, "ssf" * 150, events={i: [(IV, EventCategory.GRASP_MISS, 1.0)] for i in range(0, 450, 7)})
    for trial in (small, large):
        with django_assert_max_num_queries(4):
            selectors.trial_statistics(trial_id=trial.pk)


def test_visibility_follows_trial_rules():
    trial = TrialFactory()
    add_episodes(trial, "ss")
    owner = UserFactory(organization=trial.task.organization)
    stranger = UserFactory()
    assert selectors.trial_statistics(trial_id=trial.pk, user=owner).sources[0].n_episodes == 2
    with pytest.raises(Trial.DoesNotExist):
        selectors.trial_statistics(trial_id=trial.pk, user=stranger)
    with pytest.raises(Task.DoesNotExist):
        selectors.task_statistics(task_id=trial.task_id, user=stranger)
    with pytest.raises(Trial.DoesNotExist):
        selectors.trials_compare(trial_a_id=trial.pk, trial_b_id=trial.pk, user=stranger)


def test_task_statistics_per_version_and_sim_to_real_gap(django_assert_max_num_queries):
    task = TaskFactory()
    v1, v2 = PolicyVersionFactory(), PolicyVersionFactory()
    sim1 = TrialFactory(task=task, policy_version=v1, episodes_planned=60)
    real1 = TrialFactory(task=task, policy_version=v1, episodes_planned=60)
    sim2 = TrialFactory(task=task, policy_version=v2, episodes_planned=60)
    add_episodes(sim1, "s" * 38 + "ff", cycle_times=[10.0] * 40, source=SIM)
    add_episodes(real1, "s" * 24 + "f" * 16, cycle_times=[14.0] * 40, source=AGENT)
    add_episodes(sim2, "s" * 20, cycle_times=[9.0] * 20, source=SIM)
    with django_assert_max_num_queries(5):
        result = selectors.task_statistics(task_id=task.pk)
    blocks = {b.source: b for b in result.sources}
    assert (blocks[SIM].n_episodes, blocks[AGENT].n_episodes) == (60, 40)
    assert {(s.policy_version_id, s.source, s.success.n) for s in result.by_policy_version} == {
        (v1.pk, SIM, 40),
        (v1.pk, AGENT, 40),
        (v2.pk, SIM, 20),
    }
    # Only v1 has both simulation and a real source.
    assert [(g.policy_version_id, g.real_source) for g in result.sim_to_real] == [(v1.pk, AGENT)]
    gap = result.sim_to_real[0]
    assert gap.success_gap == pytest.approx(24 / 40 - 38 / 40)
    assert gap.median_cycle_gap_s == pytest.approx(4.0)
    assert gap.success.significant and "lower" in gap.success.verdict
    json.dumps(result.to_dict())
    only_sim = selectors.task_statistics(task_id=task.pk, source=SIM)
    assert [b.source for b in only_sim.sources] == [SIM] and only_sim.sim_to_real == ()


def test_trials_compare_says_no_evidence_and_rejects_other_tasks(django_assert_max_num_queries):
    task = TaskFactory()
    a, b = TrialFactory(task=task), TrialFactory(task=task)
    add_episodes(a, "s" * 18 + "ff", cycle_times=list(np.linspace(10, 12, 20)))
    add_episodes(b, "s" * 19 + "f", cycle_times=list(np.linspace(10.1, 12.1, 20)))
    with django_assert_max_num_queries(2):
        cmp = selectors.trials_compare(trial_a_id=a.pk, trial_b_id=b.pk)
    assert (cmp.success.n_a, cmp.success.successes_a, cmp.success.n_b, cmp.success.successes_b) == (20, 18, 20, 19)
    assert cmp.success.verdict.startswith("No evidence of a difference")
    assert cmp.cycle_time.verdict.startswith("No evidence of a difference")
    assert cmp.source_a == cmp.source_b == SIM and cmp.note is None
    with pytest.raises(ValueError):
        selectors.trials_compare(trial_a_id=a.pk, trial_b_id=TrialFactory().pk)


def test_sequential_verdict_reports_the_first_decision(django_assert_max_num_queries):
    trial = TrialFactory(episodes_planned=100)
    add_episodes(trial, "s" * 17 + "ff")  # passes at episode 17; later failures do not undo it
    with django_assert_max_num_queries(2):
        result = selectors.trial_sequential_verdict(trial_id=trial.pk, acceptable_success=0.95, rejectable_success=0.8)
    verdict = result.sources[0].verdict
    assert verdict.verdict == "pass" and verdict.decided_at_n == 17
    running = TrialFactory()
    add_episodes(running, "s" * 10)
    still = selectors.trial_sequential_verdict(trial_id=running.pk, acceptable_success=0.95, rejectable_success=0.8)
    assert still.sources[0].verdict.verdict == "keep going" and still.sources[0].verdict.successes_to_pass == 7
    with pytest.raises(ValueError):
        selectors.trial_sequential_verdict(trial_id=trial.pk, acceptable_success=0.8, rejectable_success=0.9)


def test_trial_acceptance_evaluate_passes_and_fails_with_evidence(trial_with_history, django_assert_max_num_queries):
    lenient = stats.AcceptanceRule(
        min_success_lower_bound=0.6, consecutive_without_intervention=10, cycle_time_max_s=15.0
    )
    with django_assert_max_num_queries(4):
        result = selectors.trial_acceptance_evaluate(trial_id=trial_with_history.pk, criteria=lenient)
    outcome = result.sources[0].result
    assert outcome.passed, outcome.statement
    assert [c.criterion for c in outcome.checks] == [
        "success lower bound",
        "consecutive cycles without intervention",
        "cycle time p90 upper bound",
    ]
    strict = stats.AcceptanceRule(min_success_lower_bound=0.9, mtbi_lower_bound_h=1.0)
    failed = selectors.trial_acceptance_evaluate(trial_id=trial_with_history.pk, criteria=strict).sources[0].result
    assert not failed.passed and "success lower bound" in failed.statement and "MTBI" in failed.statement
    assert "n = 40" in failed.checks[0].evidence
    json.dumps(failed.to_dict())


def test_trial_plan_uses_measured_cycle_time(trial_with_history, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        plan = selectors.task_trial_plan(task_id=trial_with_history.task_id, target_success=0.9, confidence=0.95)
    mean = sum(10.0 + (i % 5) for i in range(40)) / 40
    assert plan.episodes_needed == 29 and plan.cycle_time_source == SIM
    assert plan.robot_hours == pytest.approx(29 * mean / 3600)
    # Real robot episodes, when any, set the robot-hours; simulation is not pooled with them.
    real = TrialFactory(task=trial_with_history.task)
    add_episodes(real, "ss", cycle_times=[36.0, 36.0], source=AGENT)
    real_plan = selectors.task_trial_plan(task_id=trial_with_history.task_id, target_success=0.9, failures_allowed=1)
    assert real_plan.cycle_time_source == AGENT and real_plan.episodes_needed == 46
    assert real_plan.robot_hours == pytest.approx(46 * 36.0 / 3600)
    sim_plan = selectors.task_trial_plan(task_id=trial_with_history.task_id, target_success=0.9, source=SIM)
    assert sim_plan.robot_hours == pytest.approx(plan.robot_hours)
    blank = selectors.task_trial_plan(task_id=TaskFactory().pk, target_success=0.9)
    assert blank.episodes_needed == 29 and blank.robot_hours is None and blank.cycle_time_source is None
