"""One episode's frames out of a LeRobot video file that many episodes share (from..to seconds in it),
as an MP4 of its own.

Fast path, packet copy: when the episode's span starts on a keyframe and ends where the next keyframe
(or the file) begins, as in files joined by packet copy (TrialBench's exports, LeRobot's own
concatenation of per-episode encodes), its packets are copied into a new MP4 with their times moved to
start at 0, then every frame is decoded to check it (core.recording.video.video_probe). Otherwise (a
span inside a group of pictures: copied packets would start on frames that cannot be decoded or carry
the previous episode's tail) the decoder seeks to the keyframe before `from_s` and the span's frames
are re-encoded (core.recording.video.VideoWriter, H.264)."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from core.recording.video import VideoInfo, VideoRejected, VideoWriter, video_probe


def _packet_copy(source: Path, *, from_s: float, to_s: float, fps: float, target: Path) -> VideoInfo | None:
    """The span copied packet by packet; None (and no file) when it is not whole groups of pictures."""
    half = 0.5 / fps
    expected = round((to_s - from_s) * fps)
    with av.open(str(source), mode="r") as container:
        if not container.streams.video:
            raise ValueError(f"{source.name} has no video stream")
        stream = container.streams.video[0]
        time_base = stream.time_base
        if time_base is None or stream.codec_context.name != "h264":
            return None
        offset = round(Fraction(from_s).limit_denominator(100_000) / time_base)
        if from_s > 0:
            container.seek(int(max(0.0, from_s - half) / time_base), stream=stream, backward=True, any_frame=False)
        packets: list[av.Packet[Any]] = []
        for packet in container.demux(stream):
            if packet.dts is None or packet.pts is None:
                continue
            t = float(packet.pts * time_base)
            if packet.is_keyframe and t >= to_s - half:
                break  # the next episode's first keyframe: the span ended on a boundary
            if not packets:
                if t < from_s - half:
                    continue
                if not packet.is_keyframe or abs(t - from_s) > half:
                    return None
            packets.append(packet)
            if len(packets) > expected:
                return None
        if len(packets) != expected:
            return None
        with av.open(str(target), mode="w", format="mp4", options={"movflags": "+faststart"}) as out:
            copy = out.add_stream_from_template(stream, opaque=True)
            copy.time_base = time_base
            for packet in packets:
                # Both are set: packets without them were skipped above.
                packet.pts = int(packet.pts or 0) - offset
                packet.dts = int(packet.dts or 0) - offset
                packet.stream = copy
                out.mux(packet)
    try:
        info = video_probe(target)
    except VideoRejected:
        target.unlink(missing_ok=True)
        return None
    if info.frames != expected:
        target.unlink(missing_ok=True)
        return None
    return info


def video_cut(
    source: str | os.PathLike[str], *, from_s: float, to_s: float, fps: float, target: str | os.PathLike[str]
) -> VideoInfo:
    """Write the frames of `source` shown from `from_s` (inclusive) to `to_s` (exclusive) into `target`;
    returns its VideoInfo (frames 0 and no file when the span holds no frame). Raises ValueError for a
    file without a video stream or one FFmpeg cannot read."""
    try:
        return _cut(source, from_s=from_s, to_s=to_s, fps=fps, target=target)
    except av.error.FFmpegError as exc:
        Path(target).unlink(missing_ok=True)
        raise ValueError(f"{Path(source).name}: {exc}") from None


def _cut(
    source: str | os.PathLike[str], *, from_s: float, to_s: float, fps: float, target: str | os.PathLike[str]
) -> VideoInfo:
    """Write the frames of `source` shown from `from_s` (inclusive) to `to_s` (exclusive) into `target`;
    returns its VideoInfo (frames 0 and no file when the span holds no frame). Raises ValueError for a
    file without a video stream."""
    half = 0.5 / fps
    copied = _packet_copy(Path(source), from_s=from_s, to_s=to_s, fps=fps, target=Path(target))
    if copied is not None:
        return copied
    with av.open(str(source), mode="r") as container:
        stream = container.streams.video[0]
        stream.thread_count = 1
        time_base = stream.time_base
        if time_base is not None and from_s > 0:
            container.seek(int(max(0.0, from_s - half) / time_base), stream=stream, backward=True, any_frame=False)
        with VideoWriter(target, fps=fps) as writer:
            for frame in container.decode(stream):
                if frame.pts is None or time_base is None:
                    continue
                t = float(frame.pts * time_base)
                if t < from_s - half:
                    continue
                if t >= to_s - half:
                    break
                writer.add(np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8))
            return writer.close()
