"""Integrators attach recording files to their episodes through the API (trials/media_api.py): stored after
decoding, retry-safe, refused with a 4xx naming the field, the episode kept; scoped by organization and role."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from accounts.models import Role, User
from accounts.services import api_token_create
from tests.factories import EpisodeFactory, UserFactory
from tests.trials.media_support import jpeg_bytes, mp4_bytes, trajectory_bytes
from trials.media import trial_media_bytes
from trials.models import Episode, EpisodeMedia, EpisodeOutcome

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"


def _api(user: User) -> APIClient:
    client = APIClient()
    _, secret = api_token_create(user=user, name="tests")
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    return client


@pytest.fixture
def episode() -> Episode:
    return EpisodeFactory.create(
        index=3, outcome=EpisodeOutcome.FAILURE, source="integrator_upload", external_id="run-3"
    )


def _integrator(episode: Episode, role: str = Role.INTEGRATOR) -> APIClient:
    return _api(UserFactory.create(organization=episode.trial.robot.organization, role=role))


def _url(episode: Episode, tail: str) -> str:
    return f"/api/v1/trials/{episode.trial_id}/episodes/{episode.index}/media/{tail}"


def _put(client: APIClient, url: str, data: bytes, content_type: str = "video/mp4") -> object:
    return client.put(url, data=data, content_type=content_type)


def test_a_good_video_is_stored_with_its_decoded_facts_and_a_retry_changes_nothing(
    episode: Episode, tmp_path: Path
) -> None:
    client = _integrator(episode)
    video = mp4_bytes(tmp_path, frames=7, px=32)
    first = _put(client, _url(episode, "video/front/"), video)
    assert first.status_code == 201, first.content  # type: ignore[attr-defined]
    body = first.json()  # type: ignore[attr-defined]
    assert body["created"] is True and body["kind"] == "video" and body["name"] == "front"
    assert (body["frames"], body["width"], body["height"], body["size_bytes"]) == (7, 32, 32, len(video))
    media = EpisodeMedia.objects.get(episode=episode)
    assert media.file.read() == video
    again = _put(client, _url(episode, "video/front/"), video)
    assert again.status_code == 200 and again.json()["created"] is False  # type: ignore[attr-defined]
    assert EpisodeMedia.objects.filter(episode=episode).count() == 1
    assert trial_media_bytes(trial_id=episode.trial_id) == len(video)
    listed = client.get(_url(episode, ""))
    assert listed.status_code == 200 and [m["name"] for m in listed.json()] == ["front"]


def test_trajectory_poster_and_manifest_are_accepted(episode: Episode, tmp_path: Path) -> None:
    client = _integrator(episode)
    for kind, data, ctype in [
        ("trajectory", trajectory_bytes(tmp_path), "application/vnd.apache.parquet"),
        ("poster", jpeg_bytes(), "image/jpeg"),
        ("manifest", b'{"version": 1, "outcome": "failure"}', "application/json"),
    ]:
        reply = _put(client, _url(episode, f"{kind}/"), data, ctype)
        assert reply.status_code == 201, (kind, reply.content)  # type: ignore[attr-defined]
    assert sorted(EpisodeMedia.objects.filter(episode=episode).values_list("kind", flat=True)) == [
        "manifest",
        "poster",
        "trajectory",
    ]


def _episode_unchanged(episode: Episode) -> None:
    fresh = Episode.objects.get(pk=episode.pk)
    assert (fresh.outcome, fresh.cycle_time_s, fresh.index) == (episode.outcome, episode.cycle_time_s, episode.index)


def test_an_oversized_video_is_a_413_naming_the_file_and_the_stored_one_stays(
    episode: Episode, tmp_path: Path, settings
) -> None:  # type: ignore[no-untyped-def]
    client = _integrator(episode)
    video = mp4_bytes(tmp_path)
    assert _put(client, _url(episode, "video/front/"), video).status_code == 201  # type: ignore[attr-defined]
    settings.EPISODE_MEDIA_MAX_BYTES = 1000
    bigger = mp4_bytes(tmp_path, frames=30, px=64, name="big.mp4")
    assert len(bigger) > 1000
    refused = _put(client, _url(episode, "video/front/"), bigger)
    assert refused.status_code == 413  # type: ignore[attr-defined]
    assert refused.json()["code"] == "payload_too_large" and "1000" in refused.json()["errors"]["file"][0]  # type: ignore[attr-defined]
    assert EpisodeMedia.objects.get(episode=episode).file.read() == video
    _episode_unchanged(episode)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (bytes(range(256)) * 40, "not an accepted video"),  # random bytes named .mp4
        (b"<!doctype html><html><body>front.mp4</body></html>", "not an accepted video"),  # HTML renamed .mp4
        (b"\x00\x00\x00\x18ftypisom" + b"\x00" * 200, "not an accepted video"),  # an MP4 header, nothing inside
    ],
)
def test_a_file_that_is_not_a_video_is_refused_naming_the_file_and_the_episode_kept(
    episode: Episode, data: bytes, expected: str
) -> None:
    refused = _put(_integrator(episode), _url(episode, "video/front/"), data)
    assert refused.status_code == 400  # type: ignore[attr-defined]
    errors = refused.json()["errors"]  # type: ignore[attr-defined]
    assert list(errors) == ["file"] and expected in errors["file"][0]
    assert not EpisodeMedia.objects.filter(episode=episode).exists()
    _episode_unchanged(episode)


def test_a_truncated_video_is_refused(episode: Episode, tmp_path: Path) -> None:
    video = mp4_bytes(tmp_path, frames=20)
    refused = _put(_integrator(episode), _url(episode, "video/front/"), video[: len(video) // 2])
    assert refused.status_code == 400 and "file" in refused.json()["errors"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("tail", "data", "ctype", "field", "status"),
    [
        ("trajectory/", b"PAR1 not really PAR1", "application/octet-stream", "file", 400),
        ("poster/", b"\xff\xd8 not a jpeg", "image/jpeg", "file", 400),
        ("manifest/", b"[1, 2]", "application/json", "file", 400),
        ("manifest/", b"", "application/json", "file", 400),
        ("video/", b"x", "video/mp4", "name", 400),  # a video needs its camera's name
        ("video/front%20cam/", b"x", "video/mp4", "name", 400),
        ("archive/", b"x", "application/octet-stream", "kind", 400),
    ],
)
def test_bad_files_and_targets_are_a_400_naming_the_field(
    episode: Episode, tail: str, data: bytes, ctype: str, field: str, status: int
) -> None:
    refused = _put(_integrator(episode), _url(episode, tail), data, ctype)
    assert refused.status_code == status, refused.content  # type: ignore[attr-defined]
    assert list(refused.json()["errors"]) == [field]  # type: ignore[attr-defined]
    assert not EpisodeMedia.objects.filter(episode=episode).exists()


def test_a_form_body_is_an_unsupported_media_type(episode: Episode) -> None:
    reply = _put(_integrator(episode), _url(episode, "poster/"), jpeg_bytes(), "application/x-www-form-urlencoded")
    assert reply.status_code == 415  # type: ignore[attr-defined]


def test_roles_and_organizations_are_checked(episode: Episode, tmp_path: Path) -> None:
    poster = jpeg_bytes()
    outsider = _api(UserFactory.create(role=Role.INTEGRATOR))
    assert _put(outsider, _url(episode, "poster/"), poster, "image/jpeg").status_code == 404  # type: ignore[attr-defined]
    manager = _integrator(episode, role=Role.MANAGER)
    assert _put(manager, _url(episode, "poster/"), poster, "image/jpeg").status_code == 403  # type: ignore[attr-defined]
    assert APIClient().put(_url(episode, "poster/"), data=poster, content_type="image/jpeg").status_code == 401
    engineer = _integrator(episode, role=Role.ENGINEER)
    assert _put(engineer, _url(episode, "poster/"), poster, "image/jpeg").status_code == 201  # type: ignore[attr-defined]


def test_an_index_without_a_counted_episode_is_a_404(episode: Episode) -> None:
    client = _integrator(episode)
    missing = f"/api/v1/trials/{episode.trial_id}/episodes/{episode.index + 1}/media/poster/"
    assert _put(client, missing, jpeg_bytes(), "image/jpeg").status_code == 404  # type: ignore[attr-defined]
    huge = f"/api/v1/trials/{episode.trial_id}/episodes/{10**30}/media/poster/"
    assert _put(client, huge, jpeg_bytes(), "image/jpeg").status_code == 404  # type: ignore[attr-defined]


def test_a_large_body_is_spooled_not_read_whole(episode: Episode, tmp_path: Path) -> None:
    """The limit holds for a stream without a declared length as well (cut off at the limit)."""
    from trials.media_ingest import MediaRejected, media_spool

    with pytest.raises(MediaRejected) as refused:
        media_spool(io.BytesIO(b"x" * 5000), declared_bytes=None, max_bytes=4096)
    assert refused.value.too_large and refused.value.field == "file"
    with media_spool(io.BytesIO(b"y" * 4096), declared_bytes=None, max_bytes=4096) as spool:
        assert spool.read() == b"y" * 4096


def test_a_video_larger_than_djangos_in_memory_body_limit_is_streamed_not_refused(
    episode: Episode, tmp_path: Path, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000  # request.body would refuse this; the upload reads the stream
    video = mp4_bytes(tmp_path, frames=20, px=64)
    assert len(video) > 1000
    stored = _put(_integrator(episode), _url(episode, "video/front/"), video)
    assert stored.status_code == 201, stored.content  # type: ignore[attr-defined]
