"""What every optimizer curvature (K-FAC's, the dense Fisher's) shares: running statistics,
readiness after a refresh, and the time spent in each stage."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from algorithms.curvature.decompositions import DecompositionError


class RunningCurvature:
    """Statistics are exponential moving averages with decay ``min(stat_decay, k/(k+1))`` at the
    k-th fold (k = 0, 1, …): a plain running mean until it reaches the decay (cold start), so the
    first statistics are not shrunk toward zero. A batch with a non-finite statistic is not folded.

    A subclass's forward hooks record what its statistics need while ``_capturing`` is set
    (inside :meth:`capturing`), and :meth:`_clear_capture` forgets it.
    """

    def __init__(self, stat_decay: float) -> None:
        self.stat_decay = stat_decay
        self.stat_updates = 0
        self.ready = False
        self.timings = {"stats": 0.0, "refresh": 0.0, "precondition": 0.0}
        self._capturing = False

    @contextmanager
    def capturing(self, enabled: bool = True) -> Iterator[None]:
        """Record what the statistics need during the forward run inside (when ``enabled``)."""
        self._clear_capture()
        self._capturing = enabled
        try:
            yield
        finally:
            self._capturing = False

    def _clear_capture(self) -> None:
        """Forget what the last captured forward recorded."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """What the next updates depend on: the fold count, readiness, and the subclass's running
        statistics and decompositions (:meth:`_statistics_state`), as tensors and plain values."""
        return {"stat_updates": self.stat_updates, "ready": self.ready, **self._statistics_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state_dict` of the same curvature over the same module."""
        self.stat_updates, self.ready = state["stat_updates"], state["ready"]
        self._load_statistics_state(state)

    def _statistics_state(self) -> dict[str, Any]:
        raise NotImplementedError

    def _load_statistics_state(self, state: dict[str, Any]) -> None:
        raise NotImplementedError

    @contextmanager
    def _timed(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[stage] += time.perf_counter() - start

    def _fold(
        self, running: list[torch.Tensor | None], fresh: list[torch.Tensor]
    ) -> list[torch.Tensor] | None:
        """``fresh`` folded into ``running`` in place; at k = 0 ``fresh`` itself (``running`` is then
        unused and may hold None). None, with nothing changed, if any fresh statistic is not finite."""
        if not bool(torch.stack(torch._foreach_norm(fresh)).isfinite().all()):
            return None
        if self.stat_updates > 0:
            decay = min(self.stat_decay, self.stat_updates / (self.stat_updates + 1))
            torch._foreach_lerp_(running, fresh, 1 - decay)  # decay·running + (1 − decay)·fresh
            fresh = running
        self.stat_updates += 1
        return fresh

    def _refresh_with(self, decompose: Callable[[], None]) -> bool:
        """Run ``decompose``; ready unless it raised :class:`DecompositionError` (float64 failed too)."""
        if self.stat_updates == 0:
            raise RuntimeError("refresh needs statistics: call update_statistics first")
        with self._timed("refresh"):
            try:
                decompose()
                self.ready = True
            except DecompositionError:
                self.ready = False
        return self.ready

    def _require_ready(self) -> None:
        if not self.ready:
            raise RuntimeError("precondition needs a successful refresh")

    def pop_timings(self) -> dict[str, float]:
        """Seconds spent in statistics, refresh and preconditioning since the last call (host clock)."""
        timings, self.timings = self.timings, dict.fromkeys(self.timings, 0.0)
        return timings
