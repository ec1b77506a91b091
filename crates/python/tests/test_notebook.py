"""The example notebook runs: its code cells, in order, on a smaller population."""

from __future__ import annotations

import json
import os
import pathlib

import pytest

from conftest import require

NOTEBOOK = pathlib.Path(__file__).resolve().parents[3] / "examples" / "article.ipynb"


def code_cells(path: pathlib.Path) -> list[str]:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    assert notebook["nbformat"] == 4
    return ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]


def test_the_notebook_is_valid_and_has_no_stored_outputs() -> None:
    require("nbformat")
    import nbformat

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "keep the notebook's outputs empty"


def test_the_notebook_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    # The notebook reads these: a smaller year and fewer seeds keep the test quick.
    monkeypatch.setenv("XINYONG_NOTEBOOK_CITIZENS", "2000")
    monkeypatch.setenv("XINYONG_NOTEBOOK_DAYS", "40")
    monkeypatch.setenv("XINYONG_NOTEBOOK_SEEDS", "2")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__main__"}
    cells = code_cells(NOTEBOOK)
    assert len(cells) >= 8
    for index, source in enumerate(cells):
        exec(compile(source, f"{NOTEBOOK.name}, code cell {index + 1}", "exec"), namespace)
    # The story's pieces exist and say something.
    night = namespace["night"]
    assert night["notified"] > 0  # type: ignore[index]
    about = namespace["about"]
    votes = about[about["cause"].astype(str).str.startswith(("vote_", "abstain_"))]  # type: ignore[index]
    assert len(votes) == night["notified"], "one ledger entry per group-mate asked"  # type: ignore[index]
    assert namespace["year"].days == 40  # type: ignore[attr-defined]
    assert set(namespace["diff"]["metric"]) >= {"expulsions", "travel_banned"}  # type: ignore[index]
    assert os.listdir(tmp_path) == [], "the notebook writes no files"
