"""Episode recordings on an S3-compatible store: a real S3 server (moto in server mode, on loopback) behind
the storage that EPISODE_MEDIA_STORAGE=s3 configures (config/storage.py). A recording is uploaded through
the API, read back through the permission-checked media view with a byte range, swept by the retention
cleanup, and deleted from the bucket."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.utils.module_loading import import_string
from moto.server import ThreadedMotoServer
from rest_framework.test import APIClient

from accounts.models import MediaRetention, Role
from accounts.services import api_token_create
from config.storage import S3_BACKEND, episode_media_storage_config
from tests.factories import EpisodeFactory, UserFactory, client_for, episode_media_make
from tests.trials.media_support import mp4_bytes
from trials.media import episode_media_delete, trial_media_bytes
from trials.models import EpisodeMedia, EpisodeOutcome
from trials.retention import media_cleanup, orphan_media_sweep

pytestmark = pytest.mark.django_db
BUCKET = "trialbench-test-recordings"
KEYS = {"access_key": "test-access", "secret_key": "test-secret"}  # noqa: S105 - moto accepts any


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint: str) -> Any:
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEYS["access_key"],
        aws_secret_access_key=KEYS["secret_key"],
    )
    client.create_bucket(Bucket=BUCKET)
    yield client
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


@pytest.fixture
def s3_storage(s3_endpoint: str, bucket: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The storage the settings would build from EPISODE_MEDIA_STORAGE=s3 and its variables, put behind
    EpisodeMedia.file (a FileField resolves its storage once, at import)."""
    config = episode_media_storage_config(
        kind="s3", bucket=BUCKET, endpoint_url=s3_endpoint, region="us-east-1", prefix="recordings", **KEYS
    )
    assert config["BACKEND"] == S3_BACKEND
    storage = import_string(config["BACKEND"])(**config["OPTIONS"])
    monkeypatch.setattr(EpisodeMedia._meta.get_field("file"), "storage", storage)
    return storage


def _keys(bucket: Any) -> list[str]:
    return sorted(item["Key"] for item in bucket.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_a_recording_round_trips_through_the_s3_store(s3_storage: Any, bucket: Any, tmp_path: Path) -> None:
    episode = EpisodeFactory.create(index=0, outcome=EpisodeOutcome.SUCCESS)
    user = UserFactory.create(organization=episode.trial.robot.organization, role=Role.INTEGRATOR)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=user, name='s3')[1]}")
    video = mp4_bytes(tmp_path, frames=12, px=48)
    stored = api.put(
        f"/api/v1/trials/{episode.trial_id}/episodes/0/media/video/front/", data=video, content_type="video/mp4"
    )
    assert stored.status_code == 201, stored.content
    media = EpisodeMedia.objects.get(pk=stored.json()["id"])
    assert _keys(bucket) == [f"recordings/{media.file.name}"]  # in the bucket, under the prefix
    assert bucket.get_object(Bucket=BUCKET, Key=f"recordings/{media.file.name}")["Body"].read() == video

    viewer = client_for(user)
    url = f"/trials/{episode.trial_id}/episodes/0/media/{media.pk}/"
    part = viewer.get(url, HTTP_RANGE="bytes=100-1099")
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 100-1099/{len(video)}"
    assert b"".join(part.streaming_content) == video[100:1100]
    whole = viewer.get(url)
    assert whole.status_code == 200 and b"".join(whole.streaming_content) == video

    retried = api.put(
        f"/api/v1/trials/{episode.trial_id}/episodes/0/media/video/front/", data=video, content_type="video/mp4"
    )
    assert retried.status_code == 200 and len(_keys(bucket)) == 1  # the same bytes: no second object

    episode_media_delete(media=media)
    assert _keys(bucket) == [] and trial_media_bytes(trial_id=episode.trial_id) == 0
    assert viewer.get(url).status_code == 404


def test_retention_and_the_orphan_sweep_work_on_the_s3_store(s3_storage: Any, bucket: Any) -> None:
    episode = EpisodeFactory.create(index=0, outcome=EpisodeOutcome.SUCCESS)
    trial = episode.trial
    trial.media_retention = MediaRetention.KEEP_NONE
    trial.save(update_fields=["media_retention"])
    episode_media_make(episode=episode, kind="poster", data=b"\xff\xd8poster")
    orphan = s3_storage.save("trials/999/episodes/00000-1/front.mp4", ContentFile(b"left behind"))
    assert orphan_media_sweep(dry_run=True) == []  # younger than an hour: may be an upload in progress
    assert [r.name for r in orphan_media_sweep(min_age=timedelta(0), dry_run=True)] == [orphan]
    report = media_cleanup(orphans=False)
    assert len(report.removed) == 1 and _keys(bucket) == [f"recordings/{orphan}"]
    orphan_media_sweep(min_age=timedelta(0))
    assert _keys(bucket) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"kind": "ftp"}, "EPISODE_MEDIA_STORAGE"), ({"kind": "s3"}, "EPISODE_MEDIA_S3_BUCKET")],
)
def test_a_bad_storage_setting_stops_start_up(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        episode_media_storage_config(**kwargs)


def test_the_default_is_the_local_folder() -> None:
    assert episode_media_storage_config(kind="")["BACKEND"].endswith("FileSystemStorage")
