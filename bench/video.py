"""Videos of an agent: MP4 (H.264, yuv420p, what browsers and players read) written through the
ffmpeg build that ``imageio-ffmpeg`` ships."""

from __future__ import annotations

from pathlib import Path

import imageio_ffmpeg
import numpy as np

MACRO_BLOCK = 16
"""H.264 encodes 16 × 16 blocks; players expect frame sides that are multiples of it."""


class VideoWriter:
    """An :class:`algorithms.evaluation.FrameSink`: frames (RGB [H, W, 3] uint8, all the size of the
    first) streamed into an MP4 at ``path`` as they come, at the env's real-time rate, black-padded
    at the bottom and right to sides that are multiples of :data:`MACRO_BLOCK`; :meth:`close`
    finishes the file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.frames_per_second = 30.0
        self.frames = 0
        self._encoder = None
        self._padding: tuple = ()

    def begin(self, frames_per_second: float) -> None:
        self.frames_per_second = frames_per_second

    def add(self, frame: np.ndarray) -> None:
        if self._encoder is None:
            height, width = frame.shape[:2]
            self._padding = ((0, -height % MACRO_BLOCK), (0, -width % MACRO_BLOCK), (0, 0))
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._encoder = imageio_ffmpeg.write_frames(
                str(self.path),
                (width + self._padding[1][1], height + self._padding[0][1]),
                fps=self.frames_per_second,
                codec="libx264",
                pix_fmt_out="yuv420p",
                macro_block_size=MACRO_BLOCK,
                ffmpeg_log_level="error",
            )
            self._encoder.send(None)
        self._encoder.send(np.ascontiguousarray(np.pad(frame.astype(np.uint8, copy=False), self._padding)))
        self.frames += 1

    def close(self) -> None:
        if self._encoder is None:
            raise ValueError(f"no frame for the video {str(self.path)!r}")
        self._encoder.close()
