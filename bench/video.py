"""Videos of an agent: MP4 (H.264, yuv420p, what browsers and players read) written through the
ffmpeg build that ``imageio-ffmpeg`` ships."""

from __future__ import annotations

from pathlib import Path

import imageio_ffmpeg
import numpy as np

MACRO_BLOCK = 16
"""H.264 encodes 16 × 16 blocks; players expect frame sides that are multiples of it."""


def write_video(path: Path, frames: list[np.ndarray], frames_per_second: float) -> None:
    """``frames`` (RGB [H, W, 3] uint8, all one size) as an MP4 at ``path``, black-padded at the
    bottom and right to sides that are multiples of :data:`MACRO_BLOCK`."""
    if not frames:
        raise ValueError("a video needs at least one frame")
    height, width = frames[0].shape[:2]
    padding = ((0, -height % MACRO_BLOCK), (0, -width % MACRO_BLOCK), (0, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = imageio_ffmpeg.write_frames(
        str(path),
        (width + padding[1][1], height + padding[0][1]),
        fps=frames_per_second,
        codec="libx264",
        pix_fmt_out="yuv420p",
        macro_block_size=MACRO_BLOCK,
        ffmpeg_log_level="error",
    )
    writer.send(None)
    for frame in frames:
        writer.send(np.ascontiguousarray(np.pad(frame.astype(np.uint8, copy=False), padding)))
    writer.close()
