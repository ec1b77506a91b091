//! The page shell shared by `report.html`, `compare.html` and `sweep.html`: one inline
//! stylesheet (screen, phone, print), a masthead, sections of figures, tables.
//!
//! Everything is inline: no script, no font, no image, no network reference. The output is
//! polyglot HTML (see [`crate::markup`]).

use std::fmt::Write;

use crate::chart::{self, Chart, ForestRow, WIDE_WIDTH, WIDTH};
use crate::format::escape;

macro_rules! put {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

/// The stylesheet. No `<` or `&` may appear in it (it sits in polyglot markup).
const STYLE: &str = r#"
:root {
  --ink: #1f2933; --muted: #52606d; --faint: #7b8794; --line: #e4e7eb; --paper: #f7f6f2;
  --card: #ffffff; --primary: #1d5fa7; --warning: #e8590c; --warning-soft: #fff1e8;
  --sans: -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue", Arial,
    "Liberation Sans", "Noto Sans", sans-serif;
  --serif: "Iowan Old Style", "Palatino Linotype", Palatino, Georgia, "Liberation Serif",
    "DejaVu Serif", serif;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body { margin: 0; background: var(--paper); color: var(--ink); font: 16px/1.55 var(--sans); }
.page { max-width: 1220px; margin: 0 auto; padding: 36px 28px 64px; }
a { color: var(--primary); }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace; font-size: 0.9em; }
.masthead { border-bottom: 2px solid var(--ink); padding-bottom: 18px; margin-bottom: 22px; }
.eyebrow { text-transform: uppercase; letter-spacing: 0.09em; font-size: 12px; font-weight: 700; color: var(--muted); margin: 0; }
h1 { font-family: var(--serif); font-weight: 700; font-size: 40px; line-height: 1.12; letter-spacing: -0.01em; margin: 8px 0 10px; }
.lede { font-family: var(--serif); font-size: 19px; line-height: 1.5; color: #3e4c59; max-width: 62em; margin: 0 0 12px; }
.meta { display: flex; flex-wrap: wrap; gap: 6px 22px; margin: 0; padding: 0; list-style: none; font-size: 14px; color: var(--muted); }
.meta b { color: var(--ink); font-weight: 600; }
nav.toc { display: flex; flex-wrap: wrap; gap: 8px; margin: 0 0 28px; }
nav.toc a { text-decoration: none; font-size: 14px; color: var(--ink); border: 1px solid var(--line); background: var(--card); border-radius: 999px; padding: 4px 12px; }
nav.toc a:hover { border-color: var(--primary); color: var(--primary); }
section { margin: 0 0 40px; }
h2 { font-family: var(--serif); font-size: 27px; line-height: 1.2; margin: 0 0 6px; }
.section-intro { color: #3e4c59; max-width: 62em; margin: 0 0 18px; }
.brief { display: grid; grid-template-columns: minmax(0, 1.15fr) minmax(0, 1fr); gap: 28px; align-items: start; background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 24px 26px; }
.brief h2 { font-size: 22px; margin-bottom: 10px; }
.headline { margin: 0; padding: 0; list-style: none; }
.headline li { position: relative; padding: 0 0 10px 18px; font-size: 16.5px; line-height: 1.5; }
.headline li::before { content: ""; position: absolute; left: 0; top: 0.62em; width: 7px; height: 7px; border-radius: 50%; background: var(--primary); }
.stats { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 12px; }
.stat { border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; background: #fbfbfa; }
.stat-value { font-size: 25px; font-weight: 700; line-height: 1.15; font-variant-numeric: tabular-nums; letter-spacing: -0.01em; }
.stat-label { font-size: 13.5px; font-weight: 600; margin-top: 3px; }
.stat-context { font-size: 12.5px; color: var(--muted); margin-top: 2px; line-height: 1.35; }
.stat.warning { background: var(--warning-soft); border-color: #ffd3b8; }
.stat.warning .stat-value { color: #c2410c; }
.charts { display: grid; grid-template-columns: minmax(0, 1fr); gap: 22px; }
.charts > .missing { grid-column: 1 / -1; }
.wide-view { display: none; }
@media (min-width: 1080px) {
  .charts { grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); }
  .charts > .wide { grid-column: 1 / -1; }
  .wide-view { display: block; }
  .wide-view + .narrow-view { display: none; }
}
figure { margin: 0; background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 18px 20px 16px; min-width: 0; }
figure h3 { font-size: 16.5px; margin: 0 0 6px; line-height: 1.3; }
.plot { margin: 4px 0 6px; }
.plot svg { display: block; width: 100%; height: auto; font-family: var(--sans); }
figcaption { font-size: 14px; line-height: 1.5; color: #3e4c59; }
figcaption .reading { color: var(--muted); }
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; list-style: none; margin: 0 0 4px; padding: 0; font-size: 13px; color: var(--muted); }
.legend li { display: inline-flex; align-items: center; gap: 6px; }
.key { display: inline-block; flex: none; }
.key-line { width: 18px; height: 3px; border-radius: 2px; background: var(--key); }
.key-dash { width: 18px; height: 0; border-top: 2px dashed var(--key); }
.key-band { width: 16px; height: 11px; border-radius: 2px; background: var(--key); opacity: 0.55; }
.key-box { width: 11px; height: 11px; border-radius: 2px; background: var(--key); }
.key-dot { width: 10px; height: 10px; border-radius: 50%; background: var(--key); opacity: 0.7; }
.key-mark { width: 0; height: 0; border-left: 5px solid transparent; border-right: 5px solid transparent; border-top: 8px solid var(--key); }
.missing { border: 1px dashed #cbd2d9; border-radius: 12px; padding: 14px 18px; color: var(--muted); font-size: 14px; background: transparent; }
.missing b { color: var(--ink); }
table { border-collapse: collapse; font-size: 14px; }
th, td { text-align: left; padding: 6px 12px 6px 0; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: 12.5px; text-transform: uppercase; letter-spacing: 0.04em; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; padding-left: 14px; }
tr.significant td { background: #eef4fb; }
td.warning { color: #c2410c; font-weight: 600; }
.table-wrap { overflow-x: auto; background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 10px 18px; }
.table-wrap table { width: 100%; }
.columns { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 420px), 1fr)); gap: 22px; align-items: start; }
.kv td { padding-top: 4px; padding-bottom: 4px; }
.kv td:first-child { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace; font-size: 13px; color: #334e68; white-space: nowrap; }
.kv td { word-break: break-word; }
.facts td { padding-top: 5px; padding-bottom: 5px; }
.facts td:first-child { color: var(--muted); white-space: nowrap; }
h3.table-title { font-size: 16px; margin: 4px 0 8px; }
details > summary { cursor: pointer; font-weight: 600; margin: 4px 0 8px; }
.note { color: var(--muted); font-size: 14px; }
footer { border-top: 1px solid var(--line); padding-top: 14px; color: var(--muted); font-size: 13px; }
@media (max-width: 820px) {
  .brief { grid-template-columns: 1fr; padding: 18px; }
}
@media (max-width: 640px) {
  .page { padding: 22px 14px 48px; }
  h1 { font-size: 29px; }
  .lede { font-size: 17px; }
  h2 { font-size: 23px; }
  figure { padding: 14px 12px 12px; }
  .plot { overflow-x: auto; }
  .plot svg { min-width: 430px; }
  .stat-value { font-size: 21px; }
  .table-wrap { padding: 6px 10px; }
}
@media print {
  @page { margin: 14mm; }
  body { background: #fff; font-size: 10.5pt; }
  .page { max-width: none; padding: 0; }
  nav.toc { display: none; }
  .charts, .columns { display: block; }
  figure, .missing, .stat, .table-wrap, .brief { break-inside: avoid; page-break-inside: avoid; border-color: #ccc; margin-bottom: 14px; }
  figure { padding: 8px 0; border: none; }
  .plot svg { min-width: 0; max-width: 17cm; }
  .wide-view { display: none !important; }
  .wide-view + .narrow-view { display: block !important; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  a { color: inherit; text-decoration: none; }
  tr.significant td { background: none; font-weight: 600; }
}
"#;

/// A page under construction.
pub(crate) struct Page {
    title: String,
    body: String,
    nav: Vec<(String, String)>,
}

impl Page {
    pub(crate) fn new(title: impl Into<String>) -> Page {
        Page { title: title.into(), body: String::with_capacity(256 * 1024), nav: Vec::new() }
    }

    /// The masthead: a small label, the title, a lede and a row of facts.
    pub(crate) fn masthead(&mut self, eyebrow: &str, heading: &str, lede: &str, facts: &[(String, String)]) {
        put!(
            self.body,
            "<header class=\"masthead\"><p class=\"eyebrow\">{}</p><h1>{}</h1>",
            escape(eyebrow),
            escape(heading)
        );
        if !lede.is_empty() {
            put!(self.body, "<p class=\"lede\">{}</p>", escape(lede));
        }
        self.body.push_str("<ul class=\"meta\">");
        for (label, value) in facts {
            put!(self.body, "<li>{} <b>{}</b></li>", escape(label), escape(value));
        }
        self.body.push_str("</ul></header>");
        self.body.push_str("<!--nav-->");
    }

    /// Adds a section; it is listed in the navigation when `nav_label` is not empty.
    pub(crate) fn section(&mut self, id: &str, nav_label: &str, heading: &str, intro_html: &str, content_html: &str) {
        if !nav_label.is_empty() {
            self.nav.push((id.to_string(), nav_label.to_string()));
        }
        put!(self.body, "<section id=\"{}\">", escape(id));
        if !heading.is_empty() {
            put!(self.body, "<h2>{}</h2>", escape(heading));
        }
        if !intro_html.is_empty() {
            put!(self.body, "<p class=\"section-intro\">{intro_html}</p>");
        }
        self.body.push_str(content_html);
        self.body.push_str("</section>");
    }

    /// Raw HTML appended to the body.
    pub(crate) fn raw(&mut self, html: &str) {
        self.body.push_str(html);
    }

    /// The finished document.
    pub(crate) fn finish(self, footer_html: &str) -> String {
        let mut nav = String::new();
        if !self.nav.is_empty() {
            nav.push_str("<nav class=\"toc\" aria-label=\"Sections\">");
            for (id, label) in &self.nav {
                put!(nav, "<a href=\"#{}\">{}</a>", escape(id), escape(label));
            }
            nav.push_str("</nav>");
        }
        let body = self.body.replacen("<!--nav-->", &nav, 1);
        let mut out = String::with_capacity(body.len() + STYLE.len() + 1024);
        put!(
            out,
            "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n<meta name=\"generator\" content=\"xinyong-report {}\"/>\n<title>{}</title>\n<link rel=\"icon\" href=\"data:,\"/>\n<style>{STYLE}</style>\n</head>\n<body>\n<main class=\"page\">\n{body}\n<footer>{footer_html}</footer>\n</main>\n</body>\n</html>\n",
            env!("CARGO_PKG_VERSION"),
            escape(&self.title)
        );
        debug_assert_eq!(crate::markup::check_well_formed(&out), Ok(()));
        out
    }
}

/// What a figure draws.
pub(crate) enum Plot {
    /// A chart on day (or parameter) axes.
    Chart(Box<Chart>),
    /// A forest plot of estimates with intervals, with its axis label and description.
    Forest { rows: Vec<ForestRow>, x_label: String, description: String, legend_html: String },
}

impl Plot {
    fn legend_html(&self) -> String {
        match self {
            Plot::Chart(chart) => chart.legend_html(),
            Plot::Forest { legend_html, .. } => legend_html.clone(),
        }
    }

    /// The SVG at `width` user units (normal or wide).
    fn svg(&self, width: f64) -> String {
        match self {
            Plot::Chart(chart) => {
                let mut chart = chart.as_ref().clone();
                chart.width = width;
                chart.svg()
            }
            Plot::Forest { rows, x_label, description, .. } => chart::forest(rows, x_label, description, width),
        }
    }
}

/// One cell of a section's chart grid.
pub(crate) enum Block {
    /// A chart in its `<figure id="chart-…">`: title, legend, the SVG, a caption.
    Figure { id: String, title: String, plot: Plot, caption_html: String },
    /// A chart that could not be drawn: the note says which columns are missing. Notes
    /// are gathered after the figures, full width.
    Note(String),
    /// Any other card (a table).
    Cell(String),
}

impl Block {
    pub(crate) fn figure(id: &str, title: &str, chart: Chart, caption_html: String) -> Block {
        Block::Figure { id: id.to_string(), title: title.to_string(), plot: Plot::Chart(Box::new(chart)), caption_html }
    }

    /// The note left where a chart was dropped because its columns are missing.
    pub(crate) fn missing(title: &str, columns: &[String]) -> Block {
        let names: Vec<String> = columns.iter().map(|c| format!("<code>{}</code>", escape(c))).collect();
        Block::Note(format!(
            "<div class=\"missing\" role=\"note\"><b>{}</b>: not drawn — the metrics have no column {}.</div>",
            escape(title),
            names.join(", ")
        ))
    }
}

/// Lays blocks out in the two-column chart grid. When the number of cards is odd, the
/// first one (the section's lead chart) spans both columns; a figure that does so carries a wide drawing (shown on
/// wide screens) and a normal one (phones, print), so its text keeps the same size.
pub(crate) fn grid(blocks: Vec<Block>) -> String {
    let (notes, cards): (Vec<Block>, Vec<Block>) = blocks.into_iter().partition(|b| matches!(b, Block::Note(_)));
    let count = cards.len();
    let mut out = String::from("<div class=\"charts\">");
    for (index, card) in cards.into_iter().enumerate() {
        let wide = count % 2 == 1 && index == 0;
        match card {
            Block::Figure { id, title, plot, caption_html } => {
                let drawing = if wide {
                    format!(
                        "<div class=\"wide-view\">{}</div><div class=\"narrow-view\">{}</div>",
                        plot.svg(WIDE_WIDTH),
                        plot.svg(WIDTH)
                    )
                } else {
                    plot.svg(WIDTH)
                };
                put!(
                    out,
                    "<figure id=\"{}\"{}><h3>{}</h3>{}<div class=\"plot\">{drawing}</div><figcaption>{caption_html}</figcaption></figure>",
                    escape(&id),
                    if wide { " class=\"wide\"" } else { "" },
                    escape(&title),
                    plot.legend_html()
                );
            }
            Block::Cell(html) => put!(out, "<div class=\"cell{}\">{html}</div>", if wide { " wide" } else { "" }),
            Block::Note(_) => unreachable!("notes were set aside"),
        }
    }
    for note in notes {
        if let Block::Note(html) = note {
            out.push_str(&html);
        }
    }
    out.push_str("</div>");
    out
}

/// A two-column key/value table.
pub(crate) fn key_value_table(rows: &[(String, String)], class: &str) -> String {
    let mut out = format!("<table class=\"{class}\"><tbody>");
    for (key, value) in rows {
        put!(out, "<tr><td>{}</td><td>{}</td></tr>", escape(key), escape(value));
    }
    out.push_str("</tbody></table>");
    out
}

/// A cell of a data table.
pub(crate) enum Cell {
    Text(String),
    Number(String),
    Warning(String),
}

/// A data table with a header row; `highlight` marks rows drawn with the `significant` class.
pub(crate) fn data_table(header: &[(&str, bool)], rows: &[(Vec<Cell>, bool)]) -> String {
    let mut out = String::from("<table class=\"data\"><thead><tr>");
    for (name, numeric) in header {
        put!(out, "<th{}>{}</th>", if *numeric { " class=\"num\"" } else { "" }, escape(name));
    }
    out.push_str("</tr></thead><tbody>");
    for (cells, highlight) in rows {
        out.push_str(if *highlight { "<tr class=\"significant\">" } else { "<tr>" });
        for cell in cells {
            match cell {
                Cell::Text(text) => put!(out, "<td>{}</td>", escape(text)),
                Cell::Number(text) => put!(out, "<td class=\"num\">{}</td>", escape(text)),
                Cell::Warning(text) => put!(out, "<td class=\"num warning\">{}</td>", escape(text)),
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

/// Items of an array of objects listed in a scenario table before "N more".
const ARRAY_ITEMS_SHOWN: usize = 50;

/// Flattens a JSON value into `(dotted.key, value)` rows: objects by key, arrays by index
/// (arrays of plain values stay on one row; arrays of objects show their first 50 items).
pub(crate) fn flatten(value: &serde_json::Value) -> Vec<(String, String)> {
    fn walk(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
        use serde_json::Value;
        match value {
            Value::Object(map) if !map.is_empty() => {
                for (key, child) in map {
                    let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                    walk(&path, child, out);
                }
            }
            Value::Array(items) if items.iter().any(|i| i.is_object() || i.is_array()) => {
                for (index, child) in items.iter().enumerate().take(ARRAY_ITEMS_SHOWN) {
                    walk(&format!("{prefix}[{index}]"), child, out);
                }
                if items.len() > ARRAY_ITEMS_SHOWN {
                    out.push((
                        format!("{prefix}[{}…]", ARRAY_ITEMS_SHOWN),
                        format!("{} more items not shown", items.len() - ARRAY_ITEMS_SHOWN),
                    ));
                }
            }
            other => out.push((prefix.to_string(), scalar_text(other))),
        }
    }
    let mut out = Vec::new();
    walk("", value, &mut out);
    out
}

/// A JSON value as plain text: strings unquoted, arrays as `[a, b]`.
pub(crate) fn scalar_text(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "—".to_string(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(scalar_text).collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Object(map) if map.is_empty() => "{}".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scenarios_flatten_to_dotted_keys() {
        let rows = flatten(&json!({
            "vote": { "expel_reward": 3, "abstain_as": "keep" },
            "tiers": [{ "name": "AAA", "min_score": 1050 }],
            "flags": ["travel", "loans"],
            "none": null
        }));
        let rows: Vec<(&str, &str)> = rows.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            rows,
            [
                ("flags", "[travel, loans]"),
                ("none", "—"),
                ("tiers[0].min_score", "1050"),
                ("tiers[0].name", "AAA"),
                ("vote.abstain_as", "keep"),
                ("vote.expel_reward", "3"),
            ]
        );
    }

    #[test]
    fn long_arrays_of_objects_are_cut_with_a_count() {
        let products: Vec<_> = (0..60).map(|id| json!({ "id": id })).collect();
        let rows = flatten(&json!({ "products": products }));
        assert_eq!(rows.len(), ARRAY_ITEMS_SHOWN + 1);
        assert_eq!(rows.last().unwrap().1, "10 more items not shown");
    }

    #[test]
    fn odd_grids_widen_their_first_figure() {
        let chart = Chart::over_days(vec![0.0, 1.0], "people");
        let grid = grid(vec![
            Block::figure("chart-a", "A", chart.clone(), String::new()),
            Block::missing("B", &["b".to_string()]),
            Block::figure("chart-c", "C", chart.clone(), String::new()),
            Block::figure("chart-d", "D", chart, String::new()),
        ]);
        assert!(grid.contains("<figure id=\"chart-a\" class=\"wide\">"));
        assert!(grid.contains("<figure id=\"chart-c\"><h3>"));
        assert!(grid.contains("<figure id=\"chart-d\"><h3>"));
        assert_eq!(grid.matches("<svg").count(), 4, "the wide figure has two drawings");
        assert!(grid.ends_with("</div></div>"), "the note comes last");
    }
}
