"""The type stubs match the compiled module, and the package type-checks strictly."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import tempfile

from conftest import require

CRATE = pathlib.Path(__file__).resolve().parents[1]


def mypy(*args: str) -> subprocess.CompletedProcess[str]:
    require("mypy")
    with tempfile.TemporaryDirectory() as scratch:
        # Run from a scratch folder with a throwaway cache: nothing is written into the tree
        # (stubtest puts its cache in the working directory whatever MYPY_CACHE_DIR says).
        env = {**os.environ, "MYPY_CACHE_DIR": os.path.join(scratch, ".mypy_cache")}
        return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=scratch, env=env)


def test_the_stubs_describe_the_compiled_module() -> None:
    done = mypy("mypy.stubtest", "xinyong._xinyong", "--mypy-config-file", str(CRATE / "pyproject.toml"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_package_type_checks_strictly() -> None:
    done = mypy("mypy", "--config-file", str(CRATE / "pyproject.toml"), "--no-incremental", str(CRATE / "python" / "xinyong"))
    assert done.returncode == 0, done.stdout + done.stderr
