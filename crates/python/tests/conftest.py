"""Shared fixtures: the repository root and the `xinyong` CLI built from the same sources."""

from __future__ import annotations

import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]

# Small enough to run in a fraction of a second, large enough for several groups,
# incidents, votes, expulsions and pools.
SMALL = {"citizens": 1_500, "days": 25}


def _cli_candidates() -> list[pathlib.Path]:
    if os.environ.get("XINYONG_BIN"):
        return [pathlib.Path(os.environ["XINYONG_BIN"])]
    return [REPO / "target" / "release" / "xinyong", REPO / "target" / "debug" / "xinyong"]


@pytest.fixture(scope="session")
def repo() -> pathlib.Path:
    return REPO


@pytest.fixture(scope="session")
def cli() -> pathlib.Path:
    """The `xinyong` binary (XINYONG_BIN, else target/release, else target/debug).

    scripts/test-python.sh builds it first; with CI set, a missing binary fails the test
    instead of skipping it."""
    for candidate in _cli_candidates():
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    message = "the xinyong CLI is not built (cargo build -p xinyong, or set XINYONG_BIN)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def require(module: str) -> None:
    """Skips a test whose optional tool is missing, except in CI, where it fails."""
    try:
        __import__(module)
    except ImportError:
        message = f"{module} is not installed (scripts/test-python.sh installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def run_cli(cli: pathlib.Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Runs the CLI from the repository root; fails the test with its stderr if it fails."""
    done = subprocess.run([str(cli), *args], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, f"xinyong {' '.join(args)} failed:\n{done.stderr}"
    return done
