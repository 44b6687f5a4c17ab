"""Episode recordings stored through Django's storage API (trials.media)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from core.recording.recorder import EpisodeRecorder, OverviewSettings
from core.sim import cell_make
from core.sim.episode import episode_rollout
from tests.factories import EpisodeFactory
from trials.media import episode_media_delete, episode_media_save, episode_recording_store, trial_media_bytes
from trials.models import EpisodeMedia, MediaKind

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def test_a_recording_is_stored_file_by_file_with_its_facts(tmp_path: Path) -> None:
    cell = cell_make("tabletop-reach-2d")
    run = episode_rollout(
        cell=cell,
        act=lambda _obs: cell.expert_action(),
        seed=3,
        recorder=EpisodeRecorder(tmp_path / "ep", overview=OverviewSettings(px=64, fps=5.0)),
    )
    assert run.recording is not None
    episode = EpisodeFactory.create()
    stored = episode_recording_store(episode=episode, recording=run.recording)
    kinds = sorted((m.kind, m.name) for m in stored)
    assert kinds == [
        ("manifest", ""), ("poster", ""), ("trajectory", ""), ("video", "overview"), ("video", "top"),
    ]  # fmt: skip
    top = next(m for m in stored if m.name == "top")
    assert top.frames == run.steps and top.content_type == "video/mp4" and top.width == 64
    with top.file.open("rb") as handle:
        assert handle.read() == (tmp_path / "ep" / "policy-top.mp4").read_bytes()
    assert trial_media_bytes(trial_id=episode.trial_id) == run.recording.bytes


def test_the_same_bytes_again_change_nothing_and_new_bytes_replace_the_file() -> None:
    episode = EpisodeFactory.create()
    first = episode_media_save(episode=episode, kind=MediaKind.POSTER, name="", handle=io.BytesIO(b"jpeg-1"))
    again = episode_media_save(episode=episode, kind=MediaKind.POSTER, name="", handle=io.BytesIO(b"jpeg-1"))
    assert again.pk == first.pk and again.file.name == first.file.name
    old_name = first.file.name
    replaced = episode_media_save(episode=episode, kind=MediaKind.POSTER, name="", handle=io.BytesIO(b"jpeg-two"))
    assert replaced.pk == first.pk and replaced.size_bytes == 8
    assert EpisodeMedia.objects.filter(episode=episode).count() == 1
    assert not replaced.file.storage.exists(old_name) or old_name == replaced.file.name
    with replaced.file.open("rb") as handle:
        assert handle.read() == b"jpeg-two"
    episode_media_delete(media=replaced)
    assert not replaced.file.storage.exists(replaced.file.name)
    assert EpisodeMedia.objects.count() == 0
