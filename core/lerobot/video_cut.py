"""One episode's frames out of a LeRobot video file that many episodes share (from..to seconds in it),
as an MP4 of its own (core.recording.video.VideoWriter, H.264).

Why re-encode instead of copying packets: an episode rarely starts on a keyframe of the shared file, so
a packet copy would start on frames that cannot be decoded, or carry the previous episode's tail. The
decoder seeks to the keyframe before `from_s` and decodes only that episode's span."""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np

from core.recording.video import VideoInfo, VideoWriter


def video_cut(
    source: str | os.PathLike[str], *, from_s: float, to_s: float, fps: float, target: str | os.PathLike[str]
) -> VideoInfo:
    """Write the frames of `source` shown from `from_s` (inclusive) to `to_s` (exclusive) into `target`;
    returns its VideoInfo (frames 0 and no file when the span holds no frame). Raises ValueError for a
    file without a video stream."""
    half = 0.5 / fps
    with av.open(str(source), mode="r") as container:
        if not container.streams.video:
            raise ValueError(f"{Path(source).name} has no video stream")
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
