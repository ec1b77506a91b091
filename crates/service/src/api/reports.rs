//! Denunciation for vouchers (issue 11): a citizen reports a group-mate; a reporter or the
//! operator confirms or rejects the report; a confirmed report becomes an incident (exactly
//! as a camera's) and pays the denouncer a voucher and/or points. Off unless the policy's
//! `[denunciation] enabled` is true (the engine refuses with `denunciation_disabled`).
//!
//! Privacy: a denouncer sees only their own reports; the accused sees the incident a
//! confirmed report became (with `source: "denunciation"`), never who filed it.

use super::extract::{ApiJson, Auth, CitizenOnly, ReportPath, ReporterOrOperator};
use super::handlers::{Reply, engine, me_citizen, ok, read, written};
use super::{Api, Doc};
use crate::error::ApiError;
use crate::state::ServiceEngine;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use xinyong_engine::{CitizenId, Command, Day, Outcome, Report, ReportStatus, Voucher};

use super::App;

pub fn routes(api: Api) -> Api {
    api.add(
        Method::POST,
        "/v1/reports",
        denounce,
        Doc::of::<CitizenOnly>(
            "reports",
            "Denounce a group-mate (kind, day): a report, not an incident, until a reporter or the operator confirms it; a confirmed report pays a voucher.",
        )
        .status(201)
        .example(r#"{"accused": 1, "kind": "littering", "day": null}"#),
    )
    .add(
        Method::GET,
        "/v1/reports/mine",
        my_reports,
        Doc::of::<CitizenOnly>("reports", "My reports and their status, and my vouchers (discount, expiry)."),
    )
    .add(
        Method::GET,
        "/v1/reports",
        pending_reports,
        Doc::of::<ReporterOrOperator>("reports", "Reports waiting for a decision, oldest first."),
    )
    .add(
        Method::POST,
        "/v1/reports/{id}/decision",
        decide_report,
        Doc::of::<ReporterOrOperator>(
            "reports",
            "Confirm a report (it becomes an incident against the accused and pays the denouncer) or reject it (it may cost the denouncer points).",
        )
        .example(r#"{"confirmed": true}"#),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportBody {
    accused: u32,
    kind: String,
    #[serde(default)]
    day: Option<Day>,
}

async fn denounce(State(app): State<App>, auth: Auth<CitizenOnly>, ApiJson(body): ApiJson<ReportBody>) -> Reply {
    let p = auth.principal();
    if body.kind.len() > 64 {
        return Err(ApiError::invalid("unknown_incident_kind", "incident kind names are at most 64 bytes"));
    }
    let command =
        Command::Denounce { citizen: me_citizen(p), accused: CitizenId(body.accused), kind: body.kind, day: body.day };
    let (outcome, seq) = engine(&app, p, command).await?;
    let Outcome::Report { report } = outcome else { return Err(ApiError::internal("unexpected outcome")) };
    written(StatusCode::CREATED, json!({"report": report.to_string(), "status": "pending"}), seq)
}

async fn my_reports(State(app): State<App>, auth: Auth<CitizenOnly>) -> Reply {
    let me = me_citizen(auth.principal());
    let value = read(&app, move |s| {
        s.engine.view(me)?;
        let e = &s.engine;
        let reports: Vec<Value> = e.reports().iter().filter(|r| r.id.citizen == me).map(|r| report(e, r)).collect();
        let vouchers: Vec<Value> = e.vouchers_of(me).iter().map(voucher).collect();
        Ok(json!({"reports": reports, "vouchers": vouchers, "enabled": e.rules().policy.denunciation.enabled}))
    })
    .await?;
    ok(value)
}

async fn pending_reports(State(app): State<App>, _auth: Auth<ReporterOrOperator>) -> Reply {
    let value = read(&app, |s| {
        let e = &s.engine;
        Ok(e.pending_reports().iter().map(|r| report(e, r)).collect::<Vec<_>>())
    })
    .await?;
    ok(json!({"reports": value}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    confirmed: bool,
}

async fn decide_report(
    State(app): State<App>,
    auth: Auth<ReporterOrOperator>,
    ReportPath(id): ReportPath,
    ApiJson(body): ApiJson<DecisionBody>,
) -> Reply {
    let (outcome, seq) =
        engine(&app, auth.principal(), Command::DecideReport { report: id, confirmed: body.confirmed }).await?;
    let Outcome::ReportDecided { incident } = outcome else { return Err(ApiError::internal("unexpected outcome")) };
    let value = json!({
        "report": id.to_string(),
        "confirmed": body.confirmed,
        "incident": incident.map(|i| i.to_string()),
    });
    written(StatusCode::OK, value, seq)
}

fn report(e: &ServiceEngine, r: &Report) -> Value {
    let kind = &e.rules().policy.incident_kinds[r.kind as usize].name;
    let (status, incident, decided) = match r.status {
        ReportStatus::Pending => ("pending", None, None),
        ReportStatus::Confirmed { incident, decided } => ("confirmed", Some(incident.to_string()), Some(decided)),
        ReportStatus::Rejected { decided } => ("rejected", None, Some(decided)),
    };
    json!({
        "report": r.id.to_string(),
        "denouncer": r.id.citizen.0,
        "accused": r.accused.0,
        "kind": kind,
        "day": r.day,
        "filed": r.id.day,
        "status": status,
        "incident": incident,
        "decided": decided,
    })
}

fn voucher(v: &Voucher) -> Value {
    json!({
        "voucher": v.id.to_string(),
        "discount_bp": v.discount_bp,
        "discount_percent": v.discount_bp as f64 / 100.0,
        "usable_from": v.id.day + 1,
        "expires": v.expires,
    })
}
