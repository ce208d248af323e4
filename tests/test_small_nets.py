"""The small-net comparison trains real runs with the fidelity diagnostics, resumes, and summarizes."""

import json

from bench.results import read_run, run_directory
from bench.small_nets import Task, run_all, summarize

TINY = {"CartPole-v1": Task(steps=480, threshold=15, fidelity_interval=1, settings=("net.hidden=16,16",))}


def test_runs_log_fidelity_resume_and_summarize(tmp_path):
    run_all(tmp_path, TINY, ["sgd", "ng"], seeds=[0], jobs=2)
    for name in ("sgd", "ng"):
        record = read_run(run_directory(tmp_path, "CartPole-v1", name, 0))
        assert record.status["state"] == "done"
        assert record.progress["fidelity_cosine"].notna().all()
        assert record.config["diagnostics"]["fidelity_every"] == 1 and record.config["net"]["hidden"] == [
            16,
            16,
        ]
    status = run_directory(tmp_path, "CartPole-v1", "ng", 0) / "status.json"
    written = status.stat().st_mtime_ns
    run_all(tmp_path, TINY, ["ng"], seeds=[0], jobs=1)  # finished: kept, not trained again
    assert status.stat().st_mtime_ns == written

    table = summarize(tmp_path, TINY, ["sgd", "ng"]).splitlines()
    assert len(table) == 4 and table[2].startswith("| CartPole-v1 ≥ 15 | sgd |")
    assert json.loads(status.read_text())["state"] == "done"
