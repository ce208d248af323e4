"""Run-directory schema: round trip, validation errors, and atomicity under SIGKILL."""

import json
import math
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest

from algorithms.envs import Episode
from algorithms.presets import resolve_config
from bench.results import RunWriter, SchemaError, first_reaching, read_run, steps_to_threshold, write_json


def make_config():
    return resolve_config("CartPole-v1", "sgd", 1000, seed=3, device="cpu")


def row(step, **extra):
    return {
        "env_steps": step,
        "updates": step // 40,
        "wall_time_s": 0.1,
        "episodes": 1,
        "return_mean": 9.5,
        "update_time_s": 0.01,
        **extra,
    }


def test_round_trip(tmp_path):
    writer = RunWriter(tmp_path, make_config(), {"versions": {"torch": "x"}})
    assert read_run(tmp_path).status["state"] == "running"
    writer.log_episodes(40, [Episode(9.5, 10), Episode(-1.25, 3)])
    writer.log_update(row(40, grad_norm=0.5))
    writer.log_update(row(80, grad_norm=math.nan))
    writer.finish("done", env_state={"obs_normalizer": {"mean": [0.0]}})
    record = read_run(tmp_path)
    assert record.status == {"state": "done", "error": None, "env_steps": 80, "return_mean": 9.5}
    assert record.config["optimizer"]["name"] == "sgd" and record.config["seed"] == 3
    assert record.config["provenance"]["versions"]["torch"] == "x"
    assert record.progress["env_steps"].tolist() == [40, 80]
    assert record.progress["grad_norm"].iloc[0] == 0.5 and math.isnan(record.progress["grad_norm"].iloc[1])
    assert record.episodes["return"].tolist() == [9.5, -1.25]
    assert json.loads((tmp_path / "env_state.json").read_text())["obs_normalizer"]["mean"] == [0.0]


def sampled_writer(run_dir, rows=10):
    """A writer of a 1,000-step budget keeping about ``rows`` rows: the first update of every
    1000/rows env steps."""
    config = make_config()
    config.log.rows = rows
    return RunWriter(run_dir, config, {}, flush_every_s=0)


def test_progress_keeps_the_first_update_of_each_interval_every_measurement_and_the_last(tmp_path):
    writer = sampled_writer(tmp_path)
    for step in range(40, 961, 40):
        writer.log_update(row(step, fidelity_cosine=0.9 if step == 160 else math.nan))
    kept = [120, 160, 200, 320, 400, 520, 600, 720, 800, 920]
    assert read_run(tmp_path).progress["env_steps"].tolist() == kept
    writer.finish("done")
    record = read_run(tmp_path)
    assert record.progress["env_steps"].tolist()[-2:] == [920, 960]
    assert record.status["env_steps"] == 960


def test_every_update_is_kept_with_rows_zero(tmp_path):
    writer = sampled_writer(tmp_path, rows=0)
    for step in range(40, 401, 40):
        writer.log_update(row(step))
    writer.finish("done")
    assert read_run(tmp_path).progress["env_steps"].tolist() == list(range(40, 401, 40))


def test_continue_after_keeps_the_sampled_rows_up_to_the_checkpoint(tmp_path):
    writer = sampled_writer(tmp_path)
    for step in range(40, 961, 40):
        writer.log_update(row(step))
    writer.flush()
    resumed = sampled_writer(tmp_path)
    resumed.continue_after(updates=19, env_steps=760)
    assert read_run(tmp_path).progress["env_steps"].tolist() == [120, 200, 320, 400, 520, 600, 720]
    for step in range(800, 961, 40):
        resumed.log_update(row(step))
    resumed.flush()
    assert read_run(tmp_path).progress["env_steps"].tolist()[-2:] == [800, 920]
    lines = (tmp_path / "progress.csv").read_text().splitlines()
    (tmp_path / "progress.csv").write_text("\n".join(lines[:-4]) + "\n")  # through 520: short of 700–799
    with pytest.raises(SchemaError, match=r"progress.csv: 5 rows, short of update 19"):
        sampled_writer(tmp_path).continue_after(updates=19, env_steps=760)


def test_files_get_the_mode_of_any_new_file_not_a_private_one(tmp_path):
    ordinary = tmp_path / "ordinary"
    ordinary.write_text("x")
    write_json(tmp_path / "written.json", {"a": 1})
    assert (tmp_path / "written.json").stat().st_mode == ordinary.stat().st_mode


def test_progress_keys_must_not_change(tmp_path):
    writer = RunWriter(tmp_path, make_config(), {})
    writer.log_update(row(40, a=1.0))
    with pytest.raises(ValueError, match="keys changed"):
        writer.log_update(row(80, b=1.0))


def test_validation_errors_name_file_and_problem(tmp_path):
    RunWriter(tmp_path, make_config(), {}).finish("done")
    write_json(tmp_path / "status.json", {"state": "exploded"})
    with pytest.raises(SchemaError, match=r"status.json: bad state 'exploded'"):
        read_run(tmp_path)
    write_json(tmp_path / "status.json", {"state": "done"})
    (tmp_path / "progress.csv").write_text("env_steps,updates\n1,2\n")
    with pytest.raises(SchemaError, match=r"progress.csv: missing columns wall_time_s"):
        read_run(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(SchemaError, match=r"config.json: not valid JSON"):
        read_run(tmp_path)


WRITER_LOOP = textwrap.dedent(
    """
    import sys
    from algorithms.envs import Episode
    from algorithms.presets import resolve_config
    from bench.results import RunWriter
    config = resolve_config("CartPole-v1", "sgd", 10, device="cpu")
    writer = RunWriter(sys.argv[1], config, {}, flush_every_s=0)
    step = 0
    print("ready", flush=True)
    while True:
        step += 40
        writer.log_episodes(step, [Episode(float(step), 3)])
        writer.log_update({"env_steps": step, "updates": step // 40, "wall_time_s": 0.0, "episodes": 1,
                           "return_mean": 1.0, "update_time_s": 0.0, "pad": "x" * 2000})
    """
)


def test_sigkill_mid_write_leaves_readable_files(tmp_path):
    for attempt in range(3):
        run_dir = tmp_path / f"run{attempt}"
        proc = subprocess.Popen([sys.executable, "-c", WRITER_LOOP, str(run_dir)], stdout=subprocess.PIPE)
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(0.3 + 0.2 * attempt)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        record = read_run(run_dir)
        assert record.status["state"] == "running"
        steps = record.progress["env_steps"]
        assert len(steps) > 0 and steps.tolist() == list(range(40, 40 * len(steps) + 1, 40))
        assert (record.progress["pad"] == "x" * 2000).all()
        assert record.episodes["env_steps"].tolist() == record.episodes["return"].astype(int).tolist()


def test_steps_to_threshold():
    episodes = pd.DataFrame(
        {"env_steps": [10, 20, 30, 40, 50], "return": [1.0, 3.0, 5.0, 5.0, 9.0], "length": [1] * 5}
    )
    assert steps_to_threshold(episodes, 4.0, window=2) == 30  # means: nan, 2, 4, 5, 7
    assert math.isnan(steps_to_threshold(episodes, 7.5, window=2))
    assert steps_to_threshold(episodes, 9.0, window=1) == 50
    assert (first_reaching(episodes, 4.0, window=2), first_reaching(episodes, 7.5, window=2)) == (2, None)


def test_a_run_is_dirty_when_code_changed_not_when_committed_results_were_rewritten(tmp_path):
    """A sweep run again (``--redo``) rewrites committed run directories; that is no code change."""
    from bench.provenance import git_commit

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    (tmp_path / "results").mkdir()
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "results" / "progress.csv").write_text("a\n1\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    assert git_commit(tmp_path)["dirty"] is False
    (tmp_path / "results" / "progress.csv").write_text("a\n2\n")
    assert git_commit(tmp_path)["dirty"] is False
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_commit(tmp_path)["dirty"] is True
