"""Published numbers beside ours (:mod:`bench.report.published`): per task, our final return with
its 95 % interval beside every published one, each with its source, env version and budget; and,
for the games with a published human-level episode, the episode at which each run got there."""

from __future__ import annotations

import pandas as pd

from bench.report.loading import Sweep
from bench.report.published import PublishedResult, published
from bench.report.scores import WINDOW
from bench.results import first_reaching

OUR_MEASURE = (
    f"mean raw return of the last {WINDOW} training episodes; over runs: mean, 95 % bootstrap interval"
)


def _budget(steps: int) -> str:
    return f"{steps:,} env steps"


def counterparts(task: str, optimizer: str) -> list[PublishedResult]:
    """The published results on ``task`` of the method ``optimizer`` stands for (none for an
    optimizer without a published counterpart)."""
    method = published().stands_for.get(optimizer)
    return published().for_task(task, method) if method else []


def against_published(low: float, high: float, theirs: list[PublishedResult]) -> str:
    """Where our 95 % interval ``[low, high]`` lies against the span of ``theirs`` (every value
    widened by the ± its source prints): "within", or "below"/"above" when it misses every one
    of them, with the method and the span; "" when ``theirs`` is empty."""
    if not theirs:
        return ""
    bottom = min(result.value - (result.spread or 0.0) for result in theirs)
    top = max(result.value + (result.spread or 0.0) for result in theirs)
    where = "below" if high < bottom else "above" if low > top else "within"
    span = f"{bottom:,.1f}" if bottom == top else f"{bottom:,.1f} to {top:,.1f}"
    return f"{where} {theirs[0].method}'s {span}"


def published_table(sweep: Sweep, summary: pd.DataFrame) -> pd.DataFrame:
    """One row per finished optimizer of ours and per published result, for each task of the sweep
    with published results: who, the final return, its spread (our 95 % interval, or the ± the
    source prints), the env version, budget and runs, the source and what it measures; and for
    ours, where our interval lies against the published numbers of the method our optimizer
    stands for (:func:`against_published`).
    ``summary`` has the per-task columns ``task``, ``optimizer``, ``runs scored``, ``final
    return`` and its ``low`` and ``high``."""
    rows = []
    for task, runs in sweep.runs.groupby("task"):
        theirs = published().for_task(task)
        if not theirs:
            continue
        ours = summary[(summary["task"] == task) & (summary["runs scored"] > 0)] if len(summary) else summary
        protocols = ", ".join(sorted(set(runs["protocol"].dropna())))
        env = f"{task} ({protocols} protocol)" if protocols else task
        for row in ours.to_dict("records"):
            budget = int(runs.loc[runs["optimizer"] == row["optimizer"], "budget"].max())
            rows.append(
                {
                    "task": task,
                    "who": f"{row['optimizer']} (ours)",
                    "final return": row["final return"],
                    "spread": f"[{row['final return low']:,.1f}, {row['final return high']:,.1f}]",
                    "env": env,
                    "budget": _budget(budget),
                    "runs": f"{row['runs scored']} run{'' if row['runs scored'] == 1 else 's'}",
                    "source": f"this suite ({sweep.suite})",
                    "measure": OUR_MEASURE,
                    "against the published": against_published(
                        row["final return low"],
                        row["final return high"],
                        counterparts(task, row["optimizer"]),
                    ),
                }
            )
        for result in theirs:
            source = result.source
            rows.append(
                {
                    "task": task,
                    "who": result.method,
                    "final return": result.value,
                    "spread": "" if result.spread is None else f"± {result.spread:g}",
                    "env": result.env,
                    "budget": source.budget,
                    "runs": source.runs,
                    "source": source.cite,
                    "measure": source.measure,
                    "against the published": "",
                }
            )
    return pd.DataFrame(rows)


def human_level_table(sweep: Sweep) -> pd.DataFrame:
    """One row per run (whatever its state: a long run shows how far it got) of a game with a
    published human level: its episodes and env steps so far, and the first ``WINDOW`` episodes
    whose mean raw return reached human level, counted by their last episode (and its env step)
    and by their first, beside the paper's episode for the method it stands for (empty where the
    paper gives none for it, or none could be read)."""
    rows = []
    for run in sweep.runs.sort_values(["task", "optimizer", "seed"]).itertuples():
        level = published().human_levels.get(run.task)
        if level is None:
            continue
        paper_episode = published().paper_episode(run.task, run.optimizer)
        episodes = sweep.episodes[sweep.episodes["run"] == run.run]
        reached = first_reaching(episodes, level.score, WINDOW)
        reached_at = "" if reached is None else int(episodes["env_steps"].iloc[reached])
        rows.append(
            {
                "task": run.task,
                "optimizer": run.optimizer,
                "seed": run.seed,
                "state": run.state,
                "env steps so far": run.env_steps,
                "episodes so far": len(episodes),
                "human level": level.score,
                "episode at human level": "not yet" if reached is None else reached + 1,
                "env steps at human level": reached_at,
                f"first episode of those {WINDOW}": "" if reached is None else reached + 2 - WINDOW,
                "paper episode": "" if paper_episode is None else paper_episode,
            }
        )
    return pd.DataFrame(rows)


def cited_sources(published_rows: pd.DataFrame, human_level: pd.DataFrame) -> list[dict[str, str]]:
    """The sources the two tables cite (:func:`published_table`, :func:`human_level_table`), in
    the order they first appear, each with where it was read and its address."""
    cites = list(published_rows["source"]) if len(published_rows) else []
    for task in dict.fromkeys(human_level["task"]) if len(human_level) else {}:
        level = published().human_levels[task]
        cites += [level.score_source.cite] + ([level.episodes_source.cite] if level.episodes_source else [])
    by_cite = {source.cite: source for source in published().sources.values()}
    return [vars(by_cite[cite]) for cite in dict.fromkeys(cites) if cite in by_cite]
