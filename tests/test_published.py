"""The published numbers the report cites (``bench/report/published.toml``): every one names a
defined source that says where it was read, and stands beside a task of our suites."""

import math

from bench.report.published import published
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
        cited |= {level.score_source.id, level.episodes_source.id}
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
    assert (pong.score, pong.episodes) == (9.3, {"acktr": 904, "sgd": 4768})
