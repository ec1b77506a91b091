//! The scenario presets shipped with the package (the same files the CLI embeds), so that
//! `Scenario.load("default")` works from any folder. A pytest checks that every file of
//! `scenarios/` is listed here.

/// (name, file text), in the CLI's order.
pub const PRESETS: &[(&str, &str)] = &[
    ("default", include_str!("../../../scenarios/default.toml")),
    ("rongcheng", include_str!("../../../scenarios/rongcheng.toml")),
    ("sesame", include_str!("../../../scenarios/sesame.toml")),
    ("guangdong", include_str!("../../../scenarios/guangdong.toml")),
    ("china-scale", include_str!("../../../scenarios/china-scale.toml")),
    ("no-keep-penalty", include_str!("../../../scenarios/no-keep-penalty.toml")),
    ("denunciation", include_str!("../../../scenarios/denunciation.toml")),
    ("classroom", include_str!("../../../scenarios/classroom.toml")),
];

/// The text of a preset and the origin the CLI cites for it (`scenarios/NAME.toml`).
pub fn find(name: &str) -> Option<(String, String)> {
    PRESETS.iter().find(|(n, _)| *n == name).map(|(n, text)| (text.to_string(), format!("scenarios/{n}.toml")))
}

pub fn names() -> Vec<&'static str> {
    PRESETS.iter().map(|(n, _)| *n).collect()
}
