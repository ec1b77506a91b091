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
    ("denunciation", include_str!("../../../../scenarios/denunciation.toml")),
    ("classroom", include_str!("../../../../scenarios/classroom.toml")),
];

/// The text of a scenario file, or of a preset by name when no such file exists, and
/// the name to cite in errors.
pub fn text(name_or_path: &str) -> anyhow::Result<(String, String)> {
    let path = Path::new(name_or_path);
    if path.exists() {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        return Ok((text, path.display().to_string()));
    }
    let Some((name, text)) = PRESETS.iter().find(|(n, _)| *n == name_or_path) else {
        let names: Vec<&str> = PRESETS.iter().map(|(n, _)| *n).collect();
        anyhow::bail!("no scenario file {name_or_path:?} and no preset of that name (presets: {})", names.join(", "));
    };
    Ok((text.to_string(), format!("scenarios/{name}.toml")))
}

/// Loads a scenario from a file path, or a preset by name when no such file exists.
pub fn load(name_or_path: &str, overrides: &[(String, String)]) -> anyhow::Result<Scenario> {
    let (text, origin) = text(name_or_path)?;
    Scenario::parse(&text, &origin, overrides).map_err(anyhow::Error::new).context("invalid scenario")
}
