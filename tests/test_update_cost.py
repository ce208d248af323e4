"""The per-update cost benchmark runs every optimizer on both benchmark models (tiny batches)."""

import pytest

from bench.update_cost import MODELS, measure


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_optimizer_is_timed_over_whole_periods(model):
    names = ["sgd", "acktr", "kfac"]
    short = {
        "optimizer.refresh_every": "2",
        "optimizer.cold_start": "0",
        "optimizer.preconditioner": "tikhonov",
    }
    settings = {"acktr": {**short, "optimizer.critic": "joint", "optimizer.stats_every": "2"}, "kfac": short}
    samples = measure(names, MODELS[model], batch=4, device="cpu", rounds=2, settings=settings)
    assert list(samples) == names
    assert all(len(values) == 2 and min(values) > 0 for values in samples.values())
