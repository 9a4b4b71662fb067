//! Unsubscribe links of emails: `<public_url>/v1/unsubscribe/<token>`, where the token names a
//! profile and a consent purpose and is signed with a key kept in `<data>/links.key`, so a link
//! cannot be forged or changed to another person. Opening the link shows a confirmation page
//! (mail scanners open links); confirming it, or a mail client's one-click POST (RFC 8058),
//! records the withdrawal of the purpose as a consent event of the person.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path as FilePath;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use silta_state::Actor;

use crate::consent::consent_event;
use crate::{ApiError, AppState, query};

const KEY_BYTES: usize = 32;
/// Hex characters of the signature kept in a token (128 bits).
const SIGNATURE_CHARS: usize = 32;
const MAX_TOKEN_CHARS: usize = 1000;

/// The key that signs unsubscribe links.
#[derive(Clone)]
pub struct LinkKey(Vec<u8>);

impl LinkKey {
    /// Reads `<data>/links.key`, creating it (readable by its owner only) on first start.
    pub fn open(data: &FilePath) -> std::io::Result<LinkKey> {
        let path = data.join("links.key");
        if let Ok(key) = std::fs::read(&path)
            && key.len() == KEY_BYTES
        {
            return Ok(LinkKey(key));
        }
        let mut key = vec![0u8; KEY_BYTES];
        rand::rng().fill_bytes(&mut key);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&path)?;
        file.write_all(&key)?;
        file.sync_all()?;
        Ok(LinkKey(key))
    }

    fn signature(&self, payload: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key");
        mac.update(payload.as_bytes());
        hex::encode(mac.finalize().into_bytes())[..SIGNATURE_CHARS].to_string()
    }

    /// The token of `profile_id` withdrawing `purpose`.
    pub fn token(&self, profile_id: &str, purpose: &str) -> String {
        let payload = hex::encode(format!("{profile_id}\n{purpose}"));
        format!("{payload}.{}", self.signature(&payload))
    }

    /// The profile id and purpose of a genuine token.
    pub fn verify(&self, token: &str) -> Option<(String, String)> {
        if token.len() > MAX_TOKEN_CHARS {
            return None;
        }
        let (payload, signature) = token.split_once('.')?;
        let expected = self.signature(payload);
        // Compared in constant time.
        if expected.len() != signature.len()
            || expected
                .bytes()
                .zip(signature.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                != 0
        {
            return None;
        }
        let text = String::from_utf8(hex::decode(payload).ok()?).ok()?;
        let (profile_id, purpose) = text.split_once('\n')?;
        Some((profile_id.to_string(), purpose.to_string()))
    }
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title>\
         <body style=\"font-family:sans-serif;max-width:32rem;margin:3rem auto\">\
         <h1>{title}</h1>{body}</body></html>"
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
        ),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn invalid_link() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "This link is not valid",
        "<p>The unsubscribe link is incomplete or was changed. Please use the link from the email.</p>",
    )
}

/// `GET /v1/unsubscribe/{token}`: asks to confirm, changing nothing.
pub async fn confirm(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let Some((_, purpose)) = state.destinations.link_key().verify(&token) else {
        return invalid_link();
    };
    // Both are from a signed token: the purpose is a configured name, the token hex and a dot.
    page(
        StatusCode::OK,
        "Unsubscribe",
        &format!(
            "<p>Stop receiving messages for <strong>{purpose}</strong>?</p>\
             <form method=\"post\" action=\"{token}\"><button type=\"submit\">Unsubscribe</button></form>"
        ),
    )
}

/// `POST /v1/unsubscribe/{token}`: withdraws the purpose (the confirmation form and one-click
/// unsubscribe alike).
pub async fn withdraw(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let Some((profile_id, purpose)) = state.destinations.link_key().verify(&token) else {
        return Ok(invalid_link());
    };
    let identifier = {
        let graph = state.identity.read();
        graph.profile(&profile_id).and_then(|profile| {
            graph
                .identifiers_of(profile)
                .into_iter()
                .find(|(kind, _)| kind == "user_id" || kind == "anonymous_id")
        })
    };
    let Some((kind, value)) = identifier else {
        return Ok(page(
            StatusCode::GONE,
            "Nothing to unsubscribe",
            "<p>Nothing is held about this person any more.</p>",
        ));
    };
    let purposes = BTreeMap::from([(purpose.clone(), false)]);
    state
        .ingestor
        .record(consent_event(&kind, &value, &purposes, &Actor::System))
        .await?;
    query::read_your_writes(&state).await;
    tracing::info!("consent withdrawn through an unsubscribe link");
    Ok(page(
        StatusCode::OK,
        "You are unsubscribed",
        &format!("<p>You will no longer receive messages for <strong>{purpose}</strong>.</p>"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_signed_and_cannot_be_changed() {
        let directory = tempfile::tempdir().expect("tempdir");
        let key = LinkKey::open(directory.path()).expect("creates");
        let token = key.token("prof_1", "marketing");
        assert_eq!(
            key.verify(&token),
            Some(("prof_1".to_string(), "marketing".to_string()))
        );
        // The same key after a restart.
        let again = LinkKey::open(directory.path()).expect("reads");
        assert!(again.verify(&token).is_some());
        let other = key.token("prof_2", "marketing");
        let (payload, _) = other.split_once('.').expect("dot");
        let (_, signature) = token.split_once('.').expect("dot");
        assert_eq!(key.verify(&format!("{payload}.{signature}")), None);
        assert_eq!(key.verify("nonsense"), None);
        assert_eq!(key.verify(&"a".repeat(5000)), None);
        let elsewhere = tempfile::tempdir().expect("tempdir");
        assert_eq!(
            LinkKey::open(elsewhere.path())
                .expect("creates")
                .verify(&token),
            None
        );
    }
}
