//! The endpoints. Each handler: extract (role first), check what only the service knows
//! (whose data this is), then one closure on the engine actor.
//!
//! Privacy rule: a citizen's requests name no other citizen's data. Everything a citizen
//! reads is derived from `principal.subject` (their own id); where a request names an
//! incident, the service checks it concerns the caller and answers 404 otherwise — the
//! same answer as for an incident that does not exist, so ids cannot be probed.

use super::extract::*;
use super::{Api, App, BATCH_BODY_BYTES_MAX, Doc, wire};
use crate::error::ApiError;
use crate::events::Event as HubEvent;
use crate::state::{BATCH_COMMANDS_MAX, CITIZENS_PER_REQUEST_MAX, Done, Principal, Role, ServiceCommand, ServiceState};
use crate::token::Token;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use xinyong_engine::{
    Answer, CitizenId, Command, Day, Directory, GroupId, IncidentId, KolId, Outcome, Policy, ProductId, ProductSpec,
    Restriction,
};

const GET: Method = Method::GET;
const POST: Method = Method::POST;
const PUT: Method = Method::PUT;
const DELETE: Method = Method::DELETE;

/// Every route of the API, with its documentation.
pub fn routes(api: Api) -> Api {
    api.add(GET, "/healthz", healthz, Doc::public("service", "Liveness: 200 while serving, 503 when a restart is needed."))
        .add(GET, "/metrics", metrics, Doc::public("service", "Prometheus metrics, text format."))
        .add(GET, "/openapi.json", openapi, Doc::public("service", "This description of the API (OpenAPI 3.1)."))
        // Accounts.
        .add(GET, "/v1/me", me, Doc::of::<Anyone>("accounts", "Who am I: account, role, and the id of what I am."))
        .add(
            POST,
            "/v1/register",
            register,
            Doc::public("accounts", "Self-registration of a citizen (only when the server runs with --self-registration).")
                .status(201),
        )
        .add(
            POST,
            "/v1/citizens",
            create_citizens,
            Doc::of::<OperatorOnly>("accounts", "Create citizens (1 to 10,000); each gets an id and a token, shown once.")
                .status(201)
                .example(r#"{"count": 3}"#),
        )
        .add(
            POST,
            "/v1/kols",
            create_kol,
            Doc::of::<OperatorOnly>("accounts", "Create a KOL account; its token is shown once.")
                .status(201)
                .example(r#"{"name": "Li Jiaqi"}"#),
        )
        .add(
            POST,
            "/v1/brands",
            create_brand,
            Doc::of::<OperatorOnly>("accounts", "Create a brand account; its token is shown once.")
                .status(201)
                .example(r#"{"name": "Sanlu Dairy"}"#),
        )
        .add(
            POST,
            "/v1/reporters",
            create_reporter,
            Doc::of::<OperatorOnly>("accounts", "Create a reporter account (the camera network); its token is shown once.")
                .status(201)
                .example(r#"{"name": "camera network, district 3"}"#),
        )
        // Citizens.
        .add(
            GET,
            "/v1/citizens/me",
            my_profile,
            Doc::of::<CitizenOnly>("citizens", "My score, tier, restrictions, group size, favourites and follows."),
        )
        .add(GET, "/v1/citizens/me/ledger", my_ledger, Doc::of::<CitizenOnly>("citizens", "Every change of my score and its cause."))
        .add(
            GET,
            "/v1/citizens/me/explanation",
            my_explanation,
            Doc::of::<CitizenOnly>("citizens", "Why my score is what it is, in sentences, and what would change my tier."),
        )
        .add(
            PUT,
            "/v1/citizens/me/favourites",
            set_favourites,
            Doc::of::<CitizenOnly>("citizens", "Replace my favourite products (my tier's discount applies to them).")
                .example(r#"{"products": [0, 2]}"#),
        )
        .add(
            PUT,
            "/v1/citizens/me/interests",
            set_interests,
            Doc::of::<CitizenOnly>("citizens", "Replace my interest profile (non-negative weights; used for grouping).")
                .example(r#"{"interests": [0.9, 0.1, 0.0]}"#),
        )
        .add(
            GET,
            "/v1/citizens/{id}",
            citizen_audit,
            Doc::of::<OperatorOnly>("operator", "Audit one citizen: profile, explanation, incidents."),
        )
        // Groups.
        .add(
            GET,
            "/v1/groups/mine",
            my_group,
            Doc::of::<CitizenOnly>("groups", "My group: size and shared interests (never other members' ids or scores)."),
        )
        .add(
            GET,
            "/v1/groups/mine/pools",
            my_pools,
            Doc::of::<CitizenOnly>("groups", "Units in my group's pools today per product, and units to the next discount tier."),
        )
        .add(
            POST,
            "/v1/groups/form",
            form_groups,
            Doc::of::<OperatorOnly>("groups", "Group the groupless citizens by interest into new groups of the policy's sizes.")
                .status(201),
        )
        // KOLs.
        .add(GET, "/v1/kols", list_kols, Doc::of::<Anyone>("kols", "Every KOL: name, credibility, followers, today's promotions."))
        .add(GET, "/v1/kols/me", my_kol, Doc::of::<KolOnly>("kols", "My followers, credibility, promotions and units sold."))
        .add(POST, "/v1/kols/{id}/follow", follow, Doc::of::<CitizenOnly>("kols", "Follow a KOL (to buy through their promotions)."))
        .add(DELETE, "/v1/kols/{id}/follow", unfollow, Doc::of::<CitizenOnly>("kols", "Stop following a KOL."))
        .add(
            POST,
            "/v1/promotions",
            promote,
            Doc::of::<KolOnly>("kols", "Promote a product today; followers may buy it through me.")
                .status(201)
                .example(r#"{"product": 0}"#),
        )
        .add(GET, "/v1/feed", feed, Doc::of::<CitizenOnly>("kols", "Today's promotions by the KOLs I follow."))
        // Products.
        .add(GET, "/v1/products", list_products, Doc::of::<Anyone>("products", "The catalogue."))
        .add(
            POST,
            "/v1/products",
            add_product,
            Doc::of::<BrandOrOperator>(
                "products",
                "Add a product (a brand adds its own; the operator names the brand). travel: a train or plane ticket.",
            )
            .status(201)
            .example(r#"{"name": "Beijing-Shanghai train ticket", "list_price_fen": 55300, "category": 4, "travel": true, "brand": 0}"#),
        )
        .add(
            POST,
            "/v1/products/{id}/scandal",
            reveal_scandal,
            Doc::of::<OperatorOnly>("products", "A scandal about this product comes out today (KOLs who promoted it pay at the close)."),
        )
        // Orders.
        .add(
            POST,
            "/v1/orders/quote",
            quote,
            Doc::of::<CitizenOnly>("orders", "What an order would cost now, with the price breakdown, without placing it.")
                .example(r#"{"product": 0, "units": 2}"#),
        )
        .add(
            POST,
            "/v1/orders",
            place_order,
            Doc::of::<CitizenOnly>(
                "orders",
                "Place an order; it joins my group's pool and is priced at the close. A travel ticket is refused (403 travel_banned) in a restricted tier.",
            )
            .status(201)
            .example(r#"{"product": 0, "units": 2, "via": null}"#),
        )
        .add(
            POST,
            "/v1/orders/batch",
            place_batch,
            Doc::of::<CitizenOrOperator>(
                "orders",
                "Place up to 10,000 orders in one request (the operator for any citizens, a citizen for themself); each result is reported.",
            )
            .example(r#"{"orders": [{"citizen": 0, "product": 0, "units": 1}]}"#)
            .limit(BATCH_BODY_BYTES_MAX),
        )
        .add(GET, "/v1/orders/mine", my_orders, Doc::of::<CitizenOnly>("orders", "My orders: today's (pending) and settled ones."))
        // Incidents and appeals.
        .add(
            POST,
            "/v1/incidents",
            report_incident,
            Doc::of::<ReporterOrOperator>(
                "incidents",
                "Report an incident against a citizen (text only: the service never handles images or biometrics).",
            )
            .status(201)
            .example(r#"{"citizen": 0, "kind": "public_drunkenness", "day": null}"#),
        )
        .add(GET, "/v1/incidents/mine", my_incidents, Doc::of::<CitizenOnly>("incidents", "Incidents reported against me, with their appeal status."))
        .add(
            POST,
            "/v1/incidents/{id}/appeal",
            file_appeal,
            Doc::of::<CitizenOnly>("incidents", "Appeal an incident reported against me (within the appeal window)."),
        )
        .add(
            POST,
            "/v1/incidents/{id}/decision",
            decide_appeal,
            Doc::of::<OperatorOnly>("incidents", "Decide an appeal; granted gives the penalty back.").example(r#"{"granted": true}"#),
        )
        .add(GET, "/v1/appeals", pending_appeals, Doc::of::<OperatorOnly>("incidents", "Appeals waiting for a decision."))
        // Notices.
        .add(
            GET,
            "/v1/notices",
            my_notices,
            Doc::of::<CitizenOnly>("notices", "My open notices: expel or keep a group-mate, the deadline, the points each answer gives."),
        )
        .add(
            POST,
            "/v1/notices/{id}/answer",
            answer_notice,
            Doc::of::<CitizenOnly>("notices", "Answer a notice: expel or keep.").example(r#"{"answer": "expel"}"#),
        )
        // Days.
        .add(POST, "/v1/days/close", close_day, Doc::of::<OperatorOnly>("days", "Close the day: tally, deliver notices, settle pools, regroup."))
        .add(GET, "/v1/days/current", current_day, Doc::of::<Anyone>("days", "The open day, and when the day clock closes it."))
        // Policy and operator.
        .add(GET, "/v1/policy", get_policy, Doc::of::<Anyone>("policy", "The rules in force."))
        .add(
            PUT,
            "/v1/policy",
            put_policy,
            Doc::of::<OperatorOnly>("policy", "Replace the rules (only during set-up: before any citizen, product, KOL or day close).")
                .example(r#"{"groups": {"min_size": 3, "max_size": 10}}"#),
        )
        .add(
            GET,
            "/v1/operator/dashboard",
            dashboard,
            Doc::of::<OperatorOnly>("operator", "Counts, score distribution, tiers, travel bans, expulsions, appeals, GMV, and the per-day history."),
        )
        .add(
            GET,
            "/v1/operator/state-hash",
            state_hash,
            Doc::of::<OperatorOnly>("operator", "Digests of the engine and service state (equal after a restart or a replay)."),
        )
        .add(
            GET,
            "/v1/events",
            events,
            Doc::of::<Anyone>(
                "events",
                "Server-Sent Events for my account: notices, tallied votes, settled orders, appeals, day closes. Browsers may pass ?access_token=.",
            ),
        )
}

// ----- helpers ----------------------------------------------------------------------------

pub(super) type Reply = Result<Response, ApiError>;

pub(super) fn ok(value: Value) -> Reply {
    Ok((StatusCode::OK, Json(value)).into_response())
}

/// A write's answer, with the seq of the log record that made it durable.
pub(super) fn written(status: StatusCode, value: Value, seq: u64) -> Reply {
    let mut response = (status, Json(value)).into_response();
    if let Ok(v) = HeaderValue::from_str(&seq.to_string()) {
        response.headers_mut().insert("xinyong-seq", v);
    }
    Ok(response)
}

pub(super) async fn read<R: Send + 'static>(
    app: &App,
    f: impl FnOnce(&ServiceState) -> Result<R, ApiError> + Send + 'static,
) -> Result<R, ApiError> {
    app.actor.call(move |core| f(&core.state)).await
}

fn engine_outcome(done: Done) -> Result<Outcome, ApiError> {
    match done {
        Done::Engine(outcome) => Ok(outcome),
        other => Err(ApiError::internal(format!("unexpected result {other:?}"))),
    }
}

/// Runs one engine command for `who`; returns its outcome and log seq.
pub(super) async fn engine(app: &App, who: Principal, command: Command) -> Result<(Outcome, u64), ApiError> {
    app.actor
        .call(move |core| {
            let done = core.execute(Some(who.account), ServiceCommand::Engine { command })?;
            Ok((engine_outcome(done)?, core.last_submitted()))
        })
        .await
}

pub(super) fn me_citizen(p: Principal) -> CitizenId {
    debug_assert_eq!(p.role, Role::Citizen);
    CitizenId(p.subject)
}

fn new_tokens(n: u32) -> Result<Vec<Token>, ApiError> {
    (0..n).map(|_| Token::generate().map_err(ApiError::internal)).collect()
}

fn hex64(x: u64) -> String {
    format!("{x:016x}")
}

// ----- service ------------------------------------------------------------------------------

async fn healthz(State(app): State<App>) -> Response {
    let shared = app.shared();
    match shared.unavailable() {
        Some(error) => error.into_response(),
        None => Json(json!({"status": "ok", "log_seq": shared.durability.through(), "commit": format!("{:?}", shared.commit_mode).to_lowercase()}))
            .into_response(),
    }
}

async fn metrics(State(app): State<App>) -> Response {
    let gauges = app.actor.call(|core| Ok(core.gauges())).await.unwrap_or_default();
    let text = app.shared().metrics.render(&gauges);
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn openapi(State(app): State<App>) -> Response {
    Json(app.spec.as_ref().clone()).into_response()
}

// ----- accounts -----------------------------------------------------------------------------

async fn me(State(app): State<App>, auth: Auth<Anyone>) -> Reply {
    let p = auth.principal();
    let value = read(&app, move |s| {
        let account = &s.accounts[p.account as usize];
        Ok(json!({"account": p.account, "role": p.role, "name": account.name, p.role.name(): p.subject}))
    })
    .await?;
    ok(value)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CreateCitizens {
    count: Option<u32>,
}

async fn create_citizens_for(app: &App, who: Option<u32>, count: u32) -> Result<(Vec<Value>, u64), ApiError> {
    if count == 0 || count > CITIZENS_PER_REQUEST_MAX {
        return Err(ApiError::invalid(
            "invalid_count",
            format!("create 1 to {CITIZENS_PER_REQUEST_MAX} citizens at a time"),
        ));
    }
    let tokens = new_tokens(count)?;
    let hashes = tokens.iter().map(Token::hash).collect();
    let (first_account, first_citizen, seq) = app
        .actor
        .call(move |core| match core.execute(who, ServiceCommand::CreateCitizens { tokens: hashes })? {
            Done::Accounts { first, .. } => {
                Ok((first, core.state.accounts[first as usize].subject, core.last_submitted()))
            }
            other => Err(ApiError::internal(format!("unexpected result {other:?}"))),
        })
        .await?;
    let list = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"citizen": first_citizen + i as u32, "account": first_account + i as u32, "token": t.as_str()}))
        .collect();
    Ok((list, seq))
}

async fn create_citizens(
    State(app): State<App>,
    auth: Auth<OperatorOnly>,
    OptionalJson(body): OptionalJson<CreateCitizens>,
) -> Reply {
    let (list, seq) = create_citizens_for(&app, Some(auth.principal().account), body.count.unwrap_or(1)).await?;
    written(StatusCode::CREATED, json!({"citizens": list}), seq)
}

async fn register(State(app): State<App>) -> Reply {
    if !app.shared().self_registration {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "registration_closed",
            "self-registration is off on this server: ask the operator for an account (or start the server with --self-registration)",
        ));
    }
    let (mut list, seq) = create_citizens_for(&app, None, 1).await?;
    written(StatusCode::CREATED, list.remove(0), seq)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NameBody {
    name: String,
}

async fn create_named(app: &App, who: Principal, role: Role, name: String) -> Reply {
    let token = Token::generate().map_err(ApiError::internal)?;
    let hash = token.hash();
    let command = match role {
        Role::Kol => ServiceCommand::CreateKol { name, token: hash },
        Role::Brand => ServiceCommand::CreateBrand { name, token: hash },
        _ => ServiceCommand::CreateReporter { name, token: hash },
    };
    let (account, subject, seq) = app
        .actor
        .call(move |core| match core.execute(Some(who.account), command)? {
            Done::Accounts { first, .. } => {
                Ok((first, core.state.accounts[first as usize].subject, core.last_submitted()))
            }
            other => Err(ApiError::internal(format!("unexpected result {other:?}"))),
        })
        .await?;
    written(StatusCode::CREATED, json!({role.name(): subject, "account": account, "token": token.as_str()}), seq)
}

async fn create_kol(State(app): State<App>, auth: Auth<OperatorOnly>, ApiJson(body): ApiJson<NameBody>) -> Reply {
    create_named(&app, auth.principal(), Role::Kol, body.name).await
}

async fn create_brand(State(app): State<App>, auth: Auth<OperatorOnly>, ApiJson(body): ApiJson<NameBody>) -> Reply {
    create_named(&app, auth.principal(), Role::Brand, body.name).await
}

async fn create_reporter(State(app): State<App>, auth: Auth<OperatorOnly>, ApiJson(body): ApiJson<NameBody>) -> Reply {
    create_named(&app, auth.principal(), Role::Reporter, body.name).await
}

// ----- citizens -----------------------------------------------------------------------------

fn profile_of(s: &ServiceState, citizen: CitizenId) -> Result<Value, ApiError> {
    let view = s.engine.view(citizen)?;
    let mut value = wire::profile(&s.engine, &view);
    let dir = s.engine.directory();
    value["favourites"] = json!(dir.favourites(citizen).iter().map(|p| p.0).collect::<Vec<_>>());
    value["following"] = json!(dir.followed(citizen).iter().map(|k| k.0).collect::<Vec<_>>());
    value["interests"] = json!(dir.interests(citizen));
    Ok(value)
}

async fn my_profile(State(app): State<App>, auth: Auth<CitizenOnly>) -> Reply {
    let me = me_citizen(auth.principal());
    ok(read(&app, move |s| profile_of(s, me)).await?)
}

async fn my_ledger(State(app): State<App>, auth: Auth<CitizenOnly>) -> Reply {
    let me = me_citizen(auth.principal());
    let value = read(&app, move |s| {
        let e = &s.engine;
        let entries: Vec<Value> = e.ledger().of(me).map(|entry| wire::ledger_entry(e, entry)).collect();
        Ok(json!({"citizen": me.0, "initial_score": e.rules().policy.initial_score, "score": e.score(me)?, "entries": entries}))
    })
    .await?;
    ok(value)
}

fn explanation_of(s: &ServiceState, citizen: CitizenId) -> Result<Value, ApiError> {
    let e = &s.engine;
    let x = e.explain(citizen)?;
    let view = e.view(citizen)?;
    let sentences: Vec<String> = x.entries.iter().map(|entry| wire::explain_entry(e, entry)).collect();
    let mut summary = format!(
        "You started at {} points; {} change(s) since make {}. Your tier is {}",
        x.initial_score,
        x.entries.len(),
        x.score,
        x.tier
    );
    if let Some(needed) = view.travel_score_needed {
        summary.push_str(&format!(
            ", which bars you from buying train and plane tickets; a score of {needed} would lift the ban"
        ));
    }
    summary.push_str(". Tiers move when the day closes.");
    Ok(json!({
        "citizen": citizen.0,
        "initial_score": x.initial_score,
        "score": x.score,
        "tier": x.tier,
        "restrictions": x.restrictions,
        "complete": x.complete,
        "summary": summary,
        "sentences": sentences,
        "entries": x.entries.iter().map(|entry| wire::ledger_entry(e, entry)).collect::<Vec<_>>(),
        "profile": wire::profile(e, &view),
    }))
}

async fn my_explanation(State(app): State<App>, auth: Auth<CitizenOnly>) -> Reply {
    let me = me_citizen(auth.principal());
    ok(read(&app, move |s| explanation_of(s, me)).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FavouritesBody {
    products: Vec<u32>,
}

async fn set_favourites(
    State(app): State<App>,
    auth: Auth<CitizenOnly>,
    ApiJson(body): ApiJson<FavouritesBody>,
) -> Reply {
    let p = auth.principal();
    let me = me_citizen(p);
    if body.products.len() > xinyong_engine::directory::FAVOURITES_MAX {
        return Err(ApiError::invalid(
            "limit_reached",
            format!("at most {} favourite products", xinyong_engine::directory::FAVOURITES_MAX),
        ));
    }
    let products = body.products.into_iter().map(ProductId).collect();
    let (_, seq) = engine(&app, p, Command::SetFavourites { citizen: me, products }).await?;
    let favourites =
        read(&app, move |s| Ok(s.engine.directory().favourites(me).iter().map(|p| p.0).collect::<Vec<_>>())).await?;
    written(StatusCode::OK, json!({"favourites": favourites}), seq)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InterestsBody {
    interests: Vec<f32>,
}

async fn set_interests(
    State(app): State<App>,
    auth: Auth<CitizenOnly>,
    ApiJson(body): ApiJson<InterestsBody>,
) -> Reply {
    let p = auth.principal();
    let me = me_citizen(p);
    if body.interests.len() > xinyong_engine::directory::INTEREST_DIMS_MAX {
        return Err(ApiError::invalid(
            "invalid_value",
            format!("give 1 to {} numbers", xinyong_engine::directory::INTEREST_DIMS_MAX),
        ));
    }
    let interests = body.interests.clone();
    let (_, seq) = engine(&app, p, Command::SetInterests { citizen: me, interests }).await?;
    written(StatusCode::OK, json!({"interests": body.interests}), seq)
}

async fn citizen_audit(State(app): State<App>, _auth: Auth<OperatorOnly>, IdPath(id): IdPath) -> Reply {
    let citizen = CitizenId(id);
    let value = read(&app, move |s| {
        let mut value = explanation_of(s, citizen)?;
        value["profile"] = profile_of(s, citizen)?;
        value["account"] = json!(s.citizen_account(citizen));
        value["real"] = json!(s.is_real(citizen));
        value["incidents"] = json!(
            s.engine
                .incidents()
                .filter(|i| i.id.citizen == citizen)
                .map(|i| wire::incident(&s.engine, i))
                .collect::<Vec<_>>()
        );
        Ok(value)
    })
    .await?;
    ok(value)
}

// ----- groups -------------------------------------------------------------------------------

async fn my_group(State(app): State<App>, auth: Auth<CitizenOnly>) -> Reply {
    let me = me_citizen(auth.principal());
    let value = read(&app, move |s| {
        let e = &s.engine;
        let view = e.view(me)?;
        let bounds = &e.rules().policy.groups;
        let Some(g) = view.group else {
            return Ok(json!({"group": null, "size": null, "regroup_day": view.regroup_day,
                "min_size": bounds.min_size, "max_size": bounds.max_size}));
        };
        let group = e.group(g).ok_or(xinyong_engine::Refusal::UnknownGroup { group: g })?;
        let mut topics: Vec<(usize, f64)> =
            e.directory().group_interests(g).unwrap_or_default().into_iter().enumerate().collect();
        topics.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let top: Vec<Value> = topics
            .iter()
            .take(5)
            .filter(|t| t.1 > 0.0)
            .map(|(topic, weight)| json!({"topic": topic, "weight": weight}))
            .collect();
        Ok(json!({
            "group": g.0,
            "size": group.size(),
            "min_size": bounds.min_size,
            "max_size": bounds.max_size,
            "top_interests": top,
            "history": {"notices_tallied": group.history.votes, "expulsions": group.history.expulsions},
            "open_notices": group.open_notices().len(),
        }))
    })
    .await?;
    ok(value)
}

async fn my_pools(State(app): State<App>, auth: Auth<CitizenOnly>) -> Reply {
    let me = me_citizen(auth.principal());
    let value = read(&app, move |s| {
        let e = &s.engine;
        let rules = e.rules();
        let tiers: Vec<Value> =
            rules.group_discounts_bp.iter().map(|(units, bp)| json!({"min_units": units, "discount_bp": bp})).collect();
        let Some(g) = e.group_of(me)? else {
            return Ok(json!({"group": null, "day": e.day(), "pools": [], "tiers": tiers,
                "note": "a citizen in no group pays the list price"}));
        };
        let pools: Vec<Value> = e
            .products()
            .iter()
            .enumerate()
            .filter_map(|(i, product)| {
                let units = e.pool_units(g, ProductId(i as u32));
                (units > 0).then(|| {
                    let (discount_bp, tier) = rules.group_discount(units);
                    json!({"product": i, "name": product.name, "units": units, "tier": tier,
                        "discount_bp": discount_bp, "next_tier": wire::next_tier(rules.next_group_discount(units))})
                })
            })
            .collect();
        Ok(json!({"group": g.0, "day": e.day(), "pools": pools, "tiers": tiers}))
    })
    .await?;
    ok(value)
}

/// Groups the eligible groupless citizens with the grouping crate (interest profiles;
/// citizens who declared none count as alike). Leftovers (too few to make a group) stay
/// groupless and are placed into groups with room at the next close.
fn plan_groups(s: &ServiceState) -> Result<Vec<(CitizenId, GroupId)>, ApiError> {
    let e = &s.engine;
    let today = e.day();
    let candidates: Vec<CitizenId> =
        e.groupless().iter().filter(|m| m.eligible_day <= today).map(|m| m.member.citizen).collect();
    let bounds = &e.rules().policy.groups;
    if (candidates.len() as u64) < bounds.min_size as u64 {
        return Err(ApiError::conflict(
            "not_enough_citizens",
            format!(
                "{} groupless citizen(s) can be grouped today; a group needs at least {} (policy.groups.min_size)",
                candidates.len(),
                bounds.min_size
            ),
        ));
    }
    let dir = e.directory();
    let dims = candidates.iter().filter_map(|&c| dir.interests(c).map(<[f32]>::len)).max().unwrap_or(1).max(1);
    let mut values = Vec::with_capacity(candidates.len() * dims);
    for &c in &candidates {
        match dir.interests(c).filter(|v| v.iter().any(|x| *x > 0.0)) {
            Some(v) => {
                values.extend_from_slice(v);
                values.extend(std::iter::repeat_n(0.0, dims - v.len()));
            }
            None => values.extend(std::iter::repeat_n(1.0, dims)),
        }
    }
    let profiles = xinyong_grouping::Profiles::new(dims, &values).map_err(|e| ApiError::internal(e.to_string()))?;
    let grouping_bounds = xinyong_grouping::Bounds::new(bounds.min_size, bounds.max_size)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let grouping = xinyong_grouping::group(profiles, grouping_bounds, &xinyong_grouping::Options::default());
    let base = e.group_count();
    Ok(candidates
        .into_iter()
        .zip(grouping.group_of)
        .filter(|&(_, g)| g != xinyong_grouping::NO_GROUP)
        .map(|(c, g)| (c, GroupId(base + g)))
        .collect())
}

async fn form_groups(State(app): State<App>, auth: Auth<OperatorOnly>) -> Reply {
    let who = auth.principal();
    let (value, seq) = app
        .actor
        .call(move |core| {
            let before = core.state.engine.group_count();
            let assignments = plan_groups(&core.state)?;
            if assignments.is_empty() {
                return Err(ApiError::conflict(
                    "not_enough_citizens",
                    "no group can be formed from the groupless citizens",
                ));
            }
            let placed = assignments.len();
            core.execute(Some(who.account), ServiceCommand::FormGroups { assignments })?;
            let e = &core.state.engine;
            let value = json!({
                "groups_created": e.group_count() - before,
                "citizens_placed": placed,
                "citizens_left_groupless": e.groupless().len(),
                "groups": e.group_count(),
            });
            Ok((value, core.last_submitted()))
        })
        .await?;
    written(StatusCode::CREATED, value, seq)
}

// ----- KOLs ---------------------------------------------------------------------------------

fn kol_json(s: &ServiceState, kol: KolId) -> Result<Value, ApiError> {
    let e = &s.engine;
    let k = e.kols().get(kol.index()).ok_or(xinyong_engine::Refusal::UnknownKol { kol })?;
    let today: Vec<u32> = e.promotions_today().filter(|p| p.kol == kol).map(|p| p.product.0).collect();
    Ok(json!({
        "kol": kol.0,
        "name": k.name,
        "credibility": k.credibility,
        "followers": e.directory().follower_count(kol),
        "promoting_today": today,
    }))
}

async fn list_kols(State(app): State<App>, _auth: Auth<Anyone>) -> Reply {
    let value =
        read(&app, |s| (0..s.engine.kols().len() as u32).map(|k| kol_json(s, KolId(k))).collect::<Result<Vec<_>, _>>())
            .await?;
    ok(json!({"kols": value}))
}

async fn my_kol(State(app): State<App>, auth: Auth<KolOnly>) -> Reply {
    let kol = KolId(auth.principal().subject);
    let value = read(&app, move |s| {
        let mut value = kol_json(s, kol)?;
        let k = &s.engine.kols()[kol.index()];
        value["promotions"] = json!(k.promotions);
        value["units_sold"] = json!(k.units_sold);
        value["scandals_hit"] = json!(k.scandals_hit);
        Ok(value)
    })
    .await?;
    ok(value)
}

async fn follow(State(app): State<App>, auth: Auth<CitizenOnly>, IdPath(kol): IdPath) -> Reply {
    let p = auth.principal();
    let (_, seq) = engine(&app, p, Command::Follow { citizen: me_citizen(p), kol: KolId(kol) }).await?;
    written(StatusCode::OK, json!({"kol": kol, "following": true}), seq)
}

async fn unfollow(State(app): State<App>, auth: Auth<CitizenOnly>, IdPath(kol): IdPath) -> Reply {
    let p = auth.principal();
    let (_, seq) = engine(&app, p, Command::Unfollow { citizen: me_citizen(p), kol: KolId(kol) }).await?;
    written(StatusCode::OK, json!({"kol": kol, "following": false}), seq)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PromoteBody {
    product: u32,
}

async fn promote(State(app): State<App>, auth: Auth<KolOnly>, ApiJson(body): ApiJson<PromoteBody>) -> Reply {
    let p = auth.principal();
    let (outcome, seq) =
        engine(&app, p, Command::Promote { kol: KolId(p.subject), product: ProductId(body.product) }).await?;
    let Outcome::Promotion { promotion } = outcome else { return Err(ApiError::internal("unexpected outcome")) };
    written(
        StatusCode::CREATED,
        json!({"day": promotion.day, "kol": promotion.kol.0, "product": promotion.product.0}),
        seq,
    )
}

async fn feed(State(app): State<App>, auth: Auth<CitizenOnly>) -> Reply {
    let me = me_citizen(auth.principal());
    let value = read(&app, move |s| {
        let e = &s.engine;
        e.view(me)?;
        let followed = e.directory().followed(me);
        let items: Vec<Value> = e
            .promotions_today()
            .filter(|p| followed.contains(&p.kol))
            .map(|p| {
                let k = &e.kols()[p.kol.index()];
                let product = &e.products()[p.product.index()];
                json!({"kol": p.kol.0, "kol_name": k.name, "credibility": k.credibility, "product": p.product.0,
                    "name": product.name, "list_price_fen": product.list_price, "travel": product.travel})
            })
            .collect();
        Ok(json!({"day": e.day(), "promotions": items}))
    })
    .await?;
    ok(value)
}

// ----- products -----------------------------------------------------------------------------

async fn list_products(State(app): State<App>, _auth: Auth<Anyone>) -> Reply {
    let value = read(&app, |s| {
        Ok(s.engine
            .products()
            .iter()
            .enumerate()
            .map(|(i, p)| {
                json!({"product": i, "name": p.name, "brand": p.brand.0,
                    "brand_name": s.brands.get(p.brand.index()).map(|b| b.name.clone()),
                    "category": p.category, "list_price_fen": p.list_price, "travel": p.travel, "scandals": p.scandals})
            })
            .collect::<Vec<_>>())
    })
    .await?;
    ok(json!({"products": value}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductBody {
    name: String,
    list_price_fen: i64,
    #[serde(default)]
    category: u16,
    #[serde(default)]
    travel: bool,
    /// The operator names the brand; a brand may omit it (or give its own).
    #[serde(default)]
    brand: Option<u32>,
}

async fn add_product(
    State(app): State<App>,
    auth: Auth<BrandOrOperator>,
    ApiJson(body): ApiJson<ProductBody>,
) -> Reply {
    let p = auth.principal();
    let brand = match (p.role, body.brand) {
        (Role::Brand, None) => p.subject,
        (Role::Brand, Some(b)) if b == p.subject => b,
        (Role::Brand, Some(_)) => return Err(ApiError::forbidden("a brand adds products of its own brand only")),
        (_, Some(b)) => b,
        (_, None) => {
            return Err(ApiError::invalid(
                "brand_required",
                "the operator names the brand of a product: \"brand\": <id>",
            ));
        }
    };
    let spec = ProductSpec {
        name: body.name,
        brand: xinyong_engine::BrandId(brand),
        category: body.category,
        list_price: body.list_price_fen,
        travel: body.travel,
    };
    let (product, seq) = app
        .actor
        .call(move |core| {
            if brand as usize >= core.state.brands.len() {
                return Err(ApiError::not_found("unknown_brand", format!("no brand {brand}")));
            }
            let done =
                core.execute(Some(p.account), ServiceCommand::Engine { command: Command::AddProduct { spec } })?;
            match engine_outcome(done)? {
                Outcome::Product { product } => Ok((product, core.last_submitted())),
                _ => Err(ApiError::internal("unexpected outcome")),
            }
        })
        .await?;
    written(StatusCode::CREATED, json!({"product": product.0}), seq)
}

async fn reveal_scandal(State(app): State<App>, auth: Auth<OperatorOnly>, IdPath(id): IdPath) -> Reply {
    let (_, seq) = engine(&app, auth.principal(), Command::RevealScandal { product: ProductId(id) }).await?;
    written(StatusCode::OK, json!({"product": id, "scandal": true}), seq)
}

// ----- orders -------------------------------------------------------------------------------

fn one() -> u32 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrderBody {
    product: u32,
    #[serde(default = "one")]
    units: u32,
    #[serde(default)]
    via: Option<u32>,
}

async fn quote(State(app): State<App>, auth: Auth<CitizenOnly>, ApiJson(body): ApiJson<OrderBody>) -> Reply {
    let me = me_citizen(auth.principal());
    let value = read(&app, move |s| {
        let q = s.engine.quote(me, ProductId(body.product), body.units, body.via.map(KolId))?;
        Ok(wire::receipt(&q, body.product, body.units, body.via))
    })
    .await?;
    ok(value)
}

async fn place_order(State(app): State<App>, auth: Auth<CitizenOnly>, ApiJson(body): ApiJson<OrderBody>) -> Reply {
    let p = auth.principal();
    let command = Command::PlaceOrder {
        citizen: me_citizen(p),
        product: ProductId(body.product),
        units: body.units,
        via: body.via.map(KolId),
    };
    let (outcome, seq) = engine(&app, p, command).await?;
    let Outcome::Order { receipt } = outcome else { return Err(ApiError::internal("unexpected outcome")) };
    written(StatusCode::CREATED, wire::receipt(&receipt, body.product, body.units, body.via), seq)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchLine {
    #[serde(default)]
    citizen: Option<u32>,
    product: u32,
    #[serde(default = "one")]
    units: u32,
    #[serde(default)]
    via: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchBody {
    orders: Vec<BatchLine>,
}

async fn place_batch(
    State(app): State<App>,
    auth: Auth<CitizenOrOperator>,
    ApiJson(body): ApiJson<BatchBody>,
) -> Reply {
    let p = auth.principal();
    if body.orders.is_empty() || body.orders.len() > BATCH_COMMANDS_MAX {
        return Err(ApiError::invalid("invalid_count", format!("a batch holds 1 to {BATCH_COMMANDS_MAX} orders")));
    }
    let mut commands = Vec::with_capacity(body.orders.len());
    for (i, line) in body.orders.iter().enumerate() {
        let citizen = match (p.role, line.citizen) {
            (Role::Citizen, None) => p.subject,
            (Role::Citizen, Some(c)) if c == p.subject => c,
            (Role::Citizen, Some(_)) => {
                return Err(ApiError::forbidden(format!("orders[{i}]: a citizen places orders for themself only")));
            }
            (_, Some(c)) => c,
            (_, None) => {
                return Err(ApiError::invalid(
                    "citizen_required",
                    format!("orders[{i}]: the operator names the citizen"),
                ));
            }
        };
        commands.push(Command::PlaceOrder {
            citizen: CitizenId(citizen),
            product: ProductId(line.product),
            units: line.units,
            via: line.via.map(KolId),
        });
    }
    let (results, seq) = app
        .actor
        .call(move |core| match core.execute(Some(p.account), ServiceCommand::Batch { commands })? {
            Done::Batch(results) => Ok((results, core.last_submitted())),
            other => Err(ApiError::internal(format!("unexpected result {other:?}"))),
        })
        .await?;
    let mut accepted = 0;
    let list: Vec<BatchResult> = results
        .iter()
        .map(|r| match r {
            Ok(Outcome::Order { receipt }) => {
                accepted += 1;
                BatchResult::Placed {
                    order: receipt.order.to_string(),
                    total_fen: receipt.provisional_total,
                    pool_units: receipt.pool_units,
                }
            }
            Ok(_) => BatchResult::Refused { status: 500, code: "internal", reason: "unexpected outcome".into() },
            Err(refusal) => {
                let e = ApiError::refusal(refusal);
                BatchResult::Refused { status: e.status.as_u16(), code: e.code, reason: e.reason }
            }
        })
        .collect();
    let refused = list.len() - accepted;
    let mut response = (StatusCode::OK, Json(BatchAnswer { accepted, refused, results: list })).into_response();
    if let Ok(v) = HeaderValue::from_str(&seq.to_string()) {
        response.headers_mut().insert("xinyong-seq", v);
    }
    Ok(response)
}

/// One order of a batch, as answered (typed rather than a `Value`: a batch answer holds up
/// to 10,000 of them).
#[derive(serde::Serialize)]
#[serde(untagged)]
enum BatchResult {
    Placed { order: String, total_fen: i64, pool_units: u64 },
    Refused { status: u16, code: &'static str, reason: String },
}

#[derive(serde::Serialize)]
struct BatchAnswer {
    accepted: usize,
    refused: usize,
    results: Vec<BatchResult>,
}

/// Most settled orders listed by `GET /v1/orders/mine` (the newest).
const SETTLED_LISTED_MAX: usize = 1000;

async fn my_orders(State(app): State<App>, auth: Auth<CitizenOnly>) -> Reply {
    let me = me_citizen(auth.principal());
    let value = read(&app, move |s| {
        let e = &s.engine;
        e.view(me)?;
        let pending: Vec<Value> =
            e.pending_orders().iter().filter(|o| o.id.citizen == me).map(wire::pending_order).collect();
        let mine: Vec<&xinyong_engine::SettledOrder> =
            e.settled_orders().iter().filter(|o| o.order.id.citizen == me).collect();
        let skip = mine.len().saturating_sub(SETTLED_LISTED_MAX);
        let settled: Vec<Value> = mine[skip..].iter().map(|o| crate::core::settled_json(o)).collect();
        Ok(json!({"day": e.day(), "pending": pending, "settled": settled, "settled_omitted": skip}))
    })
    .await?;
    ok(value)
}

// ----- incidents and appeals -----------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IncidentBody {
    citizen: u32,
    kind: String,
    #[serde(default)]
    day: Option<Day>,
}

async fn report_incident(
    State(app): State<App>,
    auth: Auth<ReporterOrOperator>,
    ApiJson(body): ApiJson<IncidentBody>,
) -> Reply {
    let p = auth.principal();
    if body.kind.len() > 64 {
        return Err(ApiError::invalid("unknown_incident_kind", "incident kind names are at most 64 bytes"));
    }
    let command = Command::ReportIncident { citizen: CitizenId(body.citizen), kind: body.kind, day: body.day };
    let (value, seq) = app
        .actor
        .call(move |core| {
            let done = core.execute(Some(p.account), ServiceCommand::Engine { command })?;
            let Outcome::Incident { incident } = engine_outcome(done)? else {
                return Err(ApiError::internal("unexpected outcome"));
            };
            let e = &core.state.engine;
            let record = e.incident(incident).ok_or_else(|| ApiError::internal("the new incident is missing"))?;
            Ok((wire::incident(e, record), core.last_submitted()))
        })
        .await?;
    written(StatusCode::CREATED, value, seq)
}

async fn my_incidents(State(app): State<App>, auth: Auth<CitizenOnly>) -> Reply {
    let me = me_citizen(auth.principal());
    let value = read(&app, move |s| {
        s.engine.view(me)?;
        Ok(s.engine
            .incidents()
            .filter(|i| i.id.citizen == me)
            .map(|i| wire::incident(&s.engine, i))
            .collect::<Vec<_>>())
    })
    .await?;
    ok(json!({"incidents": value}))
}

fn no_such_incident(incident: IncidentId) -> ApiError {
    ApiError::not_found("unknown_incident", format!("no incident {incident} concerns you"))
}

async fn file_appeal(State(app): State<App>, auth: Auth<CitizenOnly>, IncidentPath(incident): IncidentPath) -> Reply {
    let p = auth.principal();
    let me = me_citizen(p);
    if incident.citizen != me {
        // The id names another citizen: the same answer as for an id that does not exist.
        return Err(no_such_incident(incident));
    }
    let (_, seq) = engine(&app, p, Command::FileAppeal { citizen: me, incident }).await?;
    written(StatusCode::OK, json!({"incident": incident.to_string(), "appeal": "filed"}), seq)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    granted: bool,
}

async fn decide_appeal(
    State(app): State<App>,
    auth: Auth<OperatorOnly>,
    IncidentPath(incident): IncidentPath,
    ApiJson(body): ApiJson<DecisionBody>,
) -> Reply {
    let (outcome, seq) =
        engine(&app, auth.principal(), Command::DecideAppeal { incident, granted: body.granted }).await?;
    let Outcome::Appeal { delta } = outcome else { return Err(ApiError::internal("unexpected outcome")) };
    written(StatusCode::OK, json!({"incident": incident.to_string(), "granted": body.granted, "delta": delta}), seq)
}

async fn pending_appeals(State(app): State<App>, _auth: Auth<OperatorOnly>) -> Reply {
    let value = read(&app, |s| {
        Ok(s.engine
            .incidents()
            .filter(|i| matches!(i.appeal, xinyong_engine::AppealStatus::Filed { .. }))
            .map(|i| wire::incident(&s.engine, i))
            .collect::<Vec<_>>())
    })
    .await?;
    ok(json!({"appeals": value}))
}

// ----- notices ------------------------------------------------------------------------------

async fn my_notices(State(app): State<App>, auth: Auth<CitizenOnly>) -> Reply {
    let me = me_citizen(auth.principal());
    let value = read(&app, move |s| {
        let e = &s.engine;
        let sanction = &e.rules().policy.sanction;
        let notices: Vec<Value> = e
            .notices_for(me)?
            .iter()
            .map(|n| {
                json!({
                    "incident": n.incident.to_string(),
                    "offender": n.offender.0,
                    "kind": e.rules().policy.incident_kinds[n.kind as usize].name,
                    "deadline": n.deadline,
                    "answer": n.answer,
                    "expel_points": sanction.expel_reward,
                    "keep_points": -(sanction.keep_penalty as i64),
                    "unanswered_counts_as": sanction.abstain_as.to_string(),
                })
            })
            .collect();
        Ok(json!({"day": e.day(), "notices": notices}))
    })
    .await?;
    ok(value)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerBody {
    answer: Answer,
}

/// Whether `me` may learn anything about `incident` through the notice endpoints: it is
/// addressed to them, or concerns their current group.
fn notice_visible(s: &ServiceState, me: CitizenId, incident: IncidentId) -> bool {
    let e = &s.engine;
    let Some(record) = e.incident(incident) else { return false };
    let Some(group) = record.group else { return false };
    let addressed = e.group(group).is_some_and(|g| {
        g.open_notices().iter().any(|b| b.incident == incident && b.position(g.members(), me).is_some())
    });
    addressed || (incident.citizen != me && e.group_of(me).ok().flatten() == Some(group))
}

async fn answer_notice(
    State(app): State<App>,
    auth: Auth<CitizenOnly>,
    IncidentPath(incident): IncidentPath,
    ApiJson(body): ApiJson<AnswerBody>,
) -> Reply {
    let p = auth.principal();
    let me = me_citizen(p);
    let seq = app
        .actor
        .call(move |core| {
            if !notice_visible(&core.state, me, incident) {
                return Err(ApiError::not_found("unknown_notice", format!("you have no notice about {incident}")));
            }
            core.execute(
                Some(p.account),
                ServiceCommand::Engine {
                    command: Command::AnswerNotice { citizen: me, incident, answer: body.answer },
                },
            )?;
            Ok(core.last_submitted())
        })
        .await?;
    written(StatusCode::OK, json!({"incident": incident.to_string(), "answer": body.answer}), seq)
}

// ----- days ---------------------------------------------------------------------------------

async fn close_day(State(app): State<App>, auth: Auth<OperatorOnly>) -> Reply {
    let (outcome, seq) = engine(&app, auth.principal(), Command::CloseDay).await?;
    let Outcome::DayClosed { report } = outcome else { return Err(ApiError::internal("unexpected outcome")) };
    written(StatusCode::OK, wire::day_report(&report), seq)
}

async fn current_day(State(app): State<App>, _auth: Auth<Anyone>) -> Reply {
    let day = read(&app, |s| Ok(s.engine.day())).await?;
    let next = *app.shared().next_close.lock().unwrap_or_else(|p| p.into_inner());
    let clock = match (app.day_length, next) {
        (Some(length), next) => json!({
            "day_length_ms": length.as_millis() as u64,
            "next_close_in_ms": next.map(|at| at.saturating_duration_since(std::time::Instant::now()).as_millis() as u64),
        }),
        (None, _) => Value::Null,
    };
    ok(json!({"day": day, "clock": clock}))
}

// ----- policy and operator ------------------------------------------------------------------

async fn get_policy(State(app): State<App>, _auth: Auth<Anyone>) -> Reply {
    let value = read(&app, |s| {
        Ok(json!({"policy": s.engine.rules().policy, "in_setup": s.in_setup(), "scenario": s.scenario}))
    })
    .await?;
    ok(value)
}

async fn put_policy(State(app): State<App>, auth: Auth<OperatorOnly>, ApiJson(policy): ApiJson<Policy>) -> Reply {
    let p = auth.principal();
    let seq = app
        .actor
        .call(move |core| {
            core.execute(Some(p.account), ServiceCommand::SetPolicy { policy })?;
            Ok(core.last_submitted())
        })
        .await?;
    let value = read(&app, |s| Ok(json!({"policy": s.engine.rules().policy, "in_setup": s.in_setup()}))).await?;
    written(StatusCode::OK, value, seq)
}

fn dashboard_of(s: &ServiceState) -> Value {
    let e = &s.engine;
    let scores = e.scores();
    let rules = e.rules();
    let mut tiers = Vec::new();
    let mut banned = 0;
    for (i, tier) in rules.tiers.iter().enumerate() {
        let high = if i == 0 { rules.policy.score_max } else { rules.tiers[i - 1].min_score - 1 };
        let count = scores.count_between(tier.min_score, high);
        if tier.restrictions.contains(Restriction::Travel) {
            banned += count;
        }
        tiers.push(json!({"tier": tier.name, "min_score": tier.min_score, "citizens": count}));
    }
    let total = scores.total();
    let sum = |f: fn(&xinyong_engine::DayReport) -> u64| s.days.iter().map(f).sum::<u64>();
    let mut roles = serde_json::Map::new();
    for role in Role::ALL {
        roles.insert(role.name().into(), json!(s.accounts.iter().filter(|a| a.role == role).count()));
    }
    let sizes: Vec<u32> = e.groups().iter().map(|g| g.size()).collect();
    json!({
        "day": e.day(),
        "citizens": e.citizen_count(),
        "accounts": roles,
        "groups": {"count": e.group_count(), "groupless": e.groupless().len(),
            "size_min": sizes.iter().min(), "size_max": sizes.iter().max()},
        "score": {"mean": scores.mean(), "p10": scores.percentile(10), "p50": scores.percentile(50),
            "p90": scores.percentile(90), "gini": scores.gini()},
        "tiers_by_current_score": tiers,
        "travel_banned": banned,
        "travel_banned_share": if total == 0 { 0.0 } else { banned as f64 / total as f64 },
        "totals": {
            "incidents": sum(|d| d.incidents_reported),
            "notices_delivered": sum(|d| d.notices_delivered),
            "expulsions": s.days.iter().map(|d| d.expelled.len() as u64).sum::<u64>(),
            "appeals_granted": sum(|d| d.appeals_granted),
            "appeals_rejected": sum(|d| d.appeals_rejected),
            "orders": sum(|d| d.orders),
            "gmv_fen": s.days.iter().map(|d| d.gmv).sum::<i64>(),
            "discount_group_fen": s.days.iter().map(|d| d.discount_group).sum::<i64>(),
            "discount_credit_fen": s.days.iter().map(|d| d.discount_credit).sum::<i64>(),
            "orders_refused_travel": sum(|d| d.orders_refused_travel),
            "orders_refused_other": sum(|d| d.orders_refused_other),
        },
        "note": "the service cannot know who was innocent: expulsions are counted, and appeals granted are the only sign of a wrong identification",
        "today": {"orders_pending": e.pending_orders().len()},
        "history": s.days.iter().map(wire::day_report).collect::<Vec<_>>(),
    })
}

async fn dashboard(State(app): State<App>, _auth: Auth<OperatorOnly>) -> Reply {
    ok(read(&app, |s| Ok(dashboard_of(s))).await?)
}

async fn state_hash(State(app): State<App>, _auth: Auth<OperatorOnly>) -> Reply {
    let value = app
        .actor
        .call(|core| {
            let s = &core.state;
            Ok(json!({
                "seq": core.last_submitted(),
                "day": s.engine.day(),
                "engine_state_hash": hex64(s.engine.state_hash()),
                "service_state_hash": hex64(s.state_hash()),
            }))
        })
        .await?;
    ok(value)
}

// ----- events -------------------------------------------------------------------------------

async fn events(
    State(app): State<App>,
    auth: Auth<Anyone>,
) -> Result<Sse<impl Stream<Item = Result<Event, std::convert::Infallible>>>, ApiError> {
    let p = auth.principal();
    let receiver = app.shared().hub.subscribe(p.account).ok_or_else(|| {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_streams",
            format!("an account holds at most {} event streams", crate::events::SUBSCRIPTIONS_PER_ACCOUNT_MAX),
        )
    })?;
    let ready = Event::default()
        .event("ready")
        .data(json!({"account": p.account, "role": p.role, "log_seq": app.shared().durability.through()}).to_string());
    let shared = Arc::clone(&app.actor.shared);
    let shutdown = app.shutdown.clone();
    let stream =
        futures_util::stream::unfold((receiver, shared, shutdown), |(mut receiver, shared, mut shutdown)| async move {
            if *shutdown.borrow() {
                return None;
            }
            let event: Arc<HubEvent> = tokio::select! {
                event = receiver.recv() => event?,
                _ = shutdown.changed() => return None,
            };
            // An event is sent only once the record that caused it is durable.
            shared.durability.wait(event.seq).await.ok()?;
            let sse = Event::default().event(event.kind).id(event.seq.to_string()).data(event.data.to_string());
            Some((Ok(sse), (receiver, shared, shutdown)))
        });
    let stream = futures_util::StreamExt::chain(futures_util::stream::once(async move { Ok(ready) }), stream);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
