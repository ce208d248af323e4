"""One whole training iteration (rollout, returns, update) on a real env, each optimizer with its presets."""

from algorithms.presets import resolve_config
from algorithms.training import learner, rollout_objective
from bench.timing.cases import IterationCase, optimizer_info
from bench.update_cost import synchronizer, trainable_count, update_period, warm_up


def test_iteration(timing, iteration_case: IterationCase):
    case = iteration_case
    settings = timing.settings(case.optimizer)
    config = resolve_config(case.env_id, case.optimizer, 10**9, device=case.device, overrides=settings)
    sync = synchronizer(case.device)
    with learner(config) as parts:

        def iteration() -> None:
            objective, _ = rollout_objective(parts.collector.collect(), parts.model, config)
            parts.optimizer.step(objective)
            sync()

        warm_up(iteration, config.optimizer)
        period = update_period(config.optimizer)
        n_params = trainable_count(parts.model)
        info = optimizer_info(case.optimizer, case.model, config.batch_size, case.device, n_params)
        timing.run(iteration, {"benchmark": "iteration", "env": case.env_id, **info}, iterations=period)
