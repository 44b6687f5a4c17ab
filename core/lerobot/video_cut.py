"""Episodes' frames out of a LeRobot video file that many episodes share (each from..to seconds in it),
as an MP4 of their own.

`video_cuts` cuts every span of one file in a single pass over it: the file is opened and its index
parsed once, its packets read in order, and only the current span's packets are held (a shared file
holds hundreds of episodes; opening it and seeking once per episode cost more than the copying).

Fast path, packet copy: when a span starts on a keyframe and ends where the next keyframe (or the file)
begins, as in files joined by packet copy (TrialBench's exports, LeRobot's own concatenation of
per-episode encodes), its packets are decoded by a fresh decoder (so nothing of the previous span can
stand in for a missing reference, as in a file of its own) and, when every frame decodes, copied into
a new MP4 with their times moved to start at 0. Otherwise (a span inside a group of pictures: copied
packets would start on frames that cannot be decoded or carry the previous episode's tail) the decoder
seeks to the keyframe before `from_s` and the span's frames are re-encoded
(core.recording.video.VideoWriter, H.264)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from core.recording.video import MAX_UPLOAD_FRAMES, MAX_UPLOAD_PIXELS, VideoInfo, VideoWriter

_CODEC = "h264"


@dataclass(frozen=True)
class Span:
    """Frames shown from `from_s` (inclusive) to `to_s` (exclusive), to be written to `target`."""

    from_s: float
    to_s: float
    target: Path


def video_cut(
    source: str | os.PathLike[str], *, from_s: float, to_s: float, fps: float, target: str | os.PathLike[str]
) -> VideoInfo:
    """Write the frames of `source` shown from `from_s` (inclusive) to `to_s` (exclusive) into `target`;
    returns its VideoInfo (frames 0 and no file when the span holds no frame). Raises ValueError for a
    file without a video stream or one FFmpeg cannot read."""
    return video_cuts(source, spans=[Span(from_s, to_s, Path(target))], fps=fps)[0]


def video_cuts(source: str | os.PathLike[str], *, spans: Sequence[Span], fps: float) -> list[VideoInfo]:
    """Write each span of `source` into its target; returns their VideoInfos in the order of `spans`
    (frames 0 and no file for a span that holds no frame). Raises ValueError for a file without a
    video stream or one FFmpeg cannot read, and removes every target then."""
    path = Path(source)
    try:
        return _cuts(path, spans, fps)
    except av.error.FFmpegError as exc:
        for span in spans:
            span.target.unlink(missing_ok=True)
        raise ValueError(f"{path.name}: {exc}") from None


def _cuts(source: Path, spans: Sequence[Span], fps: float) -> list[VideoInfo]:
    order = sorted(range(len(spans)), key=lambda i: spans[i].from_s)
    copied = _packet_copies(source, [spans[i] for i in order], fps)
    infos: list[VideoInfo | None] = [None] * len(spans)
    for position, i in enumerate(order):
        infos[i] = copied[position] or _reencode(source, spans[i], fps)
    return [info for info in infos if info is not None]


def _packet_copies(source: Path, spans: list[Span], fps: float) -> list[VideoInfo | None]:
    """Spans sorted by start, each copied packet by packet; None for those that are not whole groups of
    pictures or whose frames do not all decode (no file is left for them)."""
    half = 0.5 / fps
    copies: list[VideoInfo | None] = [None] * len(spans)
    with av.open(str(source), mode="r") as container:
        if not container.streams.video:
            raise ValueError(f"{source.name} has no video stream")
        stream = container.streams.video[0]
        context = stream.codec_context
        if stream.time_base is None or context.name != _CODEC or context.width * context.height > MAX_UPLOAD_PIXELS:
            return copies
        # Floats, not the Fractions PyAV hands out: one multiply per packet of the whole file.
        time_base = float(stream.time_base)
        expected = [round((span.to_s - span.from_s) * fps) for span in spans]
        current = 0
        packets: list[av.Packet[Any]] = []
        for packet in container.demux(stream):
            if packet.dts is None or packet.pts is None:
                continue
            t = packet.pts * time_base
            while current < len(spans):
                span = spans[current]
                if packets:
                    if packet.is_keyframe and t >= span.to_s - half:
                        # The next episode's first keyframe: the span ended on a boundary.
                        if len(packets) == expected[current]:
                            copies[current] = _copy_checked(stream, packets, span, fps)
                        current, packets = current + 1, []
                        continue
                    if len(packets) == expected[current]:  # more packets than frames: not on boundaries
                        current, packets = current + 1, []
                        continue
                    packets.append(packet)
                    break
                if t < span.from_s - half:
                    break  # before the span (a gap, or a span already given up on)
                if packet.is_keyframe and abs(t - span.from_s) <= half and t < span.to_s - half:
                    packets.append(packet)
                    break
                current += 1  # the span does not start on a keyframe
            if current == len(spans):
                break
        if packets and len(packets) == expected[current]:
            copies[current] = _copy_checked(stream, packets, spans[current], fps)
    return copies


def _copy_checked(stream: av.VideoStream, packets: list[av.Packet[Any]], span: Span, fps: float) -> VideoInfo | None:
    """The span's packets into span.target when a decoder of their own decodes every one of them (what
    playing the cut file does); None otherwise."""
    if len(packets) > MAX_UPLOAD_FRAMES:
        return None
    decoder = av.CodecContext.create("h264", "r")
    decoder.extradata = stream.codec_context.extradata
    decoder.thread_count = 1
    # The check needs the bitstream parsed and every reference found, not the pixels: skipping the
    # inverse transform and the deblocking (which cannot fail) takes a fifth off the decode.
    decoder.options = {"skip_loop_filter": "all", "skip_idct": "all"}
    frames, width, height = 0, 0, 0
    try:
        for packet in [*packets, None]:
            for frame in decoder.decode(packet):
                frames += 1
                width, height = frame.width, frame.height
    except av.error.FFmpegError:
        return None
    if frames != len(packets):
        return None
    time_base = stream.time_base
    assert time_base is not None  # noqa: S101  # _packet_copies copies only streams that have one
    offset = round(Fraction(span.from_s).limit_denominator(100_000) / time_base)
    end = 0
    with av.open(str(span.target), mode="w", format="mp4", options={"movflags": "+faststart"}) as out:
        copy = out.add_stream_from_template(stream, opaque=True)
        copy.time_base = time_base
        for packet in packets:
            # Both are set: packets without them were skipped.
            packet.pts = int(packet.pts or 0) - offset
            packet.dts = int(packet.dts or 0) - offset
            end = max(end, packet.pts + int(packet.duration or 0))
            packet.stream = copy
            out.mux(packet)
    duration_s = float(end * time_base) if end > 0 else frames / fps
    return VideoInfo(
        frames=frames,
        width=width,
        height=height,
        fps=frames / duration_s if duration_s > 0 else float(fps),
        duration_s=duration_s,
        bytes=span.target.stat().st_size,
    )


def _reencode(source: Path, span: Span, fps: float) -> VideoInfo:
    half = 0.5 / fps
    with av.open(str(source), mode="r") as container:
        stream = container.streams.video[0]
        stream.thread_count = 1
        time_base = stream.time_base
        if time_base is not None and span.from_s > 0:
            container.seek(int(max(0.0, span.from_s - half) / time_base), stream=stream, backward=True, any_frame=False)
        with VideoWriter(span.target, fps=fps) as writer:
            for frame in container.decode(stream):
                if frame.pts is None or time_base is None:
                    continue
                t = float(frame.pts * time_base)
                if t < span.from_s - half:
                    continue
                if t >= span.to_s - half:
                    break
                writer.add(np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8))
            return writer.close()
