"""``build_report``: a suite's results (and the machine's latest timing run) into one standalone
HTML page with its tables as CSV files beside it."""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.provenance import provenance
from bench.report import aggregate, figures, in_progress, scores
from bench.report.agents import agent_filmstrip
from bench.report.bootstrap import CONFIDENCE, Estimate, mean_interval
from bench.report.comparisons import comparison_table
from bench.report.loading import Sweep, load_sweep
from bench.report.normalization import LEARNED_MEANING, reference
from bench.report.page import Table, render
from bench.report.published import published
from bench.report.reproduction import cited_sources, human_level_table, published_table
from bench.results import STATES, write_atomic
from bench.suites import available, load_suite
from bench.timing_results import few_rounds_note, iteration_costs, machine_id, read_timing, update_ratios

REPORT_PACKAGES = ("rliable", "arch", "seaborn", "matplotlib", "pandas", "jinja2")
LOG_TIME_SPREAD = 10
"""A task's wall-clock panel is drawn on a log axis when its optimizers' median run times differ
by more than this factor (one of them would be squashed against the axis otherwise)."""


@dataclass
class Report:
    """What was written: the page, the CSV files beside it, the seconds it took, and the run
    directories that could not be read (run, reason)."""

    page: Path
    tables: list[Path]
    seconds: float
    unreadable: list[tuple[str, str]]


def _interval(value: float, low: float, high: float, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}g} [{low:.{digits}g}, {high:.{digits}g}]"


def _steps(value: float) -> str:
    if math.isnan(value):
        return "—"
    return "never" if math.isinf(value) else f"{value / 1000:.1f}k"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:,.1f}"
    return str(value)


def _frame_table(frame: pd.DataFrame) -> Table | None:
    """``frame`` as a page table, each value a :func:`_cell`; None when it has no row."""
    if not len(frame):
        return None
    return Table(list(frame.columns), [[_cell(v) for v in row] for row in frame.itertuples(index=False)])


def _times(ratio: float) -> str:
    return "—" if math.isnan(ratio) else f"{ratio:.3g}×"


def _ratio_cell(row: dict[str, Any], any_ratio: bool) -> str:
    if row["efficiency withheld"]:
        return "— (sgd did not learn)"
    if row["optimizer"] == scores.BASELINE and any_ratio:
        return "1 (baseline)"
    interval = _interval(row["efficiency ratio"], row["efficiency low"], row["efficiency high"])
    return ("≤ " if row["efficiency upper bound"] else "") + interval


def latest_timing(results_root: Path, sweep: Sweep) -> Path | None:
    """The newest saved timing run of the machine most of the runs ran on."""
    hardware = Counter(
        (row.cpu, row.cores, row.gpu if isinstance(row.gpu, str) else None)
        for row in sweep.runs.itertuples()
        if isinstance(row.cpu, str)
    )
    if not hardware:
        return None
    cpu, cores, gpu = hardware.most_common(1)[0][0]
    directory = results_root / "timing" / machine_id({"cpu": cpu, "cores": cores, "gpu": gpu})
    saved = sorted(directory.glob("*.json"))
    return saved[-1] if saved else None


def not_started(sweep: Sweep, suite_results: Path) -> pd.DataFrame:
    """The runs ``bench/suites/SUITE.toml`` defines that have no run directory under
    ``suite_results``, one row each (run, task, optimizer, seed, state "not started", budget); no
    rows when the results are not those of a defined suite."""
    columns = ["run", "task", "optimizer", "seed", "state", "budget"]
    if sweep.suite not in available():
        return pd.DataFrame(columns=columns)
    present = set(sweep.runs["run"]) | {run for run, _ in sweep.unreadable}
    rows = []
    for run in load_suite(sweep.suite).runs:
        name = run.directory(suite_results).relative_to(suite_results).as_posix()
        if name not in present:
            rows.append([name, run.env_id, run.optimizer, run.seed, "not started", run.steps])
    return pd.DataFrame(rows, columns=columns)


def _status_section(sweep: Sweep, missing: pd.DataFrame) -> dict[str, Any]:
    counts = Counter(sweep.runs["state"])
    others = sweep.runs[sweep.runs["state"] != "done"]
    rows = [
        [r.run, r.state, f"{r.env_steps:,} / {r.budget:,}", r.error or ""] for r in others.itertuples()
    ] + [[run, "unreadable", "", reason] for run, reason in sweep.unreadable]
    return {
        "counts": [(state, counts.get(state, 0)) for state in STATES]
        + [("unreadable", len(sweep.unreadable)), ("not started", len(missing))],
        "table": Table(["run", "state", "env steps / budget", "error"], rows),
    }


def _task_section(
    sweep: Sweep, task: str, run_scores: pd.DataFrame, reps: int, suite_results: Path, agents: bool
) -> tuple[dict, dict]:
    """The task's figure, table and (with ``agents``) best agent's filmstrip, and its frames for the
    CSV files."""
    grid, by_steps = scores.task_curves(sweep, task, "env_steps")
    log_time = scores.duration_spread(sweep, task) > LOG_TIME_SPREAD
    wall_grid, by_time = scores.task_curves(sweep, task, "wall_time_s", log_grid=log_time)
    steps_frame = scores.curve_estimates(grid, by_steps, reps)
    time_frame = scores.curve_estimates(wall_grid, by_time, reps)
    threshold = scores.task_threshold(sweep, task)
    task_scores = run_scores[run_scores["task"] == task]
    steps = None
    if threshold is not None:
        steps = {
            name: group.sort_values("seed")["steps_to_threshold"].to_numpy()
            for name, group in task_scores.groupby("optimizer")
        }
    scale = reference(task)
    efficiency = scores.efficiency_ratios(
        grid,
        by_steps,
        steps,
        reps,
        threshold=None if threshold is None else threshold.value,
        learned_level=-math.inf if scale is None else scale.learned_level,
    )
    ratios = efficiency.ratios
    runs = sweep.runs[sweep.runs["task"] == task]
    summary = []
    for name in figures.order(runs["optimizer"]):
        group = task_scores[task_scores["optimizer"] == name].sort_values("seed")
        finals = mean_interval(group["final_return"].to_numpy(), reps)
        aucs = mean_interval(group["auc"].to_numpy(), reps)
        reached = np.isfinite(group["steps_to_threshold"]).sum()
        ratio = ratios.get(name)
        if name == scores.BASELINE and ratios:
            ratio = scores.Ratio(Estimate(1.0, 1.0, 1.0), upper_bound=False)
        estimate = ratio.estimate if ratio else Estimate(math.nan, math.nan, math.nan)
        summary.append(
            {
                "task": task,
                "optimizer": name,
                "runs scored": len(group),
                "runs done": int(((runs["optimizer"] == name) & (runs["state"] == "done")).sum()),
                "runs": len(runs[runs["optimizer"] == name]),
                "final return": finals[0],
                "final return low": finals[1],
                "final return high": finals[2],
                "auc": aucs[0],
                "auc low": aucs[1],
                "auc high": aucs[2],
                "normalized final": group["normalized"].mean() if len(group) else math.nan,
                "threshold": math.nan if threshold is None else threshold.value,
                "steps to threshold (median)": group["steps_to_threshold"].median()
                if len(group)
                else math.nan,
                "reached": int(reached),
                "steps to threshold (per seed)": " ".join(_steps(s) for s in group["steps_to_threshold"]),
                "efficiency ratio": estimate.point,
                "efficiency low": estimate.low,
                "efficiency high": estimate.high,
                "efficiency upper bound": bool(ratio and ratio.upper_bound),
                "efficiency withheld": efficiency.withheld,
            }
        )
    frame = pd.DataFrame(summary)
    rows = [
        [
            r["optimizer"],
            f"{r['runs scored']} / {r['runs']}",
            _interval(r["final return"], r["final return low"], r["final return high"]),
            _interval(r["auc"], r["auc low"], r["auc high"]),
            "—" if math.isnan(r["normalized final"]) else f"{r['normalized final']:.3f}",
            f"{_steps(r['steps to threshold (median)'])} ({r['reached']}/{r['runs scored']})",
            r["steps to threshold (per seed)"],
            _ratio_cell(r, bool(ratios)),
        ]
        for r in summary
    ]
    header = [
        "optimizer",
        "runs scored",
        "final return [95% CI]",
        "AUC [95% CI]",
        "normalized final",
        "steps to threshold: median (reached)",
        "per seed",
        "sample-efficiency ratio over sgd [95% CI]",
    ]
    notes = []
    if threshold is not None:
        notes.append(
            f"Threshold: {threshold.value:g}, mean raw return of the last {threshold.window} episodes "
            f"({threshold.source})."
        )
    if ratios:
        notes.append(f"Sample-efficiency ratio measured at the {efficiency.basis}.")
    if efficiency.withheld:
        notes.append(f"No sample-efficiency ratio: {efficiency.withheld}.")
    unscored = int((runs["state"] == "done").sum()) - len(task_scores)
    if unscored:
        notes.append(
            f"{unscored} finished run(s) ended no episode within the budget: nothing to score, "
            "so they are not counted as results."
        )
    if log_time:
        notes.append(
            f"Wall-clock axis on a log scale: the optimizers' run times differ more than {LOG_TIME_SPREAD}×."
        )
    if scale is not None:
        notes.append(f"Normalized: 0 = {scale.random:g}, 1 = {scale.target:g} ({scale.source}).")
    stopped = [r for r in runs.itertuples() if r.state == "done" and r.env_steps < r.budget]
    if stopped:
        notes.append(
            f"{len(stopped)} run(s) ended before the budget at their stop.return_mean threshold; "
            "their curves hold their last value."
        )
    partial = in_progress.partial_curves(sweep, task)
    standing = in_progress.standings(sweep, task, reps).sort_values(
        "optimizer", key=lambda names: names.map({n: i for i, n in enumerate(figures.order(names))})
    )
    common = float(standing["env steps"].iloc[0]) if len(standing) else None
    level = published().human_levels.get(task)
    section = {
        "name": task,
        "figure": figures.learning_curves(task, steps_frame, time_frame, log_time)
        if len(steps_frame)
        else None,
        "partial": figures.partial_curves(task, partial, level.score if level else None, common)
        if len(partial)
        else None,
        "partial_runs": partial.groupby(["optimizer", "seed"]).ngroups if len(partial) else 0,
        "standing": _standing_table(standing) if len(standing) else None,
        "common": f"{common:,.0f}" if common is not None else None,
        "table": Table(header, rows),
        "notes": notes,
        "filmstrip": agent_filmstrip(sweep, task, task_scores, suite_results) if agents else None,
        "budget": ", ".join(f"{b:,}" for b in sorted(set(runs["budget"]))),
    }
    curves = pd.concat(
        [steps_frame.assign(task=task, axis="env_steps"), time_frame.assign(task=task, axis="wall_time_s")]
    )
    return section, {"summary": frame, "curves": curves, "standing": standing}


def _standing_cell(row: pd.Series) -> str:
    cell = f"{row['optimizer']} {_interval(row['return'], row['return low'], row['return high'])}"
    if math.isnan(row["P(optimizer > sgd)"]):
        return cell
    return (
        cell
        + f", P({row['optimizer']} > sgd) = "
        + _interval(row["P(optimizer > sgd)"], row["P low"], row["P high"])
    )


def _standing_table(standing: pd.DataFrame) -> Table:
    return Table(
        ["optimizer", "runs", "return [95% CI]", "normalized", "P(optimizer > sgd) [95% CI]"],
        [
            [
                r["optimizer"],
                r["runs"],
                _interval(r["return"], r["return low"], r["return high"]),
                "—" if math.isnan(r["normalized"]) else f"{r['normalized']:.3f}",
                _interval(r["P(optimizer > sgd)"], r["P low"], r["P high"]),
            ]
            for _, r in standing.iterrows()
        ],
    )


def _aggregate_sections(run_scores: pd.DataFrame, reps: int) -> tuple[list[dict], dict[str, pd.DataFrame]]:
    sections, estimates, improvements, profiles = [], [], [], []
    for block in aggregate.blocks(run_scores) if len(run_scores) else []:
        block_estimates = aggregate.aggregate_estimates(block, reps)
        improvement = aggregate.improvement_probabilities(block, reps)
        profile = aggregate.performance_profiles(block, reps)
        indexed = block_estimates.set_index(["optimizer", "metric"])[["value", "low", "high"]]
        rows = [
            [
                name,
                *(_interval(*indexed.loc[(name, metric)]) for metric in aggregate.METRICS),
                len(block.scores[name]),
            ]
            for name in figures.order(block.scores)
        ]
        sections.append(
            {
                "title": block.title,
                "table": Table(["optimizer", *aggregate.METRICS, "runs per task"], rows),
                "improvement": Table(
                    ["P(X > Y)", "[95% CI]", "on the tasks where X or Y learned"],
                    [
                        [f"P({x} > {y})", _interval(value, low, high), tasks or "— (neither learned)"]
                        for x, y, value, low, high, tasks in improvement.itertuples(index=False)
                    ],
                ),
                "figures": [
                    figures.aggregate_intervals(block_estimates),
                    *([figures.improvement(measured)] if len(measured := improvement.dropna()) else []),
                    figures.profiles(profile),
                ],
            }
        )
        estimates.append(block_estimates.assign(tasks=" ".join(block.tasks)))
        improvements.append(improvement.assign(tasks=" ".join(block.tasks)))
        profiles.append(profile.assign(tasks=" ".join(block.tasks)))
    frames = {
        name: pd.concat(parts, ignore_index=True)
        for name, parts in (("aggregates", estimates), ("improvement", improvements), ("profiles", profiles))
        if parts
    }
    return sections, frames


def _cost_section(timing_file: Path | None, sweep: Sweep) -> tuple[dict, dict[str, pd.DataFrame]]:
    section: dict[str, Any] = {"file": str(timing_file) if timing_file else None}
    frames: dict[str, pd.DataFrame] = {}
    done = sweep.done()
    if len(done):
        done = done.assign(steps_per_s=done["run"].map(scores.run_speeds(sweep)))
        speed = done.groupby(["task", "optimizer"])["steps_per_s"].median().reset_index()
        section["speed"] = Table(
            ["task", "optimizer", "env steps/s (median over runs)"],
            [[r.task, r.optimizer, f"{r.steps_per_s:,.0f}"] for r in speed.itertuples()],
        )
        frames["steps_per_s"] = speed
    if timing_file is None:
        return section, frames
    frame, timing_provenance = read_timing(timing_file)
    hardware = timing_provenance.get("hardware", {})
    section["machine"] = machine_id(hardware)
    section["commit"] = (timing_provenance.get("git") or {}).get("commit")
    section["few_rounds"] = few_rounds_note(frame)
    updates = update_ratios(frame)
    section["updates"] = Table(
        ["model-batch", "device", "optimizer", "update (ms, median)", "over sgd", "rounds"],
        [
            [r.case, r.device, r.optimizer, f"{r.median_s * 1e3:.3g}", _times(r.ratio), r.rounds]
            for r in updates.itertuples()
        ],
    )
    section["figure"] = figures.update_costs(updates) if updates["ratio"].notna().any() else None
    iterations = iteration_costs(frame)
    section["iterations"] = Table(
        ["env", "device", "optimizer", "env steps/s", "cost per env step over sgd", "rounds"],
        [
            [r.env, r.device, r.optimizer, f"{1 / r.per_step_s:,.0f}", _times(r.ratio), r.rounds]
            for r in iterations.itertuples()
        ],
    )
    frames["cost_updates"] = updates[["case", "device", "optimizer", "median_s", "ratio"]]
    frames["cost_iterations"] = iterations[["env", "device", "optimizer", "per_step_s", "ratio"]]
    return section, frames


def _fidelity_sections(sweep: Sweep) -> list[dict]:
    progress = sweep.progress
    if "fidelity_cosine" not in progress:
        return []
    optimizer = sweep.runs.set_index("run")["optimizer"]
    task = sweep.runs.set_index("run")["task"]
    done = set(sweep.done()["run"])
    measured = progress[progress["fidelity_cosine"].notna() & progress["run"].isin(done)]
    measured = measured.assign(optimizer=measured["run"].map(optimizer), task=measured["run"].map(task))
    return [
        {"name": name, "figure": figures.fidelity(name, rows)}
        for name, rows in measured.groupby("task")
        if len(rows)
    ]


def _commit_label(commit: str | None, dirty: bool | None) -> str:
    return f"{(commit or '?')[:10]}{' (dirty)' if dirty else ''}"


def _task_label(domain: str, protocol: str, budgets: str) -> str:
    return f"{domain}{', protocol ' + protocol if protocol else ''}, budget {budgets} env steps"


def _metadata(sweep: Sweep, results: Path, reps: int) -> tuple[Table, Table]:
    runs = sweep.runs
    budgets = runs.groupby("task")["budget"].agg(lambda b: ", ".join(f"{v:,}" for v in sorted(set(b))))
    domains = runs.groupby("task")["domain"].first()
    protocols = runs.groupby("task")["protocol"].agg(lambda p: ", ".join(sorted(set(p.dropna()))))
    versions: dict[str, set[str]] = {}
    for config in sweep.configs.values():
        for package, number in (config["provenance"].get("versions") or {}).items():
            versions.setdefault(package, set()).add(str(number))
    commits = sorted({_commit_label(r.commit, r.dirty) for r in runs.itertuples() if r.commit})
    hardware = sorted(
        {f"{r.cpu}, {r.cores} cores, GPU {r.gpu or 'none'}" for r in runs.itertuples() if r.cpu}
    )
    report = provenance()
    rows = [
        ["suite", sweep.suite],
        ["results", str(results)],
        ["generated", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")],
        ["report code", _commit_label(report["git"].get("commit"), report["git"].get("dirty"))],
        [
            "tasks",
            "; ".join(f"{t} ({_task_label(domains[t], protocols[t], budgets[t])})" for t in budgets.index),
        ],
        ["run commits", ", ".join(commits) or "—"],
        ["hardware", "; ".join(hardware) or "—"],
        ["devices", ", ".join(sorted(set(runs["device"].dropna())))],
        *[[package, ", ".join(sorted(values))] for package, values in sorted(versions.items())],
        ["intervals", f"{CONFIDENCE:.0%} percentile stratified bootstrap, {reps} resamples (rliable)"],
        ["report packages", ", ".join(f"{name} {version(name)}" for name in REPORT_PACKAGES)],
    ]
    cells = runs.groupby(["task", "optimizer"]).agg(
        seeds=("seed", lambda s: " ".join(map(str, sorted(s)))),
        done=("state", lambda s: int((s == "done").sum())),
        total=("state", "size"),
    )
    seeds = Table(
        ["task", "optimizer", "seeds", "done / runs"],
        [[task, name, r.seeds, f"{r.done} / {r.total}"] for (task, name), r in cells.iterrows()],
    )
    return Table(["", ""], rows), seeds


def _partial_line(sweep: Sweep, missing: pd.DataFrame) -> str:
    by_task = missing.groupby("task", sort=False).size()
    return (
        f"Partial results: {len(missing)} runs of suite {sweep.suite} have not started ("
        + ", ".join(f"{task} {n}" for task, n in by_task.items())
        + "); every estimate below covers only the runs present. runs.csv lists the runs not started."
    )


def _unlearned_line(sweep: Sweep, run_scores: pd.DataFrame) -> str | None:
    """The banner for tasks where no optimizer learned within its budget, from the runs' own final
    levels against the random policy and the reference level; None when there are none."""
    learned = scores.learned_tasks(run_scores)
    parts = []
    for task, runs in sweep.done().groupby("task"):
        scale = reference(task)
        if task in learned or scale is None:
            continue
        budget = f"{runs['budget'].max():,} env steps"
        finals = run_scores[run_scores["task"] == task].groupby("optimizer")["final_return"].mean()
        if len(finals):
            parts.append(
                f"{task} ({budget}): best final return {finals.max():.4g} ({finals.idxmax()}), random "
                f"policy {scale.random:.4g}, reference level {scale.target:.4g}"
            )
        else:
            parts.append(f"{task} ({budget}): no run finished an episode")
    if not parts:
        return None
    return (
        "Budgets too short to learn: " + "; ".join(parts) + f". No optimizer got {LEARNED_MEANING}, so "
        "these tasks give no sample-efficiency ratio, P(X > Y) or aggregate: compare on longer budgets."
    )


def _headline(
    sweep: Sweep,
    missing: pd.DataFrame,
    run_scores: pd.DataFrame,
    aggregates: list[dict],
    frames: dict[str, pd.DataFrame],
    summaries: pd.DataFrame,
    comparisons: pd.DataFrame,
    standing: pd.DataFrame,
) -> list[str]:
    """The page's first lines: a warning when runs of the suite have not started, when budgets
    were too short to learn, or when a comparison of one difference is confounded, the IQM of
    every optimizer and acktr's probability of improvement over sgd, acktr's sample-efficiency
    ratios, a warning when runs stopped early, and where the runs still in progress stand."""
    lines = [_partial_line(sweep, missing)] if len(missing) else []
    unlearned = _unlearned_line(sweep, run_scores)
    if unlearned:
        lines.append(unlearned)
    confounded = comparisons[comparisons["what differs"].str.startswith("CONFOUNDED")]
    if len(confounded):
        lines.append(
            "Confounded: "
            + "; ".join(f"{r.comparison} on {r.task}" for r in confounded.itertuples())
            + " differ in more than the one thing compared (see Comparisons)."
        )
    done = sweep.done()
    stopped = int((done["env_steps"] < done["budget"]).sum())
    if stopped:
        lines.append(
            f"{stopped} of {len(done)} finished runs stopped at their threshold (stop.return_mean) before "
            "the budget: their final scores are those at stopping, so final scores and the aggregates "
            "below compare where runs stood when they stopped, not after the same number of samples."
        )
    estimates = frames.get("aggregates")
    if estimates is not None and aggregates:
        first = estimates[estimates["tasks"] == estimates["tasks"].iloc[0]]
        iqm = first[first["metric"] == "IQM"]
        lines.append(
            f"IQM of normalized final scores over {aggregates[0]['title']}: "
            + "; ".join(f"{r.optimizer} {_interval(r.value, r.low, r.high)}" for r in iqm.itertuples())
        )
        improvement = frames.get("improvement")
        pair = improvement[(improvement["x"] == "acktr") & (improvement["y"] == scores.BASELINE)].dropna()
        if len(pair):
            r = pair.iloc[0]
            lines.append(f"P(acktr > sgd) = {_interval(r['value'], r['low'], r['high'])}")
    if len(summaries):
        acktr = summaries[(summaries["optimizer"] == "acktr") & summaries["efficiency ratio"].notna()]
        if len(acktr):
            lines.append(
                "Sample-efficiency ratio of acktr over sgd: "
                + "; ".join(
                    f"{r['task']} {'≤ ' if r['efficiency upper bound'] else ''}"
                    f"{_interval(r['efficiency ratio'], r['efficiency low'], r['efficiency high'])}"
                    for _, r in acktr.iterrows()
                )
            )
    for task, rows in standing.groupby("task", sort=False):
        lines.append(
            f"In progress, partial (not scored): {task} at {rows['env steps'].iloc[0]:,.0f} env steps, "
            "where every run has got: " + "; ".join(_standing_cell(r) for _, r in rows.iterrows())
        )
    return lines


def build_report(
    suite: str,
    results: Path,
    out: Path,
    timing_file: Path | None = None,
    reps: int = 2000,
    agents: bool = True,
) -> Report:
    """Reads ``results/SUITE`` and writes ``out/SUITE/index.html`` with the tables as CSV beside it.

    ``timing_file`` defaults to the newest timing run saved under ``results/timing/`` for the
    machine most runs ran on. ``agents``: each task's section ends with its best agent's filmstrip.
    Raises :class:`ConfigError` when there are no run directories.
    """
    started = time.perf_counter()
    results, out = Path(results), Path(out) / suite
    sweep = load_sweep(results / suite, suite)
    figures.assign_plug_in_colours(sweep.runs["optimizer"].unique())
    missing = not_started(sweep, results / suite)
    timing_file = timing_file or latest_timing(results, sweep)
    run_scores = scores.run_scores(sweep)
    task_sections, summaries, curves, standings = [], [], [], []
    for task in sorted(sweep.runs["task"].unique()):
        section, frames = _task_section(sweep, task, run_scores, reps, results / suite, agents)
        task_sections.append(section)
        summaries.append(frames["summary"])
        curves.append(frames["curves"])
        if len(frames["standing"]):
            standings.append(frames["standing"])
    standing = (
        pd.concat(standings, ignore_index=True)
        if standings
        else pd.DataFrame(columns=list(in_progress.STANDING_COLUMNS))
    )
    learned = scores.learned_tasks(run_scores)
    aggregates, aggregate_frames = _aggregate_sections(run_scores[run_scores["task"].isin(learned)], reps)
    optimizers = figures.order(sweep.runs["optimizer"].unique())
    comparisons = comparison_table(sweep, aggregate.comparison_pairs(optimizers))
    cost, cost_frames = _cost_section(timing_file, sweep)
    metadata, seeds = _metadata(sweep, results / suite, reps)
    summary = pd.concat(summaries, ignore_index=True) if summaries else pd.DataFrame()
    reproduction = published_table(sweep, summary)
    human_level = human_level_table(sweep)
    status = _status_section(sweep, missing)
    tables = {
        "runs": pd.concat(
            [
                frame
                for frame in (
                    sweep.runs,
                    pd.DataFrame(
                        {
                            "run": [r for r, _ in sweep.unreadable],
                            "state": "unreadable",
                            "error": [e for _, e in sweep.unreadable],
                        }
                    ),
                    missing,
                )
                if len(frame)  # pandas deprecates concatenating empty frames
            ],
            ignore_index=True,
        ).astype({"seed": "Int64", "env_steps": "Int64", "budget": "Int64", "cores": "Int64"}),
        "run_scores": run_scores,
        "task_summary": summary,
        "curves": pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(),
        **aggregate_frames,
        **cost_frames,
        "comparisons": comparisons,
        "reproduction": reproduction,
        "human_level": human_level,
        "in_progress": standing,
    }
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in tables.items():
        path = out / f"{name}.csv"
        write_atomic(path, frame.to_csv(index=False))
        written.append(path)
    page = out / "index.html"
    html = render(
        {
            "suite": sweep.suite,
            "learned_meaning": LEARNED_MEANING,
            "headline": _headline(
                sweep, missing, run_scores, aggregates, aggregate_frames, summary, comparisons, standing
            ),
            "status": status,
            "tasks": task_sections,
            "aggregates": aggregates,
            "comparisons": Table(list(comparisons.columns), comparisons.to_numpy().tolist())
            if len(comparisons)
            else None,
            "cost": cost,
            "fidelity": _fidelity_sections(sweep),
            "reproduction": _frame_table(reproduction.drop(columns="measure", errors="ignore")),
            "human_level": _frame_table(human_level),
            "sources": cited_sources(reproduction, human_level),
            "stands_for": published().stands_for,
            "metadata": metadata,
            "seeds": seeds,
            "tables": [path.name for path in written],
        }
    )
    write_atomic(page, html)
    return Report(page, written, time.perf_counter() - started, sweep.unreadable)
