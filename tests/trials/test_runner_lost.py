"""Episodes lost to infrastructure (policy server down or erroring, simulator exception): recorded as
`lost`, re-run with the same seed up to the limit, excluded from every figure and counted beside them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from core.policy import onnx_runtime
from core.policy.remote import PolicyReplyError, PolicyServerError, PolicyUnreachable
from reports.stats.selectors import trial_sequential_verdict, trial_statistics
from tests.trials.runner_support import reach_trial
from trials import queue, runner
from trials.models import ChunkState, Episode, EpisodeEvent, Trial, TrialChunk, TrialSourceSummary, TrialStatus
from trials.selectors import trial_summary

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.TRIAL_CHUNK_EPISODES = 4
    settings.TRIAL_CHUNK_LEASE_S = 30
    settings.TRIAL_LOST_EPISODE_RETRIES = 2
    settings.TRIAL_LOST_RETRY_DELAY_S = 0.0
    onnx_runtime.cache_clear()
    monkeypatch.setattr(queue, "chunks_enqueue", lambda *, chunk_ids: None)


class _Flaky:
    """A policy whose episodes number `fail_on` (0-based episode() calls) raise `error` on the first act."""

    def __init__(self, real: Any, fail_on: set[int] | None, error: Exception) -> None:
        self.real, self.fail_on, self.error, self.calls = real, fail_on, error, 0

    def episode(self, *, instruction: str) -> Any:
        call, self.calls = self.calls, self.calls + 1
        controller = self.real.episode(instruction=instruction)
        if self.fail_on is None or call in self.fail_on:
            error = self.error

            class Broken:
                def act(self, obs: Any) -> Any:
                    raise error

                def latency_summary(self) -> dict[str, float]:
                    return {}

                def close(self) -> None:
                    pass

            return Broken()
        return controller


def _run(trial: Trial, django_capture_on_commit_callbacks, monkeypatch, *, fail_on, error) -> list[runner.ChunkResult]:
    real_policy_for = runner.policy_for
    flaky: dict[str, _Flaky] = {}

    def policy_for(version: Any) -> Any:
        if "p" not in flaky:
            flaky["p"] = _Flaky(real_policy_for(version), fail_on, error)
        return flaky["p"]

    monkeypatch.setattr(runner, "policy_for", policy_for)
    with django_capture_on_commit_callbacks(execute=True):
        runner.trial_start(trial_id=trial.pk)
    return [runner.chunk_run(chunk_id=c.pk) for c in TrialChunk.objects.filter(trial=trial)]


def _clean(trial: Trial, django_capture_on_commit_callbacks) -> list[tuple[int, str, float]]:
    with django_capture_on_commit_callbacks(execute=True):
        runner.trial_start(trial_id=trial.pk)
    for c in TrialChunk.objects.filter(trial=trial):
        runner.chunk_run(chunk_id=c.pk)
    return [(e.index, e.outcome, e.cycle_time_s) for e in Episode.objects.filter(trial=trial)]


def test_unreachable_server_loses_the_episode_and_reruns_it_with_the_same_seed(
    django_capture_on_commit_callbacks, monkeypatch
) -> None:
    trial = reach_trial(episodes=4, seed=3)
    results = _run(
        trial, django_capture_on_commit_callbacks, monkeypatch, fail_on={1}, error=PolicyUnreachable("refused")
    )
    assert results[0].lost == [1] and results[0].ran == [0, 1, 2, 3]
    trial.refresh_from_db()
    assert trial.status == TrialStatus.COMPLETED
    lost = Episode.objects.filter(trial=trial, outcome="lost")
    assert [e.index for e in lost] == [1]
    event = EpisodeEvent.objects.get(episode=lost[0])
    assert event.category == "policy_unreachable" and "refused" in event.message
    counted = [(e.index, e.outcome, e.cycle_time_s) for e in Episode.objects.counted().filter(trial=trial)]
    assert counted == _clean(reach_trial(episodes=4, seed=3), django_capture_on_commit_callbacks)
    summary = trial_summary(trial=trial)
    assert summary["done"] == 4 and summary["lost"] == 1
    row = TrialSourceSummary.objects.get(trial=trial)
    assert row.episodes == 4 and row.lost == 1


def test_server_down_for_good_gives_up_after_the_limit_and_counts_nothing(
    django_capture_on_commit_callbacks, monkeypatch
) -> None:
    trial = reach_trial(episodes=3)
    results = _run(trial, django_capture_on_commit_callbacks, monkeypatch, fail_on=None, error=PolicyServerError("500"))
    assert results[0].ran == [] and len(results[0].lost) == 3 * 3  # 1 + TRIAL_LOST_EPISODE_RETRIES each
    trial.refresh_from_db()
    assert trial.status == TrialStatus.COMPLETED and "3 lost to infrastructure" in trial.status_message
    assert set(EpisodeEvent.objects.filter(episode__trial=trial).values_list("category", flat=True)) == {
        "policy_server_error"
    }
    summary = trial_summary(trial=trial)
    assert summary["done"] == 0 and summary["success_rate"] is None and summary["lost"] == 9
    stats = trial_statistics(trial_id=trial.pk)
    assert stats.episodes_lost == 9 and "9 episodes lost to infrastructure, not counted" in (stats.note or "")
    assert all(b.n_episodes == 0 for b in stats.sources)


def test_lost_episodes_are_in_no_rate_or_sequential_test(django_capture_on_commit_callbacks, monkeypatch) -> None:
    trial = reach_trial(episodes=4, seed=3)
    _run(trial, django_capture_on_commit_callbacks, monkeypatch, fail_on={0, 2}, error=PolicyUnreachable("down"))
    stats = trial_statistics(trial_id=trial.pk)
    (block,) = stats.sources
    assert block.n_episodes == 4 and stats.episodes_lost == 2
    # Levels this close never decide on 4 episodes: the verdict is over all of them, and only them.
    verdict = trial_sequential_verdict(trial_id=trial.pk, acceptable_success=0.55, rejectable_success=0.45)
    sprt = verdict.sources[0].verdict
    successes = Episode.objects.filter(trial=trial, outcome="success").count()
    assert (sprt.n, sprt.successes, sprt.failures) == (4, successes, 4 - successes)


def test_bad_reply_is_a_counted_failure_with_a_policy_error_fault(
    django_capture_on_commit_callbacks, monkeypatch
) -> None:
    trial = reach_trial(episodes=2)
    _run(trial, django_capture_on_commit_callbacks, monkeypatch, fail_on={0}, error=PolicyReplyError("shape [1,H,D]"))
    first = Episode.objects.get(trial=trial, index=0)
    assert first.outcome == "failure"
    assert EpisodeEvent.objects.filter(episode=first, category="policy_error", message__contains="[1,H,D]").exists()
    assert not Episode.objects.filter(trial=trial, outcome="lost").exists()


def test_simulator_exception_loses_the_episode(django_capture_on_commit_callbacks, monkeypatch) -> None:
    trial = reach_trial(episodes=2)
    cell = runner.cell_for(trial.robot.sim_cell_key)
    real_step, calls = cell.step, {"n": 0}

    def step(action: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("mujoco: simulation unstable")
        return real_step(action)

    monkeypatch.setattr(cell, "step", step)
    with django_capture_on_commit_callbacks(execute=True):
        runner.trial_start(trial_id=trial.pk)
    (chunk,) = TrialChunk.objects.filter(trial=trial)
    result = runner.chunk_run(chunk_id=chunk.pk)
    assert result.lost == [0] and result.ran == [0, 1]
    lost = Episode.objects.get(trial=trial, outcome="lost")
    assert EpisodeEvent.objects.filter(episode=lost, category="simulator_error", message__contains="unstable").exists()


def test_chunk_whose_worker_died_in_its_retry_countdown_is_reaped_after_a_lease(settings) -> None:
    trial = reach_trial(episodes=4)
    now = timezone.now()
    chunk = TrialChunk.objects.create(trial=trial, first_index=0, stop_index=4, enqueued_at=now)
    runner.chunk_release(chunk_id=chunk.pk, retry_in_s=8)
    lease = float(settings.TRIAL_CHUNK_LEASE_S)
    assert runner.chunks_reap(now=now + timedelta(seconds=8 + lease / 2)) == []  # the retry may still come
    assert runner.chunks_reap(now=now + timedelta(seconds=8 + lease + 1)) == [chunk.pk]
    chunk.refresh_from_db()
    assert chunk.state == ChunkState.QUEUED and chunk.retry_at is None


def test_a_lost_attempt_stores_no_media_and_its_re_run_is_recorded(
    django_capture_on_commit_callbacks, monkeypatch
) -> None:
    trial = reach_trial(episodes=4, seed=3)
    _run(trial, django_capture_on_commit_callbacks, monkeypatch, fail_on={1}, error=PolicyUnreachable("refused"))
    lost = Episode.objects.get(trial=trial, outcome="lost")
    assert lost.index == 1 and not lost.media.exists()
    for episode in Episode.objects.counted().filter(trial=trial):
        kinds = set(episode.media.values_list("kind", "name"))
        assert {("video", "top"), ("poster", ""), ("trajectory", "")} <= kinds, episode.index
