"""A run from Python equals the CLI's run of the same scenario and seed."""

from __future__ import annotations

import io
import json
import math
import pathlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import xinyong
from conftest import SMALL, run_cli


@pytest.fixture(scope="module")
def run() -> xinyong.Run:
    return xinyong.simulate("default", seed=3, progress=False, **SMALL)


def _cli_metrics(cli: pathlib.Path, out: pathlib.Path, *extra: str) -> str:
    run_cli(
        cli,
        "simulate",
        "--scenario",
        "default",
        "--seed",
        "3",
        "--citizens",
        str(SMALL["citizens"]),
        "--days",
        str(SMALL["days"]),
        "--out",
        str(out),
        "--quiet",
        *extra,
    )
    return (out / "metrics.csv").read_text()


def test_metrics_csv_equals_the_clis_bytes(run: xinyong.Run, cli: pathlib.Path, tmp_path: pathlib.Path) -> None:
    expected = _cli_metrics(cli, tmp_path / "cli")
    assert run.metrics_csv() == expected


def test_the_metrics_table_holds_the_clis_values(run: xinyong.Run, cli: pathlib.Path, tmp_path: pathlib.Path) -> None:
    text = _cli_metrics(cli, tmp_path / "cli")
    expected = pd.read_csv(io.StringIO(text))
    got = run.metrics
    assert isinstance(got, pd.DataFrame)
    assert list(got.columns) == list(expected.columns), "same columns, same order"
    assert len(got) == SMALL["days"]
    rows = text.splitlines()[1:]
    for index, name in enumerate(expected.columns):
        cells = [row.split(",")[index] for row in rows]
        decimals = max((len(c.split(".")[1]) if "." in c else 0) for c in cells)
        if decimals == 0:
            assert got[name].dtype == np.int64, name
            assert got[name].tolist() == expected[name].tolist(), name
        else:
            # The CSV prints floats rounded to fixed decimals; the table keeps full precision.
            assert got[name].dtype == np.float64, name
            assert np.allclose(got[name], expected[name], rtol=0, atol=0.5 * 10.0**-decimals + 1e-9), name


def test_a_run_with_another_voting_model_equals_the_cli_too(cli: pathlib.Path, tmp_path: pathlib.Path) -> None:
    scenario = xinyong.Scenario.load("default").set("world.voting.model", "always_keep")
    run = xinyong.simulate(scenario, seed=3, threads=1, progress=False, **SMALL)
    expected = _cli_metrics(cli, tmp_path / "cli", "--set", "world.voting.model=always_keep")
    assert run.metrics_csv() == expected
    assert run.metrics["expulsions"].sum() == 0, "nobody is expelled when everybody keeps"


def test_write_produces_the_clis_files(run: xinyong.Run, cli: pathlib.Path, tmp_path: pathlib.Path) -> None:
    files = run.write(tmp_path / "py")
    names = sorted(p.name for p in files)
    assert names == ["ledger.parquet", "metrics.csv", "metrics.parquet", "report.html", "summary.json"]
    expected = _cli_metrics(cli, tmp_path / "cli")
    assert (tmp_path / "py" / "metrics.csv").read_text() == expected
    ours = json.loads((tmp_path / "py" / "summary.json").read_text())
    theirs = json.loads((tmp_path / "cli" / "summary.json").read_text())
    for volatile in ("wall_time_seconds", "peak_rss_bytes", "timings"):
        ours.pop(volatile)
        theirs.pop(volatile)
    assert ours == theirs
    # The ledger file and the ledger table hold the same entries.
    on_disk = pd.read_parquet(tmp_path / "py" / "ledger.parquet")
    table = run.ledger
    assert list(table.columns) == list(on_disk.columns)
    assert len(table) == len(on_disk)
    assert (table["cause"].astype(str).to_numpy() == on_disk["cause"].to_numpy()).all()
    for column in table.columns.drop("cause"):
        assert (table[column].to_numpy() == on_disk[column].to_numpy()).all(), column


def test_summary_and_headline_tell_what_happened(run: xinyong.Run) -> None:
    summary = run.summary
    assert summary["seed"] == 3
    assert summary["days"] == SMALL["days"]
    assert summary["citizens"] == SMALL["citizens"]
    assert summary["totals"]["notices"] == run.metrics["notices"].sum()
    assert summary["scenario"]["run"]["citizens"] == SMALL["citizens"]
    assert run.headline == summary["headline"]
    assert run.headline[0].startswith("1,500 citizens in")


def test_the_ledger_folds_to_the_scores(run: xinyong.Run) -> None:
    ledger = run.ledger
    assert set(ledger["cause"].cat.categories) >= {"incident", "vote_expel", "vote_keep"}
    scores = 1000 + ledger.groupby("citizen")["delta"].sum()
    for citizen in scores.index[:20]:
        assert run.citizen(int(citizen))["score"] == scores[citizen]
    # Every tallied answer (+3 expel, -3 keep or silence) is a ledger entry.
    votes = ledger[ledger["cause"].astype(str).str.startswith(("vote_", "abstain_"))]
    metrics = run.metrics
    assert len(votes) == metrics["answers_expel"].sum() + metrics["answers_keep"].sum() + metrics["answers_none"].sum()


def test_incidents_carry_the_groups_answers(run: xinyong.Run) -> None:
    incidents = run.incidents
    tallied = incidents[incidents["tallied"] == 1]
    assert len(tallied) > 0
    assert (tallied["answers_expel"] + tallied["answers_keep"] + tallied["answers_none"] == tallied["notified"]).all()
    ledger = run.ledger
    first = tallied.iloc[0]
    about = ledger[
        (ledger["incident_day"] == first["day"])
        & (ledger["offender"] == first["offender"])
        & (ledger["incident_seq"] == first["incident_seq"])
    ]
    causes = about["cause"].astype(str).value_counts()
    assert causes.get("vote_expel", 0) == first["answers_expel"]
    assert causes.get("vote_keep", 0) == first["answers_keep"]
    assert causes.get("incident", 0) == 1
    assert set(incidents["kind"].cat.categories) >= {"public_drunkenness", "traffic_violation"}


def test_other_formats_hold_the_same_numbers(run: xinyong.Run) -> None:
    frame = run.metrics
    table = run.table("metrics", "pyarrow")
    assert isinstance(table, pa.Table)
    assert table.column_names == list(frame.columns)
    assert table.column("gmv").to_pylist() == frame["gmv"].tolist()
    arrays = run.table("metrics", "numpy")
    assert arrays["orders"].dtype == np.int64 and arrays["orders"].tolist() == frame["orders"].tolist()
    lists = run.table("metrics", "dict")
    assert lists["score_mean"] == frame["score_mean"].tolist()
    ledger = run.table("ledger", "pyarrow")
    assert pa.types.is_dictionary(ledger.schema.field("cause").type)
    assert ledger.column("cause").to_pylist()[:50] == run.ledger["cause"].astype(str).tolist()[:50]
    assert run.table("ledger", "dict")["cause"][:50] == run.ledger["cause"].astype(str).tolist()[:50]
    with pytest.raises(ValueError, match="format"):
        run.table("metrics", "excel")
    with pytest.raises(ValueError, match="no table"):
        run.table("orders")


def test_columns_are_read_in_place_and_read_only(run: xinyong.Run) -> None:
    from xinyong import _xinyong

    columns = dict((name, payload) for name, _, payload in run._handle.metrics())
    buffer = columns["orders"]
    assert isinstance(buffer, _xinyong.Buffer) and buffer.dtype == "int64" and len(buffer) == SMALL["days"]
    view = memoryview(buffer)
    assert view.readonly and view.format == "q" and view.shape == (SMALL["days"],)
    array = np.frombuffer(buffer, dtype=np.int64)
    assert not array.flags.writeable
    del buffer, columns
    assert array.sum() == run.metrics["orders"].sum(), "the array keeps its Rust memory alive"


def test_a_large_run_without_its_ledger_says_how_to_keep_it() -> None:
    scenario = xinyong.Scenario.load("default").set("run.ledger_max_citizens", 1000)
    run = xinyong.simulate(scenario, seed=1, citizens=1200, days=3, progress=False)
    assert not run.ledger_kept
    with pytest.raises(xinyong.LedgerNotKeptError, match="run.ledger_max_citizens"):
        run.ledger
    assert len(run.metrics) == 3


def test_progress_reports_every_day() -> None:
    seen: list[tuple[int, int]] = []
    xinyong.simulate("default", seed=1, citizens=600, days=7, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(d, 7) for d in range(1, 8)]


def test_a_failing_progress_callback_stops_the_run_with_its_error() -> None:
    def broken(done: int, total: int) -> None:
        raise RuntimeError("progress broke")

    with pytest.raises(RuntimeError, match="progress broke"):
        xinyong.simulate("default", seed=1, citizens=600, days=7, progress=broken)


def test_runs_do_not_depend_on_threads() -> None:
    one = xinyong.simulate("default", seed=5, citizens=1200, days=10, threads=1, progress=False)
    two = xinyong.simulate("default", seed=5, citizens=1200, days=10, threads=2, progress=False)
    assert one.metrics_csv() == two.metrics_csv()
    assert math.isfinite(one.wall_time_seconds)
    assert "1,200 citizens" in repr(one)
