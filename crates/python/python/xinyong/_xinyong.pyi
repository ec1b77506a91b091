"""Type stubs of the compiled module ``xinyong._xinyong`` (Rust, PyO3).

The public API is the ``xinyong`` package; this module is its compiled half. Tables leave
it as lists of ``(name, kind, payload)`` columns (see ``xinyong._frames``).
"""

import os
from typing import Any, Callable, Mapping, Sequence, Union, final

__all__ = [
    "Buffer",
    "LedgerNotKeptError",
    "RunHandle",
    "Scenario",
    "ScenarioError",
    "__version__",
    "compare",
    "simulate",
    "sweep",
]

__version__: str

_Column = tuple[str, str, Any]

class ScenarioError(ValueError):
    """A scenario that cannot be used; names the key (and the file and line when known)."""

    key: str | None
    """The dotted key at fault, e.g. ``"world.voting.model"``, or None."""
    origin: str
    """The file (``scenarios/default.toml`` for a preset) or ``"override"`` for a value set
    through ``set()``, a keyword of ``simulate()`` or a sweep."""
    line: int | None
    """1-based line in the file, when known."""
    reason: str
    """What is wrong, without the position."""

class LedgerNotKeptError(RuntimeError):
    """The run kept ledger totals only (its population exceeded run.ledger_max_citizens)."""

@final
class Buffer:
    """A read-only typed column owned by Rust, readable in place through the buffer protocol
    (``memoryview``, ``numpy.frombuffer``, ``pyarrow.py_buffer``)."""

    @property
    def dtype(self) -> str:
        """``"int64"``, ``"float64"`` or ``"uint8"``."""
    def __len__(self) -> int: ...

@final
class Scenario:
    """A scenario: rules (``policy``), synthetic world (``world``) and run settings (``run``).

    Every change re-parses and re-checks the whole scenario exactly like the CLI's ``--set``;
    a bad key or value raises :class:`ScenarioError` naming the key and leaves the scenario
    unchanged."""

    @staticmethod
    def load(path_or_preset: Union[str, os.PathLike[str]]) -> Scenario:
        """A TOML file, or a preset by name when no such file exists."""
    @staticmethod
    def from_toml(text: str, origin: str = "<string>") -> Scenario:
        """Parses scenario text; ``origin`` names it in errors."""
    @staticmethod
    def presets() -> list[str]:
        """The preset names ``load`` accepts."""
    def set(self, key: str, value: Any) -> Scenario:
        """Sets a dotted key (bool, int, float, str read like ``--set``, or a list); returns self."""
    def update(self, values: Mapping[str, Any]) -> Scenario:
        """Sets several keys, all or nothing; returns self."""
    def __setitem__(self, key: str, value: Any, /) -> None: ...
    def __getitem__(self, key: str, /) -> Any:
        """The resolved value of a dotted key (``"run.days"``, ``"policy.tiers[0].name"``)."""
    def __contains__(self, key: str, /) -> bool: ...
    def to_toml(self) -> str:
        """The whole scenario with every default filled in, as TOML."""
    def to_dict(self) -> dict[str, Any]:
        """The whole scenario with every default filled in, as a dict."""
    def copy(self) -> Scenario: ...
    def __copy__(self) -> Scenario: ...
    def __deepcopy__(self, memo: Any, /) -> Scenario: ...
    @property
    def origin(self) -> str:
        """The file it came from (``scenarios/NAME.toml`` for a preset, ``<string>`` for text)."""
    @property
    def overrides(self) -> list[tuple[str, str]]:
        """The keys set so far, in order, as the text ``--set`` would receive."""
    @property
    def name(self) -> str:
        """``run.name``."""
    def __eq__(self, other: object, /) -> bool: ...

@final
class RunHandle:
    """A finished simulation (wrapped by ``xinyong.Run``)."""

    def metrics(self) -> list[_Column]: ...
    def metrics_csv(self) -> str: ...
    @property
    def ledger_kept(self) -> bool: ...
    def ledger(self) -> list[_Column]: ...
    def incidents(self) -> list[_Column]: ...
    def summary_json(self) -> str: ...
    def headline(self) -> list[str]: ...
    def citizen(self, citizen: int) -> dict[str, Any]: ...
    def write(self, dir: Union[str, os.PathLike[str]]) -> list[str]: ...
    @property
    def tier_names(self) -> list[str]: ...
    @property
    def scenario(self) -> Scenario: ...
    @property
    def seed(self) -> int: ...
    @property
    def days(self) -> int: ...
    @property
    def citizens(self) -> int: ...
    @property
    def wall_time_seconds(self) -> float: ...

def simulate(scenario: Scenario, progress: Callable[[int, int], Any] | None = None) -> RunHandle:
    """Runs a scenario with the GIL released; ``progress(days_done, days_total)`` after each day."""

def compare(
    a: Scenario,
    b: Scenario,
    seeds: Sequence[int],
    threads: int | None = None,
    progress: Callable[[], Any] | None = None,
    out: Union[str, os.PathLike[str], None] = None,
) -> list[_Column]:
    """B − A per metric over paired seeds (``xinyong_report::compare_metrics``)."""

def sweep(
    scenario: Scenario,
    vary: Sequence[tuple[str, Sequence[Any]]],
    seeds: Sequence[int],
    threads: int | None = None,
    progress: Callable[[], Any] | None = None,
    out: Union[str, os.PathLike[str], None] = None,
) -> list[_Column]:
    """A grid of runs (``xinyong_sim::experiment::sweep``), as tidy columns."""
