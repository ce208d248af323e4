"""The Ray backend of ``acktr-bench run``: every run a Ray task on an existing cluster (its
address) or on a Ray instance started here for the sweep.

A task runs :func:`bench.runner.train_one`: the run is an ``acktr-bench train`` process on the
node the task lands on, writing the run directory, and resuming it from its checkpoint when
the task is a retry of one whose node died. On a cluster, every node needs acktr-bench
installed and the results directory at the same path (a shared file system). A task whose
worker or node dies, or that raises, is retried up to ``RAY_RETRIES`` times; a run that ends
``failed`` by itself (a bad config, a crash in training) is recorded and not retried. Ray runs
its workers, and so the runs, at niceness 15 (its default), below other work on the node.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from algorithms.errors import ConfigError
from bench.runner import Submit, train_one

RAY_RETRIES = 2


@contextmanager
def ray_backend(address: str | None, workers: int | None, device: str) -> Iterator[Submit]:
    """Submits runs as Ray tasks; joins the cluster at ``address`` (``auto`` finds the local
    one), or starts a Ray instance on this machine when it is None, and leaves it on exit.

    ``workers`` runs at a time (default: one per CPU of the cluster), each reserving an equal
    share of the cluster's CPUs, and of its GPUs with ``device="cuda"``.
    """
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "--backend ray needs Ray, which is not installed: pip install -e '.[ray]' in a checkout"
        ) from None

    ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        resources = ray.cluster_resources()
        cpus, gpus = int(resources.get("CPU", 1)), resources.get("GPU", 0.0)
        if device == "cuda" and not gpus:
            raise ConfigError("bad --device 'cuda': the Ray cluster has no GPU; accepted here: cpu")
        workers = workers or cpus
        threads = max(1, cpus // workers)
        task = ray.remote(
            num_cpus=threads,
            num_gpus=min(1.0, gpus / workers) if device == "cuda" else 0,
            max_retries=RAY_RETRIES,
            retry_exceptions=True,
        )(train_one)
        yield lambda run, directory, force_resume: task.remote(
            run, directory.resolve(), device, threads, force_resume=force_resume
        ).future()
    finally:
        ray.shutdown()
