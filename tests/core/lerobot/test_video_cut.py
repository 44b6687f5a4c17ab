"""Cutting episodes' spans out of a shared video: packet copy on group-of-pictures boundaries,
re-encoding inside one; either way the span's frames, in order, and nothing of its neighbours. Every
span of a file in one call (one pass over the file), as the import cuts them."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from core.lerobot.dataset_read import dataset_open
from core.lerobot.dataset_write import DatasetWriter, EpisodeInput
from core.lerobot.video_cut import Span, video_cut, video_cuts
from core.recording.video import VideoWriter, video_frames, video_probe

FPS = 10.0


def _shared(path: Path, frames: int = 20) -> list[int]:
    """A video whose frame i is uniformly grey level 10 * i; returns the levels."""
    levels = [10 * i for i in range(frames)]
    with VideoWriter(path, fps=FPS) as writer:
        for level in levels:
            writer.add(np.full((32, 32, 3), level, dtype=np.uint8))
    return levels


def _levels(path: Path) -> list[int]:
    return [round(float(frame.mean())) for frame in video_frames(path)]


def test_a_span_inside_a_group_of_pictures_is_re_encoded_with_its_frames_only(tmp_path: Path) -> None:
    levels = _shared(tmp_path / "shared.mp4")
    info = video_cut(tmp_path / "shared.mp4", from_s=0.5, to_s=1.2, fps=FPS, target=tmp_path / "cut.mp4")
    assert info.frames == 7
    assert _levels(tmp_path / "cut.mp4") == pytest.approx(levels[5:12], abs=3)


def test_a_whole_group_of_pictures_is_copied_and_checked(tmp_path: Path) -> None:
    levels = _shared(tmp_path / "shared.mp4")
    info = video_cut(tmp_path / "shared.mp4", from_s=0.0, to_s=2.0, fps=FPS, target=tmp_path / "cut.mp4")
    assert info.frames == 20 and info.width == 32
    assert _levels(tmp_path / "cut.mp4") == pytest.approx(levels, abs=3)
    # A copy keeps the encoded bytes: the same size as the source, give or take the container.
    assert abs(info.bytes - (tmp_path / "shared.mp4").stat().st_size) < 2048


def _joined(tmp_path: Path, lengths: list[int]) -> tuple[Path, list[tuple[float, float]], list[list[int]]]:
    """Episodes' videos joined into one file by packet copy (DatasetWriter, as exports and LeRobot join
    them): the file, each episode's (from_s, to_s) in it, each episode's grey levels."""
    levels: list[list[int]] = []
    with DatasetWriter(
        tmp_path / "ds", fps=10, robot_type="r", state_names=["a"], action_names=["u"], cameras=["front"]
    ) as writer:
        for i, n in enumerate(lengths):
            episode_levels = [min(250, 40 * i + 5 * k) for k in range(n)]
            with VideoWriter(tmp_path / f"v{i}.mp4", fps=FPS) as video:
                for level in episode_levels:
                    video.add(np.full((32, 32, 3), level, dtype=np.uint8))
            levels.append(episode_levels)
            writer.add(
                EpisodeInput(
                    state=np.zeros((n, 1), dtype=np.float32),
                    action=np.zeros((n, 1), dtype=np.float32),
                    videos={"front": tmp_path / f"v{i}.mp4"},
                    task="t",
                    outcome="success",
                    intervention=np.zeros(n, dtype=bool),
                    cycle_time_s=n / FPS,
                )
            )
    refs = [e.videos["observation.images.front"] for e in dataset_open(tmp_path / "ds").episodes()]
    assert len({ref.path for ref in refs}) == 1
    return refs[0].path, [(ref.from_s, ref.to_s) for ref in refs], levels


def test_every_span_of_a_shared_file_is_cut_in_one_call_with_its_own_frames(tmp_path: Path) -> None:
    shared, spans, levels = _joined(tmp_path, [6, 9, 5])
    wanted = [
        Span(*spans[2], tmp_path / "c2.mp4"),  # out of order: results follow the spans given
        Span(*spans[0], tmp_path / "c0.mp4"),
        Span(spans[1][0] + 0.2, spans[1][0] + 0.6, tmp_path / "inside.mp4"),  # inside episode 1's group
        Span(*spans[1], tmp_path / "c1.mp4"),
    ]
    infos = video_cuts(shared, spans=wanted, fps=FPS)
    assert [info.frames for info in infos] == [5, 6, 4, 9]
    for info, span, expected in zip(infos, wanted, [levels[2], levels[0], levels[1][2:6], levels[1]], strict=True):
        assert _levels(span.target) == pytest.approx(expected, abs=3)
        # The facts given without probing are the ones probing the written file finds.
        probed = video_probe(span.target)
        assert (info.frames, info.width, info.height, info.bytes) == (probed.frames, 32, 32, probed.bytes)
        assert (info.fps, info.duration_s) == pytest.approx((probed.fps, probed.duration_s))
    # Whole episodes are copied: the episode's own encoded packets, byte for byte.
    for info, episode in zip([infos[0], infos[1], infos[3]], [2, 0, 1], strict=True):
        assert info.frames == len(levels[episode])
    for span, episode in zip([wanted[0], wanted[1], wanted[3]], [2, 0, 1], strict=True):
        assert _packets(span.target) == _packets(tmp_path / f"v{episode}.mp4")


def _packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(container.streams.video[0]) if p.size]


def test_a_span_past_the_end_of_the_file_has_no_frames_and_no_file(tmp_path: Path) -> None:
    shared, spans, _ = _joined(tmp_path, [4, 4])
    end = spans[-1][1]
    infos = video_cuts(
        shared,
        spans=[Span(*spans[1], tmp_path / "last.mp4"), Span(end + 1.0, end + 2.0, tmp_path / "none.mp4")],
        fps=FPS,
    )
    assert [info.frames for info in infos] == [4, 0]
    assert not (tmp_path / "none.mp4").exists()


def test_a_file_that_is_not_a_video_is_refused_and_leaves_no_cut(tmp_path: Path) -> None:
    (tmp_path / "bad.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    with pytest.raises(ValueError, match="bad.mp4"):
        video_cuts(tmp_path / "bad.mp4", spans=[Span(0.0, 1.0, tmp_path / "c.mp4")], fps=FPS)
    assert not (tmp_path / "c.mp4").exists()
