//! `xinyong.Scenario`: a scenario file (or preset) plus overrides, always valid.
//!
//! The object keeps the text it came from, its origin (file name, for errors) and the
//! overrides in order, and re-parses the whole with `xinyong_sim::Scenario::parse` at
//! every change: the same checks, the same error messages and the same result as the
//! CLI's `--scenario FILE --set key=value`.

use crate::presets;
use pyo3::exceptions::{PyKeyError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyList, PyString, PyTuple};
use std::path::PathBuf;
use xinyong_sim::ScenarioError as SimScenarioError;

pyo3::create_exception!(
    _xinyong,
    ScenarioError,
    PyValueError,
    "A scenario that cannot be used. Attributes: `key` (the dotted key, or None), `origin` \
     (the file, or \"override\" for a value given through set(), a keyword of simulate() or \
     a sweep), `line` (1-based line in the file, or None) and `reason` (what is wrong)."
);

/// How an override's origin is shown in Python (the CLI says `--set`).
pub const OVERRIDE_ORIGIN: &str = "override";

/// Converts a scenario error into a `ScenarioError` whose message and attributes name the
/// key (and the file and line when known).
pub fn scenario_error(py: Python<'_>, e: &SimScenarioError) -> PyErr {
    let mut e = e.clone();
    if e.origin == "--set" {
        e.origin = OVERRIDE_ORIGIN.into();
    }
    let err = ScenarioError::new_err(e.to_string());
    let value = err.value(py);
    // Setting attributes on a fresh exception instance cannot fail.
    let _ = value.setattr("key", e.key.clone());
    let _ = value.setattr("origin", e.origin.clone());
    let _ = value.setattr("line", e.line);
    let _ = value.setattr("reason", e.message.clone());
    err
}

/// A `ScenarioError` for a key and message without a file position.
pub fn key_error(py: Python<'_>, origin: &str, key: &str, message: &str) -> PyErr {
    scenario_error(
        py,
        &SimScenarioError { origin: origin.into(), line: None, key: Some(key.into()), message: message.into() },
    )
}

/// A scenario: the rules (`policy`), the synthetic world (`world`) and the run's size,
/// length and seed (`run`).
///
/// Build one with `Scenario.load("default")` (a preset name or a TOML file path) or
/// `Scenario.from_toml(text)`; change any key with `set("world.voting.model",
/// "always_keep")` or `scenario["run.days"] = 30`; read any resolved value with
/// `scenario["policy.sanction.keep_penalty"]`. Every change re-checks the whole scenario,
/// exactly like the CLI's `--set`, and a bad key or value raises `ScenarioError` naming
/// the key, leaving the scenario unchanged.
#[pyclass(module = "xinyong._xinyong")]
#[derive(Clone)]
pub struct Scenario {
    text: String,
    origin: String,
    overrides: Vec<(String, String)>,
    pub parsed: xinyong_sim::Scenario,
}

impl Scenario {
    fn parse(py: Python<'_>, text: String, origin: String, overrides: Vec<(String, String)>) -> PyResult<Scenario> {
        let parsed = xinyong_sim::Scenario::parse(&text, &origin, &overrides).map_err(|e| scenario_error(py, &e))?;
        Ok(Scenario { text, origin, overrides, parsed })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn origin_str(&self) -> &str {
        &self.origin
    }

    pub fn overrides_slice(&self) -> &[(String, String)] {
        &self.overrides
    }

    /// The overrides with `key` set to `value` (replacing an earlier value of that key).
    fn with_override(&self, key: &str, value: String) -> Vec<(String, String)> {
        let mut overrides = self.overrides.clone();
        match overrides.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => overrides.push((key.to_string(), value)),
        }
        overrides
    }

    /// Sets one key (the text form of the value, as `--set` reads it).
    pub fn set_text(&mut self, py: Python<'_>, key: &str, value: String) -> PyResult<()> {
        let key = key.trim();
        let overrides = self.with_override(key, value);
        let parsed =
            xinyong_sim::Scenario::parse(&self.text, &self.origin, &overrides).map_err(|e| scenario_error(py, &e))?;
        self.overrides = overrides;
        self.parsed = parsed;
        Ok(())
    }
}

/// The text `--set key=VALUE` would receive for a Python value.
///
/// bool → `true`/`false`; int → its digits; float → its repr (a TOML float); str → as is
/// (read as TOML when it parses — `"0.5"` is a number — else as a bare string, like the
/// CLI); list or tuple → a TOML array whose strings are quoted.
pub fn override_text(key: &str, value: &Bound<'_, PyAny>) -> PyResult<String> {
    if value.is_instance_of::<PyString>() {
        return value.extract::<String>();
    }
    element_text(key, value)
}

fn element_text(key: &str, value: &Bound<'_, PyAny>) -> PyResult<String> {
    if value.is_instance_of::<PyBool>() {
        return Ok(if value.is_truthy()? { "true" } else { "false" }.into());
    }
    if value.is_instance_of::<PyInt>() {
        return Ok(value.str()?.to_string());
    }
    if value.is_instance_of::<PyFloat>() {
        let f: f64 = value.extract()?;
        return Ok(if f.is_nan() {
            "nan".into()
        } else if f.is_infinite() {
            if f > 0.0 { "inf".into() } else { "-inf".into() }
        } else {
            value.repr()?.to_string()
        });
    }
    if value.is_instance_of::<PyString>() {
        let s: String = value.extract()?;
        return Ok(serde_json::to_string(&s).expect("a string serializes"));
    }
    if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        let items: Vec<String> = value.try_iter()?.map(|item| element_text(key, &item?)).collect::<PyResult<_>>()?;
        return Ok(format!("[{}]", items.join(", ")));
    }
    let type_name = value.get_type().name()?.to_string();
    Err(PyTypeError::new_err(format!(
        "{key}: cannot use a value of type {type_name}; give a bool, int, float, str, or a list of them"
    )))
}

/// Splits `a.b[2].c` into object keys and array indices.
fn path_steps(key: &str) -> Option<Vec<Result<String, usize>>> {
    let mut steps = Vec::new();
    for part in key.split('.') {
        let (name, rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if name.is_empty() {
            return None;
        }
        steps.push(Ok(name.to_string()));
        let mut rest = rest;
        while let Some(inner) = rest.strip_prefix('[') {
            let end = inner.find(']')?;
            steps.push(Err(inner[..end].trim().parse().ok()?));
            rest = &inner[end + 1..];
        }
        if !rest.is_empty() {
            return None;
        }
    }
    Some(steps)
}

#[pymethods]
impl Scenario {
    /// Loads a scenario from a TOML file, or a preset by name when no such file exists
    /// (presets: default, rongcheng, sesame, guangdong, china-scale, no-keep-penalty, denunciation).
    #[staticmethod]
    fn load(py: Python<'_>, path_or_preset: PathBuf) -> PyResult<Scenario> {
        let (text, origin) = if path_or_preset.exists() {
            let text = std::fs::read_to_string(&path_or_preset).map_err(|e| {
                scenario_error(
                    py,
                    &SimScenarioError {
                        origin: path_or_preset.display().to_string(),
                        line: None,
                        key: None,
                        message: format!("cannot read the scenario file: {e}"),
                    },
                )
            })?;
            (text, path_or_preset.display().to_string())
        } else {
            let name = path_or_preset.to_string_lossy().to_string();
            presets::find(&name).ok_or_else(|| {
                scenario_error(
                    py,
                    &SimScenarioError {
                        origin: name.clone(),
                        line: None,
                        key: None,
                        message: format!(
                            "no scenario file of that name and no preset of that name (presets: {})",
                            presets::names().join(", ")
                        ),
                    },
                )
            })?
        };
        Scenario::parse(py, text, origin, Vec::new())
    }

    /// Parses scenario text (TOML). `origin` names it in error messages.
    #[staticmethod]
    #[pyo3(signature = (text, origin = "<string>"))]
    fn from_toml(py: Python<'_>, text: String, origin: &str) -> PyResult<Scenario> {
        Scenario::parse(py, text, origin.to_string(), Vec::new())
    }

    /// The names of the presets `load` accepts.
    #[staticmethod]
    fn presets() -> Vec<&'static str> {
        presets::names()
    }

    /// Sets a key, e.g. `set("policy.sanction.keep_penalty", 0)`. Raises ScenarioError
    /// (naming the key) if the key does not exist or the value is refused; the scenario is
    /// then unchanged. Returns the scenario itself, so calls can be chained.
    fn set<'py>(slf: Bound<'py, Self>, key: &str, value: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
        let text = override_text(key, value)?;
        slf.borrow_mut().set_text(slf.py(), key, text)?;
        Ok(slf)
    }

    /// Sets several keys from a mapping, in order; all or nothing.
    fn update<'py>(slf: Bound<'py, Self>, values: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
        let py = slf.py();
        let mut copy = slf.borrow().clone();
        let items = values.call_method0("items")?;
        for item in items.try_iter()? {
            let (key, value): (String, Bound<'py, PyAny>) = item?.extract()?;
            let text = override_text(&key, &value)?;
            copy.set_text(py, &key, text)?;
        }
        *slf.borrow_mut() = copy;
        Ok(slf)
    }

    fn __setitem__(&mut self, py: Python<'_>, key: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let text = override_text(key, value)?;
        self.set_text(py, key, text)
    }

    /// The resolved value of a key (defaults filled in), e.g. `scenario["run.days"]`,
    /// `scenario["policy.tiers[0].name"]`, or a whole table: `scenario["policy.sanction"]`.
    fn __getitem__<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyAny>> {
        let missing = || PyKeyError::new_err(key.to_string());
        let steps = path_steps(key).ok_or_else(missing)?;
        let root = self.parsed.resolved_json();
        let mut value = &root;
        for step in &steps {
            value = match step {
                Ok(name) => value.get(name.as_str()),
                Err(index) => value.get(*index),
            }
            .ok_or_else(missing)?;
        }
        let text = serde_json::to_string(value).expect("a JSON value serializes");
        py.import("json")?.call_method1("loads", (text,))
    }

    fn __contains__(&self, key: &str) -> bool {
        let Some(steps) = path_steps(key) else { return false };
        let root = self.parsed.resolved_json();
        let mut value = &root;
        for step in &steps {
            match match step {
                Ok(name) => value.get(name.as_str()),
                Err(index) => value.get(*index),
            } {
                Some(v) => value = v,
                None => return false,
            }
        }
        true
    }

    /// The whole scenario as TOML, every default filled in (loads back to an equal scenario).
    fn to_toml(&self) -> String {
        self.parsed.resolved_toml()
    }

    /// The whole scenario as a dict (every default filled in).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let text = serde_json::to_string(&self.parsed.resolved_json()).expect("a scenario serializes");
        py.import("json")?.call_method1("loads", (text,))
    }

    /// An independent copy.
    fn copy(&self) -> Scenario {
        self.clone()
    }

    fn __copy__(&self) -> Scenario {
        self.clone()
    }

    fn __deepcopy__(&self, _memo: &Bound<'_, PyAny>) -> Scenario {
        self.clone()
    }

    /// The file (or `scenarios/NAME.toml` for a preset, `<string>` for text) it came from.
    #[getter]
    fn origin(&self) -> String {
        self.origin.clone()
    }

    /// The keys set so far, in order, as the text `--set` would receive.
    #[getter]
    fn overrides(&self) -> Vec<(String, String)> {
        self.overrides.clone()
    }

    /// The scenario's short name (`run.name`).
    #[getter]
    fn name(&self) -> String {
        self.parsed.run.name.clone()
    }

    fn __eq__(&self, other: PyRef<'_, Scenario>) -> bool {
        self.parsed == other.parsed
    }

    fn __repr__(&self) -> String {
        let r = &self.parsed.run;
        let mut text = format!(
            "Scenario({:?} from {}: {} citizens, {} days, seed {}",
            r.name, self.origin, r.citizens, r.days, r.seed
        );
        if !self.overrides.is_empty() {
            let sets: Vec<String> = self.overrides.iter().map(|(k, v)| format!("{k}={v}")).collect();
            text.push_str(&format!("; set {}", sets.join(", ")));
        }
        text.push(')');
        text
    }
}
