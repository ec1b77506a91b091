"""Columns from the compiled module → pandas DataFrame, pyarrow Table, numpy arrays or lists.

A column arrives as ``(name, kind, payload)``:

* ``"int64"`` / ``"float64"``: payload is a :class:`xinyong._xinyong.Buffer`, a read-only
  Rust vector exposed through the buffer protocol;
* ``"category"``: payload is ``(Buffer of uint8 codes, [category names])``;
* ``"object"``: payload is a list of Python values.

What is copied: numpy arrays made here (``numpy.frombuffer``) and pyarrow arrays
(``pyarrow.py_buffer``) read the Rust memory in place; pandas copies once when it gathers
columns of one dtype into its internal blocks; ``"dict"`` without numpy builds lists.
"""

from __future__ import annotations

import importlib.util
from typing import Any, Sequence

FORMATS = ("auto", "pandas", "pyarrow", "numpy", "dict")


def _available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def resolve_format(format: str) -> str:
    """The concrete format for ``format`` (``"auto"``: pandas, else pyarrow, else numpy, else dict)."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {format!r}")
    if format != "auto":
        return format
    for candidate in ("pandas", "pyarrow", "numpy"):
        if _available(candidate):
            return candidate
    return "dict"


def _numpy_column(kind: str, payload: Any) -> Any:
    import numpy as np

    if kind in ("int64", "float64"):
        return np.frombuffer(payload, dtype=kind)
    if kind == "category":
        codes, categories = payload
        names = np.array(categories, dtype=object)
        return names[np.frombuffer(codes, dtype=np.uint8)]
    return np.array(payload, dtype=object) if _has_strings(payload) else np.array(payload)


def _has_strings(values: Sequence[Any]) -> bool:
    return any(isinstance(v, str) for v in values)


def _list_column(kind: str, payload: Any) -> list[Any]:
    if kind in ("int64", "float64"):
        return memoryview(payload).tolist()
    if kind == "category":
        codes, categories = payload
        return [categories[c] for c in memoryview(codes).tolist()]
    return list(payload)


def _pandas(columns: Sequence[tuple[str, str, Any]]) -> Any:
    import numpy as np
    import pandas as pd

    data: dict[str, Any] = {}
    for name, kind, payload in columns:
        if kind == "category":
            codes, categories = payload
            data[name] = pd.Categorical.from_codes(
                np.frombuffer(codes, dtype=np.uint8).astype(np.int16), categories=list(categories)
            )
        elif kind == "object":
            data[name] = list(payload)
        else:
            data[name] = np.frombuffer(payload, dtype=kind)
    return pd.DataFrame(data)


def _pyarrow(columns: Sequence[tuple[str, str, Any]]) -> Any:
    import pyarrow as pa

    arrays = []
    names = []
    for name, kind, payload in columns:
        if kind in ("int64", "float64"):
            type_ = pa.int64() if kind == "int64" else pa.float64()
            array = pa.Array.from_buffers(type_, len(payload), [None, pa.py_buffer(payload)])
        elif kind == "category":
            codes, categories = payload
            indices = pa.Array.from_buffers(pa.uint8(), len(codes), [None, pa.py_buffer(codes)])
            array = pa.DictionaryArray.from_arrays(indices, pa.array(list(categories), type=pa.string()))
        else:
            array = pa.array(list(payload))
        arrays.append(array)
        names.append(name)
    return pa.Table.from_arrays(arrays, names=names)


def to_frame(columns: Sequence[tuple[str, str, Any]], format: str = "auto") -> Any:
    """Builds the requested kind of table from compiled-module columns."""
    format = resolve_format(format)
    if format == "pandas":
        return _pandas(columns)
    if format == "pyarrow":
        return _pyarrow(columns)
    if format == "numpy":
        return {name: _numpy_column(kind, payload) for name, kind, payload in columns}
    return {name: _list_column(kind, payload) for name, kind, payload in columns}
