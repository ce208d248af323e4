"""Timing results: pytest-benchmark JSON of ``bench/timing`` read into tables, compared and checked.

Saved runs live in ``results/timing/<machine-id>/<UTC time>-<commit>.json``; the machine id
names the CPU model, its logical core count and the GPU if there is one, so that runs are only
compared on the same hardware. Every time is the median over a benchmark's rounds of the
per-call time (per update, stage call, env step or iteration).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from algorithms.errors import ConfigError
from bench.timing.cases import STAGES, Selection

KINDS = ("update", "kfac-stage", "env-step", "iteration")
UNIT_OPTIMIZER = "sgd"
STEADY_ROUNDS = 3
"""Rounds a benchmark needs before its median is a steady measurement (a full run's minimum)."""


def machine_id(hardware: dict[str, Any]) -> str:
    """``amd-epyc-2cpu``, ``intel-xeon-platinum-8480-16cpu-nvidia-h100-80gb-hbm3``: a directory name."""
    parts = [hardware["cpu"], f"{hardware['cores']}cpu", hardware.get("gpu") or ""]
    return "-".join(s for s in (re.sub(r"[^a-z0-9]+", "-", p.lower()).strip("-") for p in parts) if s)


def drop_round_times(output_json: dict[str, Any]) -> None:
    """Removes each benchmark's raw round times (``stats.data``) from a pytest-benchmark JSON: the
    statistics stay, and a run's file stays small (tens of thousands of env-step rounds otherwise)."""
    for bench in output_json["benchmarks"]:
        bench["stats"].pop("data", None)


def read_timing(path: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One row per benchmark of a timing JSON (``name``, every ``extra_info`` key, ``median_s``,
    ``iqr_s``, ``rounds``), and its provenance. Raises :class:`ConfigError` naming the file when it
    is not the JSON of the timing benchmarks."""
    try:
        data = json.loads(path.read_text())
        rows = [
            {
                "name": bench["name"],
                **bench["extra_info"],
                "median_s": bench["stats"]["median"],
                "iqr_s": bench["stats"]["iqr"],
                "rounds": bench["stats"]["rounds"],
            }
            for bench in data["benchmarks"]
        ]
        provenance = data["provenance"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigError(
            f"bad timing file {str(path)!r} ({type(error).__name__}: {error}); accepted: the JSON "
            "that acktr-bench timing saves (pytest-benchmark with extra_info and provenance)"
        ) from None
    frame = pd.DataFrame(rows)
    unknown = set(frame.get("benchmark", pd.Series([None]))) - set(KINDS)
    if frame.empty or unknown:
        raise ConfigError(
            f"bad timing file {str(path)!r}: benchmark kinds {sorted(map(str, unknown))}; "
            f"accepted: {', '.join(KINDS)}"
        )
    return frame, provenance


def select(frame: pd.DataFrame, selection: Selection) -> pd.DataFrame:
    """The rows ``selection`` keeps (a row without an optimizer or model is kept by those filters)."""

    def keeps(row: pd.Series) -> bool:
        values = (row.get(key) for key in ("optimizer", "model", "device"))
        return selection.keeps(*(value if isinstance(value, str) else None for value in values))

    return frame[frame.apply(keeps, axis=1)]


def _of_kind(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    return frame[frame["benchmark"] == kind]


def _with_ratio(rows: pd.DataFrame, keys: list[str], column: str) -> pd.DataFrame:
    """``rows`` with ``ratio``: ``column`` over ``sgd``'s in the same ``keys`` (NaN without ``sgd``)."""
    unit = rows.loc[rows["optimizer"] == UNIT_OPTIMIZER, [*keys, column]].rename(columns={column: "unit"})
    rows = rows.merge(unit, on=keys, how="left")
    return rows.assign(ratio=rows[column] / rows["unit"]).drop(columns="unit")


def update_ratios(frame: pd.DataFrame) -> pd.DataFrame:
    """The update benchmarks with ``case`` (``model-batch``) and ``ratio``: the median over ``sgd``'s
    on the same model, batch and device in the same run (NaN where ``sgd`` was not timed)."""
    updates = _of_kind(frame, "update")
    updates = updates.assign(case=updates["model"] + "-" + updates["batch_size"].astype("Int64").astype(str))
    return _with_ratio(updates, ["device", "case"], "median_s")


def iteration_costs(frame: pd.DataFrame) -> pd.DataFrame:
    """The training iterations with ``per_step_s`` (median over the env steps of one iteration, each
    optimizer's own batch) and ``ratio``: that over ``sgd``'s on the same env and device."""
    iterations = _of_kind(frame, "iteration")
    iterations = iterations.assign(per_step_s=iterations["median_s"] / iterations["batch_size"])
    return _with_ratio(iterations, ["device", "env"], "per_step_s")


def few_rounds_note(frame: pd.DataFrame) -> str | None:
    """A caution for a run in which some benchmarks took fewer than :data:`STEADY_ROUNDS` rounds
    (a ``--quick`` run), None when every one took enough."""
    few = int((frame["rounds"] < STEADY_ROUNDS).sum())
    if not few:
        return None
    return (
        f"{few} of these {len(frame)} benchmarks took fewer than {STEADY_ROUNDS} rounds (a quick "
        "run): each of their medians rests on one or two measurements, so read their ratios as "
        "indications; a full acktr-bench timing run gives the steady ones"
    )


def stage_shares(frame: pd.DataFrame) -> pd.DataFrame:
    """Each K-FAC stage amortized per update (``per_update_s`` = median / ``every``), the same
    optimizer's whole update in the same run (``update_s``) and the stage's ``share`` of it."""
    keys = ["device", "optimizer", "model", "batch_size"]
    stages = _of_kind(frame, "kfac-stage")
    if stages.empty:  # a run that timed no K-FAC stage has none of their columns
        return stages
    whole = _of_kind(frame, "update")[[*keys, "median_s"]].rename(columns={"median_s": "update_s"})
    stages = stages.merge(whole, on=keys, how="left")
    per_update = stages["median_s"] / stages["every"]
    return stages.assign(per_update_s=per_update, share=per_update / stages["update_s"])


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def _text_table(title: str, header: list[str], rows: list[list[str]]) -> list[str]:
    """``title`` over left-aligned columns as wide as their widest cell."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = [title]
    for row in [header, *rows]:
        lines.append("  ".join(f"{cell:<{width}}" for cell, width in zip(row, widths, strict=True)))
    return lines


def format_tables(frame: pd.DataFrame) -> str:
    """The printed report of one run: update cost with ratios to ``sgd``, K-FAC stages, env steps
    and training iterations (each table only when the run timed that kind), under a caution when
    some benchmarks took too few rounds to be steady."""
    note = few_rounds_note(frame)
    tables: list[list[str]] = [[f"caution: {note}"]] if note else []
    updates = update_ratios(frame)
    if not updates.empty:
        optimizers = list(dict.fromkeys(updates["optimizer"]))
        rows = []
        for (device, case), group in updates.groupby(["device", "case"], sort=False):
            cells = {row.optimizer: f"{_ms(row.median_s)} (×{row.ratio:.2f})" for row in group.itertuples()}
            params = str(int(group["n_params"].iloc[0]))
            rows.append([device, case, params, *(cells.get(name, "—") for name in optimizers)])
        title = "per update: median (ratio to sgd on the same model, batch and device)"
        tables.append(_text_table(title, ["device", "model-batch", "params", *optimizers], rows))
    stages = stage_shares(frame)
    if not stages.empty:
        rows, columns = [], (*STAGES, "rest")
        for (device, optimizer, model, batch), group in stages.groupby(
            ["device", "optimizer", "model", "batch_size"], sort=False
        ):
            cells = {row.stage: f"{_ms(row.per_update_s)} ({row.share:.0%})" for row in group.itertuples()}
            update_s = group["update_s"].iloc[0]
            rest = update_s - group["per_update_s"].sum()  # negative when the stages' noise exceeds it
            cells["rest"] = f"{_ms(rest)} ({rest / update_s:.0%})"
            rows.append([device, optimizer, f"{model}-{int(batch)}", *(cells.get(s, "—") for s in columns)])
        title = "K-FAC stages: amortized per update (share of the whole update); rest: trust region, momentum"
        tables.append(_text_table(title, ["device", "optimizer", "model-batch", *columns], rows))
    envs = _of_kind(frame, "env-step")
    if not envs.empty:
        rows = [
            [row.env, str(int(row.num_envs)), _ms(row.median_s), f"{row.num_envs / row.median_s:.0f}"]
            for row in envs.itertuples()
        ]
        header = ["env", "envs", "step", "steps/s"]
        tables.append(_text_table("env step: median per vector step", header, rows))
    iterations = iteration_costs(frame)
    if not iterations.empty:
        rows = [
            [row.device, row.env, row.optimizer, str(int(row.batch_size)), _ms(row.median_s)]
            + [f"{1 / row.per_step_s:.0f}", f"×{row.ratio:.2f}"]
            for row in iterations.itertuples()
        ]
        header = ["device", "env", "optimizer", "batch", "iteration", "steps/s", "per step ÷ sgd"]
        title = "training iteration (rollout + update), each optimizer with its presets and batch"
        tables.append(_text_table(title, header, rows))
    return "\n\n".join("\n".join(table) for table in tables)


def _ratio_ranges(ratios: pd.DataFrame, keys: list[str], title: str) -> list[str]:
    """Each ``ratio``'s median and range over the runs stacked in ``ratios``, per ``keys``."""
    rows = [
        [*key, f"{values.median():.2f}", f"{values.min():.2f}–{values.max():.2f}"]
        for key, values in ratios[ratios["optimizer"] != UNIT_OPTIMIZER].groupby(keys, sort=False)["ratio"]
    ]
    return _text_table(title, [*keys, "median", "range"], rows)


def format_spread(frames: list[pd.DataFrame]) -> str:
    """Run-to-run noise of several runs of the same benchmarks: the median and range over the runs
    of each update's ratio to ``sgd`` and of each iteration's cost per env step over ``sgd``'s, and
    the spread of the medians (slowest ÷ fastest − 1) of the benchmarks timed in every run."""
    runs = len(frames)
    updates = pd.concat([update_ratios(frame) for frame in frames])
    iterations = pd.concat([iteration_costs(frame) for frame in frames])
    tables = [
        _ratio_ranges(updates, ["device", "case", "optimizer"], f"update ÷ sgd over {runs} runs"),
        _ratio_ranges(
            iterations, ["device", "env", "optimizer"], f"iteration per env step ÷ sgd over {runs} runs"
        ),
    ]
    medians = pd.concat(frames).groupby("name")["median_s"]
    spread = (medians.max() / medians.min() - 1)[medians.count() == runs]
    summary = (
        f"spread of each benchmark's median over the runs (slowest ÷ fastest − 1), {len(spread)} benchmarks: "
        f"median {spread.median():.1%}, 90th percentile {spread.quantile(0.9):.1%}, "
        f"largest {spread.max():.1%} ({spread.idxmax()})"
    )
    return "\n\n".join(["\n".join(table) for table in tables] + [summary])


@dataclass(frozen=True)
class RatioLimit:
    """``--max-ratio OPTIMIZER:CASE=LIMIT``: the update ratio of OPTIMIZER on CASE stays ≤ LIMIT."""

    optimizer: str
    case: str
    limit: float

    @classmethod
    def parse(cls, text: str) -> RatioLimit:
        head, _, limit = text.rpartition("=")
        optimizer, _, case = head.partition(":")
        try:
            value = float(limit)
        except ValueError:
            value = math.nan
        if not optimizer or not case or not value > 0:
            raise ConfigError(
                f"bad --max-ratio {text!r}; accepted: OPTIMIZER:MODEL-BATCH=RATIO, e.g. acktr:cnn-640=2.0"
            )
        return cls(optimizer, case, value)

    def matches(self, case: str) -> bool:
        """A case label (``nature-cnn-640``) matches itself and its trailing words (``cnn-640``)."""
        return case == self.case or case.endswith("-" + self.case)


def check_ratio_limits(frame: pd.DataFrame, limits: list[RatioLimit]) -> list[str]:
    """One line per limit exceeded (on any device). Raises :class:`ConfigError` for a limit that
    names an optimizer or case this run did not time, or a case that matches several."""
    updates = update_ratios(frame)
    cases = sorted(set(updates["case"]))
    failures = []
    for limit in limits:
        matched = sorted({case for case in cases if limit.matches(case)})
        if len(matched) != 1:
            raise ConfigError(
                f"bad --max-ratio case {limit.case!r}: matches {matched or 'no timed case'}; "
                f"accepted: one of {', '.join(cases)} (or its trailing words)"
            )
        rows = updates[(updates["case"] == matched[0]) & (updates["optimizer"] == limit.optimizer)]
        if rows.empty:
            timed = sorted(set(updates.loc[updates["case"] == matched[0], "optimizer"]))
            raise ConfigError(
                f"bad --max-ratio optimizer {limit.optimizer!r} for {matched[0]}; "
                f"accepted: {', '.join(timed)}"
            )
        for row in rows.itertuples():
            if not row.ratio <= limit.limit:
                failures.append(
                    f"{limit.optimizer} on {row.case} ({row.device}): ratio {row.ratio:.2f} > {limit.limit:g}"
                )
    return failures


def compare_runs(current: pd.DataFrame, previous: pd.DataFrame, threshold: float) -> tuple[str, list[str]]:
    """(table of every benchmark timed in both runs: previous and current median and the change,
    lines for those slower by more than ``threshold``, a fraction)."""
    both = current.merge(previous[["name", "median_s"]], on="name", suffixes=("", "_previous"))
    lines, failures = [], []
    for row in both.itertuples():
        change = row.median_s / row.median_s_previous - 1
        flag = change > threshold
        lines.append(
            f"{row.name:<62} {_ms(row.median_s_previous):>10} → {_ms(row.median_s):>10}  {change:+7.1%}"
            + ("  SLOWER" if flag else "")
        )
        if flag:
            failures.append(f"{row.name}: {change:+.1%} (threshold {threshold:.0%})")
    return "\n".join(lines), failures


def previous_run(directory: Path, current: Path) -> Path | None:
    """The latest saved run in ``directory`` other than ``current`` (names sort by time)."""
    runs = sorted(p for p in directory.glob("*.json") if p.resolve() != current.resolve())
    return runs[-1] if runs else None
