//! The operator's view of a mixed world (issue 12): real people and simulated citizens side
//! by side, and the run exported as the files `simulate` writes, with a column telling who
//! was real. A participant never learns any of this: their own screens are those of
//! issue 7, and nothing they can read says whether a group-mate is real.

use super::extract::{Auth, OperatorOnly};
use super::handlers::{Reply, ok, read};
use super::{Api, App, Doc};
use crate::error::ApiError;
use crate::state::ServiceState;
use axum::extract::{RawQuery, State};
use axum::http::{Method, StatusCode, header};
use axum::response::IntoResponse;
use serde_json::{Value, json};
use std::fmt::Write;
use xinyong_engine::{CitizenId, LedgerEntry, Restriction};

/// Most citizens listed by one request.
pub const CITIZENS_PAGE_MAX: u32 = 1_000;

pub fn routes(api: Api) -> Api {
    api.add(
        Method::GET,
        "/v1/operator/citizens",
        list_citizens,
        Doc::of::<OperatorOnly>(
            "operator",
            "Citizens side by side, real and simulated: ?population=all|real|simulated&offset=0&limit=100 (at most 1,000).",
        ),
    )
    .add(
        Method::GET,
        "/v1/operator/population",
        population,
        Doc::of::<OperatorOnly>(
            "operator",
            "Real people against simulated citizens: scores, bans, incidents, and how each answered notices.",
        ),
    )
    .add(
        Method::GET,
        "/v1/operator/export/metrics.csv",
        export_metrics,
        Doc::of::<OperatorOnly>(
            "operator",
            "A mixed world's daily metrics, the same columns and bytes as `xinyong simulate` writes (409 without a synthetic population).",
        ),
    )
    .add(
        Method::GET,
        "/v1/operator/export/ledger.csv",
        export_ledger,
        Doc::of::<OperatorOnly>(
            "operator",
            "Every ledger entry, as simulate's ledger.parquet, with a `real` column (1: a real person).",
        ),
    )
    .add(
        Method::GET,
        "/v1/operator/export/citizens.csv",
        export_citizens,
        Doc::of::<OperatorOnly>(
            "operator",
            "One row per citizen: real or simulated, group, score, tier, answers given, incidents, expulsions.",
        ),
    )
}

/// Which citizens a list shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Population {
    All,
    Real,
    Simulated,
}

struct Page {
    population: Population,
    offset: u32,
    limit: u32,
}

fn page(query: Option<String>) -> Result<Page, ApiError> {
    let mut page = Page { population: Population::All, offset: 0, limit: 100 };
    let number = |key: &str, value: &str| {
        value.parse::<u32>().map_err(|_| {
            ApiError::bad_request("invalid_query", format!("{key}: a whole number, got {value:?}"))
                .with_details(json!({"key": key}))
        })
    };
    for pair in query.as_deref().unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "population" => {
                page.population = match value {
                    "all" => Population::All,
                    "real" => Population::Real,
                    "simulated" => Population::Simulated,
                    other => {
                        return Err(ApiError::bad_request(
                            "invalid_query",
                            format!("population: all, real or simulated, got {other:?}"),
                        )
                        .with_details(json!({"key": "population"})));
                    }
                }
            }
            "offset" => page.offset = number(key, value)?,
            "limit" => page.limit = number(key, value)?,
            // The web app's token travels in the query for EventSource; nothing else does.
            "access_token" => {}
            other => {
                return Err(ApiError::bad_request(
                    "invalid_query",
                    format!("unknown parameter {other:?} (population, offset, limit)"),
                )
                .with_details(json!({"key": other})));
            }
        }
    }
    if !(1..=CITIZENS_PAGE_MAX).contains(&page.limit) {
        return Err(ApiError::bad_request("invalid_query", format!("limit: 1 to {CITIZENS_PAGE_MAX}"))
            .with_details(json!({"key": "limit"})));
    }
    Ok(page)
}

async fn list_citizens(State(app): State<App>, _auth: Auth<OperatorOnly>, RawQuery(query): RawQuery) -> Reply {
    let page = page(query)?;
    ok(read(&app, move |s| {
        let e = &s.engine;
        let simulated = e.directory().simulated_count();
        let (first, end) = match page.population {
            Population::All => (0, e.citizen_count()),
            Population::Real => (simulated, e.citizen_count()),
            Population::Simulated => (0, simulated.min(e.citizen_count())),
        };
        let total = end - first;
        let from = first.saturating_add(page.offset).min(end);
        let to = from.saturating_add(page.limit).min(end);
        let citizens: Vec<Value> = (from..to)
            .map(|c| {
                let citizen = CitizenId(c);
                let view = e.view(citizen).expect("ids below the count exist");
                json!({"citizen": c, "real": s.is_real(citizen), "account": s.citizen_account(citizen),
                    "group": view.group, "score": view.score, "tier": view.tier})
            })
            .collect();
        Ok(json!({"mixed": s.mixed.is_some(), "simulated": simulated, "total": total,
            "offset": page.offset, "citizens": citizens}))
    })
    .await?)
}

/// Per-citizen counts folded from the ledger and the day reports.
#[derive(Clone, Copy, Default)]
struct Tally {
    expel: u64,
    keep: u64,
    silent: u64,
    incidents: u64,
    expelled: u64,
}

fn tallies(s: &ServiceState) -> Vec<Tally> {
    let mut t = vec![Tally::default(); s.engine.citizen_count() as usize];
    for entry in s.engine.ledger().entries() {
        let Some(row) = t.get_mut(entry.citizen.index()) else { continue };
        match entry.cause.kind() {
            "vote_expel" => row.expel += 1,
            "vote_keep" => row.keep += 1,
            "abstain_counted_expel" | "abstain_counted_keep" => row.silent += 1,
            "incident" => row.incidents += 1,
            _ => {}
        }
    }
    for day in &s.days {
        for (_, citizen) in &day.expelled {
            if let Some(row) = t.get_mut(citizen.index()) {
                row.expelled += 1;
            }
        }
    }
    t
}

fn population_of(s: &ServiceState, tallies: &[Tally], real: bool) -> Value {
    let e = &s.engine;
    let rules = e.rules();
    let (mut n, mut score_sum, mut banned, mut sum) = (0u64, 0i64, 0u64, Tally::default());
    for c in 0..e.citizen_count() {
        let citizen = CitizenId(c);
        if s.is_real(citizen) != real {
            continue;
        }
        let view = e.view(citizen).expect("ids below the count exist");
        n += 1;
        score_sum += view.score as i64;
        if rules.tier(view.tier_index).restrictions.contains(Restriction::Travel) {
            banned += 1;
        }
        let t = tallies[c as usize];
        sum.expel += t.expel;
        sum.keep += t.keep;
        sum.silent += t.silent;
        sum.incidents += t.incidents;
        sum.expelled += t.expelled;
    }
    let answers = sum.expel + sum.keep + sum.silent;
    let share = |x: u64, of: u64| if of == 0 { Value::Null } else { json!(x as f64 / of as f64) };
    json!({
        "citizens": n,
        "score_mean": if n == 0 { Value::Null } else { json!(score_sum as f64 / n as f64) },
        "travel_banned": banned,
        "travel_banned_share": share(banned, n),
        "incidents": sum.incidents,
        "expelled": sum.expelled,
        "notices_tallied": answers,
        "answered_expel": sum.expel,
        "answered_keep": sum.keep,
        "silent": sum.silent,
        "expel_share": share(sum.expel, answers),
        "keep_share": share(sum.keep, answers),
        "silent_share": share(sum.silent, answers),
    })
}

async fn population(State(app): State<App>, _auth: Auth<OperatorOnly>) -> Reply {
    ok(read(&app, |s| {
        let tallies = tallies(s);
        Ok(json!({
            "mixed": s.mixed.is_some(),
            "day": s.engine.day(),
            "real": population_of(s, &tallies, true),
            "simulated": population_of(s, &tallies, false),
            "note": "answers are counted once a notice is tallied; silence is counted as the policy's abstention rule says",
        }))
    })
    .await?)
}

fn csv(name: &str, body: String) -> Reply {
    let disposition = format!("attachment; filename=\"{name}\"");
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()), (header::CONTENT_DISPOSITION, disposition)],
        body,
    )
        .into_response())
}

async fn export_metrics(State(app): State<App>, _auth: Auth<OperatorOnly>) -> Reply {
    let body = read(&app, |s| {
        let Some(mixed) = &s.mixed else {
            return Err(ApiError::conflict(
                "not_mixed",
                "daily metrics are the simulator's: start a mixed world with `xinyong serve --synthetic N`",
            ));
        };
        Ok(xinyong_sim::metrics::to_csv(mixed.sim.metrics(), &mixed.sim.tier_names()))
    })
    .await?;
    csv("metrics.csv", body)
}

/// The columns of simulate's ledger.parquet, in its order, then `real`.
const LEDGER_HEADER: &str =
    "day,citizen,delta,requested,cause,incident_day,offender,incident_seq,incident_was_false,real\n";

fn ledger_row(out: &mut String, s: &ServiceState, e: &LedgerEntry) {
    let incident = e.cause.incident();
    let (day, offender, seq) = incident.map_or((-1, -1, -1), |i| (i.day as i64, i.citizen.0 as i64, i.seq as i64));
    // Only the simulator knows whether an incident was false; a person's report is not judged.
    let was_false = match (&s.mixed, incident) {
        (Some(mixed), Some(i)) => (mixed.sim.was_false(i) as u8).to_string(),
        (Some(_), None) => "0".into(),
        (None, _) => String::new(),
    };
    let _ = writeln!(
        out,
        "{},{},{},{},{},{day},{offender},{seq},{was_false},{}",
        e.day,
        e.citizen.0,
        e.delta,
        e.requested,
        e.cause.kind(),
        s.is_real(e.citizen) as u8
    );
}

async fn export_ledger(State(app): State<App>, _auth: Auth<OperatorOnly>) -> Reply {
    let body = read(&app, |s| {
        let entries = s.engine.ledger().entries();
        let mut out = String::with_capacity(LEDGER_HEADER.len() + entries.len() * 40);
        out.push_str(LEDGER_HEADER);
        for i in xinyong_sim::output::ledger_order(entries) {
            ledger_row(&mut out, s, &entries[i as usize]);
        }
        Ok(out)
    })
    .await?;
    csv("ledger.csv", body)
}

async fn export_citizens(State(app): State<App>, _auth: Auth<OperatorOnly>) -> Reply {
    let body = read(&app, |s| {
        let tallies = tallies(s);
        let mut out =
            String::from("citizen,real,group,score,tier,answered_expel,answered_keep,silent,incidents,expelled\n");
        for c in 0..s.engine.citizen_count() {
            let citizen = CitizenId(c);
            let view = s.engine.view(citizen).expect("ids below the count exist");
            let t = tallies[c as usize];
            let group = view.group.map(|g| g.0.to_string()).unwrap_or_default();
            let _ = writeln!(
                out,
                "{c},{},{group},{},{},{},{},{},{},{}",
                s.is_real(citizen) as u8,
                view.score,
                view.tier,
                t.expel,
                t.keep,
                t.silent,
                t.incidents,
                t.expelled
            );
        }
        Ok(out)
    })
    .await?;
    csv("citizens.csv", body)
}
