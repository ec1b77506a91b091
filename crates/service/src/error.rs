//! Errors on the wire: every refusal is a 4xx JSON body `{"code", "reason", "details"?}`.
//!
//! The code is stable and meant for programs (a web app switches on it); the reason is a
//! sentence for people. Engine [`Refusal`]s map to statuses by kind (see [`ApiError::refusal`]);
//! request-shape problems (bad JSON, unknown fields, too large) are caught before any handler
//! runs and get the same shape. A 5xx means the server is at fault, never the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use xinyong_engine::Refusal;

/// A refusal as the client sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub reason: String,
    pub details: Option<serde_json::Value>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, reason: impl Into<String>) -> ApiError {
        ApiError { status, code, reason: reason.into(), details: None }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> ApiError {
        self.details = Some(details);
        self
    }

    pub fn unauthorized(reason: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", reason)
    }

    pub fn forbidden(reason: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", reason)
    }

    pub fn not_found(code: &'static str, reason: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, reason)
    }

    pub fn conflict(code: &'static str, reason: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code, reason)
    }

    pub fn invalid(code: &'static str, reason: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, reason)
    }

    pub fn bad_request(code: &'static str, reason: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, reason)
    }

    /// The server cannot serve now (storage failed, shutting down): not the client's fault.
    pub fn unavailable(code: &'static str, reason: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, reason)
    }

    pub fn internal(reason: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", reason)
    }

    /// Maps an engine refusal to HTTP:
    ///
    /// * 404: the thing named does not exist (`is_not_found`);
    /// * 403 `travel_banned`: the buyer's credit tier forbids travel tickets — a refusal
    ///   *of this person*, with the tier, the score and the score that would lift it in
    ///   `details` (403 rather than 422: the request is well-formed, the person may not);
    /// * 409: the request conflicts with the current state (already done, not yet
    ///   possible, window closed, not following, not promoted today);
    /// * 422: a value is invalid or over a limit (units, kinds, interests, daily limits).
    pub fn refusal(refusal: &Refusal) -> ApiError {
        use Refusal as R;
        let status = if refusal.is_not_found() {
            StatusCode::NOT_FOUND
        } else {
            match refusal {
                R::TravelBanned { .. } | R::DenunciationDisabled => StatusCode::FORBIDDEN,
                R::AlreadyPromoted { .. }
                | R::AlreadyAnswered { .. }
                | R::DeadlinePassed { .. }
                | R::NoticeNotDelivered { .. }
                | R::AlreadyInGroup { .. }
                | R::NotInGroup { .. }
                | R::GroupFull { .. }
                | R::AppealAlreadyFiled { .. }
                | R::AppealWindowClosed { .. }
                | R::AppealNotFiled { .. }
                | R::AppealAlreadyDecided { .. }
                | R::NotFollowing { .. }
                | R::PromotionNotActive { .. }
                | R::NotARecipient { .. }
                | R::AppealNotByOffender { .. }
                | R::NotInYourGroup { .. }
                | R::ReportAlreadyDecided { .. } => StatusCode::CONFLICT,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            }
        };
        let mut details = serde_json::to_value(refusal).unwrap_or(serde_json::Value::Null);
        if let serde_json::Value::Object(map) = &mut details {
            map.remove("code");
            for (key, value) in map.iter_mut() {
                wire_ids(value, if key == "report" { 'r' } else { 'i' });
            }
        }
        let details = match details {
            serde_json::Value::Object(map) if map.is_empty() => None,
            other => Some(other),
        };
        ApiError { status, code: refusal.code(), reason: refusal.to_string(), details }
    }
}

/// Incident (and report) ids serialize as `{day, citizen, seq}` in the engine; on the wire
/// they are the strings `i12-345-0` (`r12-345-0`) that paths take.
fn wire_ids(value: &mut serde_json::Value, prefix: char) {
    if let serde_json::Value::Object(map) = value
        && map.len() == 3
        && let (Some(day), Some(citizen), Some(seq)) = (map.get("day"), map.get("citizen"), map.get("seq"))
        && let (Some(day), Some(citizen), Some(seq)) = (day.as_u64(), citizen.as_u64(), seq.as_u64())
    {
        *value = serde_json::Value::String(format!("{prefix}{day}-{citizen}-{seq}"));
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.reason)
    }
}

impl std::error::Error for ApiError {}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> ApiError {
        ApiError::refusal(&refusal)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&Body { code: self.code, reason: &self.reason, details: self.details.as_ref() })
            .unwrap_or_else(|_| br#"{"code":"internal","reason":"unserializable error"}"#.to_vec());
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Why the server could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] xinyong_store::StoreError),
    #[error("the policy is invalid: {0}")]
    Policy(#[from] xinyong_engine::PolicyError),
    #[error(
        "replaying the log diverged at record {seq}: {detail}. The log was written by a build whose \
         rules differ from this one, or it was edited; run the build that wrote it, or start on a new --db"
    )]
    Diverged { seq: u64, detail: String },
    #[error("record {seq} of the log cannot be read: {detail}")]
    BadRecord { seq: u64, detail: String },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use xinyong_engine::{CitizenId, IncidentId};

    #[test]
    fn refusals_map_to_statuses_by_kind() {
        let c = CitizenId(3);
        assert_eq!(ApiError::refusal(&Refusal::UnknownCitizen { citizen: c }).status, StatusCode::NOT_FOUND);
        let ban = Refusal::TravelBanned { citizen: c, tier: "D".into(), score: 500, score_needed: 600 };
        let e = ApiError::refusal(&ban);
        assert_eq!((e.status, e.code), (StatusCode::FORBIDDEN, "travel_banned"));
        assert_eq!(e.details.unwrap()["score_needed"], 600);
        let incident = IncidentId { day: 1, citizen: c, seq: 0 };
        let e = ApiError::refusal(&Refusal::AlreadyAnswered { incident, citizen: c });
        assert_eq!((e.status, e.code), (StatusCode::CONFLICT, "already_answered"));
        assert_eq!(e.details.unwrap()["incident"], "i1-3-0");
        let e = ApiError::refusal(&Refusal::InvalidUnits { units: 0, max: 20 });
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
}
