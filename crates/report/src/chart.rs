//! A small SVG chart kit: lines, percentile bands, stacked bars and areas, reference rules,
//! event markers and scatter points on one pair of axes, plus a forest plot.
//!
//! Why not plotters: the report needs things plotters' SVG backend does not give —
//! a `viewBox` that scales with the page, `<title>` tooltips on every day and event,
//! HTML legends that wrap on a phone, and text measured by the browser rather than by a
//! font-less estimate. Drawing these few chart types directly is a few hundred lines and
//! keeps the output small and deterministic (same input, same bytes).
//!
//! Units: every chart is drawn in a `WIDTH × HEIGHT` user space; the page scales it.

use std::fmt::Write;

use crate::format::{self, escape};
use crate::palette;

/// Chart width in SVG user units (about its width in CSS pixels on a laptop).
pub(crate) const WIDTH: f64 = 560.0;
/// Width of a chart that spans both grid columns (about the same text size as a normal
/// chart in one column).
pub(crate) const WIDE_WIDTH: f64 = 1180.0;
/// Chart height in SVG user units.
pub(crate) const HEIGHT: f64 = 290.0;
/// At most this many hover columns (one `<title>` per x) per chart: beyond, every n-th
/// day gets one, to keep a long run's file small (a year of days: about 1 MB in all).
const HOVER_COLUMNS_MAX: usize = 400;
const FONT_SIZE: f64 = 13.0;
/// Rough advance width of a digit at `FONT_SIZE`, for margins.
const CHAR_WIDTH: f64 = 7.4;

/// `write!` into a `String`, which cannot fail.
macro_rules! put {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

/// How values are written in hover titles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueFormat {
    /// Counts and plain numbers.
    Number,
    /// Percent values already multiplied by 100.
    Percent,
    /// Yuan.
    Yuan,
}

impl ValueFormat {
    fn write(self, value: f64) -> String {
        match self {
            ValueFormat::Number => format::number(value),
            ValueFormat::Percent => format!("{} %", format::fixed(value, 2)),
            ValueFormat::Yuan => format::yuan(value),
        }
    }
}

/// One named series of a stack.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    pub name: String,
    pub color: String,
    pub values: Vec<f64>,
}

impl Series {
    pub(crate) fn new(name: impl Into<String>, color: impl Into<String>, values: Vec<f64>) -> Series {
        Series { name: name.into(), color: color.into(), values }
    }
}

/// Something drawn on a chart's axes. Day-indexed layers share the chart's `xs`.
#[derive(Debug, Clone)]
pub(crate) enum Layer {
    /// A filled band between two series (percentile fans, min–max envelopes).
    Band { name: String, color: String, low: Vec<f64>, high: Vec<f64> },
    /// A line; breaks where values are missing.
    Line { name: String, color: String, values: Vec<f64>, dashed: bool },
    /// A line with the area below it filled lightly.
    Area { name: String, color: String, values: Vec<f64> },
    /// Series stacked on each other, first at the bottom; bars or areas.
    Stack { bars: bool, series: Vec<Series> },
    /// A horizontal reference line with a label at its right end.
    Rule {
        y: f64,
        label: String,
        color: String,
        /// Shown in the legend when set.
        legend: Option<String>,
    },
    /// Vertical event markers (scandals), each with its own tooltip.
    Marks { name: String, color: String, marks: Vec<(f64, String)> },
    /// Free points (x, y, tooltip), not tied to `xs`.
    Points { name: String, color: String, points: Vec<(f64, f64, String)> },
}

/// One chart: axes, layers and the words around them.
#[derive(Debug, Clone)]
pub(crate) struct Chart {
    pub xs: Vec<f64>,
    pub x_label: String,
    /// How an x value is introduced in hover titles ("Day").
    pub x_name: String,
    /// Category names when x is categorical (x = 0, 1, 2… index them).
    pub x_categories: Option<Vec<String>>,
    /// Explicit x tick positions (e.g. the values a sweep tried), instead of round steps.
    pub x_ticks: Option<Vec<f64>>,
    pub y_label: String,
    pub value_format: ValueFormat,
    pub y_from_zero: bool,
    pub y_domain: Option<(f64, f64)>,
    pub layers: Vec<Layer>,
    pub hover: bool,
    pub width: f64,
    pub height: f64,
    /// Short description for assistive technology.
    pub description: String,
}

impl Chart {
    /// A chart over days, y starting at zero, hover titles on.
    pub(crate) fn over_days(xs: Vec<f64>, y_label: impl Into<String>) -> Chart {
        Chart {
            xs,
            x_label: "day of the run".to_string(),
            x_name: "Day".to_string(),
            x_categories: None,
            x_ticks: None,
            y_label: y_label.into(),
            value_format: ValueFormat::Number,
            y_from_zero: true,
            y_domain: None,
            layers: Vec::new(),
            hover: true,
            width: WIDTH,
            height: HEIGHT,
            description: String::new(),
        }
    }

    pub(crate) fn layer(mut self, layer: Layer) -> Chart {
        self.layers.push(layer);
        self
    }

    pub(crate) fn format(mut self, value_format: ValueFormat) -> Chart {
        self.value_format = value_format;
        self
    }

    pub(crate) fn domain(mut self, low: f64, high: f64) -> Chart {
        self.y_domain = Some((low, high));
        self
    }

    pub(crate) fn free_y(mut self) -> Chart {
        self.y_from_zero = false;
        self
    }

    pub(crate) fn describe(mut self, description: impl Into<String>) -> Chart {
        self.description = description.into();
        self
    }

    /// The legend as HTML (`<ul class="legend">`), one entry per named layer or series.
    pub(crate) fn legend_html(&self) -> String {
        let mut entries: Vec<(String, String, &'static str)> = Vec::new();
        for layer in &self.layers {
            match layer {
                Layer::Band { name, color, .. } => entries.push((name.clone(), color.clone(), "band")),
                Layer::Line { name, color, dashed, .. } => {
                    entries.push((name.clone(), color.clone(), if *dashed { "dash" } else { "line" }))
                }
                Layer::Area { name, color, .. } => entries.push((name.clone(), color.clone(), "line")),
                Layer::Stack { series, .. } => {
                    for item in series.iter().rev() {
                        entries.push((item.name.clone(), item.color.clone(), "box"));
                    }
                }
                Layer::Rule { legend, color, .. } => {
                    if let Some(legend) = legend {
                        entries.push((legend.clone(), color.clone(), "dash"));
                    }
                }
                Layer::Marks { name, color, marks } => {
                    if !marks.is_empty() {
                        entries.push((name.clone(), color.clone(), "mark"));
                    }
                }
                Layer::Points { name, color, .. } => entries.push((name.clone(), color.clone(), "dot")),
            }
        }
        let mut out = String::from("<ul class=\"legend\">");
        for (name, color, shape) in entries.iter().filter(|(name, ..)| !name.is_empty()) {
            put!(
                out,
                "<li><span class=\"key key-{shape}\" style=\"--key:{}\"></span>{}</li>",
                escape(color),
                escape(name)
            );
        }
        out.push_str("</ul>");
        out
    }

    /// The chart as an inline `<svg>` element.
    pub(crate) fn svg(&self) -> String {
        let (y0, y1, y_ticks) = self.y_scale();
        let tick_labels: Vec<String> = y_ticks.iter().map(|tick| tick_label(*tick, &y_ticks)).collect();
        let widest = tick_labels.iter().map(|label| label.chars().count()).max().unwrap_or(1);
        let left = 24.0 + widest as f64 * CHAR_WIDTH + 8.0;
        let frame = Frame {
            left,
            top: 12.0,
            width: self.width - left - 14.0,
            height: self.height - 12.0 - 44.0,
            x0: 0.0,
            x1: 1.0,
            y0,
            y1,
        };
        let (x0, x1) = self.x_extent();
        let frame = Frame { x0, x1, ..frame };

        let mut out = String::with_capacity(16 * 1024);
        put!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{}\" font-size=\"{FONT_SIZE}\">",
            self.width,
            self.height,
            escape(&self.description)
        );
        // Gridlines and y ticks.
        out.push_str("<g class=\"grid\">");
        for (tick, label) in y_ticks.iter().zip(&tick_labels) {
            let y = frame.y(*tick);
            put!(
                out,
                "<line x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"{}\"/>",
                n(frame.left),
                n(frame.right()),
                n(y),
                n(y),
                palette::GRID
            );
            put!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"{}\">{}</text>",
                n(frame.left - 6.0),
                n(y + 4.5),
                palette::MUTED,
                escape(label)
            );
        }
        out.push_str("</g>");

        let step = self.x_step();
        for layer in &self.layers {
            self.draw_layer(&mut out, layer, &frame, step);
        }

        // Axis baseline, x ticks, axis titles.
        let baseline = frame.y(if y0 <= 0.0 && y1 >= 0.0 { 0.0 } else { y0 });
        put!(
            out,
            "<line x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"{}\"/>",
            n(frame.left),
            n(frame.right()),
            n(baseline),
            n(baseline),
            palette::AXIS
        );
        self.draw_x_ticks(&mut out, &frame);
        put!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"{}\">{}</text>",
            n(frame.left + frame.width / 2.0),
            n(self.height - 6.0),
            palette::MUTED,
            escape(&self.x_label)
        );
        put!(
            out,
            "<text transform=\"translate(14 {}) rotate(-90)\" text-anchor=\"middle\" fill=\"{}\">{}</text>",
            n(frame.top + frame.height / 2.0),
            palette::MUTED,
            escape(&self.y_label)
        );

        if self.hover {
            self.draw_hover(&mut out, &frame);
        }
        // Markers and points carry their own tooltips: keep them above the hover columns.
        for layer in &self.layers {
            match layer {
                Layer::Marks { color, marks, .. } => draw_marks(&mut out, &frame, color, marks),
                Layer::Points { color, points, .. } => {
                    for (x, y, tip) in points {
                        if x.is_finite() && y.is_finite() {
                            put!(
                                out,
                                "<circle cx=\"{}\" cy=\"{}\" r=\"4\" fill=\"{}\" fill-opacity=\"0.55\" stroke=\"{}\" stroke-width=\"1\"><title>{}</title></circle>",
                                n(frame.x(*x)),
                                n(frame.y(*y)),
                                escape(color),
                                escape(color),
                                escape(tip)
                            );
                        }
                    }
                }
                _ => {}
            }
        }
        out.push_str("</svg>");
        out
    }

    fn draw_layer(&self, out: &mut String, layer: &Layer, frame: &Frame, step: f64) {
        match layer {
            Layer::Band { name, color, low, high } => {
                let d = band_path(&self.xs, low, high, frame);
                if !d.is_empty() {
                    put!(
                        out,
                        "<path d=\"{d}\" fill=\"{}\" fill-opacity=\"0.45\"><title>{}</title></path>",
                        escape(color),
                        escape(name)
                    );
                }
            }
            Layer::Line { name, color, values, dashed } => {
                let d = line_path(&self.xs, values, frame);
                if !d.is_empty() {
                    let dash = if *dashed { " stroke-dasharray=\"5 4\"" } else { "" };
                    put!(
                        out,
                        "<path d=\"{d}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2.2\" stroke-linejoin=\"round\" stroke-linecap=\"round\"{dash}><title>{}</title></path>",
                        escape(color),
                        escape(name)
                    );
                }
            }
            Layer::Area { name, color, values } => {
                let zeros = vec![frame.y0.max(0.0); values.len()];
                let fill = band_path(&self.xs, &zeros, values, frame);
                if !fill.is_empty() {
                    put!(out, "<path d=\"{fill}\" fill=\"{}\" fill-opacity=\"0.16\"/>", escape(color));
                }
                let d = line_path(&self.xs, values, frame);
                if !d.is_empty() {
                    put!(
                        out,
                        "<path d=\"{d}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2.2\" stroke-linejoin=\"round\"><title>{}</title></path>",
                        escape(color),
                        escape(name)
                    );
                }
            }
            Layer::Stack { bars, series } => {
                let mut base = vec![0.0; self.xs.len()];
                for item in series {
                    let top: Vec<f64> = base
                        .iter()
                        .zip(&item.values)
                        .map(|(b, v)| b + if v.is_finite() { v.max(0.0) } else { 0.0 })
                        .collect();
                    let d = if *bars {
                        bars_path(&self.xs, &base, &top, frame, step)
                    } else {
                        band_path(&self.xs, &base, &top, frame)
                    };
                    if !d.is_empty() {
                        put!(
                            out,
                            "<path d=\"{d}\" fill=\"{}\"><title>{}</title></path>",
                            escape(&item.color),
                            escape(&item.name)
                        );
                    }
                    base = top;
                }
            }
            Layer::Rule { y, label, color, .. } => {
                if *y >= frame.y0 && *y <= frame.y1 {
                    let py = frame.y(*y);
                    put!(
                        out,
                        "<line x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"1.6\" stroke-dasharray=\"7 4\"/>",
                        n(frame.left),
                        n(frame.right()),
                        n(py),
                        n(py),
                        escape(color)
                    );
                    put!(
                        out,
                        "<text x=\"{}\" y=\"{}\" fill=\"{}\" stroke=\"#fff\" stroke-width=\"4\" stroke-linejoin=\"round\" paint-order=\"stroke\" font-size=\"12\">{}</text>",
                        n(frame.left + 6.0),
                        n(py - 5.0),
                        escape(color),
                        escape(label)
                    );
                }
            }
            Layer::Marks { .. } | Layer::Points { .. } => {}
        }
    }

    fn draw_x_ticks(&self, out: &mut String, frame: &Frame) {
        let bottom = frame.top + frame.height;
        let mut ticks: Vec<(f64, String)> = Vec::new();
        if let Some(categories) = &self.x_categories {
            for (index, name) in categories.iter().enumerate() {
                ticks.push((index as f64, name.clone()));
            }
        } else if let Some(values) = &self.x_ticks {
            for value in values {
                ticks.push((*value, format::number(*value)));
            }
        } else {
            let target = (frame.width / 70.0).max(2.0);
            let step = nice_step(frame.x1 - frame.x0, target).max(if self.x_name == "Day" { 1.0 } else { 0.0 });
            let values = tick_values(frame.x0, frame.x1, step);
            for value in &values {
                ticks.push((*value, tick_label(*value, &values)));
            }
        }
        for (value, label) in ticks {
            let x = frame.x(value);
            put!(
                out,
                "<line x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"{}\"/>",
                n(x),
                n(x),
                n(bottom),
                n(bottom + 5.0),
                palette::AXIS
            );
            put!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"{}\">{}</text>",
                n(x),
                n(bottom + 19.0),
                palette::MUTED,
                escape(&label)
            );
        }
    }

    /// Transparent columns, one per x, whose `<title>` lists every value at that x.
    fn draw_hover(&self, out: &mut String, frame: &Frame) {
        let count = self.xs.len();
        if count == 0 {
            return;
        }
        // Long runs get one column every `stride` days; each title names its own day.
        let stride = count.div_ceil(HOVER_COLUMNS_MAX);
        let chosen: Vec<usize> = (0..count).step_by(stride).filter(|index| self.xs[*index].is_finite()).collect();
        out.push_str("<g class=\"hover\" fill=\"#000\" fill-opacity=\"0\">");
        for (position, &index) in chosen.iter().enumerate() {
            let x = self.xs[index];
            let before = match position.checked_sub(1) {
                Some(previous) => (x + self.xs[chosen[previous]]) / 2.0,
                None => frame.x0,
            };
            let after = match chosen.get(position + 1) {
                Some(next) => (x + self.xs[*next]) / 2.0,
                None => frame.x1,
            };
            let (left, right) = (frame.x(before).max(frame.left), frame.x(after).min(frame.right()));
            let mut title = format!("{} {}", self.x_name, self.x_text(x));
            for layer in &self.layers {
                self.hover_lines(&mut title, layer, index);
            }
            put!(
                out,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>{}</title></rect>",
                n(left),
                n(frame.top),
                n((right - left).max(0.5)),
                n(frame.height),
                escape(&title)
            );
        }
        out.push_str("</g>");
    }

    fn hover_lines(&self, title: &mut String, layer: &Layer, index: usize) {
        let value = |values: &Vec<f64>| values.get(index).copied().unwrap_or(f64::NAN);
        match layer {
            Layer::Band { name, low, high, .. } => put!(
                title,
                "\n{name}: {} – {}",
                self.value_format.write(value(low)),
                self.value_format.write(value(high))
            ),
            Layer::Line { name, values, .. } | Layer::Area { name, values, .. } => {
                put!(title, "\n{name}: {}", self.value_format.write(value(values)));
            }
            Layer::Stack { series, .. } => {
                for item in series.iter().rev() {
                    put!(title, "\n{}: {}", item.name, self.value_format.write(value(&item.values)));
                }
            }
            Layer::Rule { .. } | Layer::Marks { .. } | Layer::Points { .. } => {}
        }
    }

    fn x_text(&self, x: f64) -> String {
        match &self.x_categories {
            Some(categories) => categories.get(x.round().max(0.0) as usize).cloned().unwrap_or_default(),
            None => format::number(x),
        }
    }

    /// The spacing between consecutive x values (for bar widths).
    fn x_step(&self) -> f64 {
        let mut step = f64::INFINITY;
        for pair in self.xs.windows(2) {
            let gap = (pair[1] - pair[0]).abs();
            if gap > 0.0 && gap < step {
                step = gap;
            }
        }
        if step.is_finite() { step } else { 1.0 }
    }

    fn x_extent(&self) -> (f64, f64) {
        if let Some(categories) = &self.x_categories {
            return (-0.5, categories.len().max(1) as f64 - 0.5);
        }
        let mut low = f64::INFINITY;
        let mut high = f64::NEG_INFINITY;
        let mut include = |x: f64| {
            if x.is_finite() {
                low = low.min(x);
                high = high.max(x);
            }
        };
        self.xs.iter().copied().for_each(&mut include);
        for layer in &self.layers {
            if let Layer::Points { points, .. } = layer {
                points.iter().for_each(|(x, ..)| include(*x));
            }
        }
        if !low.is_finite() {
            return (0.0, 1.0);
        }
        let has_bars = self.layers.iter().any(|layer| matches!(layer, Layer::Stack { bars: true, .. }));
        let has_points = self.layers.iter().any(|layer| matches!(layer, Layer::Points { .. }));
        if has_bars {
            let half = self.x_step() / 2.0;
            (low - half, high + half)
        } else if high == low {
            (low - 0.5, high + 0.5)
        } else if has_points {
            let pad = (high - low) * 0.05;
            (low - pad, high + pad)
        } else {
            (low, high)
        }
    }

    /// y domain and ticks: from the data (and rules), widened to nice round ticks.
    fn y_scale(&self) -> (f64, f64, Vec<f64>) {
        if let Some((low, high)) = self.y_domain {
            let step = nice_step(high - low, 5.0);
            return (low, high, tick_values(low, high, step));
        }
        let mut low = f64::INFINITY;
        let mut high = f64::NEG_INFINITY;
        // Counts get whole-number ticks: no "0.2 orders" on an axis.
        let mut whole = true;
        let mut include = |value: f64| {
            if value.is_finite() {
                low = low.min(value);
                high = high.max(value);
                whole &= value.fract() == 0.0;
            }
        };
        for layer in &self.layers {
            match layer {
                Layer::Band { low: l, high: h, .. } => {
                    l.iter().chain(h).copied().for_each(&mut include);
                }
                Layer::Line { values, .. } | Layer::Area { values, .. } => {
                    values.iter().copied().for_each(&mut include);
                }
                Layer::Stack { series, .. } => {
                    for index in 0..self.xs.len() {
                        let total: f64 = series
                            .iter()
                            .map(|item| item.values.get(index).copied().unwrap_or(0.0))
                            .filter(|value| value.is_finite())
                            .map(|value| value.max(0.0))
                            .sum();
                        include(total);
                    }
                }
                Layer::Points { points, .. } => points.iter().for_each(|(_, y, _)| include(*y)),
                Layer::Rule { .. } | Layer::Marks { .. } => {}
            }
        }
        // Reference rules widen the range but do not make an axis fractional.
        for layer in &self.layers {
            if let Layer::Rule { y, .. } = layer
                && y.is_finite()
            {
                low = low.min(*y);
                high = high.max(*y);
            }
        }
        if !low.is_finite() {
            low = 0.0;
            high = 1.0;
        }
        if self.y_from_zero {
            low = low.min(0.0);
            high = high.max(0.0);
        }
        if high - low < 1e-12 {
            let pad = if high.abs() > 0.0 { high.abs() * 0.1 } else { 1.0 };
            if self.y_from_zero && low >= 0.0 {
                high += pad;
            } else {
                low -= pad;
                high += pad;
            }
        }
        let step = nice_step(high - low, 5.0);
        let step = if whole { step.max(1.0) } else { step };
        // Snap outwards to whole steps, forgiving rounding noise (0.1 + 0.2 is a step, not
        // a step and a bit).
        let low = (low / step + 1e-9).floor() * step;
        let high = (high / step - 1e-9).ceil() * step;
        (low, high, tick_values(low, high, step))
    }
}

/// The plotting rectangle and its data domain.
struct Frame {
    left: f64,
    top: f64,
    width: f64,
    height: f64,
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
}

impl Frame {
    fn right(&self) -> f64 {
        self.left + self.width
    }
    fn x(&self, value: f64) -> f64 {
        self.left + (value - self.x0) / (self.x1 - self.x0) * self.width
    }
    fn y(&self, value: f64) -> f64 {
        let clamped = value.clamp(self.y0, self.y1);
        self.top + self.height - (clamped - self.y0) / (self.y1 - self.y0) * self.height
    }
}

/// A coordinate with one decimal, trailing ".0" dropped.
fn n(value: f64) -> String {
    let text = format!("{value:.1}");
    match text.strip_suffix(".0") {
        Some("-0") => "0".to_string(),
        Some(stripped) => stripped.to_string(),
        None => text,
    }
}

/// A round step (1, 2 or 5 × 10^k) giving about `target` intervals over `range`.
pub(crate) fn nice_step(range: f64, target: f64) -> f64 {
    if range.is_nan() || range <= 0.0 || !range.is_finite() {
        return 1.0;
    }
    let raw = range / target.max(1.0);
    let magnitude = 10f64.powf(raw.log10().floor());
    let normalized = raw / magnitude;
    let factor = if normalized < 1.5 {
        1.0
    } else if normalized < 3.0 {
        2.0
    } else if normalized < 7.0 {
        5.0
    } else {
        10.0
    };
    factor * magnitude
}

/// Multiples of `step` inside `[low, high]`.
fn tick_values(low: f64, high: f64, step: f64) -> Vec<f64> {
    let mut ticks = Vec::new();
    let mut k = (low / step - 1e-9).ceil();
    while k * step <= high + step * 1e-9 && ticks.len() < 50 {
        let value = k * step;
        ticks.push(if value.abs() < step * 1e-9 { 0.0 } else { value });
        k += 1.0;
    }
    ticks
}

/// A tick label with the decimals its neighbours need, shortened with k/M/B when large.
fn tick_label(value: f64, ticks: &[f64]) -> String {
    let largest = ticks.iter().fold(0.0f64, |acc, tick| acc.max(tick.abs()));
    let step = ticks.windows(2).map(|pair| pair[1] - pair[0]).fold(f64::INFINITY, f64::min);
    let step = if step.is_finite() && step > 0.0 { step } else { largest.max(1.0) };
    let (divisor, suffix) = if largest >= 1e9 {
        (1e9, " B")
    } else if largest >= 1e6 {
        (1e6, " M")
    } else if largest >= 1e4 {
        (1e3, " k")
    } else {
        (1.0, "")
    };
    let scaled_step = step / divisor;
    let decimals = if scaled_step >= 1.0 { 0 } else { ((-scaled_step.log10() - 1e-9).ceil().max(0.0) as usize).min(6) };
    format!("{}{}", format::fixed(value / divisor, decimals), if value == 0.0 { "" } else { suffix })
}

/// `M x y L x y …` through finite points; a gap starts a new subpath.
fn line_path(xs: &[f64], values: &[f64], frame: &Frame) -> String {
    let mut d = String::new();
    let mut pen_down = false;
    for (x, value) in xs.iter().zip(values) {
        if x.is_finite() && value.is_finite() {
            put!(d, "{}{},{}", if pen_down { "L" } else { "M" }, n(frame.x(*x)), n(frame.y(*value)));
            pen_down = true;
        } else {
            pen_down = false;
        }
    }
    d
}

/// Closed shapes between `low` and `high`, one per run of finite values.
fn band_path(xs: &[f64], low: &[f64], high: &[f64], frame: &Frame) -> String {
    let mut d = String::new();
    let mut run: Vec<(f64, f64, f64)> = Vec::new();
    let flush = |run: &mut Vec<(f64, f64, f64)>, d: &mut String| {
        if run.len() >= 2 {
            for (index, (x, _, h)) in run.iter().enumerate() {
                put!(d, "{}{},{}", if index == 0 { "M" } else { "L" }, n(frame.x(*x)), n(frame.y(*h)));
            }
            for (x, l, _) in run.iter().rev() {
                put!(d, "L{},{}", n(frame.x(*x)), n(frame.y(*l)));
            }
            d.push('Z');
        }
        run.clear();
    };
    for ((x, l), h) in xs.iter().zip(low).zip(high) {
        if x.is_finite() && l.is_finite() && h.is_finite() {
            run.push((*x, *l, *h));
        } else {
            flush(&mut run, &mut d);
        }
    }
    flush(&mut run, &mut d);
    d
}

/// One rectangle per x from `base` to `top`, as a single path.
fn bars_path(xs: &[f64], base: &[f64], top: &[f64], frame: &Frame, step: f64) -> String {
    let slot = (frame.x(frame.x0 + step) - frame.x(frame.x0)).abs();
    let width = if slot >= 4.0 { slot * 0.78 } else { slot.max(0.6) };
    let mut d = String::new();
    for ((x, b), t) in xs.iter().zip(base).zip(top) {
        if !x.is_finite() || t <= b {
            continue;
        }
        let (y_top, y_base) = (frame.y(*t), frame.y(*b));
        let height = y_base - y_top;
        if height < 0.05 {
            continue;
        }
        put!(d, "M{},{}h{}v{}h-{}Z", n(frame.x(*x) - width / 2.0), n(y_top), n(width), n(height), n(width));
    }
    d
}

fn draw_marks(out: &mut String, frame: &Frame, color: &str, marks: &[(f64, String)]) {
    for (x, tip) in marks {
        if !x.is_finite() || *x < frame.x0 || *x > frame.x1 {
            continue;
        }
        let px = frame.x(*x);
        let bottom = frame.top + frame.height;
        put!(
            out,
            "<g><title>{}</title><rect x=\"{}\" y=\"{}\" width=\"9\" height=\"{}\" fill=\"#000\" fill-opacity=\"0\"/><line x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"1.2\" stroke-opacity=\"0.75\"/><path d=\"M{},{}l-4.5,-7h9Z\" fill=\"{}\"/></g>",
            escape(tip),
            n(px - 4.5),
            n(frame.top - 2.0),
            n(frame.height + 2.0),
            n(px),
            n(px),
            n(frame.top + 2.0),
            n(bottom),
            escape(color),
            n(px),
            n(frame.top + 8.0),
            escape(color)
        );
    }
}

/// One row of a forest plot: an estimate with its interval.
#[derive(Debug, Clone)]
pub(crate) struct ForestRow {
    pub label: String,
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
    pub tooltip: String,
}

/// A forest plot: one row per estimate, a dot and its interval, a zero line.
/// Rows whose interval excludes zero are drawn in the primary colour, the others grey.
pub(crate) fn forest(rows: &[ForestRow], x_label: &str, description: &str, total_width: f64) -> String {
    let row_height = 24.0;
    let left_limit = (total_width * 0.45).max(120.0);
    let label_width = rows.iter().map(|row| row.label.chars().count()).max().unwrap_or(8) as f64 * 6.9 + 16.0;
    let left = label_width.clamp(120.0, left_limit);
    let top = 10.0;
    let height = top + rows.len().max(1) as f64 * row_height + 46.0;
    let mut low = 0.0f64;
    let mut high = 0.0f64;
    for row in rows {
        for value in [row.estimate, row.low, row.high] {
            if value.is_finite() {
                low = low.min(value);
                high = high.max(value);
            }
        }
    }
    if high - low < 1e-12 {
        low -= 1.0;
        high += 1.0;
    }
    let step = nice_step(high - low, 6.0);
    let low = (low / step + 1e-9).floor() * step;
    let high = (high / step - 1e-9).ceil() * step;
    let frame = Frame {
        left,
        top,
        width: total_width - left - 20.0,
        height: rows.len().max(1) as f64 * row_height,
        x0: low,
        x1: high,
        y0: 0.0,
        y1: 1.0,
    };
    let mut out = String::new();
    put!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{}\" font-size=\"{FONT_SIZE}\">",
        total_width,
        n(height),
        escape(description)
    );
    let ticks = tick_values(low, high, step);
    let bottom = frame.top + frame.height;
    for tick in &ticks {
        let x = frame.x(*tick);
        put!(
            out,
            "<line x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"{}\"/>",
            n(x),
            n(x),
            n(frame.top),
            n(bottom),
            if *tick == 0.0 { palette::AXIS } else { palette::GRID }
        );
        put!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"{}\">{}</text>",
            n(x),
            n(bottom + 18.0),
            palette::MUTED,
            escape(&tick_label(*tick, &ticks))
        );
    }
    for (index, row) in rows.iter().enumerate() {
        let y = frame.top + (index as f64 + 0.5) * row_height;
        let excludes_zero = row.low > 0.0 || row.high < 0.0;
        let color = if excludes_zero { palette::PRIMARY } else { palette::AXIS };
        put!(out, "<g><title>{}</title>", escape(&row.tooltip));
        put!(
            out,
            "<rect x=\"0\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\" fill-opacity=\"{}\"/>",
            n(y - row_height / 2.0),
            total_width,
            row_height,
            palette::GRID,
            if index % 2 == 0 { "0.35" } else { "0" }
        );
        put!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"{}\">{}</text>",
            n(left - 10.0),
            n(y + 4.5),
            palette::INK,
            escape(&row.label)
        );
        if row.low.is_finite() && row.high.is_finite() {
            put!(
                out,
                "<line x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2.4\" stroke-linecap=\"round\"/>",
                n(frame.x(row.low)),
                n(frame.x(row.high)),
                n(y),
                n(y),
                color
            );
        }
        if row.estimate.is_finite() {
            put!(
                out,
                "<circle cx=\"{}\" cy=\"{}\" r=\"4.5\" fill=\"{}\" stroke=\"#fff\" stroke-width=\"1.5\"/>",
                n(frame.x(row.estimate)),
                n(y),
                color
            );
        }
        out.push_str("</g>");
    }
    put!(
        out,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"{}\">{}</text></svg>",
        n(frame.left + frame.width / 2.0),
        n(height - 6.0),
        palette::MUTED,
        escape(x_label)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_round() {
        assert_eq!(nice_step(100.0, 5.0), 20.0);
        assert_eq!(nice_step(1.0, 5.0), 0.2);
        assert_eq!(nice_step(7.0, 5.0), 1.0);
        assert_eq!(tick_values(0.0, 100.0, 20.0), [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
    }

    #[test]
    fn tick_labels_shorten_large_numbers_and_keep_needed_decimals() {
        let ticks = [0.0, 20_000.0, 40_000.0];
        assert_eq!(tick_label(20_000.0, &ticks), "20 k");
        let ticks = [0.0, 0.2, 0.4];
        assert_eq!(tick_label(0.2, &ticks), "0.2");
        let ticks = [0.0, 500_000.0, 1_000_000.0, 1_500_000.0];
        assert_eq!(tick_label(1_500_000.0, &ticks), "1.5 M");
    }

    #[test]
    fn counts_get_whole_ticks() {
        let chart = Chart::over_days(vec![0.0, 1.0], "orders").layer(Layer::Line {
            name: "x".into(),
            color: "#000".into(),
            values: vec![0.0, 0.0],
            dashed: false,
        });
        assert_eq!(chart.y_scale(), (0.0, 1.0, vec![0.0, 1.0]));
        let chart = Chart::over_days(vec![0.0, 1.0], "share").layer(Layer::Line {
            name: "x".into(),
            color: "#000".into(),
            values: vec![0.0, 0.5],
            dashed: false,
        });
        let ticks = chart.y_scale().2;
        assert_eq!(ticks.len(), 6, "{ticks:?}");
        assert!((ticks[1] - 0.1).abs() < 1e-12, "{ticks:?}");
    }

    #[test]
    fn gaps_in_the_data_break_lines() {
        let chart = Chart::over_days(vec![0.0, 1.0, 2.0, 3.0], "people").layer(Layer::Line {
            name: "x".into(),
            color: "#000".into(),
            values: vec![1.0, 2.0, f64::NAN, 3.0],
            dashed: false,
        });
        let svg = chart.svg();
        let path = svg.split("<path d=\"").nth(1).unwrap();
        let d = &path[..path.find('"').unwrap()];
        assert_eq!(d.matches('M').count(), 2, "{d}");
    }

    #[test]
    fn long_runs_get_fewer_hover_columns_each_naming_its_day() {
        let xs: Vec<f64> = (0..1000).map(f64::from).collect();
        let chart = Chart::over_days(xs.clone(), "people").layer(Layer::Line {
            name: "x".into(),
            color: "#000".into(),
            values: xs,
            dashed: false,
        });
        let svg = chart.svg();
        assert_eq!(svg.matches("<rect").count(), 334, "every third day");
        assert!(svg.contains("<title>Day 3\nx: 3</title>"));
        assert!(!svg.contains("<title>Day 4\n"));
    }

    #[test]
    fn every_day_has_a_tooltip() {
        let chart = Chart::over_days(vec![0.0, 1.0, 2.0], "people").layer(Layer::Line {
            name: "orders".into(),
            color: "#000".into(),
            values: vec![1.0, 2.0, 3.0],
            dashed: false,
        });
        let svg = chart.svg();
        assert!(svg.contains("<title>Day 1\norders: 2</title>"), "{svg}");
    }
}
