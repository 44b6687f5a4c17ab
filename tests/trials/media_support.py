"""Real recording files for upload tests: an H.264 MP4, a Parquet trajectory and a JPEG poster, made by
core.recording's own writers (small, so a test encodes them in milliseconds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.recording.trajectory import TrajectoryWriter
from core.recording.video import VideoWriter, poster_encode


def mp4_bytes(folder: Path, *, frames: int = 6, px: int = 32, name: str = "clip.mp4") -> bytes:
    """An H.264 MP4 of `frames` frames of px x px (a moving gradient, so frames differ)."""
    path = folder / name
    with VideoWriter(path, fps=10.0) as writer:
        for i in range(frames):
            frame = np.zeros((px, px, 3), dtype=np.uint8)
            frame[:, :, 0] = (np.arange(px) * 7 + i * 20) % 256
            frame[:, :, 1] = 120
            writer.add(frame)
    return path.read_bytes()


def trajectory_bytes(folder: Path, *, rows: int = 5, stages: tuple[str, ...] = ("reached", "placed")) -> bytes:
    path = folder / "trajectory.parquet"
    with TrajectoryWriter(path, state_dim=3, action_dim=2, stages=stages) as writer:
        for i in range(rows):
            writer.add(t_s=i * 0.1, state=[i, 0, 1], action=[0.1, -0.1], policy_latency_s=0.002, stage=min(i, 2))
    return path.read_bytes()


def jpeg_bytes(px: int = 24) -> bytes:
    return poster_encode(np.full((px, px, 3), 90, dtype=np.uint8))
