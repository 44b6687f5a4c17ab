"""Reading LeRobotDataset v3.0 folders and zips for import: one written by LeRobot's own recording API
(in .venv-lerobot, its videos cut as the import cuts them), ours, and broken ones (a DatasetRejected
naming the file and field)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core.lerobot.dataset_read import DatasetRejected, dataset_open
from core.lerobot.dataset_write import DatasetWriter, EpisodeInput, dataset_zip
from core.lerobot.video_cut import Span, video_cuts
from core.recording.video import VideoWriter, video_frames
from tests.lerobot_env import lerobot_run

SPEC = {"fps": 10, "robot_type": "r", "state_names": ["a", "b"], "action_names": ["u"], "cameras": ["front"]}


def _ours(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    with DatasetWriter(tmp_path / "ds", **SPEC) as writer:
        for i, (n, outcome) in enumerate([(6, "success"), (9, "failure")]):
            with VideoWriter(tmp_path / f"v{i}.mp4", fps=10) as video:
                for _ in range(n):
                    video.add(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8))
            flag = np.zeros(n, dtype=bool)
            flag[[1, 2, 5]] = True
            writer.add(
                EpisodeInput(
                    state=rng.random((n, 2)).astype(np.float32),
                    action=rng.random((n, 1)).astype(np.float32),
                    videos={"front": tmp_path / f"v{i}.mp4"},
                    task=f"task {i}",
                    outcome=outcome,
                    intervention=flag,
                    cycle_time_s=n * 0.1,
                )
            )
    return tmp_path / "ds"


def test_dataset_recorded_by_lerobot_imports_with_outcomes_cycle_times_interventions(tmp_path: Path) -> None:
    root = tmp_path / "real"
    lerobot_run("record", str(root), str(tmp_path / "written.json"))
    written = json.loads((tmp_path / "written.json").read_text())
    dataset = dataset_open(root)
    assert dataset.fps == 10 and dataset.video_keys == ["observation.images.front"]
    episodes = list(dataset.episodes())
    assert [e.length for e in episodes] == [w["length"] for w in written]
    # LeRobot's recording has no episodes-level outcome: it comes from next.success at the last frame.
    assert [e.outcome for e in episodes] == ["success" if w["success"] else "failure" for w in written]
    assert {e.outcome_source for e in episodes} == {"next.success"}
    assert [e.cycle_time_s for e in episodes] == pytest.approx([w["length"] / 10 for w in written])
    assert [e.intervention_frames for e in episodes] == [w["interventions"] for w in written]
    assert [e.interventions for e in episodes] == [0, 1, 1]
    assert episodes[2].tasks == ("place the cube",)
    assert episodes[1].videos["observation.images.front"].from_s == pytest.approx(1.2)
    assert all(ref.path.is_file() for e in episodes for ref in e.videos.values())
    # LeRobot joins its episodes' encodes on keyframes: each one's span, cut in one pass over the shared
    # file, is its packets copied, decoding to exactly the shared file's frames for it.
    refs = [e.videos["observation.images.front"] for e in episodes]
    assert len({ref.path for ref in refs}) == 1
    spans = [Span(ref.from_s, ref.to_s, tmp_path / f"cut{i}.mp4") for i, ref in enumerate(refs)]
    infos = video_cuts(refs[0].path, spans=spans, fps=10)
    assert [info.frames for info in infos] == [w["length"] for w in written]
    shared = np.stack(list(video_frames(refs[0].path)))
    start = 0
    for span, w in zip(spans, written, strict=True):
        assert np.array_equal(np.stack(list(video_frames(span.target))), shared[start : start + w["length"]])
        start += w["length"]


def test_our_export_reads_back_from_a_zip(tmp_path: Path) -> None:
    dataset_zip(_ours(tmp_path), tmp_path / "ds.zip")
    episodes = list(dataset_open(tmp_path / "ds.zip", workdir=tmp_path / "unpacked").episodes())
    assert [(e.outcome, e.outcome_source) for e in episodes] == [
        ("success", "episodes:success"),
        ("failure", "episodes:success"),
    ]
    assert [e.length for e in episodes] == [6, 9]
    assert [e.cycle_time_s for e in episodes] == pytest.approx([0.6, 0.9])
    assert [(e.intervention_frames, e.interventions) for e in episodes] == [(3, 2), (3, 2)]
    assert episodes[1].tasks == ("task 1",) and episodes[1].metadata["cycle_time_s"] == pytest.approx(0.9)


def test_dataset_without_success_labels_has_no_outcome(tmp_path: Path) -> None:
    root = _ours(tmp_path)
    import pyarrow.parquet as pq

    episodes_file = root / "meta/episodes/chunk-000/file-000.parquet"
    pq.write_table(pq.read_table(episodes_file).drop(["success", "outcome"]), episodes_file)
    data_file = root / "data/chunk-000/file-000.parquet"
    pq.write_table(pq.read_table(data_file).drop(["next.success"]), data_file)
    assert [e.outcome for e in dataset_open(root).episodes()] == [None, None]


@pytest.mark.parametrize(
    ("damage", "file", "field"),
    [
        (lambda r: (r / "meta/info.json").write_text("{"), "meta/info.json", ""),
        (lambda r: _info_edit(r, codebase_version="v2.1"), "meta/info.json", "codebase_version"),
        (lambda r: _info_edit(r, fps=0), "meta/info.json", "fps"),
        (lambda r: _info_edit(r, drop="features"), "meta/info.json", "features"),
        (lambda r: (r / "meta/tasks.parquet").unlink(), "meta/tasks.parquet", ""),
        (
            lambda r: (r / "videos/observation.images.front/chunk-000/file-000.mp4").unlink(),
            "videos/observation.images.front/chunk-000/file-000.mp4",
            "",
        ),
        (
            lambda r: (r / "data/chunk-000/file-000.parquet").write_bytes(b"PAR1 not parquet"),
            "data/chunk-000/file-000.parquet",
            "",
        ),
    ],
)
def test_broken_dataset_is_rejected_naming_file_and_field(tmp_path: Path, damage, file: str, field: str) -> None:  # type: ignore[no-untyped-def]
    root = _ours(tmp_path)
    damage(root)
    with pytest.raises(DatasetRejected) as caught:
        list(dataset_open(root).episodes())
    assert (caught.value.file, caught.value.field) == (file, field)


def _info_edit(root: Path, drop: str | None = None, **values: object) -> None:
    info = json.loads((root / "meta/info.json").read_text())
    info.update(values)
    if drop:
        del info[drop]
    (root / "meta/info.json").write_text(json.dumps(info))


def test_zip_with_an_unsafe_member_is_rejected(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as archive:
        archive.writestr("meta/info.json", "{}")
        archive.writestr("../escape.txt", "x")
    with pytest.raises(DatasetRejected, match="unsafe path"):
        dataset_open(tmp_path / "bad.zip", workdir=tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()
