"""The LeRobot export of a trial's stored recordings (trials/lerobot_export.py), read back with
core.lerobot.dataset_read: counts, the reviewed outcome, faults, stages and interventions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from core.lerobot.dataset_read import dataset_open
from tests.factories import EpisodeEventFactory, OrganizationFactory, RobotFactory, TaskFactory, TrialFactory
from tests.trials.recording_support import RecordingCache, recorded_episode
from trials.lerobot_export import ExportRequestError, dataset_export_run, export_filters_clean
from trials.models import DatasetExport, EpisodeOutcome, EventKind, ExportStatus, ReviewState, Trial
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
