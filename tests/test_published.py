"""The published numbers the report cites (``bench/report/published.toml``): every one names a
defined source that says where it was read, and stands beside a task of our suites."""

import math

from algorithms.optim import OPTIMIZERS
from bench.report.published import PublishedResult, published
from bench.report.reproduction import against_published
from bench.sb3_reference import ALGORITHMS as REFERENCES
from bench.suites import load_suite

SOURCE_FIELDS = ("cite", "url", "read_from", "env", "budget", "runs", "measure")


def test_every_published_number_has_a_source_and_a_task_of_our_suites():
    tasks = {run.env_id for name in ("atari-10m", "mujoco-1m") for run in load_suite(name).runs}
    data = published()
    assert len(data.results) > 50
    for result in data.results:
        assert result.task in tasks, result
        assert math.isfinite(result.value) and (result.spread is None or result.spread >= 0), result
        assert result.source.id in data.sources
    for source in data.sources.values():
        assert all(getattr(source, name).strip() for name in SOURCE_FIELDS), source.id
    cited = {result.source.id for result in data.results}
    for level in data.human_levels.values():
        cited |= {level.score_source.id} | ({level.episodes_source.id} if level.episodes_source else set())
    assert cited == set(data.sources), "a source no number cites"


def test_the_paper_and_the_zoo_as_read():
    """Spot checks against the sources as read: Wu et al. 2017 Table 1 (Pong, Breakout), the RL
    Zoo's Hopper-v3 A2C row, and Pong's human level and episodes."""
    values = {(r.task, r.method, r.source.id): r for r in published().results}
    assert values[("ALE/Pong-v5", "ACKTR", "wu2017-table1")].value == 20.9
    assert values[("ALE/Breakout-v5", "A2C", "wu2017-table1")].value == 581.6
    zoo = values[("Hopper-v5", "A2C", "rlzoo-benchmark")]
    assert (zoo.value, zoo.spread, zoo.env) == (733.454, 376.574, "Hopper-v3")
    pong = published().human_levels["ALE/Pong-v5"]
    assert (pong.score, pong.episodes) == (9.3, {"ACKTR": 904, "A2C": 4768})
    assert published().paper_episode("ALE/Pong-v5", "sgd") == 4768
    assert published().paper_episode("ALE/Pong-v5", "kfac") is None
    breakout = published().human_levels["ALE/Breakout-v5"]  # Mnih et al. 2015's score; no episodes read
    assert (breakout.score, breakout.episodes, breakout.episodes_source) == (31.8, {}, None)
    assert published().paper_episode("ALE/Breakout-v5", "acktr") is None


def test_each_counterpart_is_one_of_our_optimizers_and_a_published_method():
    methods = {result.method for result in published().results}
    assert set(published().stands_for.values()) <= methods
    assert set(published().stands_for) <= set(OPTIMIZERS) | set(REFERENCES)
    assert "kfac" not in published().stands_for


def test_the_papers_atari_rows_carry_the_network_caveat():
    """The paper's ACKTR and A2C did not share a network (openai/baselines#130)."""
    for source in ("wu2017-table1", "wu2017-table1-episodes"):
        assert "32-64-32-512" in published().sources[source].caveat
    assert published().sources["rlzoo-benchmark"].caveat == ""


def _result(value: float, spread: float | None = None) -> PublishedResult:
    zoo = published().sources["rlzoo-benchmark"]
    return PublishedResult("Hopper-v5", "A2C", value, "Hopper-v3", zoo, spread)


def test_our_interval_against_the_published_span():
    """The span runs from the lowest value minus its ± to the highest plus its ±."""
    theirs = [_result(700.0, 300.0), _result(3900.0)]
    assert against_published(100.0, 399.0, theirs) == "below A2C's 400.0 to 3,900.0"
    assert against_published(100.0, 400.0, theirs) == "within A2C's 400.0 to 3,900.0"
    assert against_published(3900.5, 4000.0, theirs) == "above A2C's 400.0 to 3,900.0"
    assert against_published(0.0, 1.0, [_result(3900.0)]) == "below A2C's 3,900.0"
    assert against_published(0.0, 1.0, []) == ""
