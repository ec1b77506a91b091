//! The web app: everything outside `/v1`, `/healthz`, `/metrics` and `/openapi.json`.
//!
//! Hand-written HTML, CSS and plain ES modules in `crates/service/web/`, embedded in the
//! binary with `include_str!`: no build step, no Node.js and no network at run time. The
//! page speaks only to the API (a token pasted at sign-in, kept in the browser's
//! localStorage) and to `/v1/events` for live updates; `docs/web.md` describes the screens.
//!
//! Caching: assets are not versioned by name, so every answer says `Cache-Control: no-cache`
//! with a strong `ETag` (a digest of the bytes): a browser revalidates and gets `304 Not
//! Modified` until the binary changes. Its routes are not part of `/openapi.json`, which
//! describes the API only.

use crate::api::App;
use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// One embedded file: the path it is served at, its media type, its bytes.
pub struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static str,
}

macro_rules! asset {
    ($path:literal, $file:literal, $type:expr) => {
        Asset { path: $path, content_type: $type, body: include_str!(concat!("../web/", $file)) }
    };
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// Every file of the web app.
pub const ASSETS: &[Asset] = &[
    asset!("/", "index.html", HTML),
    asset!("/app/app.css", "app.css", CSS),
    asset!("/app/icon.svg", "icon.svg", SVG),
    asset!("/app/app.js", "app.js", JS),
    asset!("/app/api.js", "api.js", JS),
    asset!("/app/dom.js", "dom.js", JS),
    asset!("/app/i18n.js", "i18n.js", JS),
    asset!("/app/charts.js", "charts.js", JS),
    asset!("/app/citizen.js", "citizen.js", JS),
    asset!("/app/kol.js", "kol.js", JS),
    asset!("/app/brand.js", "brand.js", JS),
    asset!("/app/reporter.js", "reporter.js", JS),
    asset!("/app/operator.js", "operator.js", JS),
];

/// The page may load only its own scripts and styles and talk only to its own server; the
/// charts are SVG built with DOM calls, so no inline script or style is needed.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub fn router() -> Router<App> {
    ASSETS.iter().fold(Router::new(), |router, asset| {
        let etag = format!("\"{:016x}\"", fnv1a(asset.body.as_bytes()));
        router.route(asset.path, get(move |headers: HeaderMap| async move { serve(asset, &etag, &headers) }))
    })
}

fn serve(asset: &'static Asset, etag: &str, request: &HeaderMap) -> Response {
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag || tag.trim() == "*"));
    let mut response = if fresh { StatusCode::NOT_MODIFIED.into_response() } else { asset.body.into_response() };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // The event stream's URL carries the token (EventSource cannot set headers): never
    // send this page's URLs to anyone else.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if asset.content_type == HTML {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    }
    response
}

/// FNV-1a, 64 bits: enough to tell two versions of a file apart.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_the_page_imports_is_served() {
        let served: Vec<&str> = ASSETS.iter().map(|a| a.path).collect();
        for asset in ASSETS.iter().filter(|a| a.content_type == JS || a.content_type == HTML) {
            for line in asset.body.lines() {
                let Some(start) = line.find("from './").or_else(|| line.find("src=\"/app/")) else { continue };
                let rest = &line[start..];
                let quote = if rest.starts_with("from") { '\'' } else { '"' };
                let name = rest.split(quote).nth(1).expect("a quoted path");
                let path = if let Some(file) = name.strip_prefix("./") { format!("/app/{file}") } else { name.into() };
                assert!(served.contains(&path.as_str()), "{} imports {path}, which is not served", asset.path);
            }
        }
    }

    #[test]
    fn an_unchanged_asset_is_not_sent_again() {
        let asset = &ASSETS[0];
        let etag = format!("\"{:016x}\"", fnv1a(asset.body.as_bytes()));
        let mut headers = HeaderMap::new();
        assert_eq!(serve(asset, &etag, &headers).status(), StatusCode::OK);
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_str(&etag).unwrap());
        let response = serve(asset, &etag, &headers);
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-cache");
        assert_eq!(response.headers()[header::CONTENT_TYPE], HTML);
    }
}
