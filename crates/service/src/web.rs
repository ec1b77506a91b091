//! The web app's hook: everything outside `/v1`, `/healthz`, `/metrics` and `/openapi.json`.
//!
//! For now a single page that says what the server is and where the API is. The web app
//! (static assets embedded in the binary) replaces [`router`]'s body; the rest of the
//! service does not change. Its routes are not part of `/openapi.json`, which describes the
//! API only.

use crate::api::App;
use axum::Router;
use axum::response::Html;
use axum::routing::get;

pub fn router() -> Router<App> {
    Router::new().route("/", get(index))
}

async fn index() -> Html<&'static str> {
    Html(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>xinyong</title></head><body>\
         <h1>xinyong — the live platform</h1>\
         <p>The web app is not built yet. The API is described at <a href=\"/openapi.json\">/openapi.json</a>; \
         every call under <code>/v1</code> takes <code>Authorization: Bearer &lt;token&gt;</code>.</p>\
         </body></html>",
    )
}
