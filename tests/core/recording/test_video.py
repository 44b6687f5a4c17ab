from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from core.recording.recorder import EpisodeRecorder, OverviewSettings, policy_video_name
from core.recording.trajectory import trajectory_read
from core.recording.video import VideoRejected, VideoWriter, poster_encode, video_frames, video_probe
from core.sim import Observation, cell_make
from core.sim.cells.factory_kitting import FactoryKitting
from core.sim.episode import episode_rollout


@pytest.fixture(scope="module")
def kitting() -> Iterator[FactoryKitting]:
    cell = cell_make("factory-kitting")
    assert isinstance(cell, FactoryKitting)
    yield cell
    cell.close()


def _psnr(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / max(mse, 1e-12))


@pytest.fixture(scope="module")
def recorded(kitting: FactoryKitting, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list, int]:
    """One expert episode of factory-kitting recorded; the frames the policy saw kept aside."""
    seen: list[npt.NDArray[np.uint8]] = []

    def act(obs: Observation) -> npt.NDArray[np.float32]:
        seen.append(obs.images["front"].copy())
        return kitting.expert_action()

    folder = tmp_path_factory.mktemp("rec") / "episode"
    result = episode_rollout(cell=kitting, act=act, seed=5, recorder=EpisodeRecorder(folder))
    return folder, seen, result.steps


def test_round_trip_has_one_frame_per_step_close_to_the_rendered_one(recorded: tuple[Path, list, int]) -> None:
    folder, seen, steps = recorded
    decoded = list(video_frames(folder / policy_video_name("front")))
    assert len(decoded) == steps == len(seen)
    assert trajectory_read(folder / "trajectory.parquet").rows == steps
    for index in (0, steps // 2, steps - 1):
        assert decoded[index].shape == seen[index].shape
        mae = float(np.mean(np.abs(decoded[index].astype(int) - seen[index].astype(int))))
        assert mae < 6.0, f"frame {index}: mean abs error {mae:.2f}"
        assert _psnr(decoded[index], seen[index]) > 28.0
    # Frames are matched to their own step, not merely similar: frame 0 is nearer seen[0] than seen[-1].
    assert np.mean(np.abs(decoded[0].astype(int) - seen[0])) < np.mean(np.abs(decoded[0].astype(int) - seen[-1]))


def test_written_video_is_faststart_h264_and_probes_as_written(recorded: tuple[Path, list, int]) -> None:
    folder, _, steps = recorded
    path = folder / policy_video_name("front")
    data = path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # index first: browsers seek before the end arrives
    info = video_probe(path)
    assert (info.codec, info.container, info.frames, info.width, info.height) == ("h264", "mp4", steps, 96, 96)
    assert info.faststart
    assert info.fps == pytest.approx(10.0)
    assert info.duration_s == pytest.approx(steps / 10.0, abs=0.11)


def test_overview_video_and_poster_end_on_the_final_state(recorded: tuple[Path, list, int]) -> None:
    folder, _, _ = recorded
    info = video_probe(folder / "overview.mp4")
    assert (info.width, info.height) == (OverviewSettings().px, OverviewSettings().px)
    poster = Image.open(folder / "poster.jpg")
    assert poster.format == "JPEG" and poster.size == (OverviewSettings().px, OverviewSettings().px)
    last = list(video_frames(folder / "overview.mp4"))[-1]
    assert np.mean(np.abs(np.asarray(poster.convert("RGB")).astype(int) - last)) < 8.0


def test_writer_pads_odd_sizes_and_refuses_mixed_sizes(tmp_path: Path) -> None:
    frame = np.full((33, 47, 3), 200, dtype=np.uint8)
    with VideoWriter(tmp_path / "odd.mp4", fps=5) as writer:
        for _ in range(3):
            writer.add(frame)
        with pytest.raises(ValueError, match="differs"):
            writer.add(np.zeros((32, 48, 3), dtype=np.uint8))
        with pytest.raises(ValueError, match="uint8"):
            writer.add(np.zeros((33, 47, 3), dtype=np.float32))
    decoded = list(video_frames(tmp_path / "odd.mp4"))
    assert len(decoded) == 3 and decoded[0].shape == (34, 48, 3)
    assert abs(float(decoded[1][:33, :47].mean()) - 200) < 3


def test_writer_left_on_an_exception_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "partial.mp4"
    with pytest.raises(RuntimeError), VideoWriter(path, fps=5) as writer:
        writer.add(np.zeros((16, 16, 3), dtype=np.uint8))
        raise RuntimeError("episode lost")
    assert not path.exists()


def test_poster_encodes_jpeg_and_png() -> None:
    frame = np.zeros((20, 30, 3), dtype=np.uint8)
    frame[:, :15] = (255, 0, 0)
    for fmt in ("JPEG", "PNG"):
        image = Image.open(io.BytesIO(poster_encode(frame, fmt=fmt)))
        assert image.format == fmt and image.size == (30, 20)


def _small_video(tmp_path: Path, *, frames: int = 6, px: int = 32) -> Path:
    path = tmp_path / "small.mp4"
    with VideoWriter(path, fps=10) as writer:
        for i in range(frames):
            writer.add(np.full((px, px, 3), (20 * i) % 256, dtype=np.uint8))
    return path


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "not an MP4"),
        (b"#!/bin/sh\nrm -rf /\n" * 20, "not an MP4"),
        (b"\x00\x00\x00\x18ftypisom" + bytes(200), "MP4"),
    ],
)
def test_probe_rejects_what_is_not_a_video(payload: bytes, reason: str) -> None:
    with pytest.raises(VideoRejected, match=reason):
        video_probe(payload)


def test_probe_rejects_a_picture() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32)).save(buffer, format="PNG")
    with pytest.raises(VideoRejected, match="not an MP4"):
        video_probe(buffer.getvalue())


def test_probe_rejects_oversized_files_before_reading_them(tmp_path: Path) -> None:
    path = _small_video(tmp_path)
    size = path.stat().st_size
    with pytest.raises(VideoRejected, match="byte limit"):
        video_probe(path, max_bytes=size - 1)
    with pytest.raises(VideoRejected, match="byte limit"):
        video_probe(io.BytesIO(path.read_bytes()), max_bytes=size - 1)
    assert video_probe(path, max_bytes=size).frames == 6


def test_probe_rejects_too_many_frames_or_pixels(tmp_path: Path) -> None:
    path = _small_video(tmp_path, frames=6, px=32)
    with pytest.raises(VideoRejected, match="more than 5 frames"):
        video_probe(path, max_frames=5)
    with pytest.raises(VideoRejected, match="pixels"):
        video_probe(path, max_pixels=32 * 31)


def test_probe_rejects_a_truncated_video(tmp_path: Path) -> None:
    data = _small_video(tmp_path, frames=30, px=64).read_bytes()
    with pytest.raises(VideoRejected):
        video_probe(data[: len(data) * 2 // 3])


def test_probe_rejects_a_codec_browsers_are_not_given(tmp_path: Path) -> None:
    path = tmp_path / "mpeg4.mp4"
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width = stream.height = 32
        stream.pix_fmt = "yuv420p"
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), dtype=np.uint8), format="rgb24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with pytest.raises(VideoRejected, match="codec 'mpeg4'"):
        video_probe(path)
