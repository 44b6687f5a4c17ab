"""The LeRobot import's cost does not grow in queries with the episodes (trials.lerobot_import): the
videos of one shared file are cut in one pass, the rows and media rows written in bulk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.lerobot.dataset_write import DatasetWriter, EpisodeInput, dataset_zip
from core.recording.video import VideoWriter
from tests.factories import OrganizationFactory, RobotFactory, TaskFactory, TrialFactory
from trials.lerobot_import import lerobot_import
from trials.models import Episode, EpisodeMedia, MediaKind, Trial

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media_root(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def _dataset_zip(folder: Path, episodes: int) -> Path:
    """A dataset of `episodes` episodes of 4 + i frames, two cameras, alternately success and failure."""
    rng = np.random.default_rng(episodes)
    cameras = ["front", "wrist"]
    with DatasetWriter(
        folder / "ds", fps=10, robot_type="r", state_names=["a"], action_names=["u"], cameras=cameras
    ) as writer:
        for i in range(episodes):
            n = 4 + i
            videos = {}
            for camera in cameras:
                videos[camera] = folder / f"{camera}{i}.mp4"
                with VideoWriter(videos[camera], fps=10) as video:
                    for _ in range(n):
                        video.add(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8))
            writer.add(
                EpisodeInput(
                    state=np.zeros((n, 1), dtype=np.float32),
                    action=np.zeros((n, 1), dtype=np.float32),
                    videos=videos,
                    task="t",
                    outcome="success" if i % 2 == 0 else "failure",
                    cycle_time_s=n / 10,
                )
            )
    dataset_zip(folder / "ds", folder / "ds.zip")
    return folder / "ds.zip"


def _trial() -> Trial:
    org = OrganizationFactory()
    return TrialFactory(task=TaskFactory(organization=org), robot=RobotFactory(organization=org), episodes_planned=20)


def _imported(tmp_path: Path, episodes: int) -> tuple[Trial, int]:
    archive = _dataset_zip(tmp_path / f"n{episodes}", episodes)
    trial = _trial()
    (tmp_path / f"work{episodes}").mkdir()
    with CaptureQueriesContext(connection) as queries:
        summary = lerobot_import(trial=trial, archive=archive, workdir=tmp_path / f"work{episodes}")
    assert (summary.created, summary.videos) == (episodes, 2 * episodes)
    return trial, len(queries)


def test_import_queries_do_not_grow_with_the_episodes(tmp_path: Path) -> None:
    _, few = _imported(tmp_path, 2)
    trial, many = _imported(tmp_path, 8)
    assert many == few
    videos = EpisodeMedia.objects.filter(episode__trial=trial, kind=MediaKind.VIDEO).order_by("episode__index", "name")
    assert [(v.episode.index, v.name, v.frames) for v in videos] == [
        (i, camera, 4 + i) for i in range(8) for camera in ("front", "wrist")
    ]
    assert all(v.file.storage.exists(v.file.name) and v.size_bytes == v.file.size for v in videos)
    assert (
        list(Episode.objects.filter(trial=trial).order_by("index").values_list("outcome", flat=True))
        == [
            "success",
            "failure",
        ]
        * 4
    )
