"""Retention of episode recordings (trials/retention.py, `manage.py media_cleanup`): each policy keeps what
it says, the episodes and figures stay, storage used drops by what was freed, and orphan files are swept."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command

from accounts.models import MediaRetention
from tests.factories import EpisodeFactory, TrialFactory, episode_media_make
from trials.media import trial_media_bytes
from trials.models import Episode, EpisodeMedia, EpisodeOutcome, MediaKind, Trial, episode_media_storage
from trials.retention import episodes_not_kept, media_cleanup, orphan_media_sweep, trial_media_cleanup
from trials.selectors import trial_progress

pytestmark = pytest.mark.django_db
S, F, A = EpisodeOutcome.SUCCESS, EpisodeOutcome.FAILURE, EpisodeOutcome.ABORTED
# Recorded out of index order, so "the first N successes" must be by index, not by arrival.
OUTCOMES = {5: S, 0: S, 1: F, 3: S, 2: S, 4: A}


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"


def _trial_with_recordings(**trial_fields: object) -> Trial:
    trial = TrialFactory.create(episodes_planned=6, **trial_fields)
    for index, outcome in OUTCOMES.items():
        episode = EpisodeFactory.create(trial=trial, index=index, outcome=outcome)
        episode_media_make(episode=episode, kind=MediaKind.VIDEO, name="front", data=bytes([index]) * 100)
        episode_media_make(episode=episode, kind=MediaKind.POSTER, data=bytes([index]) * 10)
    return trial


def _indexes_with_media(trial: Trial) -> list[int]:
    return sorted(set(EpisodeMedia.objects.filter(episode__trial=trial).values_list("episode__index", flat=True)))


def test_keep_all_removes_nothing() -> None:
    trial = _trial_with_recordings()
    assert trial.retention[0] == MediaRetention.KEEP_ALL
    assert trial_media_cleanup(trial=trial) == []
    assert _indexes_with_media(trial) == [0, 1, 2, 3, 4, 5]


def test_failures_and_first_n_successes_by_index_keeps_those_and_frees_the_rest() -> None:
    trial = _trial_with_recordings(media_retention=MediaRetention.FAILURES_AND_FIRST_SUCCESSES, media_keep_successes=2)
    before = trial_media_bytes(trial_id=trial.pk)
    progress_before = trial_progress(trial=trial)
    gone = EpisodeMedia.objects.filter(episode__trial=trial, episode__index__in=[3, 5])
    files = [m.file.name for m in gone]
    removed = trial_media_cleanup(trial=trial)
    assert sorted({r.index for r in removed}) == [3, 5]  # successes after the first two (0 and 2)
    assert _indexes_with_media(trial) == [0, 1, 2, 4]  # the failure, the aborted one, the first two successes
    freed = sum(r.size_bytes for r in removed)
    assert freed == 2 * (100 + 10)
    assert trial_media_bytes(trial_id=trial.pk) == before - freed  # the trial page's "storage used"
    storage = episode_media_storage()
    assert files and not any(storage.exists(name) for name in files)
    assert Episode.objects.filter(trial=trial).count() == 6  # the episodes and their figures stay
    assert trial_progress(trial=trial) == progress_before
    assert trial_media_cleanup(trial=trial) == []  # a second run finds nothing more


def test_the_organizations_policy_applies_unless_the_trial_has_its_own() -> None:
    trial = _trial_with_recordings()
    org = trial.robot.organization
    org.media_retention, org.media_keep_successes = MediaRetention.FAILURES_AND_FIRST_SUCCESSES, 0
    org.save()
    trial = Trial.objects.get(pk=trial.pk)
    trial_media_cleanup(trial=trial)
    assert _indexes_with_media(trial) == [1, 4]  # N = 0: only the failure and the aborted one
    Trial.objects.filter(pk=trial.pk).update(media_retention=MediaRetention.KEEP_NONE)
    trial_media_cleanup(trial=Trial.objects.get(pk=trial.pk))
    assert _indexes_with_media(trial) == []
    assert trial_media_bytes(trial_id=trial.pk) == 0


def test_keep_none_removes_every_recording_of_the_trial_only() -> None:
    trial = _trial_with_recordings(media_retention=MediaRetention.KEEP_NONE)
    other = _trial_with_recordings()
    report = media_cleanup(orphans=False)
    assert {r.trial_id for r in report.removed} == {trial.pk}
    assert len(report.removed) == 12 and report.bytes_freed == 6 * 110
    assert _indexes_with_media(trial) == [] and _indexes_with_media(other) == [0, 1, 2, 3, 4, 5]


def test_a_dry_run_changes_nothing_and_reports_the_same() -> None:
    trial = _trial_with_recordings(media_retention=MediaRetention.KEEP_NONE)
    dry = media_cleanup(dry_run=True)
    assert dry.bytes_freed == 6 * 110 and _indexes_with_media(trial) == [0, 1, 2, 3, 4, 5]
    real = media_cleanup()
    assert [r.name for r in real.removed] == [r.name for r in dry.removed]


def test_the_first_n_rule_counts_successes_without_media_too() -> None:
    rows = [(10, 0, S), (11, 1, S), (12, 2, F), (13, 3, S)]
    assert episodes_not_kept(policy=MediaRetention.FAILURES_AND_FIRST_SUCCESSES, keep_successes=2, episodes=rows) == {
        13
    }
    assert episodes_not_kept(policy=MediaRetention.KEEP_NONE, keep_successes=2, episodes=rows) == {10, 11, 12, 13}
    assert episodes_not_kept(policy=MediaRetention.KEEP_ALL, keep_successes=0, episodes=rows) == set()


def _age(name: str, seconds: float) -> None:
    path = episode_media_storage().path(name)
    old = time.time() - seconds
    os.utime(path, (old, old))


def test_orphan_files_older_than_an_hour_are_swept(settings) -> None:  # type: ignore[no-untyped-def]
    storage = episode_media_storage()
    kept = episode_media_make(kind=MediaKind.POSTER, data=b"kept")
    old_orphan = storage.save("trials/99/episodes/00001-1/front.mp4", ContentFile(b"x" * 50))
    new_orphan = storage.save("trials/99/episodes/00002-2/front.mp4", ContentFile(b"y" * 30))
    artifact = storage.save("policies/abc.onnx", ContentFile(b"model"))  # not a recording: never touched
    for name in (kept.file.name, old_orphan, artifact):
        _age(name, 2 * 3600)
    _age(new_orphan, 60)  # may be an upload whose row is being written
    dry = orphan_media_sweep(dry_run=True)
    assert [r.name for r in dry] == [old_orphan] and storage.exists(old_orphan)
    swept = orphan_media_sweep()
    assert [(r.name, r.size_bytes) for r in swept] == [(old_orphan, 50)]
    assert not storage.exists(old_orphan)
    assert storage.exists(new_orphan) and storage.exists(artifact) and storage.exists(kept.file.name)


def test_the_command_prints_what_it_removed_and_the_bytes_freed() -> None:
    _trial_with_recordings(media_retention=MediaRetention.FAILURES_AND_FIRST_SUCCESSES, media_keep_successes=3)
    out = io.StringIO()
    call_command("media_cleanup", "--dry-run", stdout=out)
    assert "would remove" in out.getvalue() and "110 bytes to free" in out.getvalue()
    assert EpisodeMedia.objects.count() == 12
    out = io.StringIO()
    call_command("media_cleanup", stdout=out)
    lines = out.getvalue().splitlines()
    assert sum(line.startswith("removed ") for line in lines) == 2  # episode 5's video and poster
    assert "Removed 2 file(s), 110 bytes" in lines[-1] and "freed" in lines[-1]
    assert EpisodeMedia.objects.count() == 10
