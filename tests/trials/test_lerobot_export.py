"""The LeRobot export of a trial's stored recordings (trials/lerobot_export.py), read back with
core.lerobot.dataset_read: counts, the reviewed outcome, faults, stages and interventions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from django.utils import timezone

from core.lerobot.dataset_read import dataset_open
from tests.factories import (
    EpisodeEventFactory,
    OrganizationFactory,
    RobotFactory,
    TaskFactory,
    TrialFactory,
)
from tests.trials.recording_support import RecordingCache, recorded_episode, recorded_sweep_of
from trials.lerobot_export import (
    ExportRequestError,
    dataset_export_run,
    dataset_exports_expire,
    export_expires_at,
    export_filters_clean,
    export_orphans_sweep,
    sweep_export_request,
)
from trials.models import DatasetExport, EpisodeOutcome, EventKind, ExportStatus, ReviewState, Sweep, Trial
from trials.retention import orphan_media_sweep

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def recordings() -> Iterator[RecordingCache]:
    cache = RecordingCache()
    yield cache
    cache.remove()


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def recorded_trial(recordings: RecordingCache, episodes: int = 3) -> Trial:
    """A trial with `episodes` recorded episodes: #1 reviewed from success to failure, with a fault and
    an intervention; the others successes."""
    org = OrganizationFactory()
    trial = TrialFactory(task=TaskFactory(organization=org), robot=RobotFactory(organization=org))
    run = recordings.run()
    for index in range(episodes):
        if index == 1:
            episode, _ = recorded_episode(
                trial=trial,
                index=index,
                run=run,
                outcome=EpisodeOutcome.FAILURE,
                faults_at_s=(0.5,),
                detected_outcome=EpisodeOutcome.SUCCESS,
                review_state=ReviewState.OVERRIDDEN,
            )
            EpisodeEventFactory(episode=episode, kind=EventKind.INTERVENTION, category="other", t_offset_s=0.3)
        else:
            recorded_episode(trial=trial, index=index, run=run)
    return trial


def test_export_of_recorded_episodes_reads_back_with_counts_and_labels(
    recordings: RecordingCache, tmp_path: Path
) -> None:
    trial = recorded_trial(recordings)
    export = DatasetExport.objects.create(trial=trial, episodes_total=3)
    export = dataset_export_run(export_id=export.pk)
    assert export.status == ExportStatus.DONE, export.error
    steps = recordings.run().steps
    assert (export.episodes_done, export.frames) == (3, 3 * steps)
    archive = tmp_path / "export.zip"
    with export.file.open("rb") as handle:
        archive.write_bytes(handle.read())
    assert export.size_bytes == archive.stat().st_size
    # The recordings' orphan sweep leaves the zip alone (no EpisodeMedia row names it).
    orphan_media_sweep(min_age=timedelta(0))
    assert export.file.storage.exists(export.file.name)
    dataset = dataset_open(archive, workdir=tmp_path / "unpacked")
    assert dataset.info["total_episodes"] == 3 and dataset.info["total_frames"] == 3 * steps
    episodes = list(dataset.episodes())
    assert [e.outcome for e in episodes] == ["success", "failure", "success"]  # the reviewed outcome
    assert [e.length for e in episodes] == [steps] * 3
    assert [e.intervention_frames for e in episodes] == [0, 1, 0]
    assert episodes[1].metadata["faults"] == ["drop"]
    assert episodes[0].metadata["faults"] == []
    assert episodes[0].metadata["stage_reached"] == recordings.run().stages.reached
    assert episodes[0].tasks == (trial.instruction,)
    assert set(episodes[0].videos) == {"observation.images.top"}


def test_export_filters_select_the_grid_s_episodes(recordings: RecordingCache, tmp_path: Path) -> None:
    trial = recorded_trial(recordings)
    export = DatasetExport.objects.create(trial=trial, filters={"outcome": "failure"})
    export = dataset_export_run(export_id=export.pk)
    assert export.status == ExportStatus.DONE and export.episodes_done == 1
    nothing = DatasetExport.objects.create(trial=trial, filters={"review_state": "confirmed"})
    nothing = dataset_export_run(export_id=nothing.pk)
    assert nothing.status == ExportStatus.FAILED and "no recorded episode matches" in nothing.error


def test_export_filters_are_checked_naming_the_field() -> None:
    assert export_filters_clean({"outcome": "failure", "stage_reached": "2", "category": ""}) == {
        "outcome": "failure",
        "stage_reached": 2,
    }
    for raw, field in (({"outcome": "lost"}, "outcome"), ({"stage_reached": "x"}, "stage_reached"), ({"q": 1}, "q")):
        with pytest.raises(ExportRequestError) as caught:
            export_filters_clean(raw)
        assert caught.value.field == field


def test_lerobot_loads_the_trial_export_with_labels_and_the_recorded_frames(
    recordings: RecordingCache, tmp_path: Path
) -> None:
    """The export of stored recordings, opened by the real lerobot (.venv-lerobot, tests/lerobot_env.py)."""
    import json
    import zipfile

    import av
    import numpy as np

    from tests.lerobot_env import lerobot_python, lerobot_run

    lerobot_python()  # skips (fails under LEROBOT_REQUIRED=1) before the export when the env is absent
    trial = recorded_trial(recordings)
    export = dataset_export_run(export_id=DatasetExport.objects.create(trial=trial).pk)
    assert export.status == ExportStatus.DONE, export.error
    root = tmp_path / "dataset"
    with export.file.open("rb") as handle, zipfile.ZipFile(handle) as archive:
        archive.extractall(root)
    steps = recordings.run().steps
    indices = [0, steps + 5, 3 * steps - 1]  # first frame, inside episode 1, the last frame
    lerobot_run("load", str(root), str(tmp_path / "report.json"), str(tmp_path / "frames.npz"), *map(str, indices))
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["codebase_version"] == "v3.0"
    assert report["num_episodes"] == 3 and report["num_frames"] == 3 * steps
    assert report["video_keys"] == ["observation.images.top"]
    assert report["shapes"]["observation.state"] == [3] and report["shapes"]["action"] == [3]
    assert [e["outcome"] for e in report["episodes"]] == ["success", "failure", "success"]
    assert [e["last_next_success"] for e in report["episodes"]] == [True, False, True]
    assert [e["faults"] for e in report["episodes"]] == [[], ["drop"], []]
    assert all(e["task"] == trial.instruction and e["length"] == steps for e in report["episodes"])
    recording = recordings.run().recording
    assert recording is not None
    with av.open(str(recording.folder / recording.manifest["policy_cameras"]["top"])) as container:
        recorded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    decoded = np.load(tmp_path / "frames.npz")
    for index in indices:
        frame = decoded[f"observation.images.top:{index}"].astype(np.int16)
        assert report["items"][str(index)]["frame_index"] == index % steps
        assert float(np.abs(frame - recorded[index % steps].astype(np.int16)).mean()) < 4.0


# --- A sweep: every condition in one dataset ---------------------------------------------------------


def recorded_sweep(recordings: RecordingCache, episodes: int = 2) -> Sweep:
    """A one-at-a-time sweep (nominal, light_intensity=0.4, light_colour=warm-3000k) on the factory cell
    whose condition trials each hold `episodes` recorded episodes; episode 0 of the dim condition failed."""
    return recorded_sweep_of(
        task=TaskFactory(organization=OrganizationFactory()),
        run=recordings.run(),
        design="one_at_a_time",
        factors={"light_intensity": [0.4], "light_colour": ["warm-3000k"]},
        outcomes={
            "nominal": "s" * episodes,
            "light_intensity=0.4": "f" + "s" * (episodes - 1),
            "light_colour=warm-3000k": "s" * episodes,
        },
    )


def test_sweep_export_holds_every_condition_with_its_levels_in_the_episodes_metadata(
    recordings: RecordingCache, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    sweep = recorded_sweep(recordings)
    with django_capture_on_commit_callbacks() as callbacks:
        export = sweep_export_request(sweep=sweep, user=None, filters={})
    assert len(callbacks) == 1 and export.trial is None and export.episodes_total == 6
    export = dataset_export_run(export_id=export.pk)
    assert export.status == ExportStatus.DONE, export.error
    assert export.file.name.startswith(f"lerobot-exports/sweep-{sweep.pk}/{export.pk}/")
    archive = tmp_path / "sweep.zip"
    with export.file.open("rb") as handle:
        archive.write_bytes(handle.read())
    dataset = dataset_open(archive, workdir=tmp_path / "unpacked")
    assert dataset.info["total_episodes"] == 6 and dataset.info["total_frames"] == 6 * recordings.run().steps
    rows = pq.read_table(tmp_path / "unpacked/meta/episodes/chunk-000/file-000.parquet").to_pylist()
    trials = {t.sweep_label: t.pk for t in sweep.conditions.all()}
    assert [r["condition"] for r in rows] == ["nominal"] * 2 + ["light_intensity=0.4"] * 2 + [
        "light_colour=warm-3000k"
    ] * 2
    assert [r["condition_index"] for r in rows] == [0, 0, 1, 1, 2, 2]
    assert [r["trial"] for r in rows] == [trials[r["condition"]] for r in rows]
    assert [r["trial_episode_index"] for r in rows] == [0, 1] * 3
    assert [json.loads(r["condition_levels"]) for r in rows[::2]] == [
        {},
        {"light_intensity": 0.4},
        {"light_colour": "warm-3000k"},
    ]
    # Every swept factor's level, the nominal one included, typed as the cell's factor is.
    assert [r["factor/light_intensity"] for r in rows[::2]] == [1.0, 0.4, 1.0]
    assert [r["factor/light_colour"] for r in rows[::2]] == ["nominal", "nominal", "warm-3000k"]
    assert [r["outcome"] for r in rows] == ["success", "success", "failure", "success", "success", "success"]
    # The same filters on each condition: only the dim condition's failure.
    failures = dataset_export_run(
        export_id=sweep_export_request(sweep=sweep, user=None, filters={"outcome": "failure"}).pk
    )
    assert (failures.status, failures.episodes_done) == (ExportStatus.DONE, 1)


def test_an_export_names_a_trial_or_a_sweep_never_both_nor_neither(recordings: RecordingCache) -> None:
    from django.db import IntegrityError, transaction

    trial = TrialFactory()
    sweep = recorded_sweep(recordings, episodes=1)
    for fields in ({}, {"trial": trial, "sweep": sweep}):
        with pytest.raises(IntegrityError), transaction.atomic():
            DatasetExport.objects.create(**fields)


# --- Expiry ------------------------------------------------------------------------------------------


def _finished_export(recordings: RecordingCache, *, age: timedelta) -> DatasetExport:
    export = dataset_export_run(export_id=DatasetExport.objects.create(trial=recorded_trial(recordings, 1)).pk)
    assert export.status == ExportStatus.DONE, export.error
    DatasetExport.objects.filter(pk=export.pk).update(finished_at=timezone.now() - age)
    export.refresh_from_db()
    return export


def test_expiry_removes_old_zips_and_marks_them_expired_leaving_recent_ones(
    recordings: RecordingCache, settings: Any
) -> None:
    settings.LEROBOT_EXPORT_KEEP_DAYS = 7
    old = _finished_export(recordings, age=timedelta(days=7, minutes=1))
    recent = _finished_export(recordings, age=timedelta(days=6, hours=23))
    failed = DatasetExport.objects.create(trial=old.trial, status=ExportStatus.FAILED, finished_at=old.finished_at)
    storage, old_name = old.file.storage, old.file.name
    assert export_expires_at(recent) == recent.finished_at + timedelta(days=7)

    planned = dataset_exports_expire(dry_run=True)
    assert [e.export_id for e in planned] == [old.pk] and storage.exists(old_name)
    assert DatasetExport.objects.get(pk=old.pk).status == ExportStatus.DONE

    expired = dataset_exports_expire()
    assert [(e.export_id, e.name, e.size_bytes) for e in expired] == [(old.pk, old_name, old.size_bytes)]
    assert not storage.exists(old_name) and storage.exists(recent.file.name)
    old.refresh_from_db()
    assert old.status == ExportStatus.EXPIRED and old.file.name == "" and old.expired_at is not None
    assert export_expires_at(old) is None
    assert DatasetExport.objects.get(pk=failed.pk).status == ExportStatus.FAILED
    assert dataset_exports_expire() == []  # a second run finds nothing left to do
    # An expired export run again (a redelivered message) is left as it is.
    assert dataset_export_run(export_id=old.pk).status == ExportStatus.EXPIRED


def test_expiry_keeps_everything_when_keep_days_is_zero(recordings: RecordingCache, settings: Any) -> None:
    settings.LEROBOT_EXPORT_KEEP_DAYS = 0
    export = _finished_export(recordings, age=timedelta(days=365))
    assert dataset_exports_expire() == [] and export_expires_at(export) is None
    assert export.file.storage.exists(export.file.name)


def test_expiry_command_and_beat_task_expire_the_same_way(recordings: RecordingCache, settings: Any) -> None:
    from io import StringIO

    from django.core.management import call_command

    from trials.tasks import lerobot_exports_expire_task

    settings.LEROBOT_EXPORT_KEEP_DAYS = 1
    first = _finished_export(recordings, age=timedelta(days=2))
    out = StringIO()
    call_command("lerobot_exports_expire", "--dry-run", stdout=out)
    assert f"would expire export {first.pk} of trial-{first.trial_id}" in out.getvalue()
    assert DatasetExport.objects.get(pk=first.pk).status == ExportStatus.DONE
    out = StringIO()
    call_command("lerobot_exports_expire", stdout=out)
    assert f"expired export {first.pk}" in out.getvalue() and "Expired 1 export(s)" in out.getvalue()
    second = _finished_export(recordings, age=timedelta(days=3))
    assert lerobot_exports_expire_task() == {"expired": 1, "orphans": 0, "bytes_freed": second.size_bytes}
    assert DatasetExport.objects.get(pk=second.pk).status == ExportStatus.EXPIRED
    entry = settings.CELERY_BEAT_SCHEDULE["lerobot-exports-expire"]
    assert entry["task"] == lerobot_exports_expire_task.name and entry["schedule"] <= 3600


def test_lerobot_loads_the_sweep_export_with_each_episode_s_condition(
    recordings: RecordingCache, tmp_path: Path
) -> None:
    """A sweep's export opened by the real lerobot (.venv-lerobot): every condition's episodes, and the
    condition columns in LeRobot's episodes metadata."""
    import zipfile

    from tests.lerobot_env import lerobot_python, lerobot_run

    lerobot_python()
    sweep = recorded_sweep(recordings, episodes=1)
    export = dataset_export_run(export_id=sweep_export_request(sweep=sweep, user=None, filters={}).pk)
    assert export.status == ExportStatus.DONE, export.error
    root = tmp_path / "dataset"
    with export.file.open("rb") as handle, zipfile.ZipFile(handle) as archive:
        archive.extractall(root)
    lerobot_run("load", str(root), str(tmp_path / "report.json"), str(tmp_path / "frames.npz"), "0")
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["num_episodes"] == 3 and report["num_frames"] == 3 * recordings.run().steps
    conditions = [e["condition"] for e in report["episodes"]]
    assert [c["condition"] for c in conditions] == ["nominal", "light_intensity=0.4", "light_colour=warm-3000k"]
    assert [c["factor/light_intensity"] for c in conditions] == [1.0, 0.4, 1.0]
    assert [c["factor/light_colour"] for c in conditions] == ["nominal", "nominal", "warm-3000k"]
    assert [c["condition_index"] for c in conditions] == [0, 1, 2]
    assert [e["outcome"] for e in report["episodes"]] == ["success", "failure", "success"]


def test_orphan_export_zips_go_once_an_hour_old_named_and_young_ones_stay(
    recordings: RecordingCache, settings: Any
) -> None:
    import os

    from django.core.files.base import ContentFile

    named = _finished_export(recordings, age=timedelta(0))
    storage = named.file.storage
    old = storage.save("lerobot-exports/trial-999999/1/trial-999999-lerobot.zip", ContentFile(b"PK old"))
    young = storage.save("lerobot-exports/sweep-999999/2/sweep-999999-lerobot.zip", ContentFile(b"PK young"))
    hours_ago = (timezone.now() - timedelta(hours=2)).timestamp()
    for name in (old, named.file.name):
        os.utime(storage.path(name), (hours_ago, hours_ago))
    assert [o.name for o in export_orphans_sweep(dry_run=True)] == [old] and storage.exists(old)
    removed = export_orphans_sweep()
    assert [(o.name, o.size_bytes) for o in removed] == [(old, 6)]
    assert not storage.exists(old) and storage.exists(young) and storage.exists(named.file.name)
    # A deleted trial's exports leave their zips behind: the next sweep takes them.
    name = named.file.name
    named.trial.delete()
    os.utime(storage.path(name), (hours_ago, hours_ago))
    assert [o.name for o in export_orphans_sweep()] == [name] and not storage.exists(name)
