"""acktr-bench report on a small suite of real runs: finished, diverged, failed and killed ones."""

import base64
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rliable import metrics

from bench import runner
from bench.report import aggregate, figures, in_progress, scores
from bench.report.bootstrap import interval_estimates
from bench.report.loading import Sweep
from bench.report.normalization import atari_game, reference
from bench.report.reproduction import human_level_table
from bench.suites import RunSpec, load_suite

REPO = Path(__file__).resolve().parents[1]
TIMING = sorted((REPO / "results" / "timing" / "amd-epyc-2cpu").glob("*.json"))[-1]
REPS = "200"
IMAGES = 13
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")  # Debian's packages
# (env, optimizer, seed, steps, settings). On CartPole every optimizer learns something in 10 k
# steps; on the other tasks none does, and HalfCheetah's 500 steps end no episode. kfac without
# its trust region differs from acktr in more than the damping rule; the last two end diverged and
# failed.
RUNS = [
    ("CartPole-v1", "sgd", 0, 10_000, ()),
    ("CartPole-v1", "sgd", 1, 10_000, ()),
    ("CartPole-v1", "acktr", 0, 10_240, ("diagnostics.fidelity_every=20",)),
    ("CartPole-v1", "acktr", 1, 10_240, ()),
    ("CartPole-v1", "kfac", 1, 10_240, ("optimizer.kl_clip=0",)),
    ("InvertedPendulum-v5", "sgd", 0, 2500, ()),
    ("InvertedPendulum-v5", "acktr", 0, 5000, ()),
    ("Hopper-v5", "sgd", 0, 2000, ()),
    ("HalfCheetah-v5", "sgd", 0, 500, ()),
    ("ALE/Pong-v5", "sgd", 0, 2400, ("rollout.num_envs=2",)),
    (
        "CartPole-v1",
        "sgd",
        2,
        3000,
        ("optimizer.rule=sgd", "optimizer.lr=1e8", "optimizer.max_grad_norm=1e30"),
    ),
    ("CartPole-v1", "ng", 0, 3000, ("net.hidden=256,256",)),
]


def train_command(suite: Path, env: str, optimizer: str, seed: int, steps: int, settings=()) -> list[str]:
    run = RunSpec(env, optimizer, seed, steps, tuple(settings))
    return runner.train_command(run, run.directory(suite), "cpu")


def make_report(cli, suite, results, out, *extra, reps=REPS):
    """``acktr-bench report SUITE`` from ``results`` into ``out``."""
    return cli("report", suite, "--results", str(results), "--out", str(out), "--reps", reps, *extra)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """``results/mini``: the runs above, and one killed with SIGKILL while running."""
    root = tmp_path_factory.mktemp("results")
    suite = root / "mini"
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    with ThreadPoolExecutor(2) as pool:
        list(
            pool.map(
                lambda run: subprocess.run(train_command(suite, *run), env=environment, capture_output=True),
                RUNS,
            )
        )
    killed = subprocess.Popen(train_command(suite, "CartPole-v1", "kfac", 0, 10_000_000), env=environment)
    status = suite / "CartPole-v1" / "kfac" / "seed0" / "status.json"
    deadline = time.monotonic() + 120
    while not status.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    return root


@pytest.fixture(scope="module")
def report(cli, results, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    done = make_report(cli, "mini", results, out, "--timing", str(TIMING))
    assert done.returncode == 0, done.stderr
    return out / "mini"


def test_every_run_is_listed_with_its_state_and_only_finished_runs_are_scored(report):
    runs = pd.read_csv(report / "runs.csv")
    states = dict(zip(runs["run"], runs["state"], strict=True))
    assert states["CartPole-v1/sgd/seed2"] == "diverged"
    assert states["CartPole-v1/ng/seed0"] == "failed"
    assert states["CartPole-v1/kfac/seed0"] == "running"
    assert sum(state == "done" for state in states.values()) == 10
    summary = pd.read_csv(report / "task_summary.csv").set_index(["task", "optimizer"])
    counts = ["runs scored", "runs done", "runs"]
    assert summary.loc[("CartPole-v1", "sgd"), counts].tolist() == [2, 2, 3]
    assert summary.loc[("CartPole-v1", "kfac"), counts].tolist() == [1, 1, 2]
    assert summary.loc[("HalfCheetah-v5", "sgd"), counts].tolist() == [0, 1, 1]  # no episode ended
    scored = pd.read_csv(report / "run_scores.csv")
    assert len(scored) == 9 and set(scored["optimizer"]) == {"sgd", "acktr", "kfac"}
    assert "HalfCheetah-v5" not in set(scored["task"])
    page = (report / "index.html").read_text()
    for run in ("CartPole-v1/sgd/seed2", "CartPole-v1/ng/seed0", "CartPole-v1/kfac/seed0"):
        assert run in page
    assert "non-finite loss" in page and "dense Fisher of 134915 parameters" in page


def test_nothing_is_compared_where_nothing_was_learned(report):
    """Only on CartPole did any optimizer get 5 % of the way from the random policy to the
    reference level: the other tasks give no ratio, P(X > Y) or aggregate, the banner names them
    with their levels, and each empty ratio cell says why."""
    summary = pd.read_csv(report / "task_summary.csv").set_index(["task", "optimizer"])
    learned = reference("CartPole-v1").learned_level
    assert summary.loc[("CartPole-v1", "sgd"), "final return"] > learned
    assert summary.loc[("CartPole-v1", "acktr"), "efficiency ratio"] > 0
    for task in ("InvertedPendulum-v5", "Hopper-v5", "ALE/Pong-v5"):
        rows = summary.loc[task]
        assert (rows["final return"] < reference(task).learned_level).all()
        assert rows["efficiency ratio"].isna().all()
        assert rows["efficiency withheld"].str.startswith("sgd's final level").all()
    for table in ("improvement", "aggregates"):
        assert set(pd.read_csv(report / f"{table}.csv")["tasks"]) == {"CartPole-v1"}
    page = (report / "index.html").read_text()
    headline = page.split('<h2 id="status">')[0]
    banner = re.search(r"<li>(Budgets too short to learn: [^<]+)</li>", headline).group(1)
    for task in ("ALE/Pong-v5", "Hopper-v5", "InvertedPendulum-v5"):
        assert f"{task} (" in banner
    assert "HalfCheetah-v5 (500 env steps): no run finished an episode" in banner
    assert "CartPole-v1" not in banner
    assert page.count("— (sgd did not learn)") == 4  # sgd and acktr on InvertedPendulum, sgd on two others
    assert "1 finished run(s) ended no episode within the budget" in page


def test_a_defined_suite_with_runs_missing_is_labelled_partial(cli, results, report, tmp_path):
    """Results named after a suite in bench/suites are checked against its runs: those with no
    directory are listed as not started and the headline says the results are partial."""
    shutil.copytree(results / "mini", tmp_path / "smoke")
    planned = {run.directory(tmp_path / "smoke") for run in load_suite("smoke").runs}
    expected = {d.relative_to(tmp_path / "smoke").as_posix() for d in planned if not d.exists()}
    assert len(expected) == 24
    done = make_report(cli, "smoke", tmp_path, tmp_path / "out", "--timing", str(TIMING), "--no-agents")
    assert done.returncode == 0, done.stderr
    runs = pd.read_csv(tmp_path / "out" / "smoke" / "runs.csv")
    assert set(runs.loc[runs["state"] == "not started", "run"]) == expected
    assert runs.loc[runs["run"] == "ALE-Pong-v5/acktr/seed1", "budget"].item() == 10_240
    page = (tmp_path / "out" / "smoke" / "index.html").read_text()
    assert "Partial results: 24 runs of suite smoke have not started" in page
    assert "Partial results" not in (report / "index.html").read_text()


def test_the_page_is_self_contained_with_every_section(report):
    page = (report / "index.html").read_text()
    sources = re.findall(r'<img src="([^"]+)"', page)
    # The curves and best agent's filmstrip of the four tasks with an episode; IQM etc., P(X > Y)
    # and the profiles of the three optimizers on CartPole, the one task where any learned; the
    # cost chart; fidelity on CartPole.
    assert len(sources) == IMAGES
    played = re.findall(r'alt="frames of the best agent playing ([^"]+)">\s*<figcaption>Best agent: ', page)
    assert sorted(played) == ["ALE/Pong-v5", "CartPole-v1", "Hopper-v5", "InvertedPendulum-v5"]
    for source in sources:
        assert source.startswith("data:image/png;base64,")
        assert base64.b64decode(source.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not re.search(r'(src|href)="https?:', page)
    for name in re.findall(r'<a href="([^"#]+\.csv)"', page):
        assert (report / name).is_file()
    for heading in (
        "Per task",
        "Across tasks",
        "What each comparison compares",
        "Cost",
        "Curvature fidelity",
        "Metadata",
        "P(acktr &gt; sgd)",
    ):
        assert heading in page
    assert "curvature fidelity on CartPole-v1" in page


def test_published_numbers_stand_beside_ours_with_their_sources(report, results):
    """Pong's finished sgd run beside every published Pong number, each with its env version,
    budget and source, and the sources listed on the page."""
    table = pd.read_csv(report / "reproduction.csv")
    pong = table[table["task"] == "ALE/Pong-v5"].set_index("who")
    ours = pong.loc["sgd (ours)"]
    assert ours["env"] == "ALE/Pong-v5 (paper protocol)" and ours["budget"] == "2,400 env steps"
    assert ours["runs"] == "1 run" and -21 <= ours["final return"] <= -15
    assert "acktr (ours)" not in pong.index  # the mini suite's Pong acktr run did not finish
    published_pong = pong.drop(index="sgd (ours)")
    assert ("ACKTR", 20.9, "Wu et al. 2017 (ACKTR), Table 1") in published_pong.reset_index()[
        ["who", "final return", "source"]
    ].itertuples(index=False, name=None)
    assert published_pong["budget"].notna().all() and published_pong["env"].notna().all()
    page = (report / "index.html").read_text()
    assert "<td>sgd (ours)</td>" in page and "<b>Wu et al. 2017 (ACKTR), Table 1</b>" in page
    assert "RL Baselines3 Zoo benchmark" in page and "https://arxiv.org/abs/1708.05144" in page
    (human,) = pd.read_csv(report / "human_level.csv").to_dict("records")
    assert (human["task"], human["optimizer"], human["seed"]) == ("ALE/Pong-v5", "sgd", 0)
    assert human["state"] == "done" and human["paper episode"] == 4768
    assert human["episode at human level"] == "not yet"
    pong = pd.read_csv(results / "mini" / "ALE-Pong-v5" / "sgd" / "seed0" / "episodes.csv")
    assert human["episodes so far"] == len(pong) > 0


def test_the_human_level_episode_is_counted_by_the_first_and_the_last_episode_of_its_window():
    """Pong's first 100 episodes in a row at mean ≥ 9.3 are episodes 49–148 (1-based) here: two
    −21s and 98 10s make 9.38, three −21s 9.07."""
    returns = [-21.0] * 50 + [10.0] * 100 + [21.0] * 10
    episodes = pd.DataFrame(
        {"run": "r", "env_steps": range(10, 1601, 10), "return": returns, "length": 1, "wall_time_s": 0.0}
    )
    runs = pd.DataFrame(
        [
            {
                "run": "r",
                "task": "ALE/Pong-v5",
                "optimizer": "acktr",
                "seed": 0,
                "state": "running",
                "env_steps": 1600,
            }
        ]
    )
    (row,) = human_level_table(Sweep("s", runs, pd.DataFrame(), episodes, {})).to_dict("records")
    assert row["episode at human level"] == 148 and row["env steps at human level"] == 1480
    assert row["first episode of those 100"] == 49 and row["paper episode"] == 904


def test_a_run_in_progress_is_drawn_as_far_as_it_got():
    """A ``running`` run's curve reaches its last episode and ends at the mean of its last 100
    returns; a finished run of the same task is not in it."""
    returns = np.arange(300, dtype=float)
    episodes = pd.DataFrame(
        {"run": "r", "env_steps": np.arange(1, 301) * 100, "return": returns, "length": 1, "wall_time_s": 0.0}
    )
    runs = pd.DataFrame(
        [
            {"run": "r", "task": "ALE/Pong-v5", "optimizer": "sgd", "seed": 1, "state": "running"},
            {"run": "d", "task": "ALE/Pong-v5", "optimizer": "acktr", "seed": 0, "state": "done"},
        ]
    )
    curves = in_progress.partial_curves(Sweep("s", runs, pd.DataFrame(), episodes, {}), "ALE/Pong-v5")
    assert set(curves["optimizer"]) == {"sgd"} and len(curves) == in_progress.PARTIAL_POINTS
    assert curves["env_steps"].iloc[-1] == 30_000 and curves["return_mean"].iloc[-1] == returns[-100:].mean()
    figure = figures.partial_curves("ALE/Pong-v5", curves, 9.3, 20_000)
    assert base64.b64decode(figure.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"


def test_runs_in_progress_are_compared_where_every_run_of_the_task_has_got():
    """Two sgd runs in progress whose last episodes end at 30 k and 20 k env steps, and a finished
    acktr run to 50 k: all three are compared at 20 k, each by its last 100 episodes there (sgd
    returns 0, 1, … and 1, 2, …: means 149.5 and 150.5), and every acktr run beats every sgd run."""

    def episodes(run, count, returns):
        return pd.DataFrame(
            {
                "run": run,
                "env_steps": np.arange(1, count + 1) * 100,
                "return": returns,
                "length": 1,
                "wall_time_s": 0.0,
            }
        )

    frames = [
        episodes("s0", 300, np.arange(300.0)),
        episodes("s1", 200, np.arange(1.0, 201.0)),
        episodes("a0", 500, np.full(500, 1000.0)),
        episodes("other", 10, np.zeros(10)),
    ]
    runs = pd.DataFrame(
        [
            {"run": "s0", "task": "ALE/Pong-v5", "optimizer": "sgd", "seed": 0, "state": "running"},
            {"run": "s1", "task": "ALE/Pong-v5", "optimizer": "sgd", "seed": 1, "state": "running"},
            {"run": "a0", "task": "ALE/Pong-v5", "optimizer": "acktr", "seed": 0, "state": "done"},
            {"run": "other", "task": "CartPole-v1", "optimizer": "sgd", "seed": 0, "state": "done"},
        ]
    )
    sweep = Sweep("s", runs, pd.DataFrame(), pd.concat(frames, ignore_index=True), {})
    standing = in_progress.standings(sweep, "ALE/Pong-v5", 200).set_index("optimizer")
    assert (standing["env steps"] == 20_000).all()
    assert standing.loc["sgd", "return"] == 150.0 and standing.loc["sgd", "runs"] == 2
    assert 149.5 <= standing.loc["sgd", "return low"] < standing.loc["sgd", "return high"] <= 150.5
    assert standing.loc["acktr", "return"] == 1000.0
    assert standing.loc["sgd", "normalized"] == reference("ALE/Pong-v5").normalize(150.0)
    assert standing.loc["acktr", ["P(optimizer > sgd)", "P low", "P high"]].tolist() == [1.0, 1.0, 1.0]
    assert np.isnan(standing.loc["sgd", "P(optimizer > sgd)"])
    assert in_progress.standings(sweep, "CartPole-v1", 200).empty  # nothing in progress there


def test_each_comparison_lists_the_settings_its_pair_differs_in(report):
    """Read from the runs' config.json: acktr and sgd are whole recipes; kfac run without its
    trust region differs from acktr in more than the damping rule, and the headline says so."""
    comparisons = pd.read_csv(report / "comparisons.csv").set_index(["comparison", "task"])
    whole = comparisons.loc[("acktr vs sgd", "CartPole-v1")]
    assert whole["what differs"] == "whole recipes, each at its preset"
    assert "rollout.n_steps 20 / 5" in whole["settings"] and "loss.value_coef 0.25 / 0.5" in whole["settings"]
    confounded = comparisons.loc[("acktr vs kfac", "CartPole-v1")]
    assert confounded["what differs"] == "CONFOUNDED: the damping rule, and also optimizer.kl_clip"
    assert "optimizer.kl_clip 0.01 / 0.0" in confounded["settings"]
    assert "optimizer.lm_every — / 5" in confounded["settings"]
    assert ("acktr vs kfac", "InvertedPendulum-v5") not in comparisons.index  # no kfac run there
    headline = (report / "index.html").read_text().split('<h2 id="status">')[0]
    assert "Confounded: acktr vs kfac on CartPole-v1" in headline


def test_published_mujoco_numbers_stand_beside_ours(report):
    table = pd.read_csv(report / "reproduction.csv", keep_default_na=False)
    hopper = table[table["task"] == "Hopper-v5"]
    assert hopper.set_index("who").loc["sgd (ours)", "budget"] == "2,000 env steps"
    zoo = hopper[hopper["source"] == "RL Baselines3 Zoo benchmark"]
    rows = set(zoo[["who", "final return", "spread", "env"]].itertuples(index=False, name=None))
    assert ("A2C", 733.454, "± 376.574", "Hopper-v3") in rows
    assert not (hopper["source"].str.contains("Fig") | hopper["spread"].str.contains("≈")).any()


def test_unreadable_runs_are_listed_and_the_rest_still_reported(cli, results, tmp_path):
    suite = tmp_path / "results" / "mini"
    shutil.copytree(results / "mini", suite)
    (suite / "CartPole-v1" / "sgd" / "seed0" / "config.json").write_text("{not json")
    progress = suite / "CartPole-v1" / "acktr" / "seed1" / "progress.csv"
    progress.write_text(pd.read_csv(progress).drop(columns="return_mean").to_csv(index=False))
    done = make_report(cli, "mini", tmp_path / "results", tmp_path / "out", "--no-agents")
    assert done.returncode == 0, done.stderr
    assert "unreadable run CartPole-v1/sgd/seed0" in done.stderr and "not valid JSON" in done.stderr
    assert "missing columns return_mean" in done.stderr
    runs = pd.read_csv(tmp_path / "out" / "mini" / "runs.csv")
    assert (runs["state"] == "unreadable").sum() == 2 and (runs["state"] == "done").sum() == 8
    assert "No saved timing run" in (tmp_path / "out" / "mini" / "index.html").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "no results directory"),
        (["empty"], "no run directories"),
        (["mini", "--reps", "0"], "bad --reps 0"),
        (["mini", "--timing", "missing.json"], "no timing file 'missing.json'"),
    ],
)
def test_bad_input_is_one_line_naming_it(cli, results, tmp_path, args, message):
    (results / "empty").mkdir(exist_ok=True)
    done = make_report(cli, args[0], results, tmp_path, *args[1:])
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr


def test_a_sweep_with_no_finished_run_yet_still_gets_a_page(cli, results, tmp_path):
    for run in ("CartPole-v1/sgd/seed2", "CartPole-v1/ng/seed0", "CartPole-v1/kfac/seed0"):
        shutil.copytree(results / "mini" / run, tmp_path / "results" / "early" / run)
    done = make_report(cli, "early", tmp_path / "results", tmp_path, reps="50")
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "early" / "index.html").read_text()
    assert "No finished runs to compare yet" in page and "<img" not in page
    assert pd.read_csv(tmp_path / "early" / "runs.csv")["state"].tolist() == ["running", "failed", "diverged"]


def test_a_suite_without_sgd_is_reported_without_comparisons_to_it(cli, results, tmp_path):
    for run in ("CartPole-v1/acktr", "InvertedPendulum-v5/acktr"):
        shutil.copytree(results / "mini" / run, tmp_path / "results" / "alone" / run)
    done = make_report(cli, "alone", tmp_path / "results", tmp_path, "--no-agents", reps="50")
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "alone" / "index.html").read_text()
    assert "IQM of normalized final scores" in page and "P(acktr &gt; sgd)" not in page
    assert pd.read_csv(tmp_path / "alone" / "task_summary.csv")["efficiency ratio"].isna().all()


def test_labels_and_errors_are_html_escaped(cli, results, tmp_path):
    name = 'odd<b>&"suite'
    shutil.copytree(results / "mini", tmp_path / "results" / name)
    status = tmp_path / "results" / name / "CartPole-v1" / "sgd" / "seed2" / "status.json"
    status.write_text(json.dumps({**json.loads(status.read_text()), "error": "<script>alert(1)</script>"}))
    done = make_report(cli, name, tmp_path / "results", tmp_path / "out", "--no-agents", reps="50")
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "out" / name / "index.html").read_text()
    assert "odd&lt;b&gt;&amp;&#34;suite" in page and "<b>&" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page


def test_the_same_results_give_the_same_tables(cli, results, report, tmp_path):
    """Also without the agents' filmstrips, which are on the page alone."""
    done = make_report(cli, "mini", results, tmp_path, "--timing", str(TIMING), "--no-agents")
    assert done.returncode == 0, done.stderr
    for table in sorted(report.glob("*.csv")):
        assert (tmp_path / "mini" / table.name).read_text() == table.read_text(), table.name
    assert "Best agent" in (report / "index.html").read_text()
    assert "Best agent" not in (tmp_path / "mini" / "index.html").read_text()


def test_the_page_renders_in_chromium_without_errors(report):
    """Every image decodes and the console stays clean in a real headless Chromium; the top of the
    page is kept as ``test-artifacts/report-top.png``."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing and not os.environ.get("CI"):
        names = ", ".join(map(str, missing))
        pytest.skip(f"not installed: {names} (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1300,1800",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        driver.get((report / "index.html").as_uri())
        decoded = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "Promise.allSettled([...document.images].map(i => i.decode()))"
            ".then(r => done([r.length, r.filter(x => x.status === 'fulfilled').length,"
            " [...document.images].filter(i => i.naturalWidth > 0).length]));"
        )
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        artifacts = REPO / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        driver.save_screenshot(str(artifacts / "report-top.png"))
    finally:
        driver.quit()
    total, fulfilled, drawn = decoded
    assert total == IMAGES and fulfilled == total and drawn == total
    assert errors == []
    assert (artifacts / "report-top.png").stat().st_size > 10_000


def test_the_bootstrap_interval_of_a_mean_on_known_inputs():
    constant = interval_estimates({"x": np.full((5, 1), 3.0)}, lambda x: np.array([x.mean()]), reps=500)["x"]
    assert (constant.point, constant.low, constant.high) == (3.0, 3.0, 3.0)
    # Two runs, 0 and 1: resampled means are 0, 0.5 and 1 with probabilities 1/4, 1/2, 1/4.
    pair = interval_estimates({"x": np.array([[0.0], [1.0]])}, lambda x: np.array([x.mean()]), reps=4000)["x"]
    assert (pair.point, pair.low, pair.high) == (0.5, 0.0, 1.0)


def test_probability_of_improvement_and_profiles_match_rliable():
    generator = np.random.default_rng(0)
    for _ in range(100):
        x, y = (generator.integers(0, 4, (generator.integers(1, 6), 3)).astype(float) for _ in range(2))
        assert aggregate.probability_of_improvement(x, y) == pytest.approx(
            metrics.probability_of_improvement(x, y)
        )
    block = aggregate.Block(("a", "b"), {"sgd": np.zeros((3, 2)), "acktr": np.ones((3, 2))})
    row = aggregate.improvement_probabilities(block, reps=200).iloc[0]
    assert (row["x"], row["y"], row["value"], row["low"], row["high"]) == ("acktr", "sgd", 1.0, 1.0, 1.0)
    profile = aggregate.performance_profiles(block, reps=100)
    at_half = profile[np.isclose(profile["tau"], 0.5)].set_index("optimizer")["fraction"]
    assert at_half.to_dict() == {"sgd": 0.0, "acktr": 1.0}


def test_blocks_compare_optimizers_over_the_tasks_they_share():
    rows = [("T1", "sgd", s, 0.1) for s in range(3)] + [("T2", "sgd", s, 0.2) for s in range(2)]
    rows += [("T1", "ng", s, 0.5) for s in range(2)]
    frame = pd.DataFrame(rows, columns=["task", "optimizer", "seed", "normalized"])
    first, second = aggregate.blocks(frame)
    assert (
        first.tasks == ("T1", "T2") and set(first.scores) == {"sgd"} and first.scores["sgd"].shape == (2, 2)
    )
    assert (
        second.tasks == ("T1",)
        and second.scores["ng"].shape == (2, 1)
        and second.scores["sgd"].shape == (3, 1)
    )


def test_run_curve_is_the_mean_of_the_last_episodes_ended_by_each_point():
    ends, returns = np.array([10.0, 20.0, 30.0]), np.array([1.0, 2.0, 6.0])
    curve = scores.run_curve(ends, returns, np.array([5.0, 10.0, 25.0, 40.0]), window=2)
    np.testing.assert_allclose(curve, [np.nan, 1.0, 1.5, 4.0])


def test_efficiency_ratio_on_curves_that_reach_the_level_at_half_the_steps():
    grid = np.arange(1.0, 11.0)
    baseline = np.minimum(grid, 8.0)[None, :]  # reaches its final 8 at step 8
    other = np.minimum(2 * grid, 9.0)[None, :]  # reaches 8 at step 4
    assert scores.efficiency_ratio(grid, baseline, other) == 2.0
    never = np.full((1, 10), 1.0)  # counted as the whole budget: 8 / 10
    assert scores.efficiency_ratio(grid, baseline, never) == 0.8
    steps = scores.efficiency_ratio(grid, baseline, other, np.array([6.0, 8.0]), np.array([3.0, np.inf]))
    assert steps == 7.0 / 6.5


def test_no_efficiency_ratio_below_the_learned_level():
    grid = np.arange(1.0, 11.0)
    curves = {"sgd": np.minimum(grid, 8.0)[None, :], "acktr": np.minimum(2 * grid, 9.0)[None, :]}
    assert scores.efficiency_ratios(grid, curves, None, reps=50, learned_level=8.0).ratios["acktr"]
    withheld = scores.efficiency_ratios(grid, curves, None, reps=50, learned_level=8.5)
    assert withheld.ratios == {} and withheld.withheld.startswith("sgd's final level 8 is below 8.5")
    # A threshold below the learned level is not used: the level falls back to sgd's final one.
    steps = {"sgd": np.array([2.0]), "acktr": np.array([1.0])}
    low = scores.efficiency_ratios(grid, curves, steps, reps=50, threshold=2.0, learned_level=5.0)
    assert low.basis == "final level of sgd" and low.ratios["acktr"].estimate.point == 2.0


def test_improvement_is_measured_on_the_tasks_where_either_learned():
    """On T2 neither kfac nor sgd learned: P(kfac > sgd) is over T1 alone, where kfac wins."""
    learned, nothing = np.full((3, 1), 0.5), np.full((3, 1), 0.01)
    block = aggregate.Block(
        ("T1", "T2"),
        {
            "sgd": np.hstack([nothing, nothing * 2]),
            "kfac": np.hstack([learned, nothing]),
            "lm": np.hstack([nothing, nothing]),
        },
    )
    rows = aggregate.improvement_probabilities(block, reps=50).set_index(["x", "y"])
    assert rows.loc[("kfac", "sgd"), "value"] == 1.0 and rows.loc[("kfac", "sgd"), "measured on"] == "T1"
    assert np.isnan(rows.loc[("lm", "sgd"), "value"]) and rows.loc[("lm", "sgd"), "measured on"] == ""


# Colour-vision deficiency in linear RGB at full severity (Machado, Oliveira & Fernandes 2009).
DEFICIENCIES = {
    "none": np.eye(3),
    "protanopia": [
        [0.152286, 1.052583, -0.204868],
        [0.114503, 0.786281, 0.099216],
        [-0.003882, -0.048116, 1.051998],
    ],
    "deuteranopia": [
        [0.367322, 0.860646, -0.227968],
        [0.280085, 0.672501, 0.047413],
        [-0.01182, 0.04294, 0.968881],
    ],
    "tritanopia": [
        [1.255528, -0.076749, -0.178779],
        [-0.078411, 0.930809, 0.147602],
        [0.004733, 0.691367, 0.3039],
    ],
}
SRGB_TO_XYZ = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
D65_WHITE = np.array([0.95047, 1.0, 1.08883])


def _lab_as_seen(hex_colour: str, deficiency: str) -> np.ndarray:
    """CIELAB of an sRGB colour as seen with ``deficiency``."""
    srgb = np.array([int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    xyz = SRGB_TO_XYZ @ np.clip(np.asarray(DEFICIENCIES[deficiency]) @ linear, 0, 1) / D65_WHITE
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


@pytest.mark.parametrize("deficiency", list(DEFICIENCIES))
def test_every_two_optimizers_colours_stay_apart_for_colour_blind_readers(deficiency):
    """CIELAB ΔE of at least 15 between every two known optimizers' colours, with normal vision and
    each dichromacy simulated (the former palette had pairs at 11-13)."""
    for x, y in itertools.combinations(figures.KNOWN_OPTIMIZERS, 2):
        distance = np.linalg.norm(
            _lab_as_seen(figures.colour(x), deficiency) - _lab_as_seen(figures.colour(y), deficiency)
        )
        assert distance >= 15, f"{x} and {y}: ΔE {distance:.1f} under {deficiency}"


def test_normalization_references():
    assert atari_game("ALE/Pong-v5") == atari_game("PongNoFrameskip-v4") == "Pong"
    assert atari_game("CartPole-v1") is None
    assert reference("ALE/Pong-v5").normalize(14.6) == pytest.approx(1.0)
    assert reference("ALE/Pong-v5").normalize(-20.7) == pytest.approx(0.0)
    cartpole = reference("CartPole-v1")
    assert cartpole.target == 475.0 and 15 < cartpole.random < 30
    assert reference("Walker2d-v5").target == 4592.3
    assert reference("Pendulum-v1") is None
