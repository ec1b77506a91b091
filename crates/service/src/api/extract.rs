//! Extractors that turn every way a request can be wrong into the one JSON error shape.
//!
//! Authentication and role come first ([`Auth`]), then path ids, then the body: a caller
//! without the right role learns that (403) before anything about their body.

use super::App;
use crate::error::ApiError;
use crate::state::{Principal, Role};
use crate::token::Token;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use std::marker::PhantomData;
use xinyong_engine::{IncidentId, ReportId};

/// The roles an endpoint admits, as a type (so the check runs before the body is read).
pub trait Access: Send + Sync + 'static {
    const ROLES: &'static [Role];
}

macro_rules! access {
    ($(#[$doc:meta])* $name:ident: $($role:ident),+) => {
        $(#[$doc])*
        pub struct $name;
        impl Access for $name {
            const ROLES: &'static [Role] = &[$(Role::$role),+];
        }
    };
}

access!(/// Any account.
    Anyone: Operator, Reporter, Citizen, Kol, Brand);
access!(OperatorOnly: Operator);
access!(CitizenOnly: Citizen);
access!(KolOnly: Kol);
access!(BrandOrOperator: Brand, Operator);
access!(ReporterOrOperator: Reporter, Operator);
access!(CitizenOrOperator: Citizen, Operator);

/// An authenticated caller whose role is one of `A::ROLES`.
pub struct Auth<A>(pub Principal, PhantomData<A>);

impl<A> Auth<A> {
    pub fn principal(&self) -> Principal {
        self.0
    }
}

/// The bearer token of a request: `Authorization: Bearer <token>`; on `GET /v1/events` also
/// `?access_token=<token>`, because browsers' EventSource cannot set headers.
fn token_of(parts: &Parts) -> Result<Token, ApiError> {
    if let Some(value) = parts.headers.get(axum::http::header::AUTHORIZATION) {
        let text = value.to_str().map_err(|_| ApiError::unauthorized("the Authorization header is not text"))?;
        let token = text
            .strip_prefix("Bearer ")
            .ok_or_else(|| ApiError::unauthorized("use `Authorization: Bearer <token>`"))?;
        return Token::parse(token).map_err(ApiError::unauthorized);
    }
    if parts.uri.path() == "/v1/events"
        && let Some(query) = parts.uri.query()
        && let Some(token) = query.split('&').find_map(|pair| pair.strip_prefix("access_token="))
    {
        return Token::parse(token).map_err(ApiError::unauthorized);
    }
    Err(ApiError::unauthorized("this endpoint needs a token: `Authorization: Bearer <token>`"))
}

impl<A: Access> FromRequestParts<App> for Auth<A> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        let token = token_of(parts)?;
        let principal = app
            .shared()
            .principal(&token.hash())
            .ok_or_else(|| ApiError::unauthorized("this token belongs to no account"))?;
        if !A::ROLES.contains(&principal.role) {
            let roles: Vec<&str> = A::ROLES.iter().map(|r| r.name()).collect();
            return Err(ApiError::forbidden(format!(
                "this needs the role {}; your account is a {}",
                roles.join(" or "),
                principal.role.name()
            )));
        }
        Ok(Auth(principal, PhantomData))
    }
}

/// A required JSON body: `Content-Type: application/json`, a JSON *object* (serde would
/// also take `[1, 2]` for a struct, positionally), unknown fields refused (the request
/// types say `deny_unknown_fields`), size limited by the route's body limit.
pub struct ApiJson<T>(pub T);

fn is_json(req: &Request) -> bool {
    let Some(value) = req.headers().get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mime = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        let status = rejection.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE { "body_too_large" } else { "bad_body" };
        let status = if status.is_client_error() { status } else { StatusCode::BAD_REQUEST };
        ApiError::new(status, code, rejection.body_text())
    })
}

/// Parses a JSON object into `T`: syntax errors are 400 `bad_json`, wrong shapes 422
/// `invalid_body`.
fn parse_object<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|&b| b != b'{') && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() {
        return Err(ApiError::invalid("invalid_body", "the body must be a JSON object"));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    T::deserialize(&mut deserializer).and_then(|v| deserializer.end().map(|()| v)).map_err(|e| {
        if e.is_data() {
            ApiError::invalid("invalid_body", format!("Failed to deserialize the JSON body into the target type: {e}"))
        } else {
            ApiError::bad_request("bad_json", format!("Failed to parse the request body as JSON: {e}"))
        }
    })
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(&req) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Expected request with `Content-Type: application/json`",
            ));
        }
        let bytes = body_bytes(req, state).await?;
        parse_object(&bytes).map(ApiJson)
    }
}

/// An optional JSON body: empty means `T::default()`; otherwise as [`ApiJson`] (the content
/// type is not required, so `curl -X POST` works without one).
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = body_bytes(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        parse_object(&bytes).map(OptionalJson)
    }
}

/// A numeric id in the path (`/v1/kols/{id}/follow`).
pub struct IdPath(pub u32);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let text = path_text(parts, state).await?;
        text.parse::<u32>().map(IdPath).map_err(|_| {
            ApiError::bad_request("invalid_id", format!("{text:?} is not an id: ids are whole numbers from 0"))
        })
    }
}

/// An incident id in the path: `i<day>-<citizen>-<seq>`, e.g. `i12-345-0`.
pub struct IncidentPath(pub IncidentId);

impl<S: Send + Sync> FromRequestParts<S> for IncidentPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let text = path_text(parts, state).await?;
        text.parse::<IncidentId>()
            .map(IncidentPath)
            .map_err(|reason| ApiError::bad_request("invalid_incident_id", reason))
    }
}

/// A report (denunciation) id in the path: `r<day>-<citizen>-<seq>`, e.g. `r12-345-0`.
pub struct ReportPath(pub ReportId);

impl<S: Send + Sync> FromRequestParts<S> for ReportPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let text = path_text(parts, state).await?;
        text.parse::<ReportId>().map(ReportPath).map_err(|reason| ApiError::bad_request("invalid_report_id", reason))
    }
}

/// The one path parameter of a route, as text.
async fn path_text<S: Send + Sync>(parts: &mut Parts, state: &S) -> Result<String, ApiError> {
    let Path(text) = Path::<String>::from_request_parts(parts, state)
        .await
        .map_err(|r| ApiError::bad_request("invalid_path", r.body_text()))?;
    Ok(text)
}

/// Deserializes an incident id from its wire form, for request bodies.
pub fn incident_from_str<'de, D: serde::Deserializer<'de>>(d: D) -> Result<IncidentId, D::Error> {
    let text = <String as serde::Deserialize>::deserialize(d)?;
    text.parse().map_err(serde::de::Error::custom)
}
