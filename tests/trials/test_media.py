"""Episode recordings stored through Django's storage API (trials.media)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from django.db import IntegrityError, transaction

from core.recording.recorder import EpisodeRecorder, OverviewSettings
from core.sim import cell_make
from core.sim.episode import episode_rollout
from tests.factories import EpisodeFactory
from trials.media import (
    MediaFacts,
    NewMedia,
    episode_media_add,
    episode_media_delete,
    episode_media_save,
    episode_recording_store,
    trial_media_bytes,
)
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


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_new_episodes_files_are_stored_with_their_rows_in_one_insert(
    tmp_path: Path, settings, django_assert_num_queries
) -> None:
    first = EpisodeFactory.create()
    episodes = [first, EpisodeFactory.create(trial=first.trial, index=1)]
    items = []
    for i, episode in enumerate(episodes):
        (tmp_path / f"{i}.mp4").write_bytes(f"video {i}".encode())
        items.append(
            NewMedia(
                episode=episode,
                kind=MediaKind.VIDEO,
                name="front",
                path=tmp_path / f"{i}.mp4",
                facts=MediaFacts(frames=7 + i, fps=10.0, width=16, height=16, duration_s=0.7),
            )
        )
    with django_assert_num_queries(1):
        rows = episode_media_add(items=items)
    stored = {m.episode_id: m for m in EpisodeMedia.objects.filter(pk__in=[r.pk for r in rows])}
    for i, episode in enumerate(episodes):
        media = stored[episode.pk]
        assert (media.frames, media.content_type, media.size_bytes) == (7 + i, "video/mp4", 7)
        assert media.sha256 == hashlib.sha256(f"video {i}".encode()).hexdigest()
        with media.file.open("rb") as handle:
            assert handle.read() == f"video {i}".encode()
        assert media.file.name.endswith("/front.mp4")


def test_a_file_an_episode_has_already_is_refused_and_none_of_the_batch_stays(tmp_path: Path, settings) -> None:
    episode = EpisodeFactory.create()
    (tmp_path / "a.mp4").write_bytes(b"a")
    episode_media_add(items=[NewMedia(episode=episode, kind=MediaKind.VIDEO, name="front", path=tmp_path / "a.mp4")])
    before = _files(Path(settings.MEDIA_ROOT))
    again = [
        NewMedia(episode=episode, kind=MediaKind.VIDEO, name="wrist", path=tmp_path / "a.mp4"),
        NewMedia(episode=episode, kind=MediaKind.VIDEO, name="front", path=tmp_path / "a.mp4"),
    ]
    with pytest.raises(IntegrityError), transaction.atomic():
        episode_media_add(items=again)
    assert _files(Path(settings.MEDIA_ROOT)) == before
    assert list(EpisodeMedia.objects.filter(episode=episode).values_list("name", flat=True)) == ["front"]
