"""xinyong in Python: the social-commerce social-credit simulator, at Rust speed.

xinyong runs the system described in L'ADN's article « En Chine, les internautes
pourraient dénoncer les "mauvais" citoyens contre des bons de réduction »: people grouped
by interest buy together, and when a camera flags one of them, the next day every
group-mate must expel them (+3 points) or keep them (−3 points).

>>> import xinyong
>>> scenario = xinyong.Scenario.load("default")          # a preset, or a TOML file path
>>> scenario.set("world.voting.model", "always_keep")    # any key, checked like --set
>>> run = xinyong.simulate(scenario, seed=1, citizens=2_000, days=30)
>>> run.metrics            # one row per day (pandas DataFrame when pandas is installed)
>>> run.ledger             # every score change and its cause (small runs)
>>> run.summary["totals"]["expulsions"]
>>> xinyong.compare("default", "no-keep-penalty", seeds=10)   # B − A with 95 % intervals
>>> xinyong.sweep("default", vary={"policy.sanction.keep_penalty": [0, 3, 6]}, seeds=3)

Tables are pandas DataFrames when pandas is installed, else pyarrow Tables, else dicts
of numpy arrays, else dicts of lists; ``format=`` picks one explicitly. Runs release the
GIL; a tqdm progress bar shows when tqdm is installed (``progress=False`` hides it).
The same scenario and seed give exactly the numbers of ``xinyong simulate``.
See docs/python.md.
"""

from __future__ import annotations

import json
import os
import pathlib
import threading
from typing import Any, Callable, Iterable, Mapping, Sequence, Union

from . import _frames
from ._xinyong import (
    LedgerNotKeptError,
    Scenario,
    ScenarioError,
    __version__,
)
from . import _xinyong

__all__ = [
    "LedgerNotKeptError",
    "Run",
    "Scenario",
    "ScenarioError",
    "compare",
    "presets",
    "simulate",
    "sweep",
    "__version__",
]

ScenarioLike = Union[Scenario, str, "os.PathLike[str]"]
"""A Scenario, or what ``Scenario.load`` accepts: a preset name or a TOML file path."""

Progress = Union[bool, Callable[[int, int], None]]
"""True: a tqdm bar when tqdm is installed; False: nothing; a callable: ``f(done, total)``."""


def presets() -> list[str]:
    """The names of the scenario presets shipped with xinyong."""
    return list(Scenario.presets())


def _scenario(value: ScenarioLike, what: str = "scenario") -> Scenario:
    if isinstance(value, Scenario):
        return value.copy()
    if isinstance(value, (str, os.PathLike)):
        return Scenario.load(value)
    raise TypeError(f"{what}: expected a xinyong.Scenario, a preset name or a file path; got {type(value).__name__}")


def _with_run_keys(scenario: Scenario, **values: Any) -> Scenario:
    """Applies keyword shortcuts (seed=, days=, …) as `run.*` overrides, like the CLI's flags."""
    for key, value in values.items():
        if value is not None:
            scenario.set(f"run.{key}", value)
    return scenario


class _Bar:
    """A progress reporter: a tqdm bar, a user callable, or nothing."""

    def __init__(self, progress: Progress, total: int, unit: str, description: str) -> None:
        self.callback: Callable[[int, int], None] | None = None
        self.bar: Any = None
        self.total = total
        self.done = 0
        self.lock = threading.Lock()
        if callable(progress):
            self.callback = progress
        elif progress:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                return
            # `delay`: quick runs (under a second) leave no bar behind.
            self.bar = tqdm(total=total, unit=unit, desc=description, delay=0.5, leave=False)

    @property
    def active(self) -> bool:
        return self.callback is not None or self.bar is not None

    def to(self, done: int, total: int) -> None:
        """Progress reached `done` of `total` (simulate: days)."""
        self.done = done
        if self.bar is not None:
            self.bar.update(done - self.bar.n)
        if self.callback is not None:
            self.callback(done, total)

    def step(self) -> None:
        """One more unit done (compare, sweep: runs; called from worker threads)."""
        with self.lock:
            self.done += 1
            done = self.done
        if self.bar is not None:
            self.bar.update(1)
        if self.callback is not None:
            self.callback(done, self.total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class Run:
    """A finished simulation.

    Tables (``metrics``, ``ledger``, ``incidents``) come in the run's ``format`` (by default
    a pandas DataFrame when pandas is installed); ``table(name, format)`` asks for another.
    """

    def __init__(self, handle: _xinyong.RunHandle, format: str = "auto") -> None:
        self._handle = handle
        self._format = _frames.resolve_format(format)
        self._cache: dict[str, Any] = {}

    def table(self, name: str, format: str | None = None) -> Any:
        """``"metrics"``, ``"ledger"`` or ``"incidents"`` as a DataFrame, pyarrow Table,
        dict of numpy arrays or dict of lists (``format``: ``"pandas"``, ``"pyarrow"``,
        ``"numpy"``, ``"dict"``; default: the run's format)."""
        sources: dict[str, Callable[[], Any]] = {
            "metrics": self._handle.metrics,
            "ledger": self._handle.ledger,
            "incidents": self._handle.incidents,
        }
        if name not in sources:
            raise ValueError(f"no table {name!r}; tables: {', '.join(sources)}")
        return _frames.to_frame(sources[name](), format or self._format)

    def _cached(self, name: str) -> Any:
        if name not in self._cache:
            self._cache[name] = self.table(name)
        return self._cache[name]

    @property
    def metrics(self) -> Any:
        """One row per day: the columns of the CLI's ``metrics.csv`` in the same order.

        Integers are int64; floats and money (yuan) are float64 at full precision (the CSV
        prints them rounded to fixed decimals, like ``metrics.parquet`` does not)."""
        return self._cached("metrics")

    @property
    def ledger(self) -> Any:
        """Every score change of the run and its cause, as in ``ledger.parquet``: ``day``,
        ``citizen``, ``delta`` (applied), ``requested``, ``cause`` (incident, vote_expel,
        vote_keep, abstain_counted_keep, abstain_counted_expel, appeal_granted), the incident
        behind it (``incident_day``, ``offender``, ``incident_seq``) and
        ``incident_was_false`` (1 when the camera flagged an innocent person).

        Raises LedgerNotKeptError when the population exceeded ``run.ledger_max_citizens``
        (the run then kept totals only)."""
        return self._cached("ledger")

    @property
    def incidents(self) -> Any:
        """The incidents the engine still held at the end of the run, one row each, with the
        group's answers: ``day`` (reported), ``offender``, ``incident_seq``, ``kind``,
        ``happened_day``, ``group`` (−1: groupless), ``penalty``, ``was_false``, ``tallied``,
        ``notified``, ``answers_expel``, ``answers_keep``, ``answers_none``, ``expelled``,
        ``appeal``.

        The engine forgets an incident once nothing can refer to it any more (after the
        appeal window, ``policy.appeals.window_days`` days); for a longer run this table
        holds the last weeks only. The ledger keeps every vote."""
        return self._cached("incidents")

    @property
    def summary(self) -> dict[str, Any]:
        """The CLI's ``summary.json`` as a dict: totals, final tiers, pool tiers reached,
        real-world reference figures, the resolved scenario and the headline."""
        if "summary" not in self._cache:
            self._cache["summary"] = json.loads(self._handle.summary_json())
        return self._cache["summary"]  # type: ignore[no-any-return]

    @property
    def headline(self) -> list[str]:
        """What happened, in plain words (what ``xinyong simulate`` prints)."""
        return list(self._handle.headline())

    def metrics_csv(self) -> str:
        """The run's ``metrics.csv`` text, byte for byte as ``xinyong simulate`` writes it."""
        return self._handle.metrics_csv()

    def citizen(self, citizen: int) -> dict[str, Any]:
        """A citizen's state at the end of the run: score, tier, restrictions, group (None
        when groupless), group_size, regroup_day, travel_score_needed."""
        return self._handle.citizen(citizen)

    def write(self, directory: str | os.PathLike[str]) -> list[pathlib.Path]:
        """Writes the files ``xinyong simulate`` writes (metrics.csv, metrics.parquet,
        ledger.parquet when kept, summary.json, report.html) into ``directory``."""
        return [pathlib.Path(p) for p in self._handle.write(os.fspath(directory))]

    @property
    def scenario(self) -> Scenario:
        """The scenario that was run (a copy)."""
        return self._handle.scenario

    @property
    def seed(self) -> int:
        return self._handle.seed

    @property
    def days(self) -> int:
        """Days simulated."""
        return self._handle.days

    @property
    def citizens(self) -> int:
        return self._handle.citizens

    @property
    def tier_names(self) -> list[str]:
        """The credit tiers, highest first (the ``tier_*`` metrics columns)."""
        return list(self._handle.tier_names)

    @property
    def ledger_kept(self) -> bool:
        """Whether every ledger entry was kept (see ``ledger``)."""
        return self._handle.ledger_kept

    @property
    def wall_time_seconds(self) -> float:
        return self._handle.wall_time_seconds

    def __repr__(self) -> str:
        return (
            f"<xinyong.Run {self.scenario.name!r}: {self.citizens:,} citizens, {self.days} days, "
            f"seed {self.seed}, {self.wall_time_seconds:.1f} s>"
        )


def simulate(
    scenario: ScenarioLike,
    *,
    seed: int | None = None,
    days: int | None = None,
    citizens: int | None = None,
    threads: int | None = None,
    progress: Progress = True,
    format: str = "auto",
) -> Run:
    """Runs one simulation and returns its :class:`Run`.

    ``seed``, ``days``, ``citizens`` and ``threads`` override ``run.*`` keys like the CLI's
    flags (results never depend on ``threads``). The GIL is released while the simulation
    runs, so other Python threads keep going; Ctrl-C (KeyboardInterrupt) stops it between
    two days. ``format`` sets the kind of table the run returns (see :meth:`Run.table`)."""
    s = _with_run_keys(_scenario(scenario), seed=seed, days=days, citizens=citizens, threads=threads)
    days_total = int(s["run.days"])
    bar = _Bar(progress, days_total, "day", f"{s.name} seed {s['run.seed']}")
    try:
        handle = _xinyong.simulate(s, bar.to if bar.active else None)
    finally:
        bar.close()
    return Run(handle, format)


def _seeds(seeds: int | Iterable[int], first: int) -> list[int]:
    if isinstance(seeds, bool):
        raise TypeError("seeds: give a count or a list of seeds")
    if isinstance(seeds, int):
        if seeds < 1:
            raise ValueError("seeds: at least one seed")
        return [first + i for i in range(seeds)]
    out = [int(s) for s in seeds]
    if not out:
        raise ValueError("seeds: at least one seed")
    return out


def compare(
    a: ScenarioLike,
    b: ScenarioLike,
    seeds: int | Iterable[int] = 10,
    *,
    days: int | None = None,
    citizens: int | None = None,
    threads: int | None = None,
    progress: Progress = True,
    out: str | os.PathLike[str] | None = None,
    format: str = "auto",
) -> Any:
    """Policy A against policy B on the same seeds (common random numbers), as
    ``xinyong compare`` does it.

    Returns one row per metric: ``metric``, ``kind`` (flow: the run's total; stock: its last
    day), ``mean_a``, ``mean_b``, ``mean_difference`` (mean over seeds of B − A),
    ``ci95_low``, ``ci95_high`` (Student-t 95 % interval of that mean; NaN with one seed)
    and ``n`` (seed pairs). ``seeds``: a count (starting at A's ``run.seed``, like the CLI)
    or a list of seeds. ``days``/``citizens`` override both scenarios. Runs go in parallel
    on ``threads`` workers (default: one per core); ``out`` also writes compare.csv and
    compare.html there."""
    sa = _with_run_keys(_scenario(a, "a"), days=days, citizens=citizens)
    sb = _with_run_keys(_scenario(b, "b"), days=days, citizens=citizens)
    seed_list = _seeds(seeds, int(sa["run.seed"]))
    bar = _Bar(progress, 2 * len(seed_list), "run", f"compare {sa.name} vs {sb.name}")
    try:
        columns = _xinyong.compare(
            sa, sb, seed_list, threads, bar.step if bar.active else None, None if out is None else os.fspath(out)
        )
    finally:
        bar.close()
    return _frames.to_frame(columns, format)


def sweep(
    scenario: ScenarioLike,
    vary: Mapping[str, Sequence[Any]],
    seeds: int | Iterable[int] = 3,
    *,
    days: int | None = None,
    citizens: int | None = None,
    threads: int | None = None,
    progress: Progress = True,
    out: str | os.PathLike[str] | None = None,
    format: str = "auto",
) -> Any:
    """A grid of runs: every combination of the ``vary`` values (first key slowest), each
    with every seed, in parallel, as ``xinyong sweep`` does it.

    ``vary`` maps dotted keys to lists of values, e.g.
    ``{"policy.sanction.keep_penalty": [0, 3, 6]}``. Returns a tidy table, one row per run
    and day: one column per varied key (holding the values as given), ``seed``, then the
    metrics columns. ``seeds``: a count (from the scenario's ``run.seed``) or a list.
    ``out`` also writes sweep.csv and sweep.html there."""
    s = _with_run_keys(_scenario(scenario), days=days, citizens=citizens)
    if not isinstance(vary, Mapping):
        raise TypeError("vary: a mapping of dotted keys to lists of values")
    grid: list[tuple[str, list[Any]]] = []
    for key, values in vary.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            values = [values]
        grid.append((key, list(values)))
    seed_list = _seeds(seeds, int(s["run.seed"]))
    runs = len(seed_list)
    for _, values in grid:
        runs *= len(values)
    bar = _Bar(progress, runs, "run", f"sweep {s.name}")
    try:
        columns = _xinyong.sweep(
            s, grid, seed_list, threads, bar.step if bar.active else None, None if out is None else os.fspath(out)
        )
    finally:
        bar.close()
    return _frames.to_frame(columns, format)
