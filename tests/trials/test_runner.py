"""The simulation runner: chunks, the episode loop, idempotent recording, cancel, leases and the reaper."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from core.policy import onnx_runtime
from core.recording.trajectory import trajectory_read
from core.sim.cells.tabletop_reach_2d import STAGES as REACH_STAGES
from policies.services import reference_policy_version_ensure
from tests.factories import RobotFactory, TrialFactory
from tests.trials.runner_support import FAST_CELL, reach_trial
from trials import queue, runner
from trials.models import ChunkState, Episode, EpisodeEvent, Trial, TrialChunk, TrialStatus
from trials.services import trial_cancel
from trials.tasks import trial_run_chunk_task, trial_start_task

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.TRIAL_CHUNK_EPISODES = 4
    settings.TRIAL_CHUNK_LEASE_S = 30
    onnx_runtime.cache_clear()
    enqueued: list[list[int]] = []
    monkeypatch.setattr(queue, "chunks_enqueue", lambda *, chunk_ids: enqueued.append(list(chunk_ids)))
    return enqueued


def _start(trial: Trial, django_capture_on_commit_callbacks) -> list[TrialChunk]:
    with django_capture_on_commit_callbacks(execute=True):
        runner.trial_start(trial_id=trial.pk)
    return list(TrialChunk.objects.filter(trial=trial))


def test_trial_start_splits_episodes_into_chunks_and_enqueues_each(
    _isolated, django_capture_on_commit_callbacks
) -> None:
    trial = reach_trial(episodes=10)
    chunks = _start(trial, django_capture_on_commit_callbacks)
    assert [(c.first_index, c.stop_index) for c in chunks] == [(0, 4), (4, 8), (8, 10)]
    assert _isolated == [[c.pk for c in chunks]]
    assert _start(trial, django_capture_on_commit_callbacks) == chunks  # idempotent: no second set
    assert len(_isolated) == 1


def test_chunks_record_every_episode_with_metrics_events_and_status(django_capture_on_commit_callbacks) -> None:
    trial = reach_trial(episodes=10)
    for chunk in _start(trial, django_capture_on_commit_callbacks):
        result = runner.chunk_run(chunk_id=chunk.pk)
        assert result.ran == list(range(chunk.first_index, chunk.stop_index)) and not result.stopped
    trial.refresh_from_db()
    assert trial.status == TrialStatus.COMPLETED
    episodes = list(Episode.objects.filter(trial=trial))
    assert [e.index for e in episodes] == list(range(10))
    for e in episodes:
        assert e.outcome in ("success", "failure") and 0 < e.cycle_time_s <= 10.0 + 1e-6
        assert e.metrics["steps"] >= 1 and e.metrics["inferences"] == e.metrics["steps"]
        assert e.metrics["policy_latency_p95_ms"] >= e.metrics["policy_latency_median_ms"] > 0
        assert e.cycle_time_s == pytest.approx(e.metrics["sim_time_s"])
    # A random policy fails: every failure carries the cell's faults (timeout, safety stop, ...).
    failed = [e for e in episodes if e.outcome == "failure"]
    assert failed and all(EpisodeEvent.objects.filter(episode=e).exists() for e in failed)
    assert all(c.state == ChunkState.DONE for c in TrialChunk.objects.filter(trial=trial))


def test_same_seed_gives_same_episodes(django_capture_on_commit_callbacks) -> None:
    a, b = reach_trial(episodes=3, seed=7), reach_trial(episodes=3, seed=7)
    for trial in (a, b):
        for chunk in _start(trial, django_capture_on_commit_callbacks):
            runner.chunk_run(chunk_id=chunk.pk)
    got = [[(e.outcome, e.cycle_time_s, e.metrics["steps"]) for e in Episode.objects.filter(trial=t)] for t in (a, b)]
    assert got[0] == got[1]


def _recordings_left(root: Path) -> list[Path]:
    folder = root / "trialbench-recordings"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_every_episode_is_recorded_with_videos_trajectory_poster_and_stages(
    django_capture_on_commit_callbacks, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "worker-tmp"))
    (tmp_path / "worker-tmp").mkdir()
    version = reference_policy_version_ensure(cell_key=FAST_CELL)  # succeeds in most episodes
    trial = reach_trial(episodes=4, version=version, overview_px=48, overview_fps=5.0)
    (chunk,) = _start(trial, django_capture_on_commit_callbacks)
    trial.refresh_from_db()
    assert trial.stages == list(REACH_STAGES) and trial.preflight["passed"] is True
    assert runner.chunk_run(chunk_id=chunk.pk).ran == [0, 1, 2, 3]
    episodes = list(Episode.objects.filter(trial=trial).prefetch_related("media"))
    assert len(episodes) == 4 and any(e.outcome == "success" for e in episodes)
    for e in episodes:
        steps = e.metrics["steps"]
        media = {(m.kind, m.name): m for m in e.media.all()}
        assert set(media) == {
            ("video", "top"), ("video", "overview"), ("poster", ""), ("trajectory", ""), ("manifest", ""),
        }  # fmt: skip
        assert media[("video", "top")].frames == steps  # every frame the policy saw
        overview = media[("video", "overview")]
        assert overview.width == 48 and 1 <= overview.frames <= steps
        assert media[("poster", "")].size_bytes > 0
        trajectory = trajectory_read(Path(media[("trajectory", "")].file.path))
        assert trajectory.rows == steps and trajectory.stages == REACH_STAGES
        assert e.stage_reached is not None and len(e.stage_times_s) == e.stage_reached
        assert e.stage_times_s == sorted(e.stage_times_s) and e.progress == pytest.approx(e.stage_reached / 4)
        if e.outcome == "success":
            assert e.progress == 1.0 and e.stage_reached == len(REACH_STAGES)
        assert "video" not in e.metrics  # the GIF path is gone
    assert _recordings_left(tmp_path / "worker-tmp") == []  # each temporary folder removed once stored


def test_a_crash_between_row_and_media_keeps_the_episode_and_is_not_re_recorded(
    django_capture_on_commit_callbacks, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "worker-tmp"))
    (tmp_path / "worker-tmp").mkdir()
    trial = reach_trial(episodes=4)
    (chunk,) = _start(trial, django_capture_on_commit_callbacks)
    real_store = runner.episode_recording_store

    def storage_down_at_episode_1(*, episode: Episode, recording: object) -> object:
        if episode.index == 1:
            raise ConnectionError("storage unreachable")
        return real_store(episode=episode, recording=recording)

    monkeypatch.setattr(runner, "episode_recording_store", storage_down_at_episode_1)
    with pytest.raises(ConnectionError):
        runner.chunk_run(chunk_id=chunk.pk)
    assert _recordings_left(tmp_path / "worker-tmp") == []  # the folder goes even when storing fails
    monkeypatch.setattr(runner, "episode_recording_store", real_store)
    runner.chunk_release(chunk_id=chunk.pk)  # the task's retry path
    before = Episode.objects.get(trial=trial, index=1)
    result = runner.chunk_run(chunk_id=chunk.pk)
    assert result.skipped == [0, 1] and result.ran == [2, 3]
    kept = Episode.objects.get(trial=trial, index=1)
    assert (kept.pk, kept.metrics) == (before.pk, before.metrics) and not kept.media.exists()
    with_media = Episode.objects.filter(trial=trial, media__kind="poster").values_list("index", flat=True)
    assert sorted(with_media) == [0, 2, 3]
    assert Trial.objects.get(pk=trial.pk).status == TrialStatus.COMPLETED


def test_trial_timeout_ends_episodes_with_a_timeout_event(django_capture_on_commit_callbacks) -> None:
    trial = reach_trial(episodes=2, episode_timeout_s=0.5)
    (chunk,) = _start(trial, django_capture_on_commit_callbacks)
    runner.chunk_run(chunk_id=chunk.pk)
    for e in Episode.objects.filter(trial=trial):
        assert e.cycle_time_s <= 0.5 + 1e-6
        if e.outcome == "failure" and e.cycle_time_s == pytest.approx(0.5):
            assert EpisodeEvent.objects.filter(episode=e, category="timeout").exists()


def test_redone_chunk_runs_only_missing_episodes(django_capture_on_commit_callbacks) -> None:
    trial = reach_trial(episodes=4)
    (chunk,) = _start(trial, django_capture_on_commit_callbacks)
    runner.chunk_run(chunk_id=chunk.pk)
    before = {e.index: (e.pk, e.metrics) for e in Episode.objects.filter(trial=trial)}
    # As if the worker had died after two episodes: the others were never recorded, the lease went stale.
    Episode.objects.filter(trial=trial, index__in=[1, 3]).delete()
    Trial.objects.filter(pk=trial.pk).update(status=TrialStatus.RUNNING, finished_at=None)
    TrialChunk.objects.filter(pk=chunk.pk).update(
        state=ChunkState.RUNNING, heartbeat_at=timezone.now() - timedelta(seconds=60)
    )
    assert runner.chunks_reap() == [chunk.pk]
    result = runner.chunk_run(chunk_id=chunk.pk)
    assert result.ran == [1, 3] and result.skipped == [0, 2]
    after = {e.index: (e.pk, e.metrics) for e in Episode.objects.filter(trial=trial)}
    assert sorted(after) == [0, 1, 2, 3]
    assert after[0] == before[0] and after[2] == before[2]
    assert Trial.objects.get(pk=trial.pk).status == TrialStatus.COMPLETED


def test_chunk_held_by_live_worker_is_not_run_twice(django_capture_on_commit_callbacks) -> None:
    trial = reach_trial(episodes=2)
    (chunk,) = _start(trial, django_capture_on_commit_callbacks)
    TrialChunk.objects.filter(pk=chunk.pk).update(state=ChunkState.RUNNING, heartbeat_at=timezone.now(), claim="x")
    result = runner.chunk_run(chunk_id=chunk.pk)
    assert result.stopped == "another worker holds this chunk" and not Episode.objects.filter(trial=trial).exists()
    assert runner.chunks_reap() == []  # a fresh lease is not reaped


def test_worker_that_lost_its_lease_stops(django_capture_on_commit_callbacks, monkeypatch) -> None:
    trial = reach_trial(episodes=4)
    (chunk,) = _start(trial, django_capture_on_commit_callbacks)
    real = runner._record

    def record_then_steal(*args, **kwargs):
        episode = real(*args, **kwargs)
        TrialChunk.objects.filter(pk=chunk.pk).update(claim="someone-else")
        return episode

    monkeypatch.setattr(runner, "_record", record_then_steal)
    result = runner.chunk_run(chunk_id=chunk.pk)
    assert result.ran == [0] and "another worker" in result.stopped


def test_cancelled_trial_runs_no_more_episodes(django_capture_on_commit_callbacks) -> None:
    trial = reach_trial(episodes=8)
    first, second = _start(trial, django_capture_on_commit_callbacks)
    runner.chunk_run(chunk_id=first.pk)
    trial_cancel(trial_id=trial.pk)
    result = runner.chunk_run(chunk_id=second.pk)
    assert result.ran == [] and "cancelled" in result.stopped
    assert Episode.objects.filter(trial=trial).count() == 4
    TrialChunk.objects.filter(pk=second.pk).update(
        state=ChunkState.RUNNING, heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    assert runner.chunks_reap() == []  # finished trials are not reaped


def test_reaper_starts_trials_left_queued_without_chunks(settings, _isolated) -> None:
    settings.TRIAL_CHUNK_QUEUED_LEASE_S = 60
    trial = reach_trial(episodes=5)
    Trial.objects.filter(pk=trial.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    fresh = reach_trial(episodes=5)
    reaped = runner.chunks_reap()
    assert TrialChunk.objects.filter(trial=trial).count() == 2 and not TrialChunk.objects.filter(trial=fresh).exists()
    assert sorted(reaped) == sorted(TrialChunk.objects.filter(trial=trial).values_list("pk", flat=True))


def test_policy_not_matching_cell_fails_the_trial_at_preflight_with_reason(
    django_capture_on_commit_callbacks,
) -> None:
    trial = reach_trial(episodes=2)
    version = trial.policy_version
    version.io_spec = {**version.io_spec, "images": [{**version.io_spec["images"][0], "camera": "wrist"}]}
    version.save(update_fields=["io_spec"])
    assert _start(trial, django_capture_on_commit_callbacks) == []
    trial.refresh_from_db()
    assert trial.status == TrialStatus.FAILED and "camera 'wrist'" in trial.status_message
    assert trial.preflight["passed"] is False and not Episode.objects.filter(trial=trial).exists()


def test_policy_failing_in_a_chunk_fails_the_trial_with_reason(django_capture_on_commit_callbacks) -> None:
    trial = reach_trial(episodes=2)
    (chunk,) = _start(trial, django_capture_on_commit_callbacks)
    version = trial.policy_version  # changed after a passed preflight: the chunk meets it
    version.io_spec = {**version.io_spec, "images": [{**version.io_spec["images"][0], "camera": "wrist"}]}
    version.save(update_fields=["io_spec"])
    onnx_runtime.cache_clear()
    outcome = trial_run_chunk_task.apply(args=[chunk.pk])
    assert outcome.failed()
    trial.refresh_from_db()
    assert trial.status == TrialStatus.FAILED and "camera 'wrist'" in trial.status_message


def test_physical_robot_trial_becomes_agent_jobs_not_chunks() -> None:
    from robots.models import AgentJob

    trial = TrialFactory(robot=RobotFactory(kind="physical", sim_cell_key=""), episodes_planned=3)
    trial_start_task.apply(args=[trial.pk])
    trial_start_task.apply(args=[trial.pk])  # a redelivered start creates nothing twice
    trial.refresh_from_db()
    assert trial.status == TrialStatus.QUEUED
    assert sorted(AgentJob.objects.filter(trial=trial).values_list("index", flat=True)) == [0, 1, 2]
    assert not TrialChunk.objects.filter(trial=trial).exists()
