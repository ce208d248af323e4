"""``acktr-bench timing``: real benchmarks into real pytest-benchmark JSON, then the table, ``--compare``
and ``--max-ratio`` exit codes on copies of that JSON whose medians the tests set themselves."""

import json
import re
import shutil

import pytest

from algorithms.optim import OPTIMIZERS
from bench.provenance import hardware
from bench.timing.cases import (
    SMALL_NETS,
    STAGES,
    Selection,
    env_cases,
    iteration_cases,
    stage_cases,
    update_cases,
)
from bench.timing_results import (
    STEADY_ROUNDS,
    few_rounds_note,
    iteration_costs,
    machine_id,
    read_timing,
    update_ratios,
)
from bench.update_cost import MODELS

OPTIMIZER_KEYS = {"benchmark", "torch", "optimizer", "model", "batch_size", "device", "n_params"}


@pytest.fixture(scope="module")
def timed(cli, tmp_path_factory):
    """A real quick timing run of ``acktr`` and ``sgd`` on the CartPole net: (saved JSON, stdout)."""
    out = tmp_path_factory.mktemp("timing")
    args = ["--quick", "--models", "mlp-64-64-cartpole", "--optimizers", "acktr", "--out", str(out)]
    args += ["--progress-every", "0.5"]
    done = cli("timing", *args, check=True)
    saved = list((out / machine_id(hardware())).glob("*.json"))
    assert len(saved) == 1
    return saved[0], done.stdout


def with_medians(source, target, medians):
    """A copy of ``source`` where each benchmark's median (seconds) is ``medians(extra_info, median)``."""
    data = json.loads(source.read_text())
    for bench in data["benchmarks"]:
        bench["stats"]["median"] = medians(bench["extra_info"], bench["stats"]["median"])
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data))
    return target


def test_a_run_saves_every_kind_with_its_extra_info_and_prints_ratios(timed):
    path, stdout = timed
    frame, provenance = read_timing(path)
    assert set(frame["benchmark"]) == {"update", "kfac-stage", "env-step", "iteration"}
    assert provenance["git"] and provenance["versions"]["torch"]
    for bench in json.loads(path.read_text())["benchmarks"]:
        info = bench["extra_info"]
        if info["benchmark"] != "env-step":
            assert set(info) >= OPTIMIZER_KEYS and info["device"] == "cpu" and info["n_params"] == 9155
        assert bench["stats"]["median"] > 0 and bench["stats"]["rounds"] >= 1
    updates = update_ratios(frame).set_index("optimizer")
    assert updates.loc["sgd", "ratio"] == 1.0 and updates.loc["acktr", "updates_per_round"] == 10
    stages = frame[frame["benchmark"] == "kfac-stage"]
    assert sorted(stages["stage"]) == sorted(STAGES) and set(stages["optimizer"]) == {"acktr"}
    assert "mlp-64-64-cartpole-160" in stdout and "(×1.00)" in stdout and "K-FAC stages" in stdout
    iterations = iteration_costs(frame).set_index("optimizer")
    assert iterations.loc["sgd", "ratio"] == 1.0 and iterations.loc["acktr", "batch_size"] == 160
    assert "per step ÷ sgd" in stdout


def test_off_a_terminal_a_run_prints_progress_lines_up_to_the_last_benchmark(timed):
    path, stdout = timed
    counts = [
        tuple(map(int, m)) for m in re.findall(r"^timing: (\d+)/(\d+) benchmarks", stdout, re.MULTILINE)
    ]
    total = len(json.loads(path.read_text())["benchmarks"])
    assert len(counts) >= 2 and counts[-1] == (total, total)
    assert [done for done, _ in counts] == sorted({done for done, _ in counts})


def test_benchmarks_with_too_few_rounds_are_marked_and_steady_ones_are_not(cli, timed, tmp_path):
    data = json.loads(timed[0].read_text())
    for bench in data["benchmarks"]:
        bench["stats"]["rounds"] = STEADY_ROUNDS
    steady = tmp_path / "steady.json"
    steady.write_text(json.dumps(data))
    data["benchmarks"][0]["stats"]["rounds"] = 1
    quick = tmp_path / "quick.json"
    quick.write_text(json.dumps(data))
    assert few_rounds_note(read_timing(steady)[0]) is None
    assert "caution" not in cli("timing", "--from-json", str(steady), check=True).stdout
    printed = cli("timing", "--from-json", str(quick), check=True).stdout
    assert printed.startswith(
        f"caution: 1 of these {len(data['benchmarks'])} benchmarks took fewer than 3 rounds"
    )


def test_a_run_without_kfac_stages_prints_its_tables(cli, timed, tmp_path):
    data = json.loads(timed[0].read_text())
    data["benchmarks"] = [b for b in data["benchmarks"] if b["extra_info"]["benchmark"] != "kfac-stage"]
    alone = tmp_path / "no-stages.json"
    alone.write_text(json.dumps(data))
    done = cli("timing", "--from-json", str(alone), check=True)
    assert "(×1.00)" in done.stdout and "K-FAC stages" not in done.stdout


def test_the_table_shows_the_ratio_of_the_medians(cli, timed, tmp_path):
    seconds = {"sgd": 0.002, "acktr": 0.005}
    fixture = with_medians(
        timed[0], tmp_path / "set.json", lambda info, median: seconds.get(info.get("optimizer"), median)
    )
    done = cli("timing", "--from-json", str(fixture), check=True)
    assert "2 ms (×1.00)" in done.stdout and "5 ms (×2.50)" in done.stdout


@pytest.mark.parametrize(
    ("slowdown", "threshold", "status"), [(1.3, [], 0), (1.5, [], 1), (1.3, ["--threshold", "0.2"], 1)]
)
def test_compare_fails_past_the_threshold(cli, timed, tmp_path, slowdown, threshold, status):
    earlier = tmp_path / "20260101T000000Z-aaaaaaa.json"
    shutil.copy(timed[0], earlier)
    later = with_medians(timed[0], tmp_path / "20260102T000000Z-bbbbbbb.json", lambda _, m: m * slowdown)
    done = cli("timing", "--from-json", str(later), "--compare", str(earlier), *threshold)
    assert done.returncode == status, done.stderr
    assert ("SLOWER" in done.stdout) == bool(status)
    if status:
        change = f"+{slowdown - 1:.1%}"
        assert f"timing check failed: test_update[acktr-mlp-64-64-cartpole-160-cpu]: {change}" in done.stderr


def test_compare_without_a_file_takes_the_previous_run_of_the_same_machine(cli, timed, tmp_path):
    out = tmp_path / "out"
    machine = out / machine_id(read_timing(timed[0])[1]["hardware"])
    machine.mkdir(parents=True)
    shutil.copy(timed[0], machine / "20260101T000000Z-aaaaaaa.json")
    later = with_medians(timed[0], machine / "20260102T000000Z-bbbbbbb.json", lambda _, m: m * 2)
    done = cli("timing", "--from-json", str(later), "--compare", "--out", str(out))
    assert (
        done.returncode == 1
        and "compared with " + str(machine / "20260101T000000Z-aaaaaaa.json") in done.stdout
    )
    alone = tmp_path / "elsewhere"
    done = cli("timing", "--from-json", str(later), "--compare", "--out", str(alone))
    assert done.returncode == 0 and "no previous run" in done.stdout


def test_max_ratio_checks_the_ratio_measured_in_the_run(cli, timed):
    frame, _ = read_timing(timed[0])
    ratio = update_ratios(frame).set_index("optimizer").loc["acktr", "ratio"]
    path = str(timed[0])
    assert (
        cli("timing", "--from-json", path, "--max-ratio", f"acktr:cartpole-160={ratio * 1.01}").returncode
        == 0
    )
    done = cli("timing", "--from-json", path, "--max-ratio", f"acktr:mlp-64-64-cartpole-160={ratio * 0.99}")
    assert done.returncode == 1 and "acktr on mlp-64-64-cartpole-160 (cpu): ratio" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-ratio", "acktr:cnn-640=2.0"], "bad --max-ratio case 'cnn-640'"),
        (["--max-ratio", "kfac:cartpole-160=2.0"], "bad --max-ratio optimizer 'kfac'"),
        (["--max-ratio", "acktr-2.0"], "bad --max-ratio 'acktr-2.0'"),
        (["--models", "resnet-50"], "bad --models value 'resnet-50'"),
        (["--optimizers", "adamw"], "bad --optimizers value 'adamw'; accepted: "),
        (["--optimizers", "kfca"], "bad --optimizers value 'kfca' (did you mean 'kfac'?); accepted: "),
    ],
)
def test_bad_input_is_one_line_naming_it(cli, timed, args, message):
    done = cli("timing", "--from-json", str(timed[0]), *args)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and message in done.stderr


def test_a_file_that_is_not_timing_json_is_refused(cli, tmp_path):
    bad = tmp_path / "run.json"
    bad.write_text(json.dumps({"benchmarks": [{"name": "x", "stats": {}}]}))
    done = cli("timing", "--from-json", str(bad))
    assert done.returncode == 2 and "bad timing file" in done.stderr and done.stderr.count("\n") == 1


def test_the_grid_times_every_optimizer_where_it_applies():
    everything = Selection(devices=("cpu",))
    timed = {(case.optimizer, case.model) for case in update_cases(everything)}
    for model, spec in MODELS.items():
        for name, entry in OPTIMIZERS.items():
            applies = spec.domain in entry.presets and (name not in ("ng", "lm") or model in SMALL_NETS)
            assert ((name, model) in timed) == applies, (name, model)
    # the MuJoCo presets' separate critic has a curvature of its own: timed as a whole update only
    staged = {(case.update.optimizer, case.update.model) for case in stage_cases(everything)}
    one_curvature = {(n, m) for n, m in timed if n in ("acktr", "kfac") and MODELS[m].domain != "mujoco"}
    assert staged == one_curvature and ("kfac", "nature-cnn") in staged
    assert {case.family for case in env_cases(everything)} == {"atari", "mujoco", "classic"}
    only = Selection(devices=("cpu",), optimizers=("sgd",), models=("nature-cnn",))
    assert {(c.optimizer, c.model) for c in iteration_cases(only)} == {("sgd", "nature-cnn")}
    assert [c.env_id for c in env_cases(only)] == ["ALE/Pong-v5"]


def test_spread_shows_the_run_to_run_range_of_ratios_and_medians(cli, timed, tmp_path):
    slower_acktr = with_medians(
        timed[0], tmp_path / "b.json", lambda info, m: m * (1.2 if info.get("optimizer") == "acktr" else 1)
    )
    done = cli("timing", "--spread", str(timed[0]), str(slower_acktr), check=True)
    frame, _ = read_timing(timed[0])
    ratio = update_ratios(frame).set_index("optimizer").loc["acktr", "ratio"]
    assert f"{ratio:.2f}–{ratio * 1.2:.2f}" in done.stdout
    assert "largest 20.0%" in done.stdout and "90th percentile" in done.stdout
