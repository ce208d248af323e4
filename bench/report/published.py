"""Published results the report shows beside ours, read from ``published.toml`` (in this package),
where every number names its source: who published it, where it was read, the env version, the
budget, the runs and what it measures."""

from __future__ import annotations

import functools
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

PATH = Path(__file__).with_name("published.toml")


@dataclass(frozen=True)
class Source:
    """Who published a set of numbers and how they were measured, as far as the source says."""

    id: str
    cite: str
    url: str
    read_from: str
    env: str
    budget: str
    runs: str
    measure: str
    caveat: str = ""
    """Where the source's setup differs from ours in a way its own text does not say ("" where
    nothing is known)."""


@dataclass(frozen=True)
class PublishedResult:
    """One published final return of ``method`` on the source's ``env``, shown beside our
    ``task``; ``spread`` is the ± the source prints (None where it prints none)."""

    task: str
    method: str
    value: float
    env: str
    source: Source
    spread: float | None = None


@dataclass(frozen=True)
class HumanLevel:
    """A game's human score and the first episode at which the paper's methods reach it, keyed by
    method (``ACKTR``, ``A2C``); no episodes and no ``episodes_source`` where none could be read."""

    task: str
    score: float
    score_source: Source
    episodes: dict[str, int]
    episodes_source: Source | None


@dataclass(frozen=True)
class Published:
    sources: dict[str, Source]
    results: tuple[PublishedResult, ...]
    human_levels: dict[str, HumanLevel]
    """By task."""
    stands_for: dict[str, str]
    """The published method each of our optimizers stands for (``acktr`` → ``ACKTR``); an
    optimizer with no published counterpart is not in it."""

    def for_task(self, task: str, method: str | None = None) -> list[PublishedResult]:
        """The results on ``task``, of every method or only of ``method``."""
        return [r for r in self.results if r.task == task and method in (None, r.method)]

    def paper_episode(self, task: str, optimizer: str) -> int | None:
        """The episode at which the paper's counterpart of ``optimizer`` first reaches ``task``'s
        human level; None where the paper gives none."""
        level = self.human_levels.get(task)
        method = self.stands_for.get(optimizer)
        return None if level is None or method is None else level.episodes.get(method)


def _source(sources: dict[str, Source], name: str, where: str) -> Source:
    if name not in sources:
        raise ValueError(f"{PATH.name}: {where} names source {name!r}; defined: {', '.join(sources)}")
    return sources[name]


@functools.cache
def published() -> Published:
    """The file's sources, results, human levels and counterparts; ValueError naming the entry
    for a result whose source, or a source whose caveat, is not defined, or for a value that is
    not a finite number."""
    data = tomllib.loads(PATH.read_text(encoding="utf-8"))
    caveats = data["caveats"]
    sources = {}
    for name, fields in data["sources"].items():
        caveat = fields.pop("caveat", None)
        if caveat is not None and caveat not in caveats:
            defined = ", ".join(caveats)
            raise ValueError(f"{PATH.name}: source {name} names caveat {caveat!r}; defined: {defined}")
        sources[name] = Source(name, **fields, caveat=caveats.get(caveat, ""))
    results = []
    for entry in data["results"]:
        where = f"the {entry['method']} result on {entry['task']}"
        if not math.isfinite(entry["value"]):
            raise ValueError(f"{PATH.name}: {where} has value {entry['value']!r}; accepted: a finite number")
        results.append(
            PublishedResult(
                entry["task"],
                entry["method"],
                float(entry["value"]),
                entry["env"],
                _source(sources, entry["source"], where),
                entry.get("spread"),
            )
        )
    human_levels = {
        entry["task"]: HumanLevel(
            entry["task"],
            float(entry["score"]),
            _source(sources, entry["score_source"], f"the human level of {entry['task']}"),
            dict(entry.get("episodes", {})),
            _source(sources, entry["episodes_source"], f"the human-level episodes of {entry['task']}")
            if "episodes" in entry
            else None,
        )
        for entry in data["human_level"]
    }
    return Published(sources, tuple(results), human_levels, dict(data["stands_for"]))
