"""Per-update cost benchmarks (pytest-benchmark), run by ``acktr-bench timing``.

Four kinds, told apart by ``extra_info["benchmark"]``:

- ``update``: one ``optimizer.step(objective)`` with every backward it needs, on a synthetic
  batch; each round covers a whole statistics/refresh period, so the per-call statistics are
  the amortized cost of an update;
- ``kfac-stage``: one stage of a K-FAC update (``forward`` with the statistics hooks,
  ``gradient``, ``statistics``, ``refresh``, ``precondition``), with ``every``: the updates
  over which the stage runs once;
- ``env-step``: one step of a family's vector env (random actions, CPU);
- ``iteration``: one whole training iteration (rollout, returns, update) of a real env, each
  round a whole period.

Every result's ``extra_info`` holds ``benchmark``, ``device`` (``cpu``/``cuda``) and ``torch``.
Those with an optimizer add ``optimizer`` (registry name), ``model`` (family word first),
``batch_size`` and ``n_params``; updates add ``updates_per_round``, stages ``stage`` and
``every``, iterations ``env``; env steps add ``env``, ``family`` and ``num_envs``. CUDA work is
synchronized inside each timed call.
"""
