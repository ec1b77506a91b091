//! Scenario files: `[run]`, `[policy]` (the engine's rules) and `[world]` (what the
//! simulation assumes about people), in TOML.
//!
//! Every key has a default, every value is checked, and an error names the file, the
//! line and the key: `scenarios/x.toml:14: policy.groups.min_size: 400 is larger than
//! max_size (300)`. `--set key.path=value` overrides any key before checking, so an
//! unknown key is refused whether it comes from a file or the command line.

use crate::world::WorldConfig;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;
use xinyong_engine::{Policy, Rules};

/// How the run goes: size, length, seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    /// A short name, used in the default output folder `runs/<name>-<seed>/`.
    pub name: String,
    pub seed: u64,
    pub days: u32,
    pub citizens: u32,
    /// Keep every ledger entry (and write `ledger.parquet`) up to this many citizens.
    pub ledger_max_citizens: u32,
    /// Worker threads (0: one per core).
    pub threads: u32,
    /// Calendar day-of-year of simulated day 0 (0 = 1 January), for campaign days.
    pub start_day_of_year: u32,
    /// A live game's day (`xinyong serve --scenario`), e.g. "5m": the day clock's period
    /// unless `--day-length` is given. `simulate` ignores it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day_length: Option<String>,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            name: "default".into(),
            seed: 1,
            days: 365,
            citizens: 100_000,
            ledger_max_citizens: 250_000,
            threads: 0,
            start_day_of_year: 0,
            day_length: None,
        }
    }
}

/// A whole scenario.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scenario {
    pub run: RunConfig,
    pub policy: Policy,
    pub world: WorldConfig,
}

/// A scenario that cannot be used: where and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError {
    /// File name, or "--set" for an override.
    pub origin: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// Dotted key, when known.
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.origin)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": ")?;
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        write!(f, "{}", self.message)
    }
}

/// Largest population and run length a scenario may ask for.
pub const CITIZENS_MAX: u32 = 2_000_000_000;
pub const DAYS_MAX: u32 = 36_500;

impl Scenario {
    /// Reads and checks a scenario file, applying `overrides` (`key.path`, `value`) first.
    pub fn load(path: &Path, overrides: &[(String, String)]) -> Result<Scenario, ScenarioError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            origin: origin.clone(),
            line: None,
            key: None,
            message: format!("cannot read the scenario file: {e}"),
        })?;
        Scenario::parse(&text, &origin, overrides)
    }

    /// Parses and checks scenario text.
    pub fn parse(text: &str, origin: &str, overrides: &[(String, String)]) -> Result<Scenario, ScenarioError> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| toml_error(e, text, origin))?;
        for (key, value) in overrides {
            apply_override(&mut table, key, value).map_err(|message| ScenarioError {
                origin: "--set".into(),
                line: None,
                key: Some(key.clone()),
                message,
            })?;
        }
        let scenario: Scenario = if overrides.is_empty() {
            toml::from_str(text).map_err(|e| toml_error(e, text, origin))?
        } else {
            // Re-serialize with the overrides in; errors then cannot point at file lines
            // reliably, so they name the key only.
            let merged = toml::to_string(&table).expect("a TOML table serializes");
            toml::from_str(&merged).map_err(|e| {
                let mut err = toml_error(e, &merged, origin);
                let key = err.key.clone();
                if key.as_deref().is_some_and(|k| overrides.iter().any(|(o, _)| o == k)) {
                    // The offending key came from the command line, not from the file.
                    err.origin = "--set".into();
                    err.line = None;
                } else {
                    err.line = key.as_deref().and_then(|k| key_line(text, k));
                }
                err
            })?
        };
        scenario.check().map_err(|(key, message)| ScenarioError {
            origin: origin.into(),
            line: key_line(text, &key),
            key: Some(key),
            message,
        })?;
        Ok(scenario)
    }

    /// Checks every value; returns the offending key and why.
    pub fn check(&self) -> Result<Rules, (String, String)> {
        let rules = self.policy.validate().map_err(|e| (e.key, e.message))?;
        let r = &self.run;
        if r.citizens == 0 || r.citizens > CITIZENS_MAX {
            return Err(("run.citizens".into(), format!("must be between 1 and {CITIZENS_MAX}")));
        }
        if r.days == 0 || r.days > DAYS_MAX {
            return Err(("run.days".into(), format!("must be between 1 and {DAYS_MAX}")));
        }
        if r.threads > 1024 {
            return Err(("run.threads".into(), "at most 1024".into()));
        }
        if r.start_day_of_year > 365 {
            return Err(("run.start_day_of_year".into(), "is a day of the year, 0 to 365".into()));
        }
        if r.name.is_empty() || !r.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(("run.name".into(), "use letters, digits, - and _ (it names the output folder)".into()));
        }
        self.world.check(&self.policy).map_err(|(k, m)| (format!("world.{k}"), m))?;
        Ok(rules)
    }

    /// The scenario with every default filled in, as TOML.
    pub fn resolved_toml(&self) -> String {
        toml::to_string(self).expect("a scenario serializes")
    }

    /// The scenario with every default filled in, as JSON (for summary.json).
    pub fn resolved_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a scenario serializes")
    }
}

fn toml_error(e: toml::de::Error, text: &str, origin: &str) -> ScenarioError {
    let line = e.span().map(|span| line_of(text, span.start));
    let message = e.message().to_string();
    // serde names unknown keys as "unknown field `x`"; the span tells the line, and the
    // enclosing table header gives the dotted key.
    let key = line.and_then(|l| dotted_key_at_line(text, l));
    ScenarioError { origin: origin.into(), line, key, message }
}

fn line_of(text: &str, byte: usize) -> usize {
    text[..byte.min(text.len())].bytes().filter(|&b| b == b'\n').count() + 1
}

/// Applies `key.path = value` to a TOML table. The value is read as TOML (numbers,
/// booleans, strings in quotes, arrays); a bare word is taken as a string.
pub fn apply_override(table: &mut toml::Table, key: &str, value: &str) -> Result<(), String> {
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err("a key is a dotted path like policy.sanction.keep_penalty".into());
    }
    let parsed: toml::Value = match format!("v = {value}").parse::<toml::Table>() {
        Ok(mut t) => t.remove("v").expect("parsed key"),
        Err(_) => toml::Value::String(value.to_string()),
    };
    let mut current = table;
    for part in &parts[..parts.len() - 1] {
        let entry = current.entry(part.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = match entry {
            toml::Value::Table(t) => t,
            _ => return Err(format!("{part} is a value, not a table")),
        };
    }
    current.insert(parts[parts.len() - 1].to_string(), parsed);
    Ok(())
}

/// Splits `policy.tiers[2].min_score` into (`policy.tiers`, 2) / `min_score` pieces.
fn split_key(key: &str) -> Vec<(String, Option<usize>)> {
    key.split('.')
        .map(|part| match part.find('[') {
            Some(i) => (part[..i].to_string(), part[i + 1..part.len() - 1].parse().ok()),
            None => (part.to_string(), None),
        })
        .collect()
}

/// Finds the line where a dotted key is set, for keys in `[table]` / `[[array]]`
/// sections and `key = value` lines (the shape of our scenario files). When the key
/// itself is absent (a default was used), points at its table's header if present.
pub fn key_line(text: &str, key: &str) -> Option<usize> {
    let parts = split_key(key);
    let (leaf, _) = parts.last()?.clone();
    // The table path is everything but the leaf; array indices select the n-th header.
    let table_parts = &parts[..parts.len() - 1];
    let table_path: Vec<&str> = table_parts.iter().map(|(n, _)| n.as_str()).collect();
    let index = table_parts.last().and_then(|(_, i)| *i);
    let mut current: Vec<String>;
    let mut header_line = None;
    let mut occurrences = 0usize;
    let mut in_target = false;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if let Some(h) = line.strip_prefix("[[").and_then(|l| l.split("]]").next()) {
            current = h.trim().split('.').map(|s| s.trim().to_string()).collect();
            in_target = current == table_path;
            if in_target {
                in_target = index.is_none_or(|i| i == occurrences);
                if in_target {
                    header_line = Some(n + 1);
                }
                occurrences += 1;
            }
            continue;
        }
        if let Some(h) = line.strip_prefix('[').and_then(|l| l.split(']').next()) {
            current = h.trim().split('.').map(|s| s.trim().to_string()).collect();
            in_target = current == table_path && index.is_none();
            if in_target {
                header_line = Some(n + 1);
            }
            continue;
        }
        if in_target
            && let Some((k, _)) = line.split_once('=')
            && k.trim().trim_matches('"') == leaf
        {
            return Some(n + 1);
        }
    }
    header_line
}

/// The dotted key set on a given line (table header + key), for error messages.
fn dotted_key_at_line(text: &str, line: usize) -> Option<String> {
    let mut table = String::new();
    for (n, raw) in text.lines().enumerate() {
        let l = raw.trim();
        if let Some(h) = l.strip_prefix("[[").and_then(|l| l.split("]]").next()) {
            table = h.trim().to_string();
        } else if let Some(h) = l.strip_prefix('[').and_then(|l| l.split(']').next()) {
            table = h.trim().to_string();
        }
        if n + 1 == line {
            if let Some((k, _)) = l.split_once('=') {
                let k = k.trim().trim_matches('"');
                return Some(if table.is_empty() { k.to_string() } else { format!("{table}.{k}") });
            }
            return if table.is_empty() { None } else { Some(table) };
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
[run]
seed = 7
citizens = 1000

[policy.groups]
min_size = 400
max_size = 300

[[policy.tiers]]
name = "top"
min_score = 1100

[[policy.tiers]]
name = "bottom"
"#;

    #[test]
    fn the_default_scenario_is_valid() {
        let s = Scenario::parse("", "empty.toml", &[]).unwrap();
        assert_eq!(s, Scenario::default());
    }

    #[test]
    fn a_policy_error_names_file_line_and_key() {
        let e = Scenario::parse(SAMPLE, "x.toml", &[]).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("policy.groups.min_size"));
        assert_eq!(e.line, Some(7));
        assert!(e.to_string().starts_with("x.toml:7: policy.groups.min_size: 400 is larger than max_size"), "{e}");
    }

    #[test]
    fn an_unknown_key_names_its_line() {
        let text = "[run]\nseed = 1\n\n[world.voting]\nmodle = \"always_keep\"\n";
        let e = Scenario::parse(text, "y.toml", &[]).unwrap_err();
        assert_eq!(e.line, Some(5));
        assert!(e.message.contains("modle"), "{e}");
        assert_eq!(e.key.as_deref(), Some("world.voting.modle"));
    }

    #[test]
    fn a_wrong_type_names_its_line() {
        let e = Scenario::parse("[run]\ndays = \"many\"\n", "z.toml", &[]).unwrap_err();
        assert_eq!(e.line, Some(2));
        assert_eq!(e.key.as_deref(), Some("run.days"));
    }

    #[test]
    fn keys_inside_arrays_of_tables_are_found() {
        let text = "[[policy.tiers]]\nname = \"a\"\nmin_score = 5\n[[policy.tiers]]\nname = \"b\"\nmin_score = 9\n";
        assert_eq!(key_line(text, "policy.tiers[1].min_score"), Some(6));
        assert_eq!(key_line(text, "policy.tiers[0].min_score"), Some(3));
        assert_eq!(key_line(SAMPLE, "run.seed"), Some(3));
        assert_eq!(key_line(SAMPLE, "run.days"), Some(2), "absent keys point at their table");
    }

    #[test]
    fn overrides_set_any_key_and_refuse_unknown_ones() {
        let s = Scenario::parse(
            "",
            "d.toml",
            &[("world.voting.model".into(), "always_keep".into()), ("run.days".into(), "12".into())],
        )
        .unwrap();
        assert_eq!(s.run.days, 12);
        assert_eq!(s.world.voting.model, crate::world::VotingModel::AlwaysKeep);
        let e = Scenario::parse("", "d.toml", &[("world.voting.modle".into(), "x".into())]).unwrap_err();
        assert!(e.message.contains("modle"), "{e}");
        assert_eq!(e.origin, "--set", "the bad key came from the command line");
        let e = Scenario::parse("", "d.toml", &[("run.days".into(), "0".into())]).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("run.days"));
    }

    #[test]
    fn resolved_scenarios_round_trip() {
        let s = Scenario::default();
        let text = s.resolved_toml();
        assert_eq!(Scenario::parse(&text, "resolved.toml", &[]).unwrap(), s);
    }
}
