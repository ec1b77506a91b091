//! One palette for every page, chosen for meaning: blues for the system's ordinary
//! workings, one warning orange for innocent people and false identifications (never used
//! for anything else), magenta for scandals, a teal-to-red ramp for credit tiers.

/// Body text.
pub(crate) const INK: &str = "#1f2933";
/// Secondary text: ticks, notes.
pub(crate) const MUTED: &str = "#52606d";
/// Gridlines.
pub(crate) const GRID: &str = "#e4e7eb";
/// Axis baselines.
pub(crate) const AXIS: &str = "#9aa5b1";
/// The main measured quantity.
pub(crate) const PRIMARY: &str = "#1d5fa7";
/// Percentile bands around the main quantity.
pub(crate) const PRIMARY_BAND: &str = "#8fb8e6";
/// A second quantity on the same chart (credit-tier discounts, KOLs, scenario B).
pub(crate) const SECONDARY: &str = "#6741d9";
/// Band for the second quantity.
pub(crate) const SECONDARY_BAND: &str = "#b9a6f2";
/// Innocent people, false identifications, false denunciations: the warning colour.
pub(crate) const WARNING: &str = "#e8590c";
/// A darker warning shade, for a second kind of innocent victim.
pub(crate) const WARNING_DARK: &str = "#9c2f07";
/// True incidents, guilty people: sober, not alarming.
pub(crate) const NEUTRAL: &str = "#52606d";
/// "Nothing happened" shares: unanswered notices, pools below the first tier.
pub(crate) const NEUTRAL_LIGHT: &str = "#cbd2d9";
/// Answers "expel".
pub(crate) const EXPEL: &str = "#1b3a63";
/// Answers "keep".
pub(crate) const KEEP: &str = "#78aee3";
/// Scandal markers.
pub(crate) const SCANDAL: &str = "#c2255c";
/// Reference lines drawn from real-world figures.
pub(crate) const REFERENCE: &str = "#243b53";
/// A second real-world reference, told apart from the first by hue.
pub(crate) const REFERENCE_ALT: &str = "#8f5b00";
/// Group-buying discount tiers 1, 2, 3 (light to dark).
pub(crate) const POOL_TIERS: [&str; 3] = ["#a5d8c5", "#38a27e", "#0b6e4f"];

/// Stops of the credit-tier ramp, best tier first.
const TIER_STOPS: [(u8, u8, u8); 5] =
    [(0x0b, 0x52, 0x5b), (0x3d, 0x9a, 0x8b), (0xd9, 0xcf, 0x9c), (0xe9, 0x9a, 0x2c), (0xb0, 0x27, 0x1a)];

/// `count` colours for credit tiers, best first, interpolated along the ramp.
pub(crate) fn tier_colors(count: usize) -> Vec<String> {
    (0..count)
        .map(|index| {
            let position =
                if count <= 1 { 0.0 } else { index as f64 / (count - 1) as f64 * (TIER_STOPS.len() - 1) as f64 };
            let low = (position.floor() as usize).min(TIER_STOPS.len() - 2);
            let t = position - low as f64;
            let (a, b) = (TIER_STOPS[low], TIER_STOPS[low + 1]);
            let mix = |x: u8, y: u8| (f64::from(x) + (f64::from(y) - f64::from(x)) * t).round() as u8;
            format!("#{:02x}{:02x}{:02x}", mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn tier_ramp_runs_from_teal_to_red() {
        let colors = super::tier_colors(6);
        assert_eq!(colors.len(), 6);
        assert_eq!(colors[0], "#0b525b");
        assert_eq!(colors[5], "#b0271a");
        assert_eq!(super::tier_colors(1), ["#0b525b"]);
    }
}
