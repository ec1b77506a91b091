//! Number and text formatting shared by every page: one voice for counts, money, shares,
//! durations and sizes, and the escaping that keeps the output well-formed.

/// Escapes text for use in HTML/SVG text content or a double-quoted attribute.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML; tabs and newlines are.
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Turns a metric or parameter name into a fragment usable in an `id` attribute.
pub(crate) fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        if character.is_ascii_alphanumeric() {
            out.push(character.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_matches('-');
    if trimmed.is_empty() { "x".to_string() } else { trimmed.to_string() }
}

/// Groups the digits of a non-negative integer string by thousands: "1234567" → "1,234,567".
fn group_thousands(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A number with `decimals` decimals and thousands separators: 1234.5 → "1,234.5".
pub(crate) fn fixed(value: f64, decimals: usize) -> String {
    if !value.is_finite() {
        return "–".to_string();
    }
    let text = format!("{:.*}", decimals, value.abs());
    let (integer, fraction) = match text.split_once('.') {
        Some((integer, fraction)) => (integer, Some(fraction)),
        None => (text.as_str(), None),
    };
    let mut out = String::new();
    // "-0" after rounding reads as noise: only keep the sign when something is left.
    if value < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') {
        out.push('−');
    }
    out.push_str(&group_thousands(integer));
    if let Some(fraction) = fraction {
        out.push('.');
        out.push_str(fraction);
    }
    out
}

/// A count or amount in words-friendly form: integers as integers, others with as few
/// decimals as keep three significant digits.
pub(crate) fn number(value: f64) -> String {
    if !value.is_finite() {
        return "–".to_string();
    }
    if value.fract() == 0.0 && value.abs() < 1e15 {
        return fixed(value, 0);
    }
    fixed(value, decimals_for(value.abs(), 3))
}

/// Decimals needed to show `significant` significant digits of `magnitude` (at most 4).
fn decimals_for(magnitude: f64, significant: i32) -> usize {
    if magnitude == 0.0 || !magnitude.is_finite() {
        return 0;
    }
    let order = magnitude.log10().floor() as i32;
    (significant - 1 - order).clamp(0, 4) as usize
}

/// Large numbers shortened: 12_345 → "12.3 k", 4_500_000 → "4.5 M".
pub(crate) fn compact(value: f64) -> String {
    if !value.is_finite() {
        return "–".to_string();
    }
    let magnitude = value.abs();
    let (scaled, suffix) = if magnitude >= 1e9 {
        (value / 1e9, " B")
    } else if magnitude >= 1e6 {
        (value / 1e6, " M")
    } else if magnitude >= 1e4 {
        (value / 1e3, " k")
    } else {
        return number(value);
    };
    format!("{}{}", fixed(scaled, decimals_for(scaled.abs(), 3)), suffix)
}

/// Money in yuan, shortened above ten thousand: "¥1,234.50", "¥12.3 M".
pub(crate) fn yuan(value: f64) -> String {
    if !value.is_finite() {
        return "–".to_string();
    }
    if value.abs() >= 1e4 { format!("¥{}", compact(value)) } else { format!("¥{}", fixed(value, 2)) }
}

/// A fraction (0.0164) as a percentage with enough decimals to be non-zero: "1.64 %".
pub(crate) fn percent(fraction: f64) -> String {
    if !fraction.is_finite() {
        return "–".to_string();
    }
    let value = fraction * 100.0;
    let decimals = if value == 0.0 || value.abs() >= 10.0 {
        0
    } else if value.abs() >= 1.0 {
        1
    } else {
        decimals_for(value.abs(), 2).max(1)
    };
    format!("{} %", fixed(value, decimals))
}

/// Seconds as a human duration: "0.84 s", "12.3 s", "4 min 05 s", "2 h 03 min".
pub(crate) fn duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "–".to_string();
    }
    if seconds < 60.0 {
        return format!("{} s", fixed(seconds, decimals_for(seconds, 3).min(2)));
    }
    let total = seconds.round() as u64;
    if total < 3600 {
        format!("{} min {:02} s", total / 60, total % 60)
    } else {
        format!("{} h {:02} min", total / 3600, (total % 3600) / 60)
    }
}

/// Bytes in binary units: "512 B", "1.5 MiB".
pub(crate) fn bytes(value: f64) -> String {
    if !value.is_finite() || value < 0.0 {
        return "–".to_string();
    }
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut scaled = value;
    let mut unit = 0;
    while scaled >= 1024.0 && unit + 1 < UNITS.len() {
        scaled /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{} B", fixed(scaled, 0)) } else { format!("{} {}", fixed(scaled, 1), UNITS[unit]) }
}

/// A number for machine-readable output (CSV): shortest round-trip form, empty when missing.
pub(crate) fn machine(value: f64) -> String {
    if value.is_nan() {
        String::new()
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

/// Quotes a CSV field when it needs it (comma, quote, newline).
pub(crate) fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_like_prose() {
        assert_eq!(fixed(1_234_567.891, 2), "1,234,567.89");
        assert_eq!(fixed(-0.001, 1), "0.0");
        assert_eq!(fixed(-12.5, 1), "−12.5");
        assert_eq!(number(1000.0), "1,000");
        assert_eq!(number(0.61234), "0.612");
        assert_eq!(compact(12_345.0), "12.3 k");
        assert_eq!(compact(4_500_000.0), "4.50 M");
        assert_eq!(yuan(1234.5), "¥1,234.50");
        assert_eq!(percent(23.0 / 1400.0), "1.6 %");
        assert_eq!(percent(13.0 / 1400.0), "0.93 %");
        assert_eq!(percent(0.5), "50 %");
        assert_eq!(duration(0.84), "0.84 s");
        assert_eq!(duration(245.0), "4 min 05 s");
        assert_eq!(bytes(1536.0 * 1024.0), "1.5 MiB");
        assert_eq!(machine(3.0), "3");
        assert_eq!(machine(f64::NAN), "");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(escape("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
        assert_eq!(slug("tier_AAA"), "tier-aaa");
    }
}
