//! The HTTP API: routes, their documentation, and the layers around them.
//!
//! Every route is added through [`Api::add`] together with its [`Doc`] (summary, roles,
//! example body), so `/openapi.json` lists exactly the routes that exist. Handlers parse
//! and authorize, then hand a closure to the engine actor ([`crate::core::Actor::call`]).

pub mod extract;
mod handlers;
mod mixed;
pub mod openapi;
mod reports;
mod web_support;
pub mod wire;

use crate::core::Actor;
use crate::error::ApiError;
use crate::state::Role;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::handler::Handler;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};
use extract::Access;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Largest request body on most routes.
pub const BODY_BYTES_MAX: usize = 64 << 10;
/// Largest body of `POST /v1/orders/batch` (10,000 orders of about 60 bytes, with room).
pub const BATCH_BODY_BYTES_MAX: usize = 2 << 20;

/// What every handler gets.
#[derive(Clone)]
pub struct App {
    pub actor: Actor,
    pub spec: Arc<serde_json::Value>,
    /// Turns true when the server shuts down (ends event streams).
    pub shutdown: watch::Receiver<bool>,
    pub day_length: Option<Duration>,
}

impl App {
    pub fn shared(&self) -> &crate::core::Shared {
        &self.actor.shared
    }
}

/// Documentation of one route.
#[derive(Clone, Debug)]
pub struct RouteDoc {
    pub method: Method,
    pub path: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    /// Roles admitted; empty for public routes.
    pub roles: &'static [Role],
    /// Status of a successful answer.
    pub success: u16,
    /// An example request body (JSON), when the route takes one.
    pub example: Option<&'static str>,
    pub body_bytes_max: usize,
}

/// A [`RouteDoc`] under construction.
pub struct Doc(RouteDoc);

impl Doc {
    pub fn of<A: Access>(tag: &'static str, summary: &'static str) -> Doc {
        Doc(RouteDoc {
            method: Method::GET,
            path: "",
            tag,
            summary,
            roles: A::ROLES,
            success: 200,
            example: None,
            body_bytes_max: BODY_BYTES_MAX,
        })
    }

    pub fn public(tag: &'static str, summary: &'static str) -> Doc {
        Doc(RouteDoc { roles: &[], ..Doc::of::<extract::Anyone>(tag, summary).0 })
    }

    pub fn status(mut self, status: u16) -> Doc {
        self.0.success = status;
        self
    }

    pub fn example(mut self, json: &'static str) -> Doc {
        self.0.example = Some(json);
        self
    }

    pub fn limit(mut self, bytes: usize) -> Doc {
        self.0.body_bytes_max = bytes;
        self
    }
}

/// A router and the documentation of its routes, built together.
pub struct Api {
    router: Router<App>,
    pub docs: Vec<RouteDoc>,
}

impl Api {
    fn new() -> Api {
        Api { router: Router::new(), docs: Vec::new() }
    }

    pub fn add<H, T>(mut self, method: Method, path: &'static str, handler: H, doc: Doc) -> Api
    where
        H: Handler<T, App>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("a standard method");
        let mut route = on(filter, handler);
        if doc.0.body_bytes_max != BODY_BYTES_MAX {
            route = route.layer(DefaultBodyLimit::max(doc.0.body_bytes_max));
        }
        self.router = self.router.route(path, route);
        self.docs.push(RouteDoc { method, path, ..doc.0 });
        self
    }
}

/// Builds the whole application: API routes, the web hook, fallbacks and layers.
pub fn app(actor: Actor, shutdown: watch::Receiver<bool>, day_length: Option<Duration>) -> Router {
    let api = mixed::routes(reports::routes(web_support::routes(handlers::routes(Api::new()))));
    let spec = Arc::new(openapi::spec(&api.docs));
    let app = App { actor, spec, shutdown, day_length };
    api.router
        .merge(crate::web::router())
        .route_layer(axum::middleware::from_fn_with_state(app.clone(), track))
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_BYTES_MAX))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
        .with_state(app)
}

/// The documented routes (for tests and tools).
pub fn route_docs() -> Vec<RouteDoc> {
    mixed::routes(reports::routes(web_support::routes(handlers::routes(Api::new())))).docs
}

async fn track(State(app): State<App>, matched: Option<MatchedPath>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = matched.map(|m| m.as_str().to_string()).unwrap_or_else(|| "(unmatched)".into());
    let response = next.run(request).await;
    app.shared().metrics.count_request(&route, method.as_str(), response.status().as_u16(), started.elapsed());
    response
}

async fn no_route(State(app): State<App>, request: Request) -> ApiError {
    app.shared().metrics.count_request("(unmatched)", request.method().as_str(), 404, Duration::ZERO);
    ApiError::not_found(
        "no_route",
        format!("no route {} {}; see /openapi.json", request.method(), request.uri().path()),
    )
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} is not allowed on {}; see /openapi.json", request.method(), request.uri().path()),
    )
}

fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(%message, "a handler panicked");
    ApiError::internal("the server failed on this request (a bug); it was logged").into_response()
}
