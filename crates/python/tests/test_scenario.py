"""Scenarios: presets, files, keys set like the CLI's --set, and errors that name the key."""

from __future__ import annotations

import copy
import pathlib

import pytest

import xinyong


def test_every_preset_of_the_cli_loads_by_name(repo: pathlib.Path) -> None:
    shipped = sorted(p.stem for p in (repo / "scenarios").glob("*.toml"))
    assert sorted(xinyong.presets()) == shipped, "the package embeds every file of scenarios/"
    for name in shipped:
        by_name = xinyong.Scenario.load(name)
        by_path = xinyong.Scenario.load(repo / "scenarios" / f"{name}.toml")
        assert by_name == by_path
        assert by_name.origin == f"scenarios/{name}.toml"


def test_the_default_preset_has_the_articles_numbers() -> None:
    s = xinyong.Scenario.load("default")
    assert s["policy.sanction.expel_reward"] == 3
    assert s["policy.sanction.keep_penalty"] == 3
    assert s["policy.groups.min_size"] == 200 and s["policy.groups.max_size"] == 300
    assert s["policy.tiers[0].name"] == "AAA"
    assert s["policy.tiers"][-1]["restrictions"] == ["travel"]
    assert "world.voting.model" in s and "world.voting.nope" not in s
    with pytest.raises(KeyError):
        s["world.voting.nope"]


def test_set_takes_python_values_with_the_clis_meaning() -> None:
    s = xinyong.Scenario.load("default")
    returned = s.set("world.voting.model", "always_keep")
    assert returned is s, "set returns the scenario, for chaining"
    s.set("policy.sanction.keep_penalty", 0).set("policy.sanction.expel_quorum", 0.75)
    s["run.days"] = 12
    s.set("world.commerce.enabled", False)
    assert s["world.voting.model"] == "always_keep"
    assert s["policy.sanction.keep_penalty"] == 0
    assert s["policy.sanction.expel_quorum"] == 0.75
    assert s["run.days"] == 12
    assert s["world.commerce.enabled"] is False
    # A string is read exactly like `--set key=VALUE`: TOML when it parses.
    s.set("run.citizens", "2000")
    assert s["run.citizens"] == 2000
    # Setting a key again replaces its earlier value.
    s.set("run.days", 13)
    assert [k for k, _ in s.overrides].count("run.days") == 1 and s["run.days"] == 13


def test_the_same_text_and_overrides_give_the_same_scenario_as_the_cli_parser() -> None:
    s = xinyong.Scenario.load("default").update({"run.citizens": 3000, "world.voting.model": "always_expel"})
    assert s.overrides == [("run.citizens", "3000"), ("world.voting.model", "always_expel")]
    again = xinyong.Scenario.from_toml(s.to_toml(), "resolved.toml")
    assert again == s, "the resolved TOML loads back to an equal scenario"
    assert s.to_dict()["run"]["citizens"] == 3000


def test_an_unknown_key_raises_a_scenario_error_naming_it() -> None:
    s = xinyong.Scenario.load("default")
    with pytest.raises(xinyong.ScenarioError) as caught:
        s.set("world.voting.modle", "always_keep")
    err = caught.value
    assert isinstance(err, ValueError)
    assert err.key == "world.voting.modle"
    assert "world.voting.modle" in str(err)
    assert "modle" in err.reason
    assert err.origin == "override"
    assert s.overrides == [], "a refused change leaves the scenario unchanged"


def test_a_bad_value_names_the_key() -> None:
    s = xinyong.Scenario.load("default")
    with pytest.raises(xinyong.ScenarioError) as caught:
        s.set("policy.groups.min_size", 400)
    assert caught.value.key == "policy.groups.min_size"
    assert "larger than max_size" in str(caught.value)
    with pytest.raises(xinyong.ScenarioError) as caught:
        s.set("run.days", 0)
    assert caught.value.key == "run.days"
    with pytest.raises(xinyong.ScenarioError) as caught:
        s.set("world.voting.model", "sometimes")
    assert caught.value.key == "world.voting.model"
    with pytest.raises(TypeError, match="run.days"):
        s.set("run.days", object())
    assert s == xinyong.Scenario.load("default")


def test_a_bad_file_names_the_file_line_and_key(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[run]\nseed = 1\n\n[policy.groups]\nmin_size = 400\nmax_size = 300\n")
    with pytest.raises(xinyong.ScenarioError) as caught:
        xinyong.Scenario.load(path)
    err = caught.value
    assert err.origin == str(path)
    assert err.line == 5
    assert err.key == "policy.groups.min_size"
    assert str(err).startswith(f"{path}:5: policy.groups.min_size: 400 is larger than max_size")


def test_an_unknown_key_in_text_names_its_line() -> None:
    with pytest.raises(xinyong.ScenarioError) as caught:
        xinyong.Scenario.from_toml('[world.voting]\nmodle = "always_keep"\n', "mine.toml")
    assert caught.value.line == 2
    assert caught.value.key == "world.voting.modle"
    assert str(caught.value).startswith("mine.toml:2: world.voting.modle")


def test_an_unknown_preset_lists_the_presets() -> None:
    with pytest.raises(xinyong.ScenarioError, match="presets: default, rongcheng"):
        xinyong.Scenario.load("no-such-scenario")


def test_simulate_keywords_are_checked_like_keys() -> None:
    with pytest.raises(xinyong.ScenarioError) as caught:
        xinyong.simulate("default", citizens=0, progress=False)
    assert caught.value.key == "run.citizens"
    with pytest.raises(xinyong.ScenarioError) as caught:
        xinyong.simulate("default", seed=-1, progress=False)
    assert caught.value.key == "run.seed"


def test_copies_are_independent() -> None:
    a = xinyong.Scenario.load("default")
    b = a.copy().set("run.days", 5)
    c = copy.deepcopy(a)
    assert a["run.days"] == 365 and b["run.days"] == 5 and c == a
    assert "run.days=5" in repr(b)
