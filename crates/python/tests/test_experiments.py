"""compare and sweep: the CLI's statistics, as tidy tables."""

from __future__ import annotations

import pathlib

import numpy as np
import pandas as pd
import pytest

import xinyong
from conftest import SMALL, run_cli

COMPARE_COLUMNS = ["metric", "kind", "mean_a", "mean_b", "mean_difference", "ci95_low", "ci95_high", "n"]


def test_compare_equals_the_clis_compare_csv(cli: pathlib.Path, tmp_path: pathlib.Path) -> None:
    got = xinyong.compare("default", "no-keep-penalty", seeds=3, progress=False, **SMALL)
    assert list(got.columns) == COMPARE_COLUMNS
    run_cli(
        cli,
        "compare",
        "default",
        "no-keep-penalty",
        "--seeds",
        "3",
        "--set",
        f"run.citizens={SMALL['citizens']}",
        "--set",
        f"run.days={SMALL['days']}",
        "--out",
        str(tmp_path),
        "--quiet",
    )
    expected = pd.read_csv(tmp_path / "compare.csv")
    assert got["metric"].tolist() == expected["metric"].tolist()
    assert got["kind"].astype(str).tolist() == expected["kind"].tolist()
    assert (got["n"] == 3).all()
    for column in COMPARE_COLUMNS[2:7]:
        assert np.allclose(got[column], expected[column], rtol=1e-12, atol=0, equal_nan=True), column
    # The counterfactual of the article: without the -3 for keeping, votes cost nothing.
    keep = got.set_index("metric").loc["answers_keep"]
    assert keep["n"] == 3


def test_compare_writes_the_clis_files_on_request(tmp_path: pathlib.Path) -> None:
    got = xinyong.compare("default", "default", seeds=[4, 5], progress=False, out=tmp_path, **SMALL)
    assert (tmp_path / "compare.csv").is_file() and (tmp_path / "compare.html").is_file()
    # A scenario against itself: common random numbers give exactly zero differences.
    assert (got["mean_difference"] == 0).all()
    assert (got["mean_a"] == got["mean_b"]).all()


def test_compare_with_one_seed_has_no_interval() -> None:
    got = xinyong.compare("default", "no-keep-penalty", seeds=1, progress=False, format="dict", **SMALL)
    assert all(np.isnan(v) for v in got["ci95_low"])
    assert got["n"] == [1] * len(got["metric"])


def test_sweep_is_tidy_and_each_run_equals_simulate() -> None:
    vary = {"policy.sanction.keep_penalty": [0, 3], "world.voting.model": ["logistic", "always_keep"]}
    got = xinyong.sweep("default", vary=vary, seeds=2, progress=False, **SMALL)
    assert list(got.columns[:3]) == ["policy.sanction.keep_penalty", "world.voting.model", "seed"]
    assert got.columns[3] == "day"
    assert len(got) == 2 * 2 * 2 * SMALL["days"]
    assert got["policy.sanction.keep_penalty"].dtype == np.int64, "values come back as given"
    combos = got[list(vary) + ["seed"]].drop_duplicates().values.tolist()
    assert combos == [
        [0, "logistic", 1],
        [0, "logistic", 2],
        [0, "always_keep", 1],
        [0, "always_keep", 2],
        [3, "logistic", 1],
        [3, "logistic", 2],
        [3, "always_keep", 1],
        [3, "always_keep", 2],
    ], "first key slowest, then seeds"
    one = got[(got["policy.sanction.keep_penalty"] == 3) & (got["world.voting.model"] == "always_keep") & (got["seed"] == 2)]
    scenario = xinyong.Scenario.load("default").update({"policy.sanction.keep_penalty": 3, "world.voting.model": "always_keep"})
    alone = xinyong.simulate(scenario, seed=2, progress=False, **SMALL).metrics
    pd.testing.assert_frame_equal(one.drop(columns=list(vary) + ["seed"]).reset_index(drop=True), alone)


def test_sweep_writes_the_clis_files_and_refuses_bad_keys(tmp_path: pathlib.Path) -> None:
    got = xinyong.sweep(
        "default", {"policy.sanction.expel_quorum": [0.3, 0.7]}, seeds=[1], progress=False, out=tmp_path, **SMALL
    )
    assert (tmp_path / "sweep.csv").is_file() and (tmp_path / "sweep.html").is_file()
    assert sorted(set(got["policy.sanction.expel_quorum"])) == [0.3, 0.7]
    with pytest.raises(xinyong.ScenarioError) as caught:
        xinyong.sweep("default", {"policy.sanction.keep_penalti": [0, 1]}, seeds=1, progress=False, **SMALL)
    assert caught.value.key == "policy.sanction.keep_penalti"
    with pytest.raises(xinyong.ScenarioError) as caught:
        xinyong.sweep("default", {"policy.sanction.expel_quorum": [0.5, 7]}, seeds=1, progress=False, **SMALL)
    assert caught.value.key == "policy.sanction.expel_quorum"


def test_progress_counts_runs() -> None:
    seen: list[tuple[int, int]] = []
    xinyong.sweep(
        "default",
        {"policy.sanction.keep_penalty": [0, 1, 2]},
        seeds=2,
        citizens=600,
        days=3,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert sorted(seen) == [(d, 6) for d in range(1, 7)]
