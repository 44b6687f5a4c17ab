"""LeRobot export and import over the API and the browser (trials/lerobot_api.py, lerobot_views.py):
an export job run by a real Celery worker, downloaded with ranges; imports of datasets exported from
recorded episodes, with their labels, videos, idempotency, all-or-nothing and the 4xx answers."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from config.celery import app as celery_app
from core.lerobot.dataset_read import dataset_open
from tests.factories import OrganizationFactory, RobotFactory, TaskFactory, TrialFactory, UserFactory, client_for
from tests.support import WorkerProcess, wait_until
from tests.trials.recording_support import RecordingCache
from tests.trials.test_lerobot_export import recorded_sweep, recorded_trial
from trials.lerobot_export import dataset_export_run, dataset_exports_expire
from trials.models import DatasetExport, Episode, EpisodeMedia, EventKind, ExportStatus, MediaKind, Trial
from trials.sweep_selectors import sweep_condition_trials


@pytest.fixture(scope="module")
def recordings() -> Iterator[RecordingCache]:
    cache = RecordingCache()
    yield cache
    cache.remove()


@pytest.fixture(autouse=True)
def _media_root(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def _engineer(trial: Trial, role: str = Role.ENGINEER) -> Any:
    return UserFactory(organization=trial.robot.organization, role=role)


def _empty_trial(episodes: int = 10) -> Trial:
    org = OrganizationFactory()
    return TrialFactory(
        task=TaskFactory(organization=org), robot=RobotFactory(organization=org), episodes_planned=episodes
    )


# --- Export through a real worker ----------------------------------------------------------------


def _reset_producer_pools() -> None:
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def fs_worker(start_worker: Callable[..., WorkerProcess], tmp_path: Path, settings: Any) -> Iterator[WorkerProcess]:
    """A real worker on a private filesystem broker this process publishes to, on the same media folder."""
    broker = tmp_path / "broker"
    options = {
        "data_folder_in": str(broker / "queue"),
        "data_folder_out": str(broker / "queue"),
        "processed_folder": str(broker / "processed"),
        "control_folder": str(broker / "control"),
        "store_processed": False,
        "polling_interval": 0.1,
    }
    for folder in ("queue", "processed", "control"):
        (broker / folder).mkdir(parents=True)
    saved = (celery_app.conf.broker_url, celery_app.conf.broker_transport_options)
    celery_app.conf.broker_url, celery_app.conf.broker_transport_options = "filesystem://", options
    _reset_producer_pools()
    yield start_worker(broker_env={"CELERY_FS_BROKER_DIR": str(broker), "MEDIA_ROOT": str(settings.MEDIA_ROOT)})
    celery_app.conf.broker_url, celery_app.conf.broker_transport_options = saved
    _reset_producer_pools()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_api_export_runs_on_a_worker_and_downloads_with_ranges(
    recordings: RecordingCache, fs_worker: WorkerProcess, tmp_path: Path
) -> None:
    trial = recorded_trial(recordings)
    client = client_for(_engineer(trial, Role.MANAGER))  # reading the trial is enough to export it
    url = reverse("api-lerobot-exports", kwargs={"trial_pk": trial.pk})
    started = client.post(url, {"outcome": "success"}, content_type="application/json")
    assert started.status_code == 202, started.content
    job = started.json()
    assert job["status"] == "queued" and job["episodes_total"] == 2 and job["download_url"] is None
    status_url = reverse("api-lerobot-export", kwargs={"trial_pk": trial.pk, "export_id": job["id"]})

    def finished() -> bool:
        return client.get(status_url).json()["status"] in ("done", "failed")

    try:
        wait_until(finished, timeout=120, what="the export job")
    except TimeoutError:
        pytest.fail(f"the worker did not run the export; its log:\n{fs_worker.log()}")
    done = client.get(status_url).json()
    assert done["status"] == "done", done["error"]
    assert done["episodes_done"] == 2 and done["frames"] == 2 * recordings.run().steps
    whole = client.get(done["download_url"])
    assert whole.status_code == 200 and whole["Content-Type"] == "application/zip"
    body = b"".join(whole.streaming_content)
    assert len(body) == done["size_bytes"] and body[:2] == b"PK"
    (tmp_path / "got.zip").write_bytes(body)
    episodes = list(dataset_open(tmp_path / "got.zip", workdir=tmp_path / "open").episodes())
    assert [e.outcome for e in episodes] == ["success", "success"]
    part = client.get(done["download_url"], HTTP_RANGE="bytes=0-9")
    assert part.status_code == 206 and b"".join(part.streaming_content) == body[:10]
    assert part["Content-Range"] == f"bytes 0-9/{len(body)}"
    stranger = client_for(UserFactory(organization=OrganizationFactory(), role=Role.ENGINEER))
    assert stranger.get(status_url).status_code == 404
    assert stranger.get(done["download_url"]).status_code == 404
    assert stranger.post(url, {}, content_type="application/json").status_code == 404


@pytest.mark.django_db
def test_api_export_refuses_a_bad_filter_naming_it(recordings: RecordingCache) -> None:
    trial = _empty_trial()
    url = reverse("api-lerobot-exports", kwargs={"trial_pk": trial.pk})
    refused = client_for(_engineer(trial)).post(url, {"outcome": "lost"}, content_type="application/json")
    assert refused.status_code == 400 and "outcome" in refused.json()["errors"]
    assert not DatasetExport.objects.exists()


@pytest.mark.django_db
def test_trial_page_export_form_starts_a_job_and_lists_it(recordings: RecordingCache) -> None:
    trial = _empty_trial()
    client = client_for(_engineer(trial))
    page = client.get(reverse("trial-detail", args=[trial.pk])).content.decode()
    assert reverse("lerobot-export-create", args=[trial.pk]) in page and "Export as LeRobotDataset" in page
    answer = client.post(reverse("lerobot-export-create", args=[trial.pk]), {"outcome": "failure"})
    assert answer.status_code == 302
    export = DatasetExport.objects.get(trial=trial)
    assert export.filters == {"outcome": "failure"}
    fragment = client.get(reverse("lerobot-exports", args=[trial.pk])).content.decode()
    assert f"Export #{export.pk}" in fragment and 'hx-trigger="every 3s"' in fragment
    export.status = ExportStatus.FAILED
    export.save()
    assert "every 3s" not in client.get(reverse("lerobot-exports", args=[trial.pk])).content.decode()


# --- A sweep's export; expiry -----------------------------------------------------------------------


@pytest.mark.django_db
def test_sweep_export_through_the_api_lists_reads_and_downloads_the_job(
    recordings: RecordingCache, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    sweep = recorded_sweep(recordings, episodes=1)
    client = client_for(UserFactory(organization=sweep.robot.organization, role=Role.MANAGER))
    url = reverse("api-sweep-lerobot-exports", kwargs={"sweep_pk": sweep.pk})
    with django_capture_on_commit_callbacks() as callbacks:
        started = client.post(url, {"review_state": "unreviewed"}, content_type="application/json")
    assert started.status_code == 202, started.content
    job = started.json()
    assert (job["sweep"], job["trial"], job["episodes_total"], job["status"]) == (sweep.pk, None, 3, "queued")
    assert len(callbacks) == 1  # the job is enqueued on commit, as a trial's
    dataset_export_run(export_id=job["id"])  # what the worker runs (a worker runs it in the trial test)
    status_url = reverse("api-sweep-lerobot-export", kwargs={"sweep_pk": sweep.pk, "export_id": job["id"]})
    done = client.get(status_url).json()
    assert done["status"] == "done" and done["episodes_done"] == 3, done
    assert done["download_url"] == f"/api/v1/sweeps/{sweep.pk}/lerobot-exports/{job['id']}/download/"
    assert [e["id"] for e in client.get(url).json()] == [job["id"]]
    body = b"".join(client.get(done["download_url"]).streaming_content)
    (tmp_path / "sweep.zip").write_bytes(body)
    episodes = list(dataset_open(tmp_path / "sweep.zip", workdir=tmp_path / "open").episodes())
    assert [e.metadata["condition"] for e in episodes] == [t.sweep_label for t in sweep_condition_trials(sweep=sweep)]
    refused = client.post(url, {"outcome": "lost"}, content_type="application/json")
    assert refused.status_code == 400 and "outcome" in refused.json()["errors"]
    stranger = client_for(UserFactory(organization=OrganizationFactory(), role=Role.ENGINEER))
    assert stranger.post(url, {}, content_type="application/json").status_code == 404
    assert stranger.get(status_url).status_code == 404 and stranger.get(done["download_url"]).status_code == 404
    # A sweep's export is not reachable as a trial's, nor the other way round.
    nominal = sweep_condition_trials(sweep=sweep)[0]
    as_trial = reverse("api-lerobot-export", kwargs={"trial_pk": nominal.pk, "export_id": job["id"]})
    assert client.get(as_trial).status_code == 404


@pytest.mark.django_db
def test_sweep_page_export_form_starts_one_job_for_every_condition(recordings: RecordingCache) -> None:
    sweep = recorded_sweep(recordings, episodes=1)
    client = client_for(UserFactory(organization=sweep.robot.organization, role=Role.ENGINEER))
    page = client.get(reverse("sweep-detail", args=[sweep.pk])).content.decode()
    assert reverse("sweep-lerobot-export-create", args=[sweep.pk]) in page and "Export as LeRobotDataset" in page
    answer = client.post(reverse("sweep-lerobot-export-create", args=[sweep.pk]), {"outcome": "failure"})
    assert answer.status_code == 302 and answer["Location"] == reverse("sweep-detail", args=[sweep.pk])
    export = DatasetExport.objects.get(sweep=sweep)
    assert (export.filters, export.episodes_total) == ({"outcome": "failure"}, 1)
    fragment = client.get(reverse("sweep-lerobot-exports", args=[sweep.pk])).content.decode()
    assert f"Export #{export.pk}" in fragment and 'hx-trigger="every 3s"' in fragment
    dataset_export_run(export_id=export.pk)
    fragment = client.get(reverse("sweep-lerobot-exports", args=[sweep.pk])).content.decode()
    download = reverse("sweep-lerobot-export-download", args=[sweep.pk, export.pk])
    assert download in fragment and "kept until" in fragment and "every 3s" not in fragment
    assert client.get(download).status_code == 200
    bad = client.post(reverse("sweep-lerobot-export-create", args=[sweep.pk]), {"stage_reached": "x"}, follow=True)
    assert "Export not started: stage_reached" in bad.content.decode()
    stranger = client_for(UserFactory(organization=OrganizationFactory(), role=Role.ENGINEER))
    assert stranger.post(reverse("sweep-lerobot-export-create", args=[sweep.pk]), {}).status_code == 404
    assert stranger.get(download).status_code == 404


@pytest.mark.django_db
def test_an_expired_export_says_so_and_its_download_is_410_gone(recordings: RecordingCache, settings: Any) -> None:
    settings.LEROBOT_EXPORT_KEEP_DAYS = 2
    trial = recorded_trial(recordings, 1)
    export = dataset_export_run(export_id=DatasetExport.objects.create(trial=trial).pk)
    client = client_for(_engineer(trial))
    status_url = reverse("api-lerobot-export", kwargs={"trial_pk": trial.pk, "export_id": export.pk})
    fresh = client.get(status_url).json()
    assert fresh["expires_at"] is not None and fresh["expired_at"] is None
    api_download = fresh["download_url"]
    page_download = reverse("lerobot-export-download", args=[trial.pk, export.pk])
    DatasetExport.objects.filter(pk=export.pk).update(finished_at=timezone.now() - timedelta(days=3))
    assert [e.export_id for e in dataset_exports_expire()] == [export.pk]
    gone = client.get(status_url).json()
    assert gone["status"] == "expired" and gone["download_url"] is None and gone["expires_at"] is None
    assert gone["expired_at"] is not None
    answer = client.get(api_download)
    assert answer.status_code == 410 and answer.json()["code"] == "gone" and "expired" in answer.json()["detail"]
    assert client.get(page_download).status_code == 410
    fragment = client.get(reverse("lerobot-exports", args=[trial.pk])).content.decode()
    assert 'data-status="expired"' in fragment and "its zip was removed" in fragment and page_download not in fragment


# --- Import ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def exported_zip(
    recordings: RecordingCache, django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[bytes]:
    """A dataset exported from a recorded trial: episodes success, failure (a fault, an intervention), success."""
    folder = tmp_path_factory.mktemp("export")
    from django.db import transaction
    from django.test import override_settings

    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=folder / "media"), transaction.atomic():
        trial = recorded_trial(recordings)
        export = dataset_export_run(export_id=DatasetExport.objects.create(trial=trial).pk)
        with export.file.open("rb") as handle:
            data = handle.read()
        transaction.set_rollback(True)  # no row outlives the fixture: other modules' tests count rows
    yield data


def _import(client: Any, trial: Trial, data: bytes, **query: str) -> Any:
    url = reverse("api-lerobot-imports", kwargs={"trial_pk": trial.pk})
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return client.post(url, data, content_type="application/zip")


def _media_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.django_db
def test_import_records_outcomes_cycle_times_interventions_and_videos_once(
    exported_zip: bytes, recordings: RecordingCache, settings: Any
) -> None:
    trial = _empty_trial()
    client = client_for(_engineer(trial, Role.INTEGRATOR))
    answer = _import(client, trial, exported_zip)
    assert answer.status_code == 201, answer.content
    body = answer.json()
    steps = recordings.run().steps
    assert (body["created"], body["existing"], body["frames"], body["videos"]) == (3, 0, 3 * steps, 3)
    episodes = list(Episode.objects.filter(trial=trial).order_by("index"))
    assert [e.outcome for e in episodes] == ["success", "failure", "success"]
    assert all(e.cycle_time_s == pytest.approx(steps / 10) for e in episodes)  # frames at the cell's 10 fps
    assert all(e.external_id == f"lerobot:{body['dataset']}:{i}" for i, e in enumerate(episodes))
    kinds = [sorted((ev.kind, ev.category) for ev in e.events.all()) for e in episodes]
    assert kinds[0] == [] and kinds[1] == [(EventKind.FAULT, "drop"), (EventKind.INTERVENTION, "other")]
    videos = EpisodeMedia.objects.filter(episode__trial=trial, kind=MediaKind.VIDEO)
    assert sorted(v.name for v in videos) == ["top"] * 3 and all(v.frames == steps for v in videos)
    files = len(_media_files(Path(settings.MEDIA_ROOT)))
    again = _import(client, trial, exported_zip)
    assert again.status_code == 200 and again.json()["created"] == 0 and again.json()["existing"] == 3
    assert Episode.objects.filter(trial=trial).count() == 3 and len(_media_files(Path(settings.MEDIA_ROOT))) == files


def _rewritten(data: bytes, tmp_path: Path, change: Callable[[Path], None]) -> bytes:
    """The zip with its unpacked folder changed by `change`."""
    folder = tmp_path / "rewrite"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(folder)
    change(folder)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            archive.write(path, path.relative_to(folder).as_posix())
    shutil.rmtree(folder)
    return out.getvalue()


def _without_labels(folder: Path) -> None:
    """No success label left, an `is_success` column instead (as some rollout tools write)."""
    episodes = folder / "meta/episodes/chunk-000/file-000.parquet"
    table = pq.read_table(episodes)
    table = table.append_column("is_success", table.column("success")).drop_columns(["success", "outcome"])
    pq.write_table(table, episodes)
    data = folder / "data/chunk-000/file-000.parquet"
    pq.write_table(pq.read_table(data).drop_columns(["next.success"]), data)
    info = json.loads((folder / "meta/info.json").read_text())
    del info["features"]["next.success"]
    (folder / "meta/info.json").write_text(json.dumps(info))


@pytest.mark.django_db
def test_import_without_a_success_label_asks_for_a_mapping(exported_zip: bytes, tmp_path: Path) -> None:
    trial = _empty_trial()
    client = client_for(_engineer(trial))
    data = _rewritten(exported_zip, tmp_path, _without_labels)
    asked = _import(client, trial, data)
    assert asked.status_code == 400 and "success_field" in asked.json()["errors"]
    assert not Episode.objects.filter(trial=trial).exists()
    missing = _import(client, trial, data, success_field="nope")
    assert missing.status_code == 400 and "nope" in missing.json()["errors"]
    mapped = _import(client, trial, data, success_field="is_success")
    assert mapped.status_code == 201
    assert list(Episode.objects.filter(trial=trial).order_by("index").values_list("outcome", flat=True)) == [
        "success",
        "failure",
        "success",
    ]


@pytest.mark.django_db
def test_a_bad_dataset_is_a_400_naming_the_file_and_field(exported_zip: bytes, tmp_path: Path) -> None:
    trial = _empty_trial()
    client = client_for(_engineer(trial))

    def old_version(folder: Path) -> None:
        info = json.loads((folder / "meta/info.json").read_text())
        (folder / "meta/info.json").write_text(json.dumps({**info, "codebase_version": "v2.1"}))

    refused = _import(client, trial, _rewritten(exported_zip, tmp_path, old_version))
    assert refused.status_code == 400
    assert refused.json()["errors"]["file"] == ["meta/info.json"] and "codebase_version" in refused.json()["errors"]
    assert _import(client, trial, b"not a zip").status_code == 400
    assert _import(client, trial, b"").status_code == 400
    assert not Episode.objects.filter(trial=trial).exists()


@pytest.mark.django_db
def test_import_is_all_or_nothing_rows_and_files(exported_zip: bytes, settings: Any) -> None:
    trial = _empty_trial(episodes=2)  # three episodes do not fit
    refused = _import(client_for(_engineer(trial)), trial, exported_zip)
    assert refused.status_code == 400 and "index" in refused.json()["errors"]
    assert not Episode.objects.filter(trial=trial).exists()
    assert _media_files(Path(settings.MEDIA_ROOT)) == []


@pytest.mark.django_db
def test_import_follows_the_episode_upload_rules_of_role_and_organization(exported_zip: bytes) -> None:
    trial = _empty_trial()
    assert _import(client_for(_engineer(trial, Role.MANAGER)), trial, exported_zip).status_code == 403
    stranger = UserFactory(organization=OrganizationFactory(), role=Role.ENGINEER)
    assert _import(client_for(stranger), trial, exported_zip).status_code == 404
    assert not Episode.objects.filter(trial=trial).exists()


@pytest.mark.django_db
def test_multipart_and_browser_uploads_import_the_same_way(exported_zip: bytes) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    trial = _empty_trial()
    client = client_for(_engineer(trial))
    url = reverse("api-lerobot-imports", kwargs={"trial_pk": trial.pk})
    multipart = client.post(url, {"file": SimpleUploadedFile("ds.zip", exported_zip, "application/zip")})
    assert multipart.status_code == 201 and multipart.json()["created"] == 3
    other = _empty_trial()
    page = client_for(_engineer(other)).post(
        reverse("lerobot-import-upload"),
        {"trial": other.pk, "file": SimpleUploadedFile("ds.zip", exported_zip, "application/zip")},
    )
    assert page.status_code == 200 and 'data-testid="lerobot-import-result"' in page.content.decode()
    assert Episode.objects.filter(trial=other).count() == 3
    again = client_for(_engineer(other)).post(
        reverse("lerobot-import-upload"),
        {"trial": other.pk, "file": SimpleUploadedFile("ds.zip", exported_zip, "application/zip")},
    )
    assert "<strong>0</strong> new episodes" in again.content.decode()
    bad = client_for(_engineer(other)).post(
        reverse("lerobot-import-upload"), {"trial": other.pk, "file": SimpleUploadedFile("x.zip", b"junk")}
    )
    assert bad.status_code == 400 and "not a readable zip" in bad.content.decode()
