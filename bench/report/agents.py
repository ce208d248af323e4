"""Each task's best agent on the report: a filmstrip of one episode it plays on a fresh env.

The agent is the kept policy (``agent.pt``) of the finished run with the highest final return
of the optimizer whose runs end highest on average. It plays one episode as ``acktr-bench
evaluate`` does (sampled actions, the run's seed plus the evaluation offset), and
:data:`FRAMES` frames evenly spaced over it, scaled to one height, make a PNG embedded in the
page, so that it opens offline.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from algorithms.evaluation import EVALUATION_SEED_OFFSET, evaluate_policy
from bench.report.loading import Sweep
from bench.results import AGENT_FILE, read_agent
from bench.trainers import config_of_record

FRAMES = 8
HEIGHT = 120
"""Pixels of the filmstrip's height."""
GAP = 4
"""Grey pixels between two frames."""


class EvenlySpacedFrames:
    """A frame sink that keeps, in bounded memory, frames evenly spaced over however many come: it
    keeps every ``stride``-th, and when ``2 · count`` are kept drops every other and doubles the
    stride."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.kept: list[np.ndarray] = []
        self.stride, self.seen = 1, 0

    def begin(self, frames_per_second: float) -> None:
        pass

    def add(self, frame: np.ndarray) -> None:
        if self.seen % self.stride == 0:
            self.kept.append(frame.copy())
            if len(self.kept) == 2 * self.count:
                self.kept, self.stride = self.kept[::2], 2 * self.stride
        self.seen += 1

    def chosen(self) -> list[np.ndarray]:
        """``count`` of the kept frames (all of them if fewer), first and last included."""
        if len(self.kept) <= self.count:
            return self.kept
        return [self.kept[int(i)] for i in np.linspace(0, len(self.kept) - 1, self.count).round()]


@dataclass(frozen=True)
class Filmstrip:
    image: str
    """A PNG data URI."""
    caption: str


def strip_image(frames: list[np.ndarray]) -> str:
    """The frames side by side, each scaled to :data:`HEIGHT`, as a PNG data URI."""
    scaled = [Image.fromarray(f).resize((round(f.shape[1] * HEIGHT / f.shape[0]), HEIGHT)) for f in frames]
    strip = Image.new("RGB", (sum(i.width for i in scaled) + GAP * (len(scaled) - 1), HEIGHT), "grey")
    x = 0
    for image in scaled:
        strip.paste(image, (x, 0))
        x += image.width + GAP
    buffer = io.BytesIO()
    strip.save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def best_agent_run(
    sweep: Sweep, task: str, task_scores: pd.DataFrame, suite_results: Path
) -> pd.Series | None:
    """The ``sweep.runs`` row of the task's best agent (see the module doc); None when no scored run
    of the task kept one."""
    runs = sweep.runs[(sweep.runs["task"] == task) & (sweep.runs["state"] == "done")]
    scored = task_scores.merge(runs[["optimizer", "seed", "run"]], on=["optimizer", "seed"])
    scored = scored[[(suite_results / run / AGENT_FILE).is_file() for run in scored["run"]]]
    if not len(scored):
        return None
    best_optimizer = scored.groupby("optimizer")["final_return"].mean().idxmax()
    candidates = scored[scored["optimizer"] == best_optimizer]
    return candidates.sort_values(["final_return", "seed"], ascending=[False, True]).iloc[0]


def agent_filmstrip(
    sweep: Sweep, task: str, task_scores: pd.DataFrame, suite_results: Path
) -> Filmstrip | str | None:
    """The filmstrip of the task's best agent; None without one; a one-line reason when its episode
    could not be played or shown here (a machine that cannot render the task)."""
    best = best_agent_run(sweep, task, task_scores, suite_results)
    if best is None:
        return None
    config = config_of_record(sweep.configs[best["run"]])
    frames = EvenlySpacedFrames(FRAMES)
    seed = config.seed + EVALUATION_SEED_OFFSET
    try:
        played = evaluate_policy(config, *read_agent(suite_results / best["run"]), 1, seed, frames=frames)
    except Exception as error:  # a page without a filmstrip still says why, and is still written
        return f"No agent filmstrip for {task}: {type(error).__name__}: {str(error).splitlines()[0]}"
    chosen = frames.chosen()
    caption = (
        f"{best['optimizer']} seed {best['seed']} (final return {best['final_return']:.1f}, the best of the "
        f"optimizer with the highest mean), one episode on a fresh env (seed {seed}, sampled actions): "
        f"return {played.returns[0]:g} in {played.lengths[0]} steps; {len(chosen)} frames evenly spaced."
    )
    return Filmstrip(strip_image(chosen), caption)
