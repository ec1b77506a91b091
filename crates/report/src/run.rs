//! `report.html`: one run, read from its `metrics.csv` and `summary.json`.
//!
//! Each chart declares the columns it needs; when one is missing, the chart is replaced by
//! a short note naming the columns and the rest of the page is unaffected. Unknown columns
//! are ignored, except the denunciation and voucher families which get their own charts.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::chart::{Chart, Layer, Series, ValueFormat};
use crate::format::{self, escape};
use crate::html::{self, Block, Cell, Page};
use crate::metrics::MetricKind;
use crate::{ReportError, Table, palette};

macro_rules! put {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

/// China's population used by the article's comparison (1.4 billion).
pub const CHINA_POPULATION: f64 = 1.4e9;
/// The article's "23 million Chinese can no longer travel": ticket purchases refused in
/// 2018 (17.5 M flights + 5.5 M trains).
pub const TRAVEL_REFUSALS_2018: f64 = 23.0e6;
/// People behind those refusals: about 13 million on the court blacklist of 2018.
pub const BLACKLISTED_PEOPLE_2018: f64 = 13.0e6;

/// Renders `report.html` for one run from its daily metrics and its summary.
///
/// `summary` is the parsed `summary.json`: `scenario`, `seed`, `version`,
/// `wall_time_seconds`, `peak_rss_bytes`, `totals`, optional `headline` and
/// `scandal_events`. Any of them may be missing; the page says so where it matters.
pub fn render_run(metrics: &Table, summary: &Value) -> Result<String, ReportError> {
    if metrics.is_empty() {
        return Err(ReportError::Invalid(
            "the metrics table has no rows: nothing to report (did the run simulate any day?)".to_string(),
        ));
    }
    let run = Run::new(metrics, summary);
    let mut page = Page::new(format!("xinyong report — {}", run.scenario_name()));
    run.masthead(&mut page);
    page.raw(&run.brief());

    page.section(
        "scores",
        "Scores & tiers",
        "Scores and tiers",
        "Every citizen starts with the same score; incidents take points away and each answer to a group notice adds or removes a few. The tier a score falls in sets a personal discount, or a ban.",
        &html::grid(vec![run.score_fan(), run.tier_shares(), run.score_gini()]),
    );
    let mut vote = vec![run.incidents(), run.answers(), run.expulsions(), run.groupless(), run.appeals()];
    vote.extend(run.denunciations());
    vote.extend(run.vouchers());
    vote.push(run.group_sizes());
    page.section(
        "vote",
        "Incidents & votes",
        "Incidents and the group vote",
        "The day after an incident is attributed to someone, every other member of their group is asked: expel them, or keep them. Expelling earns points, keeping costs points.",
        &html::grid(vote),
    );
    page.section(
        "travel",
        "Travel ban",
        "The travel ban",
        "The lowest tier cannot buy train or plane tickets: the order is refused at checkout, with the reason.",
        &html::grid(vec![run.travel_banned(), run.refused_orders()]),
    );
    page.section(
        "commerce",
        "Group buying",
        "Group buying",
        "Members of a group who order the same product on the same day share a pool; the pool's size sets the group discount. A good credit tier adds a personal discount on favourite products.",
        &html::grid(vec![run.orders(), run.gmv(), run.discounts(), run.pools()]),
    );
    page.section(
        "kols",
        "KOLs",
        "KOLs and scandals",
        "Key Opinion Leaders stake their credibility on the products they promote. When a product turns out bad, every KOL who promoted it recently loses credibility.",
        &html::grid([Some(run.kol_credibility()), run.scandal_table()].into_iter().flatten().collect()),
    );
    page.section("run", "The run", "The run", "", &run.run_tables());
    Ok(page.finish(&footer(
        "report.html",
        "Re-render it from the stored metrics with <code>xinyong report RUN_DIR</code>.",
    )))
}

/// Reads `run_dir/metrics.csv` and `run_dir/summary.json` (an absent summary reads as
/// an empty object, so a report can still be drawn from the metrics alone).
pub fn read_run_dir(run_dir: &Path) -> Result<(Table, Value), ReportError> {
    let metrics_path = run_dir.join("metrics.csv");
    let text = std::fs::read_to_string(&metrics_path)
        .map_err(|source| ReportError::Io { path: metrics_path.clone(), source })?;
    let metrics = Table::from_csv(&text).map_err(|error| error.in_file(&metrics_path))?;
    let summary_path = run_dir.join("summary.json");
    let summary = match std::fs::read_to_string(&summary_path) {
        Ok(text) => {
            serde_json::from_str(&text).map_err(|source| ReportError::Json { path: summary_path.clone(), source })?
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Value::Object(Default::default()),
        Err(source) => {
            return Err(ReportError::Io { path: summary_path, source });
        }
    };
    Ok((metrics, summary))
}

/// Reads `run_dir/metrics.csv` and `run_dir/summary.json`, writes `run_dir/report.html`
/// and returns its path. The file is written to a temporary name and renamed, so a reader
/// never sees half a report.
pub fn write_run_report(run_dir: &Path) -> Result<PathBuf, ReportError> {
    let (metrics, summary) = read_run_dir(run_dir)?;
    let html = render_run(&metrics, &summary)?;
    let path = run_dir.join("report.html");
    write_atomically(&path, &html)?;
    Ok(path)
}

/// Writes `contents` to `path` through a temporary file in the same directory.
pub fn write_atomically(path: &Path, contents: &str) -> Result<(), ReportError> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, contents).map_err(|source| ReportError::Io { path: temporary.clone(), source })?;
    std::fs::rename(&temporary, path).map_err(|source| ReportError::Io { path: path.to_path_buf(), source })
}

/// The page footer shared by the three pages.
pub(crate) fn footer(file: &str, how_to_rerender: &str) -> String {
    format!(
        "<p>{} written by xinyong-report {}. One self-contained file: no script, font, image or network reference. Hover a chart for the values of a day. {how_to_rerender}</p>",
        escape(file),
        env!("CARGO_PKG_VERSION")
    )
}

/// The run's data and the helpers every chart uses.
struct Run<'a> {
    table: &'a Table,
    days: Vec<f64>,
    summary: &'a Value,
}

impl<'a> Run<'a> {
    fn new(table: &'a Table, summary: &'a Value) -> Run<'a> {
        Run { table, days: table.days(), summary }
    }

    fn column(&self, name: &str) -> Option<Vec<f64>> {
        self.table.column(name).map(<[f64]>::to_vec)
    }

    /// All of `names`, or the list of those missing.
    fn need(&self, names: &[&str]) -> Result<Vec<Vec<f64>>, Vec<String>> {
        let missing: Vec<String> =
            names.iter().filter(|name| !self.table.has(name)).map(|name| (*name).to_string()).collect();
        if missing.is_empty() { Ok(names.iter().filter_map(|name| self.column(name)).collect()) } else { Err(missing) }
    }

    /// Sum over the run (for flows).
    fn total(&self, name: &str) -> Option<f64> {
        self.table.column(name).map(|daily| MetricKind::Flow.aggregate(daily)).filter(|value| value.is_finite())
    }

    /// Last finite value (for stocks).
    fn last(&self, name: &str) -> Option<f64> {
        self.table.column(name).map(|daily| MetricKind::Stock.aggregate(daily)).filter(|value| value.is_finite())
    }

    /// First finite value.
    fn first(&self, name: &str) -> Option<f64> {
        self.table.column(name).and_then(|daily| daily.iter().copied().find(|value| value.is_finite()))
    }

    fn max(&self, name: &str) -> Option<(f64, f64)> {
        let daily = self.table.column(name)?;
        daily.iter().zip(&self.days).filter(|(value, _)| value.is_finite()).fold(
            None,
            |best: Option<(f64, f64)>, (value, day)| match best {
                Some((top, _)) if top >= *value => best,
                _ => Some((*value, *day)),
            },
        )
    }

    /// Columns whose name starts with `prefix`, in file order.
    fn family(&self, prefix: &str) -> Vec<String> {
        self.table.names().iter().filter(|name| name.starts_with(prefix)).cloned().collect()
    }

    fn chart(&self, y_label: &str) -> Chart {
        Chart::over_days(self.days.clone(), y_label)
    }

    fn day_count(&self) -> usize {
        self.days.len()
    }

    fn scenario(&self) -> Option<&Value> {
        self.summary.get("scenario").filter(|value| !value.is_null())
    }

    /// The value of the first scenario key whose last segment is `key`.
    fn scenario_value(&self, key: &str) -> Option<String> {
        let rows = html::flatten(self.scenario()?);
        rows.into_iter().find(|(path, _)| path == key || path.ends_with(&format!(".{key}"))).map(|(_, value)| value)
    }

    fn scenario_name(&self) -> String {
        let candidates = [
            self.scenario().and_then(|s| s.get("name")),
            self.scenario().and_then(|s| s.get("run")).and_then(|s| s.get("name")),
            self.scenario().and_then(|s| s.get("scenario")).and_then(|s| s.get("name")),
            self.scenario().and_then(|s| s.get("preset")),
            self.summary.get("scenario_name"),
            self.summary.get("name"),
        ];
        candidates
            .into_iter()
            .flatten()
            .find_map(|value| value.as_str().map(str::to_string))
            .unwrap_or_else(|| "unnamed scenario".to_string())
    }

    fn summary_text(&self, key: &str) -> Option<String> {
        self.summary.get(key).filter(|value| !value.is_null()).map(html::scalar_text)
    }

    fn masthead(&self, page: &mut Page) {
        let mut facts: Vec<(String, String)> = Vec::new();
        facts.push((
            "days".to_string(),
            match (self.days.first(), self.days.last()) {
                (Some(first), Some(last)) if self.day_count() > 1 => {
                    format!("{} ({}–{})", self.day_count(), format::number(*first), format::number(*last))
                }
                _ => self.day_count().to_string(),
            },
        ));
        if let Some(citizens) = self.last("citizens") {
            facts.push(("citizens".to_string(), format::number(citizens)));
        }
        if let Some(groups) = self.last("groups") {
            facts.push(("groups".to_string(), format::number(groups)));
        }
        facts.push(("seed".to_string(), self.summary_text("seed").unwrap_or_else(|| "not recorded".into())));
        facts.push(("version".to_string(), self.summary_text("version").unwrap_or_else(|| "not recorded".into())));
        facts.push((
            "run time".to_string(),
            self.summary
                .get("wall_time_seconds")
                .and_then(Value::as_f64)
                .map(format::duration)
                .unwrap_or_else(|| "not recorded".into()),
        ));
        let citizens = self
            .last("citizens")
            .map(|c| format!("{} synthetic citizens", format::number(c)))
            .unwrap_or_else(|| "a synthetic population".to_string());
        let lede = format!(
            "What the social-credit commerce system described by L'ADN did to {citizens} over {} days: their scores, the group votes that expel, the travel ban, and the group-buying market it rides on.",
            self.day_count()
        );
        page.masthead("xinyong · simulation report", &format!("Scenario “{}”", self.scenario_name()), &lede, &facts);
    }

    // ----- the brief: headline sentences and key numbers -----

    fn brief(&self) -> String {
        let sentences: Vec<String> = match self.summary.get("headline").and_then(Value::as_array) {
            Some(items) if !items.is_empty() => items.iter().map(html::scalar_text).collect(),
            _ => self.headline(),
        };
        let mut out =
            String::from("<section class=\"brief\" id=\"brief\"><div><h2>In brief</h2><ul class=\"headline\">");
        for sentence in &sentences {
            put!(out, "<li>{}</li>", escape(sentence));
        }
        out.push_str("</ul></div><div class=\"stats\">");
        for (value, label, context, warning) in self.key_numbers() {
            put!(
                out,
                "<div class=\"stat{}\"><div class=\"stat-value\">{}</div><div class=\"stat-label\">{}</div><div class=\"stat-context\">{}</div></div>",
                if warning { " warning" } else { "" },
                escape(&value),
                escape(&label),
                escape(&context)
            );
        }
        out.push_str("</div></section>");
        out
    }

    /// Plain-language sentences built from the metrics (used when the summary has none).
    fn headline(&self) -> Vec<String> {
        let mut sentences = Vec::new();
        let days = self.day_count();
        match (self.last("citizens"), self.last("groups")) {
            (Some(citizens), Some(groups)) => sentences.push(format!(
                "Over {days} days, {} citizens lived in {} interest groups under the system.",
                format::number(citizens),
                format::number(groups)
            )),
            (Some(citizens), None) => sentences
                .push(format!("Over {days} days, {} citizens lived under the system.", format::number(citizens))),
            _ => {}
        }
        if let (Some(truly), Some(falsely)) = (self.total("incidents_true"), self.total("incidents_false")) {
            let all = truly + falsely;
            sentences.push(format!(
                "{} incidents were attributed to citizens; {} of them ({}) named someone who had done nothing.",
                format::number(all),
                format::number(falsely),
                format::percent(ratio(falsely, all))
            ));
        }
        if let (Some(expelled), Some(innocent)) = (self.total("expulsions"), self.total("expulsions_innocent")) {
            sentences.push(format!(
                "Groups voted {} members out; {} of them ({}) were innocent.",
                format::number(expelled),
                format::number(innocent),
                format::percent(ratio(innocent, expelled))
            ));
        }
        if let (Some(groupless), Some(citizens)) = (self.last("groupless"), self.last("citizens")) {
            sentences.push(format!(
                "At the end, {} citizens ({}) had no group, and so no group discount.",
                format::number(groupless),
                format::percent(ratio(groupless, citizens))
            ));
        }
        if let (Some(banned), Some(citizens)) = (self.last("travel_banned"), self.last("citizens")) {
            let never = match self.last("banned_never_offended") {
                Some(never) => format!(", {} of whom never offended", format::number(never)),
                None => String::new(),
            };
            sentences.push(format!(
                "{} citizens ({}) ended barred from trains and planes{never}; China's 2018 court blacklist held about 13 million people, {} of 1.4 billion.",
                format::number(banned),
                format::percent(ratio(banned, citizens)),
                format::percent(BLACKLISTED_PEOPLE_2018 / CHINA_POPULATION)
            ));
        }
        if let (Some(orders), Some(gmv)) = (self.total("orders"), self.total("gmv")) {
            let mut sentence = format!("They placed {} orders worth {}", format::number(orders), format::yuan(gmv));
            if let (Some(group), Some(credit)) = (self.total("discount_group"), self.total("discount_credit")) {
                put!(
                    sentence,
                    "; group tiers took {} off and credit tiers {} more",
                    format::yuan(group),
                    format::yuan(credit)
                );
            }
            if let Some(refused) = self.total("orders_refused_travel").filter(|r| *r > 0.0) {
                put!(sentence, "; {} travel tickets were refused", format::number(refused));
            }
            sentence.push('.');
            sentences.push(sentence);
        }
        if let (Some(start), Some(end)) = (self.first("score_p50"), self.last("score_p50")) {
            let mut sentence =
                format!("The median score went from {} to {}", format::number(start), format::number(end));
            if let (Some(low_start), Some(low_end)) = (self.first("score_p10"), self.last("score_p10")) {
                put!(sentence, "; the lowest tenth from {} to {}", format::number(low_start), format::number(low_end));
            }
            sentence.push('.');
            sentences.push(sentence);
        }
        if let (Some(start), Some(end)) = (self.first("kol_credibility_mean"), self.last("kol_credibility_mean")) {
            let scandals = self.total("scandals").unwrap_or(0.0);
            sentences.push(format!(
                "KOLs' mean credibility went from {} to {} through {} product scandals.",
                format::fixed(start, 2),
                format::fixed(end, 2),
                format::number(scandals)
            ));
        }
        sentences
    }

    /// (value, label, context, is a warning) cards.
    fn key_numbers(&self) -> Vec<(String, String, String, bool)> {
        let mut cards = Vec::new();
        if let (Some(expelled), Some(innocent)) = (self.total("expulsions"), self.total("expulsions_innocent")) {
            cards.push((
                format::number(innocent),
                "innocent people expelled".to_string(),
                format!("{} of {} expulsions", format::percent(ratio(innocent, expelled)), format::number(expelled)),
                true,
            ));
        }
        if let (Some(truly), Some(falsely)) = (self.total("incidents_true"), self.total("incidents_false")) {
            cards.push((
                format::number(falsely),
                "false identifications".to_string(),
                match self.last("people_falsely_flagged") {
                    Some(people) => format!(
                        "{} of {} incidents; {} distinct people",
                        format::percent(ratio(falsely, truly + falsely)),
                        format::number(truly + falsely),
                        format::number(people)
                    ),
                    None => format!(
                        "{} of {} incidents",
                        format::percent(ratio(falsely, truly + falsely)),
                        format::number(truly + falsely)
                    ),
                },
                true,
            ));
        }
        if let (Some(banned), Some(citizens)) = (self.last("travel_banned"), self.last("citizens")) {
            cards.push((
                format::percent(ratio(banned, citizens)),
                "barred from travel".to_string(),
                format!(
                    "{} people at the end; China: {} on the blacklist",
                    format::number(banned),
                    format::percent(BLACKLISTED_PEOPLE_2018 / CHINA_POPULATION)
                ),
                false,
            ));
        }
        if let (Some(groupless), Some(citizens)) = (self.last("groupless"), self.last("citizens")) {
            cards.push((
                format::percent(ratio(groupless, citizens)),
                "groupless at the end".to_string(),
                format!("{} citizens without group discounts", format::number(groupless)),
                false,
            ));
        }
        if let Some(gmv) = self.total("gmv") {
            let discounts = self.total("discount_group").unwrap_or(0.0) + self.total("discount_credit").unwrap_or(0.0);
            cards.push((
                format::yuan(gmv),
                "gross merchandise value".to_string(),
                format!("discounts {} ({} of GMV)", format::yuan(discounts), format::percent(ratio(discounts, gmv))),
                false,
            ));
        }
        let tiers = self.family("pools_tier_");
        if let (Some(pools), false) = (self.total("pools"), tiers.is_empty()) {
            let discounted: f64 = tiers.iter().filter_map(|t| self.total(t)).sum();
            cards.push((
                format::percent(ratio(discounted, pools)),
                "pools won a discount".to_string(),
                format!("{} of {} order pools", format::number(discounted), format::number(pools)),
                false,
            ));
        }
        if let (Some(start), Some(end)) = (self.first("score_p50"), self.last("score_p50")) {
            let mut context = format!("from {} on the first day", format::number(start));
            if let Some(gini) = self.last("score_gini") {
                put!(context, "; Gini {}", format::fixed(gini, 3));
            }
            cards.push((format::number(end), "median score at the end".to_string(), context, false));
        }
        if let (Some(start), Some(end)) = (self.first("kol_credibility_mean"), self.last("kol_credibility_mean")) {
            cards.push((
                format::fixed(end, 2),
                "mean KOL credibility".to_string(),
                format!(
                    "from {} after {} scandals",
                    format::fixed(start, 2),
                    format::number(self.total("scandals").unwrap_or(0.0))
                ),
                false,
            ));
        }
        cards
    }

    // ----- scores and tiers -----

    fn score_fan(&self) -> Block {
        let title = "Credit scores: median and spread";
        let columns = match self.need(&["score_p10", "score_p50", "score_p90"]) {
            Ok(columns) => columns,
            Err(missing) => return Block::missing(title, &missing),
        };
        let [p10, p50, p90]: [Vec<f64>; 3] = columns.try_into().expect("three columns");
        let mut chart = self
            .chart("score (points)")
            .free_y()
            .describe("Median credit score per day, with the band from the 10th to the 90th percentile")
            .layer(Layer::Band {
                name: "10th–90th percentile".into(),
                color: palette::PRIMARY_BAND.into(),
                low: p10.clone(),
                high: p90.clone(),
            })
            .layer(Layer::Line {
                name: "median".into(),
                color: palette::PRIMARY.into(),
                values: p50.clone(),
                dashed: false,
            });
        if let Some(mean) = self.column("score_mean") {
            chart = chart.layer(Layer::Line {
                name: "mean".into(),
                color: palette::NEUTRAL.into(),
                values: mean,
                dashed: true,
            });
        }
        let low = p10.iter().copied().filter(|v| v.is_finite()).fold(f64::INFINITY, f64::min);
        let high = p90.iter().copied().filter(|v| v.is_finite()).fold(f64::NEG_INFINITY, f64::max);
        for (name, threshold) in self.tier_thresholds() {
            let margin = (high - low).abs().max(1.0) * 0.1;
            if threshold >= low - margin && threshold <= high + margin {
                chart = chart.layer(Layer::Rule {
                    y: threshold,
                    label: format!("{name} ≥ {}", format::number(threshold)),
                    color: palette::AXIS.into(),
                    legend: None,
                });
            }
        }
        let mut caption = String::from(
            "Half of the citizens score above the dark line; four in five lie inside the shaded band (10th to 90th percentile).",
        );
        if let (Some(a), Some(b)) = (p50.first(), p50.last()) {
            put!(caption, " The median went from {} to {}", format::number(*a), format::number(*b));
            if let (Some(c), Some(d)) = (p10.first(), p10.last()) {
                put!(
                    caption,
                    "; the 10th percentile, where sanctions gather, from {} to {}",
                    format::number(*c),
                    format::number(*d)
                );
            }
            caption.push('.');
        }
        Block::figure("chart-score-fan", title, chart, escape(&caption))
    }

    /// Tier thresholds from the scenario, if it lists tiers as objects with a name and a
    /// lower bound (`min_score`, `min`, `threshold`, `from` or `score_min`).
    fn tier_thresholds(&self) -> Vec<(String, f64)> {
        fn find(value: &Value, out: &mut Vec<(String, f64)>) {
            match value {
                Value::Array(items) => {
                    let found: Vec<(String, f64)> = items
                        .iter()
                        .filter_map(|item| {
                            let name = item.get("name")?.as_str()?;
                            let bound = ["min_score", "min", "threshold", "from", "score_min"]
                                .iter()
                                .find_map(|key| item.get(*key).and_then(Value::as_f64))?;
                            Some((name.to_string(), bound))
                        })
                        .collect();
                    if found.len() >= 2 && out.is_empty() {
                        out.extend(found);
                    } else {
                        items.iter().for_each(|item| find(item, out));
                    }
                }
                Value::Object(map) => map.values().for_each(|child| find(child, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        if let Some(scenario) = self.scenario() {
            find(scenario, &mut out);
        }
        out
    }

    fn tier_shares(&self) -> Block {
        let title = "Citizens by credit tier";
        let tiers = self.family("tier_");
        if tiers.is_empty() {
            return Block::missing(title, &["tier_*".to_string()]);
        }
        let columns: Vec<Vec<f64>> = tiers.iter().filter_map(|t| self.column(t)).collect();
        let totals: Vec<f64> = match self.column("citizens") {
            Some(citizens) => citizens,
            None => (0..self.day_count())
                .map(|row| columns.iter().map(|c| if c[row].is_finite() { c[row] } else { 0.0 }).sum())
                .collect(),
        };
        let colors = palette::tier_colors(tiers.len());
        // Worst tier at the bottom, where the travel ban lives; best on top.
        let series: Vec<Series> = tiers
            .iter()
            .zip(&columns)
            .zip(&colors)
            .rev()
            .map(|((name, values), color)| {
                let shares = values
                    .iter()
                    .zip(&totals)
                    .map(|(value, total)| if *total > 0.0 { value / total * 100.0 } else { f64::NAN })
                    .collect();
                Series::new(name.trim_start_matches("tier_"), color.clone(), shares)
            })
            .collect();
        let end: Vec<String> = series
            .iter()
            .rev()
            .map(|item| {
                format!("{} {}", item.name, format::percent(item.values.last().copied().unwrap_or(f64::NAN) / 100.0))
            })
            .collect();
        let chart = self
            .chart("share of citizens (%)")
            .format(ValueFormat::Percent)
            .domain(0.0, 100.0)
            .describe("Share of citizens in each credit tier per day, stacked")
            .layer(Layer::Stack { bars: false, series });
        let worst = tiers.last().map(|t| t.trim_start_matches("tier_")).unwrap_or("D");
        let caption = format!(
            "Each band is the share of citizens in one tier at the end of the day; the lowest tier sits at the bottom. At the end: {}. By default tier {} is barred from travel and the top tiers get a personal discount on their favourite products.",
            end.join(", "),
            worst
        );
        Block::figure("chart-tier-shares", title, chart, escape(&caption))
    }

    fn score_gini(&self) -> Block {
        let title = "Score inequality (Gini)";
        let Some(gini) = self.column("score_gini") else {
            return Block::missing(title, &["score_gini".to_string()]);
        };
        let chart = self
            .chart("Gini coefficient (0 = all equal)")
            .describe("Gini coefficient of credit scores per day")
            .layer(Layer::Area { name: "Gini of scores".into(), color: palette::PRIMARY.into(), values: gini.clone() });
        let caption = format!(
            "How unequal the scores are: 0 when everyone has the same score, 1 when one person has them all. It went from {} to {}. Scores start equal, so any rise is made by the system.",
            format::fixed(gini.first().copied().unwrap_or(f64::NAN), 4),
            format::fixed(gini.last().copied().unwrap_or(f64::NAN), 4)
        );
        Block::figure("chart-score-gini", title, chart, escape(&caption))
    }

    // ----- incidents and the vote -----

    fn incidents(&self) -> Block {
        let title = "Incidents per day: true and false";
        let [truly, falsely]: [Vec<f64>; 2] = match self.need(&["incidents_true", "incidents_false"]) {
            Ok(columns) => columns.try_into().expect("two columns"),
            Err(missing) => return Block::missing(title, &missing),
        };
        let (t, f) = (sum(&truly), sum(&falsely));
        let chart = self.chart("incidents per day").describe("Incidents per day, true and false, stacked").layer(
            Layer::Stack {
                bars: true,
                series: vec![
                    Series::new("true incidents", palette::NEUTRAL, truly),
                    Series::new("false identifications (innocent)", palette::WARNING, falsely),
                ],
            },
        );
        let mut caption = format!(
            "{} true incidents and {} false identifications over the run: {} of all incidents named an innocent person",
            format::number(t),
            format::number(f),
            format::percent(ratio(f, t + f))
        );
        if let Some(people) = self.last("people_falsely_flagged") {
            put!(caption, " ({} distinct people)", format::number(people));
        }
        caption.push_str(". The group is told the same thing either way; only the simulator knows which were false.");
        Block::figure("chart-incidents", title, chart, escape(&caption))
    }

    fn answers(&self) -> Block {
        let title = "Answers to notices: expel, keep, none";
        let [expel, keep, none]: [Vec<f64>; 3] = match self.need(&["answers_expel", "answers_keep", "answers_none"]) {
            Ok(columns) => columns.try_into().expect("three columns"),
            Err(missing) => return Block::missing(title, &missing),
        };
        let (e, k, n) = (sum(&expel), sum(&keep), sum(&none));
        let all = e + k + n;
        let chart = self
            .chart("answers per day")
            .describe("Answers to expulsion notices per day: expel, keep, no answer")
            .layer(Layer::Stack {
                bars: true,
                series: vec![
                    Series::new("expel", palette::EXPEL, expel),
                    Series::new("keep", palette::KEEP, keep),
                    Series::new("no answer", palette::NEUTRAL_LIGHT, none),
                ],
            });
        let mut caption = format!(
            "Each notice asks one group member to expel or keep the person named. Over the run, {} of answers were “expel” (+points for the voter), {} “keep” (−points) and {} none.",
            format::percent(ratio(e, all)),
            format::percent(ratio(k, all)),
            format::percent(ratio(n, all))
        );
        if let Some(abstain) = self.scenario_value("abstain_as") {
            put!(caption, " In this scenario no answer counts as “{abstain}”.");
        }
        if let Some(quorum) = self.scenario_value("expel_quorum") {
            put!(caption, " A person is expelled when the share of “expel” reaches {quorum}.");
        }
        Block::figure("chart-answers", title, chart, escape(&caption))
    }

    fn expulsions(&self) -> Block {
        let title = "Expulsions per day, innocent ones highlighted";
        let [expelled, innocent]: [Vec<f64>; 2] = match self.need(&["expulsions", "expulsions_innocent"]) {
            Ok(columns) => columns.try_into().expect("two columns"),
            Err(missing) => return Block::missing(title, &missing),
        };
        let guilty: Vec<f64> = expelled.iter().zip(&innocent).map(|(e, i)| (e - i).max(0.0)).collect();
        let mut series = vec![Series::new("expelled after a true incident", palette::NEUTRAL, guilty)];
        match (self.column("expulsions_innocent_camera"), self.column("expulsions_innocent_denunciation")) {
            (Some(camera), Some(denunciation)) => {
                let other: Vec<f64> =
                    innocent.iter().zip(&camera).zip(&denunciation).map(|((i, c), d)| (i - c - d).max(0.0)).collect();
                series.push(Series::new("innocent: camera error", palette::WARNING, camera));
                series.push(Series::new("innocent: false denunciation", palette::WARNING_DARK, denunciation));
                if other.iter().any(|v| *v > 0.0) {
                    series.push(Series::new("innocent: other", palette::SCANDAL, other));
                }
            }
            _ => series.push(Series::new("innocent", palette::WARNING, innocent.clone())),
        }
        let (e, i) = (sum(&expelled), sum(&innocent));
        let chart = self
            .chart("people expelled per day")
            .describe("Expulsions per day; innocent people expelled in orange")
            .layer(Layer::Stack { bars: true, series });
        let caption = format!(
            "Groups expelled {} people; {} of them ({}) had done nothing — a camera or an accuser named the wrong person. An expelled citizen loses the group discount until regrouped.",
            format::number(e),
            format::number(i),
            format::percent(ratio(i, e))
        );
        Block::figure("chart-expulsions", title, chart, escape(&caption))
    }

    fn groupless(&self) -> Block {
        let title = "Citizens without a group";
        let Some(groupless) = self.column("groupless") else {
            return Block::missing(title, &["groupless".to_string()]);
        };
        let chart = self
            .chart("citizens without a group")
            .describe("Number of groupless citizens at the end of each day")
            .layer(Layer::Area {
                name: "groupless citizens".into(),
                color: palette::PRIMARY.into(),
                values: groupless.clone(),
            });
        let mut caption = format!(
            "Expelled citizens wait outside any group (paying list price) until they are regrouped. At the end, {} were groupless",
            format::number(groupless.last().copied().unwrap_or(f64::NAN))
        );
        if let Some(citizens) = self.last("citizens") {
            put!(
                caption,
                " ({} of citizens)",
                format::percent(ratio(groupless.last().copied().unwrap_or(0.0), citizens))
            );
        }
        if let Some((peak, day)) = self.max("groupless") {
            put!(caption, "; the most was {} on day {}", format::number(peak), format::number(day));
        }
        caption.push('.');
        if let Some(days) = self.scenario_value("regroup_after_days") {
            put!(caption, " Regrouping waits {days} days in this scenario.");
        }
        Block::figure("chart-groupless", title, chart, escape(&caption))
    }

    fn appeals(&self) -> Block {
        let title = "Appeals and regrouping";
        let Some(appeals) = self.column("appeals") else {
            return Block::missing(title, &["appeals".to_string()]);
        };
        let mut chart = self
            .chart("per day")
            .describe("Appeals filed and granted per day, and citizens regrouped")
            .layer(Layer::Line {
                name: "appeals filed".into(),
                color: palette::PRIMARY.into(),
                values: appeals.clone(),
                dashed: false,
            });
        let granted = self.column("appeals_granted");
        if let Some(granted) = &granted {
            chart = chart.layer(Layer::Line {
                name: "appeals granted".into(),
                color: palette::SECONDARY.into(),
                values: granted.clone(),
                dashed: false,
            });
        }
        if let Some(regrouped) = self.column("regrouped") {
            chart = chart.layer(Layer::Line {
                name: "citizens regrouped".into(),
                color: palette::NEUTRAL.into(),
                values: regrouped,
                dashed: true,
            });
        }
        let mut caption = format!("{} appeals were filed", format::number(sum(&appeals)));
        if let Some(granted) = &granted {
            put!(
                caption,
                " and {} granted ({})",
                format::number(sum(granted)),
                format::percent(ratio(sum(granted), sum(&appeals)))
            );
        }
        caption.push('.');
        if let Some(regrouped) = self.total("regrouped") {
            put!(caption, " {} groupless citizens were placed in a group again.", format::number(regrouped));
        }
        Block::figure("chart-appeals", title, chart, escape(&caption))
    }

    /// Present only when the metrics carry denunciation columns.
    fn denunciations(&self) -> Option<Block> {
        let family = self.family("denunciations");
        if family.is_empty() {
            return None;
        }
        let title = "Denunciations";
        let chart = self.chart("denunciations per day").describe("Denunciations per day and how they were judged");
        let chart = match (
            self.column("denunciations"),
            self.column("denunciations_confirmed"),
            self.column("denunciations_false_confirmed"),
        ) {
            (Some(all), Some(confirmed), Some(false_confirmed)) => {
                let rejected: Vec<f64> = all.iter().zip(&confirmed).map(|(a, c)| (a - c).max(0.0)).collect();
                let true_confirmed: Vec<f64> =
                    confirmed.iter().zip(&false_confirmed).map(|(c, f)| (c - f).max(0.0)).collect();
                chart.layer(Layer::Stack {
                    bars: true,
                    series: vec![
                        Series::new("confirmed, true", palette::NEUTRAL, true_confirmed),
                        Series::new("confirmed, false (innocent sanctioned)", palette::WARNING, false_confirmed),
                        Series::new("not confirmed", palette::NEUTRAL_LIGHT, rejected),
                    ],
                })
            }
            _ => {
                let colors = [palette::PRIMARY, palette::SECONDARY, palette::WARNING, palette::NEUTRAL];
                family.iter().zip(colors.iter().cycle()).fold(chart, |chart, (name, color)| {
                    chart.layer(Layer::Line {
                        name: crate::metrics::describe(name).0,
                        color: if name.contains("false") { palette::WARNING.into() } else { (*color).into() },
                        values: self.column(name).unwrap_or_default(),
                        dashed: false,
                    })
                })
            }
        };
        let mut caption = String::from("Citizens may denounce others for a reward.");
        if let Some(all) = self.total("denunciations") {
            put!(caption, " {} denunciations were made", format::number(all));
            if let Some(confirmed) = self.total("denunciations_confirmed") {
                put!(caption, ", {} confirmed", format::number(confirmed));
                if let Some(false_confirmed) = self.total("denunciations_false_confirmed") {
                    put!(
                        caption,
                        ", of which {} ({}) against innocent people",
                        format::number(false_confirmed),
                        format::percent(ratio(false_confirmed, confirmed))
                    );
                }
            }
            caption.push('.');
        }
        Some(Block::figure("chart-denunciations", title, chart, escape(&caption)))
    }

    /// Present only when the metrics carry voucher columns.
    fn vouchers(&self) -> Option<Block> {
        let issued = self.column("vouchers_issued");
        let used = self.column("vouchers_used");
        if issued.is_none() && used.is_none() {
            return None;
        }
        let title = "Vouchers for denunciations";
        let mut chart = self.chart("vouchers per day").describe("Discount vouchers issued and used per day");
        let mut caption = String::from("The discount vouchers promised to informers.");
        if let Some(issued) = issued {
            put!(caption, " {} issued", format::number(sum(&issued)));
            chart = chart.layer(Layer::Line {
                name: "issued".into(),
                color: palette::SECONDARY.into(),
                values: issued,
                dashed: false,
            });
        }
        if let Some(used) = used {
            put!(caption, "; {} used", format::number(sum(&used)));
            chart = chart.layer(Layer::Line {
                name: "used".into(),
                color: palette::PRIMARY.into(),
                values: used,
                dashed: true,
            });
        }
        caption.push('.');
        Some(Block::figure("chart-vouchers", title, chart, escape(&caption)))
    }

    fn group_sizes(&self) -> Block {
        let title = "Interest-group sizes";
        let [low, mean, high]: [Vec<f64>; 3] = match self.need(&["group_size_min", "group_size_mean", "group_size_max"])
        {
            Ok(columns) => columns.try_into().expect("three columns"),
            Err(missing) => return Block::missing(title, &missing),
        };
        let chart = self
            .chart("members per group")
            .free_y()
            .describe("Smallest, mean and largest interest group per day")
            .layer(Layer::Band {
                name: "smallest to largest group".into(),
                color: palette::PRIMARY_BAND.into(),
                low,
                high,
            })
            .layer(Layer::Line {
                name: "mean size".into(),
                color: palette::PRIMARY.into(),
                values: mean,
                dashed: false,
            });
        let mut caption = String::from(
            "The article's groups hold 200 to 300 people. Expulsions shrink groups; regrouping and refills bring them back.",
        );
        if let (Some(min), Some(max)) = (self.scenario_value("min_size"), self.scenario_value("max_size")) {
            put!(caption, " Bounds in this scenario: {min} to {max}.");
        }
        Block::figure("chart-group-sizes", title, chart, escape(&caption))
    }

    // ----- travel ban -----

    fn travel_banned(&self) -> Block {
        let title = "Barred from travel, against the article's figure";
        let [banned, citizens]: [Vec<f64>; 2] = match self.need(&["travel_banned", "citizens"]) {
            Ok(columns) => columns.try_into().expect("two columns"),
            Err(missing) => return Block::missing(title, &missing),
        };
        let share: Vec<f64> =
            banned.iter().zip(&citizens).map(|(b, c)| if *c > 0.0 { b / c * 100.0 } else { f64::NAN }).collect();
        let article = TRAVEL_REFUSALS_2018 / CHINA_POPULATION * 100.0;
        let blacklist = BLACKLISTED_PEOPLE_2018 / CHINA_POPULATION * 100.0;
        let mut chart = self
            .chart("share of citizens barred (%)")
            .format(ValueFormat::Percent)
            .describe("Share of citizens barred from travel per day, with the article's 23 million of 1.4 billion as a reference line")
            .layer(Layer::Rule {
                y: article,
                label: format!("article: 23 M / 1.4 B = {} %", format::fixed(article, 2)),
                color: palette::REFERENCE_ALT.into(),
                legend: Some("the article's “23 million” (refused tickets, 2018)".into()),
            })
            .layer(Layer::Rule {
                y: blacklist,
                label: format!("blacklisted people: 13 M / 1.4 B = {} %", format::fixed(blacklist, 2)),
                color: palette::REFERENCE.into(),
                legend: Some("people on China's court blacklist (2018)".into()),
            })
            .layer(Layer::Area { name: "simulated share barred".into(), color: palette::PRIMARY.into(), values: share.clone() });
        let never_offended = self.column("banned_never_offended");
        if let Some(never) = &never_offended {
            let never_share =
                never.iter().zip(&citizens).map(|(n, c)| if *c > 0.0 { n / c * 100.0 } else { f64::NAN }).collect();
            chart = chart.layer(Layer::Line {
                name: "of whom never offended (innocent)".into(),
                color: palette::WARNING.into(),
                values: never_share,
                dashed: false,
            });
        }
        let end_share = share.last().copied().unwrap_or(f64::NAN);
        let mut caption = format!(
            "The blue line is the share of citizens whose tier bars them from train and plane tickets: {} at the end ({} people).",
            format::percent(end_share / 100.0),
            format::number(banned.last().copied().unwrap_or(f64::NAN)),
        );
        if let Some(never) = never_offended.as_ref().and_then(|n| n.last()) {
            put!(
                caption,
                " {} of them ({}) never committed a detected offence: points lost to false identifications and votes alone put them there.",
                format::number(*never),
                format::percent(ratio(*never, banned.last().copied().unwrap_or(0.0)))
            );
        }
        put!(
            caption,
            " The article says “23 million Chinese can no longer travel”: set against 1.4 billion that is {} %. But the 23 million are ticket purchases refused during 2018 (17.5 M flights, 5.5 M trains), made by about 13 million people on the court blacklist — {} % of the population. The simulated line counts people, so the second reference line is the like-for-like one; refused tickets are compared in the next chart.",
            format::fixed(article, 2),
            format::fixed(blacklist, 2)
        );
        match self.summary.get("real_figures").and_then(|r| r.get("source")).and_then(Value::as_str) {
            Some(source) => put!(caption, " Source: {source}"),
            None => caption.push_str(
                " Source: National Public Credit Information Center, 2018 annual report, as reported by the Associated Press (February 2019).",
            ),
        }
        Block::figure("chart-travel-banned", title, chart, escape(&caption))
    }

    fn refused_orders(&self) -> Block {
        let title = "Refused orders by reason";
        let reasons = self.family("orders_refused_");
        if reasons.is_empty() {
            return Block::missing(title, &["orders_refused_*".to_string()]);
        }
        let colors = [palette::REFERENCE, palette::SECONDARY, palette::NEUTRAL, palette::PRIMARY, palette::KEEP];
        let series: Vec<Series> = reasons
            .iter()
            .zip(colors.iter().cycle())
            .map(|(name, color)| {
                let reason = name.trim_start_matches("orders_refused_").replace('_', " ");
                Series::new(reason, *color, self.column(name).unwrap_or_default())
            })
            .collect();
        let totals: Vec<String> =
            series.iter().map(|item| format!("{} for “{}”", format::number(sum(&item.values)), item.name)).collect();
        let chart = self
            .chart("orders refused per day")
            .describe("Orders refused at checkout per day, by reason")
            .layer(Layer::Stack { bars: true, series });
        let mut caption = format!("Orders refused at checkout, with the reason given: {}.", totals.join(", "));
        if let (Some(refused), Some(citizens)) = (self.total("orders_refused_travel"), self.column("citizens")) {
            let mean_citizens = mean(&citizens);
            let per_thousand_year = refused / mean_citizens / self.day_count().max(1) as f64 * 365.0 * 1000.0;
            let real = TRAVEL_REFUSALS_2018 / CHINA_POPULATION * 1000.0;
            put!(
                caption,
                " Per year, that is {} refused tickets per 1,000 citizens; China's 2018 figure is {} (23 M refusals for 1.4 B people).",
                format::fixed(per_thousand_year, 1),
                format::fixed(real, 1)
            );
        }
        Block::figure("chart-refused-orders", title, chart, escape(&caption))
    }

    // ----- commerce -----

    fn orders(&self) -> Block {
        let title = "Orders per day";
        let Some(orders) = self.column("orders") else {
            return Block::missing(title, &["orders".to_string()]);
        };
        let chart = self.chart("orders per day").describe("Orders placed per day").layer(Layer::Area {
            name: "orders".into(),
            color: palette::PRIMARY.into(),
            values: orders.clone(),
        });
        let mut caption = format!("{} orders over the run", format::number(sum(&orders)));
        if let Some(citizens) = self.column("citizens") {
            put!(
                caption,
                ", {} per citizen per day",
                format::number(sum(&orders) / mean(&citizens) / self.day_count().max(1) as f64)
            );
        }
        if let Some((peak, day)) = self.max("orders") {
            put!(caption, "; the busiest day was day {} with {}", format::number(day), format::number(peak));
        }
        caption.push_str(". Peaks are campaign days and KOL promotions.");
        Block::figure("chart-orders", title, chart, escape(&caption))
    }

    fn gmv(&self) -> Block {
        let title = "Gross merchandise value per day";
        let Some(gmv) = self.column("gmv") else {
            return Block::missing(title, &["gmv".to_string()]);
        };
        let chart = self
            .chart("yuan per day")
            .format(ValueFormat::Yuan)
            .describe("Gross merchandise value per day, in yuan")
            .layer(Layer::Area { name: "GMV".into(), color: palette::PRIMARY.into(), values: gmv.clone() });
        let caption = format!(
            "What citizens paid for their orders: {} over the run, {} on an average day.",
            format::yuan(sum(&gmv)),
            format::yuan(mean(&gmv))
        );
        Block::figure("chart-gmv", title, chart, escape(&caption))
    }

    fn discounts(&self) -> Block {
        let title = "Discounts by cause";
        let [group, credit]: [Vec<f64>; 2] = match self.need(&["discount_group", "discount_credit"]) {
            Ok(columns) => columns.try_into().expect("two columns"),
            Err(missing) => return Block::missing(title, &missing),
        };
        let (g, c) = (sum(&group), sum(&credit));
        let chart = self
            .chart("yuan per day")
            .format(ValueFormat::Yuan)
            .describe("Discounts granted per day in yuan, by cause: group tier and credit tier")
            .layer(Layer::Stack {
                bars: false,
                series: vec![
                    Series::new("group-tier discount", palette::PRIMARY, group),
                    Series::new("credit-tier discount", palette::SECONDARY, credit),
                ],
            });
        let mut caption = format!(
            "Yuan taken off list prices each day: by the group's pool size ({} in all) and by the buyer's credit tier ({}).",
            format::yuan(g),
            format::yuan(c)
        );
        if let Some(gmv) = self.total("gmv") {
            put!(
                caption,
                " Together {} of GMV; credit tiers account for {} of the discounts — the points the vote hands out, turned into money.",
                format::percent(ratio(g + c, gmv)),
                format::percent(ratio(c, g + c))
            );
        }
        Block::figure("chart-discounts", title, chart, escape(&caption))
    }

    fn pools(&self) -> Block {
        let title = "Order pools by discount tier reached";
        let tiers = self.family("pools_tier_");
        let Some(pools) = self.column("pools").filter(|_| !tiers.is_empty()) else {
            let mut missing = Vec::new();
            if !self.table.has("pools") {
                missing.push("pools".to_string());
            }
            if tiers.is_empty() {
                missing.push("pools_tier_*".to_string());
            }
            return Block::missing(title, &missing);
        };
        let columns: Vec<Vec<f64>> = tiers.iter().filter_map(|t| self.column(t)).collect();
        // Highest tier at the bottom, where it is easiest to read.
        let series: Vec<Series> = tiers
            .iter()
            .zip(&columns)
            .enumerate()
            .rev()
            .map(|(index, (name, values))| {
                let color = palette::POOL_TIERS[index.min(palette::POOL_TIERS.len() - 1)];
                let level = name.trim_start_matches("pools_tier_");
                let label = match self.pool_tier_discount(index) {
                    Some(discount) => format!("tier {level} ({discount} off)"),
                    None => format!("discount tier {level}"),
                };
                Series::new(label, color, values.clone())
            })
            .collect();
        let total = sum(&pools);
        let shares: Vec<String> = tiers
            .iter()
            .zip(&columns)
            .map(|(name, values)| {
                format!(
                    "tier {} {}",
                    name.trim_start_matches("pools_tier_"),
                    format::percent(ratio(sum(values), total))
                )
            })
            .collect();
        let discounted: f64 = columns.iter().map(|c| sum(c)).sum();
        let chart = self
            .chart("pools with a discount, per day")
            .describe("Order pools per day that reached each group-buying discount tier")
            .layer(Layer::Stack { bars: true, series });
        let caption = format!(
            "A pool is one group's orders for one product on one day; its size picks the discount. Of {} pools, {} reached a discount tier ({}: {}); the other {} were too small and paid list price.",
            format::number(total),
            format::number(discounted),
            format::percent(ratio(discounted, total)),
            shares.join(", "),
            format::number(total - discounted)
        );
        Block::figure("chart-pools", title, chart, escape(&caption))
    }

    /// The discount of group-buying tier `index` (0-based), if the scenario lists it.
    fn pool_tier_discount(&self, index: usize) -> Option<String> {
        // The simulator's summary lists them (`pools_by_tier`); otherwise look in the
        // scenario for a list of group discounts.
        let from_summary = self
            .summary
            .get("pools_by_tier")
            .and_then(|tiers| tiers.get(index))
            .and_then(|tier| tier.get("discount"))
            .and_then(Value::as_f64);
        let from_scenario = || {
            let rows = html::flatten(self.scenario()?);
            let needle = format!("[{index}].discount");
            rows.into_iter()
                .find(|(key, _)| {
                    key.ends_with(&needle)
                        && ["group_discount", "group_buying", "pool"].iter().any(|word| key.contains(word))
                })
                .and_then(|(_, value)| value.parse::<f64>().ok())
        };
        from_summary.or_else(from_scenario).map(|fraction| {
            if fraction <= 1.0 { format::percent(fraction) } else { format!("{} %", format::number(fraction)) }
        })
    }

    // ----- KOLs -----

    fn scandal_events(&self) -> Vec<(f64, String, f64)> {
        let Some(events) = self.summary.get("scandal_events").and_then(Value::as_array) else {
            return Vec::new();
        };
        events
            .iter()
            .filter_map(|event| {
                let day = event.get("day")?.as_f64()?;
                let product = event.get("product").map(html::scalar_text).unwrap_or_default();
                let hit = event.get("kols_hit").and_then(Value::as_f64).unwrap_or(f64::NAN);
                Some((day, product, hit))
            })
            .collect()
    }

    fn kol_credibility(&self) -> Block {
        let title = "KOL credibility and the scandals that moved it";
        let [p10, p50, p90]: [Vec<f64>; 3] =
            match self.need(&["kol_credibility_p10", "kol_credibility_p50", "kol_credibility_p90"]) {
                Ok(columns) => columns.try_into().expect("three columns"),
                Err(missing) => return Block::missing(title, &missing),
            };
        let mut marks: Vec<(f64, String)> = Vec::new();
        let events = self.scandal_events();
        if !events.is_empty() {
            let mut by_day: Vec<(f64, Vec<String>)> = Vec::new();
            for (day, product, hit) in &events {
                let text = if hit.is_finite() {
                    format!("product {product}: {} KOLs hit", format::number(*hit))
                } else {
                    format!("product {product}")
                };
                match by_day.iter_mut().find(|(d, _)| d == day) {
                    Some((_, texts)) => texts.push(text),
                    None => by_day.push((*day, vec![text])),
                }
            }
            for (day, texts) in by_day {
                marks.push((day, format!("Day {} — scandal\n{}", format::number(day), texts.join("\n"))));
            }
        } else if let Some(scandals) = self.column("scandals") {
            for (day, count) in self.days.iter().zip(&scandals) {
                if *count > 0.0 {
                    marks.push((
                        *day,
                        format!(
                            "Day {} — {} product scandal(s) revealed",
                            format::number(*day),
                            format::number(*count)
                        ),
                    ));
                }
            }
        }
        let mut chart = self
            .chart("credibility (0 to 1)")
            .domain(0.0, 1.0)
            .describe("KOL credibility per day: median, 10th–90th percentile band, scandal markers")
            .layer(Layer::Band {
                name: "10th–90th percentile".into(),
                color: palette::SECONDARY_BAND.into(),
                low: p10,
                high: p90,
            })
            .layer(Layer::Line {
                name: "median".into(),
                color: palette::SECONDARY.into(),
                values: p50.clone(),
                dashed: false,
            });
        if let Some(mean) = self.column("kol_credibility_mean") {
            chart = chart.layer(Layer::Line {
                name: "mean".into(),
                color: palette::NEUTRAL.into(),
                values: mean,
                dashed: true,
            });
        }
        let scandal_count = if events.is_empty() { self.total("scandals").unwrap_or(0.0) } else { events.len() as f64 };
        chart = chart.layer(Layer::Marks { name: "product scandal".into(), color: palette::SCANDAL.into(), marks });
        let mut caption = format!(
            "A KOL's credibility rises a little each time a promoted product proves sound and drops sharply when one turns out bad. Median went from {} to {}; {} scandals",
            format::fixed(p50.first().copied().unwrap_or(f64::NAN), 2),
            format::fixed(p50.last().copied().unwrap_or(f64::NAN), 2),
            format::number(scandal_count)
        );
        caption.push_str(" are marked by the triangles at the top (hover one for the product and the KOLs hit).");
        Block::figure("chart-kol-credibility", title, chart, escape(&caption))
    }

    fn scandal_table(&self) -> Option<Block> {
        let events = self.scandal_events();
        if events.is_empty() {
            return None;
        }
        const SHOWN: usize = 12;
        let mut worst = events.clone();
        worst.sort_by(|a, b| b.2.partial_cmp(&a.2).unwrap_or(std::cmp::Ordering::Equal).then(a.0.total_cmp(&b.0)));
        worst.truncate(SHOWN);
        worst.sort_by(|a, b| a.0.total_cmp(&b.0));
        let rows: Vec<(Vec<Cell>, bool)> = worst
            .iter()
            .map(|(day, product, hit)| {
                (
                    vec![
                        Cell::Number(format::number(*day)),
                        Cell::Text(product.clone()),
                        Cell::Number(format::number(*hit)),
                    ],
                    false,
                )
            })
            .collect();
        let mut out = String::from("<div class=\"table-wrap\" id=\"scandals\"><h3 class=\"table-title\">");
        if events.len() > SHOWN {
            put!(out, "The {SHOWN} scandals that hit the most KOLs (of {})", events.len());
        } else {
            out.push_str("Scandals");
        }
        out.push_str("</h3>");
        out.push_str(&html::data_table(&[("day", true), ("product", false), ("KOLs hit", true)], &rows));
        out.push_str("</div>");
        Some(Block::Cell(out))
    }

    // ----- the run: scenario, facts, totals -----

    fn run_tables(&self) -> String {
        let mut facts: Vec<(String, String)> = vec![
            ("seed".into(), self.summary_text("seed").unwrap_or_else(|| "not recorded".into())),
            ("version".into(), self.summary_text("version").unwrap_or_else(|| "not recorded".into())),
            (
                "run time".into(),
                self.summary
                    .get("wall_time_seconds")
                    .and_then(Value::as_f64)
                    .map(format::duration)
                    .unwrap_or_else(|| "not recorded".into()),
            ),
            (
                "peak memory".into(),
                self.summary
                    .get("peak_rss_bytes")
                    .and_then(Value::as_f64)
                    .map(format::bytes)
                    .unwrap_or_else(|| "not measured".into()),
            ),
            ("days".into(), self.day_count().to_string()),
            ("metrics columns".into(), self.table.names().len().to_string()),
            ("report".into(), format!("xinyong-report {}", env!("CARGO_PKG_VERSION"))),
        ];
        const SHOWN_ELSEWHERE: [&str; 8] = [
            "scenario",
            "seed",
            "version",
            "wall_time_seconds",
            "peak_rss_bytes",
            "totals",
            "headline",
            "scandal_events",
        ];
        if let Some(map) = self.summary.as_object() {
            for (key, value) in map {
                let label = key.replace('_', " ");
                let shown = SHOWN_ELSEWHERE.contains(&key.as_str()) || facts.iter().any(|(l, _)| *l == label);
                if !shown && !value.is_object() && !value.is_array() {
                    facts.push((label, value.as_f64().map(format::number).unwrap_or_else(|| html::scalar_text(value))));
                }
            }
        }
        let mut out = String::from("<div class=\"columns\"><div>");
        out.push_str("<div class=\"table-wrap\" id=\"run-facts\"><h3 class=\"table-title\">Run</h3>");
        out.push_str(&html::key_value_table(&facts, "facts"));
        out.push_str("</div>");
        if let Some(totals) = self.summary.get("totals").and_then(Value::as_object).filter(|t| !t.is_empty()) {
            let rows: Vec<(Vec<Cell>, bool)> = totals
                .iter()
                .map(|(name, value)| {
                    let label = crate::metrics::describe(name).0;
                    let text = value.as_f64().map(format::number).unwrap_or_else(|| html::scalar_text(value));
                    let cell = if name.contains("innocent") || name.contains("false") {
                        Cell::Warning(text)
                    } else {
                        Cell::Number(text)
                    };
                    (vec![Cell::Text(label), cell], false)
                })
                .collect();
            out.push_str("<div class=\"table-wrap\" id=\"run-totals\" style=\"margin-top:22px\"><h3 class=\"table-title\">Totals reported by the simulator</h3>");
            out.push_str(&html::data_table(&[("metric", false), ("value", true)], &rows));
            out.push_str("</div>");
        }
        out.push_str(
            "</div><div class=\"table-wrap\" id=\"scenario\"><h3 class=\"table-title\">Scenario as resolved</h3>",
        );
        match self.scenario() {
            Some(scenario) => out.push_str(&html::key_value_table(&html::flatten(scenario), "kv")),
            None => out.push_str("<p class=\"note\">summary.json has no <code>scenario</code>.</p>"),
        }
        out.push_str("</div></div>");
        out
    }
}

fn sum(values: &[f64]) -> f64 {
    values.iter().filter(|v| v.is_finite()).sum()
}

fn mean(values: &[f64]) -> f64 {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() { f64::NAN } else { finite.iter().sum::<f64>() / finite.len() as f64 }
}

fn ratio(part: f64, whole: f64) -> f64 {
    if whole > 0.0 { part / whole } else { f64::NAN }
}
