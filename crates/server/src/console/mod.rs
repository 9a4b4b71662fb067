//! The web console: its pages and scripts, shipped inside the binary, and the few endpoints
//! only it needs (who is signed in, the overview figures, the live event debugger). Everything
//! else it shows comes from the same API the CLI uses.

pub mod debugger;
pub mod overview;
pub mod session;

use std::collections::HashMap;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use rust_embed::RustEmbed;

use crate::{ApiError, AppState};

#[derive(RustEmbed)]
#[folder = "console/"]
struct Assets;

/// Only the console's own files may load or be called: nothing an event holds can pull in a
/// script, and no other site can frame the console.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

pub async fn home() -> Redirect {
    Redirect::permanent("/console/")
}

pub async fn index(headers: HeaderMap) -> Response {
    asset("index.html", &headers)
}

pub async fn file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    asset(&path, &headers)
}

/// One embedded file, revalidated by its hash (`ETag`) so that a reload costs a 304.
fn asset(path: &str, request_headers: &HeaderMap) -> Response {
    // Debug builds read the files from disk: no path may leave the console's folder.
    let escapes = path
        .split(['/', '\\'])
        .any(|part| part == ".." || part.contains(':'));
    let file = if escapes { None } else { Assets::get(path) };
    let Some(file) = file else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let etag = format!("\"{}\"", hex::encode(file.metadata.sha256_hash()));
    let mut headers = HeaderMap::new();
    let content_type = file.metadata.mimetype();
    if let Ok(value) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    let unchanged = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|candidates| candidates.split(',').any(|one| one.trim() == etag));
    if unchanged {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    (headers, file.data.into_owned()).into_response()
}

/// Source names by id: the events table holds ids.
fn source_names(state: &AppState) -> Result<HashMap<String, String>, ApiError> {
    Ok(state
        .credentials
        .sources()?
        .into_iter()
        .map(|source| (source.id, source.name))
        .collect())
}
