//! Typed columns handed to Python without copying their numbers.
//!
//! A numeric column is a [`Buffer`]: a read-only Python object that owns the Rust vector
//! and exposes it through the buffer protocol (PEP 3118). `numpy.frombuffer`,
//! `memoryview` and `pyarrow.py_buffer` read the vector in place; no byte is copied until
//! a library decides to (pandas does when it groups columns into its blocks).
//!
//! The Python side (`xinyong/_frames.py`) turns a list of columns into a DataFrame, a
//! pyarrow Table, numpy arrays or plain lists. A column travels as a tuple
//! `(name, kind, payload)`: `("day", "int64", Buffer)`, `("gmv", "float64", Buffer)`,
//! `("cause", "category", (Buffer of uint8 codes, [category names]))`, or
//! `("policy.x", "object", [python values])`.

use pyo3::exceptions::PyBufferError;
use pyo3::ffi;
use pyo3::prelude::*;
use std::ffi::{CStr, c_int, c_void};
use std::ptr;
use xinyong_sim::MetricsRow;
use xinyong_sim::metrics::Cell;

/// A column on the Rust side, before it crosses to Python.
pub enum Col {
    Int(String, Vec<i64>),
    Float(String, Vec<f64>),
    /// Codes into a list of category names (at most 256 of them).
    Category(String, Vec<u8>, Vec<String>),
    /// Arbitrary Python values (sweep parameters, as the caller gave them).
    Object(String, Vec<Py<PyAny>>),
}

impl Col {
    pub fn name(&self) -> &str {
        match self {
            Col::Int(n, _) | Col::Float(n, _) | Col::Category(n, ..) | Col::Object(n, _) => n,
        }
    }

    /// A category column from labels, with a fixed list of known categories first (so the
    /// categories of two runs compare equal) and any unknown label appended.
    pub fn category(name: &str, labels: &[&str], known: &[&str]) -> Col {
        let mut categories: Vec<String> = known.iter().map(|s| s.to_string()).collect();
        let mut codes = Vec::with_capacity(labels.len());
        for label in labels {
            let code = match categories.iter().position(|c| c == label) {
                Some(i) => i,
                None => {
                    categories.push(label.to_string());
                    categories.len() - 1
                }
            };
            assert!(code < 256, "a category column has at most 256 categories");
            codes.push(code as u8);
        }
        Col::Category(name.to_string(), codes, categories)
    }

    pub fn into_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let tuple = match self {
            Col::Int(name, v) => (name, "int64", Buffer::new(BufferData::I64(v)).into_pyobject(py)?.into_any()),
            Col::Float(name, v) => (name, "float64", Buffer::new(BufferData::F64(v)).into_pyobject(py)?.into_any()),
            Col::Category(name, codes, categories) => {
                let codes = Buffer::new(BufferData::U8(codes)).into_pyobject(py)?.into_any();
                (name, "category", (codes, categories).into_pyobject(py)?.into_any())
            }
            Col::Object(name, values) => (name, "object", values.into_pyobject(py)?.into_any()),
        };
        Ok(tuple.into_pyobject(py)?.into_any().unbind())
    }
}

/// Converts a table to the Python list of `(name, kind, payload)` tuples.
pub fn table_to_py(py: Python<'_>, columns: Vec<Col>) -> PyResult<Vec<Py<PyAny>>> {
    columns.into_iter().map(|c| c.into_py(py)).collect()
}

/// The metrics of a run, one column per field of `metrics.csv`, in the same order and
/// with the same names. Integers stay integers; floats and money (yuan) are `f64` at full
/// precision (the CSV rounds them to a fixed number of decimals; metrics.parquet does not).
pub fn metrics_columns(rows: &[MetricsRow], tier_names: &[String]) -> Vec<Col> {
    let Some(first) = rows.first() else { return Vec::new() };
    let mut columns: Vec<Col> = first
        .columns(tier_names)
        .into_iter()
        .map(|(name, cell)| match cell {
            Cell::Int(_) => Col::Int(name, Vec::with_capacity(rows.len())),
            Cell::Float(..) | Cell::Money(_) => Col::Float(name, Vec::with_capacity(rows.len())),
        })
        .collect();
    for row in rows {
        let cells = row.columns(tier_names);
        assert_eq!(cells.len(), columns.len(), "every day has the same columns");
        for (column, (_, cell)) in columns.iter_mut().zip(cells) {
            match (column, cell) {
                (Col::Int(_, v), Cell::Int(x)) => v.push(x),
                (Col::Float(_, v), c) => v.push(c.as_f64()),
                _ => unreachable!("a metrics column keeps its type from day to day"),
            }
        }
    }
    columns
}

/// What a buffer holds.
pub enum BufferData {
    I64(Vec<i64>),
    F64(Vec<f64>),
    U8(Vec<u8>),
}

/// A read-only, typed, one-dimensional array owned by Rust and readable in place from
/// Python through the buffer protocol (`memoryview(b)`, `numpy.frombuffer(b, dtype)`,
/// `pyarrow.py_buffer(b)`).
#[pyclass(frozen, module = "xinyong._xinyong")]
pub struct Buffer {
    data: BufferData,
    /// Number of items; the buffer protocol's `shape` points here.
    items: isize,
    /// Bytes per item; the buffer protocol's `strides` points here.
    itemsize: isize,
}

impl Buffer {
    pub fn new(data: BufferData) -> Buffer {
        let (items, itemsize) = match &data {
            BufferData::I64(v) => (v.len(), 8),
            BufferData::F64(v) => (v.len(), 8),
            BufferData::U8(v) => (v.len(), 1),
        };
        Buffer { data, items: items as isize, itemsize }
    }

    fn pointer(&self) -> *const c_void {
        match &self.data {
            BufferData::I64(v) => v.as_ptr().cast(),
            BufferData::F64(v) => v.as_ptr().cast(),
            BufferData::U8(v) => v.as_ptr().cast(),
        }
    }

    fn format(&self) -> &'static CStr {
        match self.data {
            BufferData::I64(_) => c"q",
            BufferData::F64(_) => c"d",
            BufferData::U8(_) => c"B",
        }
    }
}

#[pymethods]
impl Buffer {
    /// The numpy-style type name: "int64", "float64" or "uint8".
    #[getter]
    fn dtype(&self) -> &'static str {
        match self.data {
            BufferData::I64(_) => "int64",
            BufferData::F64(_) => "float64",
            BufferData::U8(_) => "uint8",
        }
    }

    fn __len__(&self) -> usize {
        self.items as usize
    }

    fn __repr__(&self) -> String {
        format!("<xinyong Buffer of {} {}>", self.items, self.dtype())
    }

    /// # Safety
    /// Called by CPython with a valid `view`. Every pointer stored in it points into this
    /// frozen object (data, shape, strides) or to static memory (format), and the view
    /// holds a strong reference to the object (`obj`), so they stay valid as long as the
    /// view does. The data is never written: a writable request is refused.
    unsafe fn __getbuffer__(slf: Bound<'_, Self>, view: *mut ffi::Py_buffer, flags: c_int) -> PyResult<()> {
        if view.is_null() {
            return Err(PyBufferError::new_err("the buffer view is null"));
        }
        if (flags & ffi::PyBUF_WRITABLE) == ffi::PyBUF_WRITABLE {
            return Err(PyBufferError::new_err("xinyong columns are read-only: copy them to modify"));
        }
        let this: &Buffer = slf.get();
        unsafe {
            (*view).buf = this.pointer() as *mut c_void;
            (*view).len = this.items * this.itemsize;
            (*view).readonly = 1;
            (*view).itemsize = this.itemsize;
            (*view).format = if (flags & ffi::PyBUF_FORMAT) == ffi::PyBUF_FORMAT {
                this.format().as_ptr() as *mut _
            } else {
                ptr::null_mut()
            };
            (*view).ndim = 1;
            (*view).shape = if (flags & ffi::PyBUF_ND) == ffi::PyBUF_ND {
                &this.items as *const isize as *mut isize
            } else {
                ptr::null_mut()
            };
            (*view).strides = if (flags & ffi::PyBUF_STRIDES) == ffi::PyBUF_STRIDES {
                &this.itemsize as *const isize as *mut isize
            } else {
                ptr::null_mut()
            };
            (*view).suboffsets = ptr::null_mut();
            (*view).internal = ptr::null_mut();
            (*view).obj = slf.into_any().into_ptr();
        }
        Ok(())
    }

    /// Nothing to release: the view borrowed memory owned by this object.
    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {}
}
