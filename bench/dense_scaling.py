"""Time and memory of one ``ng`` update beside ``acktr`` as the net grows: where exact NG stops paying.

The model is the MuJoCo actor-critic of ``bench.update_cost``'s ``mlp-64-64`` (HalfCheetah-v5:
17 observations, 6 action dimensions; separate tanh policy and value MLPs) with two hidden
layers of width h, so P = 2h² + 45h + 13 trainable parameters (h = 14, 40, 89: P ≈ 1 k, 5 k,
20 k). Every optimizer gets its MuJoCo preset; ``acktr`` with ``optimizer.critic=joint``, so
that it and ``ng`` differ only in the curvature (K-FAC or the dense exact Fisher). Per width:

- seconds per update, amortized over whole statistics/refresh periods, in alternating
  rounds (:func:`bench.update_cost.measure`);
- the peak tensor memory of building the model and optimizer and running one period of
  updates (:func:`peak_memory`).

Run: ``python -m bench.dense_scaling --widths 14,40,89``.
"""

from __future__ import annotations

import argparse
import itertools
import statistics

import torch
from torch.autograd.profiler_util import FunctionEvent
from torch.profiler import ProfilerActivity, profile

from algorithms.config import NetConfig
from algorithms.nets import build_actor_critic
from bench.provenance import write_measurement
from bench.update_cost import MODELS, add_timing_arguments, make_updater, measure, parse_settings

MODEL = "mlp-64-64"


def parameter_count(width: int) -> int:
    """P of the model with two hidden layers of ``width``, counted on the model itself."""
    spec = MODELS[MODEL]
    model = build_actor_critic(
        spec.observation_space, spec.action_space, spec.domain, NetConfig((width, width))
    )
    return sum(p.numel() for p in model.parameters())


def width_settings(
    names: list[str], width: int, extra: dict[str, dict[str, str]]
) -> dict[str, dict[str, str]]:
    """Each optimizer's settings for one width: the hidden layers, acktr's joint critic, then ``extra``."""
    settings = {name: {"net.hidden": f"{width},{width}", **extra.get(name, {})} for name in names}
    if "acktr" in settings:
        settings["acktr"] = {"optimizer.critic": "joint", **settings["acktr"]}
    return settings


def peak_memory(name: str, batch: int, device: str, settings: dict[str, str]) -> int:
    """Bytes: the peak tensor memory that building ``name``'s model and optimizer and one period of
    its updates allocate (CUDA: torch's peak allocation; CPU: the running sum of the profiler's
    allocation and free events, at operator granularity)."""

    def build_and_run() -> None:
        updater = make_updater(name, MODELS[MODEL], batch, device, settings)
        for _ in range(updater.period):
            updater.update()

    if device == "cuda":
        baseline = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        build_and_run()
        return torch.cuda.max_memory_allocated() - baseline
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as profiler:
        build_and_run()
    changes = sorted((event.time_range.start, _allocated_bytes(event)) for event in profiler.events())
    return max(itertools.accumulate(change for _, change in changes), default=0)


def _allocated_bytes(event: FunctionEvent) -> int:
    """Bytes an operator allocated net of what it freed, or (negative) a free outside any operator."""
    return event.cpu_memory_usage if event.name == "[memory]" else event.self_cpu_memory_usage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", default="14,40,89", help="comma-separated hidden widths h")
    parser.add_argument("--batch", type=int, default=2500)
    add_timing_arguments(parser, optimizers="sgd,acktr,ng", rounds=3)
    args = parser.parse_args()

    names = args.optimizers.split(",")
    extra = parse_settings(args.set)
    print(
        f"{MODEL} at width h, batch {args.batch}, {args.device}, {args.rounds} rounds, "
        f"torch {torch.__version__}"
    )
    print(f"{'h':>4} {'P':>6}  {'optimizer':<9} {'ms/update':>10} {'÷ ' + names[0]:>9} {'peak MiB':>9}")
    rows = []
    for width in (int(w) for w in args.widths.split(",")):
        settings = width_settings(names, width, extra)
        samples = measure(names, MODELS[MODEL], args.batch, args.device, args.rounds, settings)
        medians = {name: statistics.median(values) for name, values in samples.items()}
        for name in names:
            memory = peak_memory(name, args.batch, args.device, settings[name])
            ratio = medians[name] / medians[names[0]]
            row = {"width": width, "params": parameter_count(width), "optimizer": name}
            rows.append({**row, "samples_s": samples[name], "median_s": medians[name], "peak_bytes": memory})
            print(
                f"{width:>4} {row['params']:>6}  {name:<9} {medians[name] * 1000:>10.1f} "
                f"{ratio:>9.2f} {memory / 2**20:>9.1f}"
            )
    if args.json:
        write_measurement(args.json, {"args": vars(args), "rows": rows})


if __name__ == "__main__":
    main()
