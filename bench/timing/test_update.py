"""One optimizer update per call, amortized over whole statistics/refresh periods."""

from bench.timing.cases import UpdateCase
from bench.update_cost import MODELS, make_updater


def test_update(timing, update_case: UpdateCase):
    case = update_case
    model = MODELS[case.model]
    updater = make_updater(case.optimizer, model, case.batch, case.device, timing.settings(case.optimizer))
    info = {"benchmark": "update", **case.info(updater.n_params), "updates_per_round": updater.period}
    timing.run(updater.update, info, iterations=updater.period)
