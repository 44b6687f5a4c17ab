"""The permission-checked media view: whole files, byte ranges for seeking, another organization 404."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from accounts.models import Role, User
from tests.factories import EpisodeFactory, UserFactory, client_for, episode_media_make
from trials.media_views import byte_range
from trials.models import EpisodeMedia, MediaKind

pytestmark = pytest.mark.django_db
DATA = bytes(range(256)) * 4  # 1,024 bytes


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def _url(media: EpisodeMedia) -> str:
    episode = media.episode
    return reverse("episode-media", kwargs={"pk": episode.trial_id, "index": episode.index, "media_id": media.pk})


@pytest.fixture
def media() -> EpisodeMedia:
    return episode_media_make(episode=EpisodeFactory.create(), kind=MediaKind.VIDEO, name="front", data=DATA)


def _engineer_of(media: EpisodeMedia) -> User:
    return UserFactory.create(organization=media.episode.trial.robot.organization, role=Role.ENGINEER)


def test_whole_file_and_a_range(media: EpisodeMedia) -> None:
    client = client_for(_engineer_of(media))
    whole = client.get(_url(media))
    assert whole.status_code == 200 and b"".join(whole.streaming_content) == DATA
    assert whole["Content-Type"] == "video/mp4" and whole["Accept-Ranges"] == "bytes"
    part = client.get(_url(media), HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206 and part["Content-Range"] == "bytes 100-199/1024"
    assert b"".join(part.streaming_content) == DATA[100:200]
    tail = client.get(_url(media), HTTP_RANGE="bytes=-24")
    assert tail.status_code == 206 and b"".join(tail.streaming_content) == DATA[-24:]
    beyond = client.get(_url(media), HTTP_RANGE="bytes=5000-")
    assert beyond.status_code == 416 and beyond["Content-Range"] == "bytes */1024"
    stale = client.get(_url(media), HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"another-version"')
    assert stale.status_code == 200  # If-Range of another version: the whole current file


def test_another_organization_and_anonymous_get_nothing(media: EpisodeMedia) -> None:
    outsider = UserFactory.create(role=Role.ENGINEER)
    assert client_for(outsider).get(_url(media)).status_code == 404
    from django.test import Client

    assert Client().get(_url(media)).status_code == 302  # to the login page


def test_media_of_another_episode_index_is_not_served_under_this_one(media: EpisodeMedia) -> None:
    client = client_for(_engineer_of(media))
    episode = media.episode
    url = reverse("episode-media", kwargs={"pk": episode.trial_id, "index": episode.index + 1, "media_id": media.pk})
    assert client.get(url).status_code == 404


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-0", (0, 0)),
        ("bytes=10-", (10, 99)),
        ("bytes=90-500", (90, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=100-", False),
        ("bytes=20-10", False),
        ("bytes=0-1,5-6", None),
        ("items=0-1", None),
    ],
)
def test_byte_range(header: str | None, expected: object) -> None:
    assert byte_range(header, 100) == expected
