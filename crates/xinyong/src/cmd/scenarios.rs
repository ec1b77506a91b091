//! Scenario presets shipped in the binary, and loading a scenario by name or path.

use anyhow::Context;
use std::path::Path;
use xinyong_sim::Scenario;

/// Presets: (name, file text). The files live in `scenarios/` and are embedded so that
/// the binary works from any folder.
pub const PRESETS: &[(&str, &str)] = &[
    ("default", include_str!("../../../../scenarios/default.toml")),
    ("rongcheng", include_str!("../../../../scenarios/rongcheng.toml")),
    ("sesame", include_str!("../../../../scenarios/sesame.toml")),
    ("guangdong", include_str!("../../../../scenarios/guangdong.toml")),
    ("china-scale", include_str!("../../../../scenarios/china-scale.toml")),
    ("no-keep-penalty", include_str!("../../../../scenarios/no-keep-penalty.toml")),
];

/// Loads a scenario from a file path, or a preset by name when no such file exists.
pub fn load(name_or_path: &str, overrides: &[(String, String)]) -> anyhow::Result<Scenario> {
    let path = Path::new(name_or_path);
    if path.exists() {
        return Scenario::load(path, overrides).map_err(anyhow::Error::new).context("invalid scenario");
    }
    let Some((name, text)) = PRESETS.iter().find(|(n, _)| *n == name_or_path) else {
        let names: Vec<&str> = PRESETS.iter().map(|(n, _)| *n).collect();
        anyhow::bail!("no scenario file {name_or_path:?} and no preset of that name (presets: {})", names.join(", "));
    };
    Scenario::parse(text, &format!("scenarios/{name}.toml"), overrides)
        .map_err(anyhow::Error::new)
        .context("invalid scenario")
}
