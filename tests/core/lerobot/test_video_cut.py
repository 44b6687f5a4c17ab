"""Cutting one episode's span out of a shared video: packet copy on group-of-pictures boundaries,
re-encoding inside one; either way the span's frames, in order, and nothing of its neighbours."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.lerobot.video_cut import video_cut
from core.recording.video import VideoWriter, video_frames

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
