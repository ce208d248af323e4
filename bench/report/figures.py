"""The report's figures (seaborn/matplotlib), each returned as a PNG ``data:`` URI to embed.

Every figure draws an optimizer in the same colour (:func:`colour`), labels its axes with
units, and shows the 95 % intervals it was given as shaded bands or bars. The colours are the
Okabe–Ito palette (Okabe & Ito 2008), chosen to stay apart under the common colour-vision
deficiencies; curves of the outside references are also dashed.
"""

from __future__ import annotations

import base64
import io
import zlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.ticker import EngFormatter, MaxNLocator  # noqa: E402

KNOWN_OPTIMIZERS = ("sgd", "acktr", "kfac", "ng", "lm", "sb3-a2c", "sb3-ppo")
OKABE_ITO = {
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "bluish green": "#009E73",
    "reddish purple": "#CC79A7",
    "black": "#000000",
    "orange": "#E69F00",
    "sky blue": "#56B4E9",
    "yellow": "#F0E442",
}
_KNOWN_COLOURS = dict(
    zip(
        KNOWN_OPTIMIZERS,
        ("blue", "vermillion", "bluish green", "reddish purple", "black", "orange", "sky blue"),
        strict=True,
    )
)
PLUG_IN_COLOURS = ("#F0E442", "#882255", "#44AA99", "#999933", "#332288")
"""For every other optimizer (a plug-in's): Okabe–Ito's yellow, then Paul Tol's wine, teal,
olive and indigo, none of them a known optimizer's."""
REFERENCE_PREFIX = "sb3-"
KL_COLUMNS = ("kl_estimate", "fidelity_kl_realized")
KL_FLOOR = 1e-6
_STYLE = {"style": "whitegrid", "rc": {"axes.titlesize": 11, "axes.labelsize": 10}}


_plug_in_colours: dict[str, str] = {}


def assign_plug_in_colours(optimizers) -> None:
    """Give the optimizers of a report that are not known names (plug-ins) the colours of
    :data:`PLUG_IN_COLOURS` in alphabetical order, so that every figure of the report draws each
    in the same colour and no two of them alike (up to five)."""
    others = sorted(set(optimizers) - set(_KNOWN_COLOURS))
    _plug_in_colours.clear()
    _plug_in_colours.update(
        {name: PLUG_IN_COLOURS[i % len(PLUG_IN_COLOURS)] for i, name in enumerate(others)}
    )


def colour(optimizer: str) -> str:
    """The optimizer's colour in every figure (hex): fixed for the known names; for a plug-in, the
    one :func:`assign_plug_in_colours` gave it, else one of :data:`PLUG_IN_COLOURS` by a stable
    hash of its name."""
    if optimizer in _KNOWN_COLOURS:
        return OKABE_ITO[_KNOWN_COLOURS[optimizer]]
    return (
        _plug_in_colours.get(optimizer)
        or PLUG_IN_COLOURS[zlib.crc32(optimizer.encode()) % len(PLUG_IN_COLOURS)]
    )


def line_style(optimizer: str) -> str:
    """Dashed for the outside references (``sb3-*``), solid for the suite's own optimizers."""
    return "--" if optimizer.startswith(REFERENCE_PREFIX) else "-"


def order(optimizers) -> list[str]:
    """Known optimizers in their fixed order, then the others alphabetically."""
    names = set(optimizers)
    return [n for n in KNOWN_OPTIMIZERS if n in names] + sorted(names - set(KNOWN_OPTIMIZERS))


def data_uri(fig: plt.Figure) -> str:
    """The figure as a PNG ``data:`` URI (and closes it)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _band_line(ax: plt.Axes, name: str, x, value, low, high, label: str) -> None:
    """The optimizer's line (its colour and style) with its interval shaded around it."""
    ax.plot(x, value, color=colour(name), linestyle=line_style(name), label=label, linewidth=1.8)
    ax.fill_between(x, low, high, color=colour(name), alpha=0.2, linewidth=0)


def _curve_panel(ax: plt.Axes, curves: pd.DataFrame, xlabel: str, formatter, log_x: bool = False) -> None:
    if log_x:
        ax.set_xscale("log")
    for name in order(curves["optimizer"]):
        rows = curves[curves["optimizer"] == name]
        label = f"{name} ({rows['runs'].iloc[0]} runs)"
        _band_line(ax, name, rows["x"], rows["mean"], rows["low"], rows["high"], label)
    ax.set_xlabel(xlabel + (" (log scale)" if log_x else ""))
    if not log_x:
        ax.xaxis.set_major_locator(MaxNLocator(6))
    ax.xaxis.set_major_formatter(formatter)
    ax.set_xlim(left=curves["x"].min() if log_x else 0)


def learning_curves(task: str, by_steps: pd.DataFrame, by_time: pd.DataFrame, log_time: bool = False) -> str:
    """Mean raw return of the last 100 episodes against env steps and against wall-clock time
    (on a log axis with ``log_time``), one line per optimizer with its 95 % bootstrap band
    (frames of :func:`bench.report.scores.curve_estimates`)."""
    with sns.axes_style(**_STYLE):
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
        _curve_panel(axes[0], by_steps, "env steps", EngFormatter())
        _curve_panel(axes[1], by_time, "wall-clock time", EngFormatter(unit="s"), log_time)
        axes[0].set_ylabel("return (mean of last 100 episodes)")
        axes[0].legend(loc="best", fontsize=8)
        fig.suptitle(task)
        return data_uri(fig)


def partial_curves(
    task: str, curves: pd.DataFrame, level: float | None = None, common: float | None = None
) -> str:
    """Runs still in progress, each as far as it got: the mean raw return of its last 100 episodes
    against env steps, one line per run in its optimizer's colour, without an interval (these runs
    are not scored); ``level`` (a human level) as a dotted line, ``common`` (the env steps where
    every run is compared) as a dashed vertical line. ``curves`` has the columns ``optimizer``,
    ``seed``, ``env_steps`` and ``return_mean``."""
    with sns.axes_style(**_STYLE):
        fig, ax = plt.subplots(figsize=(7, 3.8))
        for name in order(curves["optimizer"]):
            for seed, run in curves[curves["optimizer"] == name].groupby("seed"):
                label = f"{name} seed {seed} ({run['env_steps'].iloc[-1]:,.0f} steps so far)"
                ax.plot(
                    run["env_steps"],
                    run["return_mean"],
                    color=colour(name),
                    linestyle=line_style(name),
                    linewidth=1.2,
                    label=label,
                )
        if level is not None:
            ax.axhline(level, color="grey", linestyle=":", linewidth=1.2, label=f"human level ({level:g})")
        if common is not None:
            ax.axvline(
                common, color="grey", linestyle="--", linewidth=1.0, label=f"compared at {common:,.0f} steps"
            )
        ax.set_xlabel("env steps")
        ax.xaxis.set_major_formatter(EngFormatter())
        ax.set_xlim(left=0)
        ax.set_ylabel("return (mean of last 100 episodes)")
        ax.legend(loc="best", fontsize=8)
        ax.set_title(f"{task}: runs in progress")
        return data_uri(fig)


def interval_rows(ax: plt.Axes, names: list[str], values, lows, highs) -> None:
    """One horizontal interval bar per name with its point estimate."""
    for i, (name, value, low, high) in enumerate(zip(names, values, lows, highs, strict=True)):
        ax.barh(i, high - low, left=low, height=0.6, color=colour(name.split(" ")[0]), alpha=0.75)
        ax.plot([value], [i], marker="|", markersize=14, markeredgewidth=2, color="black")
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()


def aggregate_intervals(estimates: pd.DataFrame) -> str:
    """One panel per metric (IQM, median, mean, optimality gap) of normalized scores."""
    metrics = list(dict.fromkeys(estimates["metric"]))
    names = order(estimates["optimizer"])
    with sns.axes_style(**_STYLE):
        fig, axes = plt.subplots(
            1, len(metrics), figsize=(3 * len(metrics), 0.5 * len(names) + 1.3), sharey=True
        )
        for ax, metric in zip(np.atleast_1d(axes), metrics, strict=True):
            rows = estimates[estimates["metric"] == metric].set_index("optimizer").loc[names]
            interval_rows(ax, names, rows["value"], rows["low"], rows["high"])
            ax.set_title(metric)
            ax.set_xlabel("normalized score")
        return data_uri(fig)


def improvement(probabilities: pd.DataFrame) -> str:
    """P(X > Y) with its interval, one row per pair; 0.5 marked."""
    labels = [f"{x} > {y}" for x, y in zip(probabilities["x"], probabilities["y"], strict=True)]
    with sns.axes_style(**_STYLE):
        fig, ax = plt.subplots(figsize=(5.5, 0.45 * len(labels) + 1.1))
        interval_rows(ax, labels, probabilities["value"], probabilities["low"], probabilities["high"])
        ax.axvline(0.5, color="grey", linestyle="--", linewidth=1)
        ax.set_xlim(-0.03, 1.03)
        ax.set_xlabel("probability of improvement P(X > Y)")
        return data_uri(fig)


def profiles(frame: pd.DataFrame) -> str:
    """Performance profiles: the fraction of runs with a normalized score above τ."""
    with sns.axes_style(**_STYLE):
        fig, ax = plt.subplots(figsize=(6, 3.8))
        for name in order(frame["optimizer"]):
            rows = frame[frame["optimizer"] == name]
            _band_line(ax, name, rows["tau"], rows["fraction"], rows["low"], rows["high"], name)
        ax.set_xlabel("normalized score τ")
        ax.set_ylabel("fraction of runs with score > τ")
        ax.legend(fontsize=8)
        return data_uri(fig)


def update_costs(ratios: pd.DataFrame) -> str:
    """Each optimizer's update cost over ``sgd``'s on each model and batch (log scale)."""
    rows = ratios.dropna(subset=["ratio"])
    rows = rows.assign(label=rows["case"] + " (" + rows["device"] + ")")
    names = order(rows["optimizer"])
    with sns.axes_style(**_STYLE):
        fig, ax = plt.subplots(figsize=(8, 0.35 * len(rows) + 1.2))
        sns.barplot(
            data=rows,
            y="label",
            x="ratio",
            hue="optimizer",
            hue_order=names,
            palette={name: colour(name) for name in names},
            ax=ax,
            orient="h",
        )
        ax.set_xscale("log")
        ax.axvline(1, color="grey", linestyle="--", linewidth=1)
        ax.set_xlabel("update time over sgd's (×, log scale)")
        ax.set_ylabel("model-batch (device)")
        return data_uri(fig)


def fidelity(task: str, measured: pd.DataFrame) -> str:
    """Curvature fidelity along training (the ``fidelity_*`` columns of ``progress.csv``, rows
    where they were measured, with ``optimizer``): cosine of K-FAC's step to the exact natural
    gradient and K-FAC's Fisher error against env steps, and realized against predicted KL."""
    with sns.axes_style(**_STYLE):
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
        names = order(measured["optimizer"])
        palette = {name: colour(name) for name in names}
        common = {"hue": "optimizer", "hue_order": names, "palette": palette, "s": 18, "alpha": 0.7}
        sns.scatterplot(data=measured, x="env_steps", y="fidelity_cosine", ax=axes[0], **common)
        axes[0].set_ylabel("cos(K-FAC step, exact NG step)")
        sns.scatterplot(
            data=measured, x="env_steps", y="fidelity_fisher_error", ax=axes[1], legend=False, **common
        )
        axes[1].set_ylabel("‖F_kfac − F‖ / ‖F‖")
        for ax in axes[:2]:
            ax.set_xlabel("env steps")
            ax.xaxis.set_major_formatter(EngFormatter())
        kl = measured.dropna(subset=list(KL_COLUMNS)) if "kl_estimate" in measured else measured.iloc[:0]
        if len(kl):
            kl = kl.assign(**{column: kl[column].clip(lower=KL_FLOOR) for column in KL_COLUMNS})
            sns.scatterplot(
                data=kl, x="kl_estimate", y="fidelity_kl_realized", ax=axes[2], legend=False, **common
            )
            low = min(kl["kl_estimate"].min(), kl["fidelity_kl_realized"].min())
            high = max(kl["kl_estimate"].max(), kl["fidelity_kl_realized"].max())
            axes[2].plot([low, high], [low, high], color="grey", linestyle="--", linewidth=1)
            axes[2].set_xscale("log")
            axes[2].set_yscale("log")
        else:
            axes[2].text(
                0.5, 0.5, "no predicted KL logged", ha="center", va="center", transform=axes[2].transAxes
            )
        axes[2].set_xlabel(f"predicted KL (kl_estimate, floored at {KL_FLOOR:g})")
        axes[2].set_ylabel(f"realized KL (floored at {KL_FLOOR:g})")
        fig.suptitle(f"{task}: curvature fidelity")
        return data_uri(fig)
