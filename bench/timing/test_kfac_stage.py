"""The stages of a K-FAC update, each alone, on the optimizer's own warmed-up curvature."""

import functools
from collections.abc import Callable

import torch

from bench.timing.cases import StageCase, UpdateCase
from bench.update_cost import MODELS, Updater, make_updater


def stage_call(stage: str, updater: Updater) -> tuple[Callable, Callable | None, int]:
    """(timed call, untimed setup giving its arguments or None, updates per call) of ``stage``."""
    optimizer, objective, sync = updater.optimizer, updater.objective, updater.synchronize
    curvature, config = optimizer.curvature, optimizer.settings

    def captured_forward():
        with curvature.capturing():
            loss, sampled_nll = objective.evaluate()
        sync()
        return loss, sampled_nll

    def forward() -> None:
        captured_forward()

    def gradient_setup():
        loss, _ = objective.evaluate()
        sync()
        return (loss,), {}

    def gradient(loss: torch.Tensor) -> None:
        torch.autograd.grad(loss, curvature.params)
        sync()

    def statistics_setup():
        _, sampled_nll = captured_forward()
        return (sampled_nll, objective.outputs), {}

    def statistics(sampled_nll, output) -> None:
        curvature.update_statistics(sampled_nll, output)
        sync()

    def refresh() -> None:
        curvature.refresh(optimizer.damping)
        sync()

    def precondition_setup():
        (loss,), _ = gradient_setup()
        return (list(torch.autograd.grad(loss, curvature.params)),), {}

    def precondition(grads: list[torch.Tensor]) -> None:
        curvature.precondition(grads, optimizer.damping)
        sync()

    return {
        "forward": (forward, None, 1),
        "gradient": (gradient, gradient_setup, 1),
        "statistics": (statistics, statistics_setup, config.stats_every),
        "refresh": (refresh, None, config.refresh_every),
        "precondition": (precondition, precondition_setup, 1),
    }[stage]


@functools.lru_cache(maxsize=1)
def warmed_updater(case: UpdateCase, settings: tuple[tuple[str, str], ...]) -> Updater:
    """One warm-up serves every stage of a case (they run one after another)."""
    return make_updater(case.optimizer, MODELS[case.model], case.batch, case.device, dict(settings))


def test_kfac_stage(timing, stage_case: StageCase):
    case = stage_case.update
    updater = warmed_updater(case, tuple(timing.settings(case.optimizer).items()))
    target, setup, every = stage_call(stage_case.stage, updater)
    info = {"benchmark": "kfac-stage", "stage": stage_case.stage, "every": every}
    timing.run(target, {**info, **case.info(updater.n_params)}, setup=setup)
