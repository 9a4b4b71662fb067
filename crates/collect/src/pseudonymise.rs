//! Pseudonymisation at collection: configured fields are replaced by a keyed hash
//! (HMAC-SHA-256) before anything is stored, so the same value always gets the same pseudonym
//! (joins and identity resolution still work) while the clear value never reaches the disk.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use silta_model::Event;

/// Shortest key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// Hex characters of the hash kept in a pseudonym (128 bits).
const PSEUDONYM_HEX_CHARS: usize = 32;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PseudonymError {
    #[error("the pseudonymisation key must have at least {MIN_KEY_BYTES} bytes")]
    ShortKey,
    #[error(
        "cannot pseudonymise `{0}`: name user_id, anonymous_id, previous_id, group_id, ip or a \
         field under traits., properties. or context."
    )]
    UnknownField(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Field {
    UserId,
    AnonymousId,
    PreviousId,
    GroupId,
    Ip,
    /// A path inside one of the JSON columns.
    Json(JsonColumn, Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JsonColumn {
    Traits,
    Properties,
    Context,
}

impl Field {
    fn parse(name: &str) -> Result<Field, PseudonymError> {
        let unknown = || PseudonymError::UnknownField(name.to_string());
        let field = match name {
            "user_id" => Field::UserId,
            "anonymous_id" => Field::AnonymousId,
            "previous_id" => Field::PreviousId,
            "group_id" => Field::GroupId,
            "ip" => Field::Ip,
            _ => {
                let (column, path) = name.split_once('.').ok_or_else(unknown)?;
                let column = match column {
                    "traits" => JsonColumn::Traits,
                    "properties" => JsonColumn::Properties,
                    "context" => JsonColumn::Context,
                    _ => return Err(unknown()),
                };
                let path: Vec<String> = path.split('.').map(str::to_string).collect();
                if path.iter().any(String::is_empty) {
                    return Err(unknown());
                }
                Field::Json(column, path)
            }
        };
        Ok(field)
    }
}

#[derive(Clone)]
pub struct Pseudonymiser {
    key: Vec<u8>,
    fields: Vec<Field>,
}

impl std::fmt::Debug for Pseudonymiser {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Pseudonymiser")
            .field("fields", &self.fields)
            .finish_non_exhaustive()
    }
}

impl Pseudonymiser {
    pub fn new(key: &[u8], fields: &[String]) -> Result<Pseudonymiser, PseudonymError> {
        if key.len() < MIN_KEY_BYTES {
            return Err(PseudonymError::ShortKey);
        }
        Ok(Pseudonymiser {
            key: key.to_vec(),
            fields: fields
                .iter()
                .map(|name| Field::parse(name))
                .collect::<Result<_, _>>()?,
        })
    }

    /// The pseudonym of `value`. E-mail addresses (trimmed, lower-cased first) keep the shape
    /// of one, so identity resolution still treats them as e-mail addresses.
    pub fn pseudonym(&self, value: &str) -> String {
        let email = value.contains('@');
        let input = if email {
            value.trim().to_lowercase()
        } else {
            value.to_string()
        };
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(input.as_bytes());
        let digest = hex::encode(mac.finalize().into_bytes());
        let hash = &digest[..PSEUDONYM_HEX_CHARS];
        if email {
            format!("{hash}@pseudonym.invalid")
        } else {
            format!("ps_{hash}")
        }
    }

    /// Replaces every configured field of `event` that has a value.
    pub fn apply(&self, event: &mut Event) {
        for field in &self.fields {
            let slot = match field {
                Field::UserId => &mut event.user_id,
                Field::AnonymousId => &mut event.anonymous_id,
                Field::PreviousId => &mut event.previous_id,
                Field::GroupId => &mut event.group_id,
                Field::Ip => &mut event.ip,
                Field::Json(column, path) => {
                    let text = match column {
                        JsonColumn::Traits => &mut event.traits,
                        JsonColumn::Properties => &mut event.properties,
                        JsonColumn::Context => &mut event.context,
                    };
                    self.apply_json(text, path);
                    continue;
                }
            };
            if let Some(value) = slot.as_mut() {
                *value = self.pseudonym(value);
            }
        }
    }

    /// Replaces the configured fields in a quarantined event's payload (the event as sent,
    /// with Segment's field names).
    pub fn apply_to_payload(&self, payload: &mut String) {
        let Ok(mut document) = serde_json::from_str::<Value>(payload) else {
            return;
        };
        for field in &self.fields {
            let path: Vec<String> = match field {
                Field::UserId => vec!["userId".to_string()],
                Field::AnonymousId => vec!["anonymousId".to_string()],
                Field::PreviousId => vec!["previousId".to_string()],
                Field::GroupId => vec!["groupId".to_string()],
                Field::Ip => vec!["context".to_string(), "ip".to_string()],
                Field::Json(column, path) => {
                    let column = match column {
                        JsonColumn::Traits => "traits",
                        JsonColumn::Properties => "properties",
                        JsonColumn::Context => "context",
                    };
                    std::iter::once(column.to_string())
                        .chain(path.iter().cloned())
                        .collect()
                }
            };
            self.replace_at(&mut document, &path);
        }
        *payload = document.to_string();
    }

    fn apply_json(&self, text: &mut String, path: &[String]) {
        let Ok(mut document) = serde_json::from_str::<Value>(text) else {
            return;
        };
        if self.replace_at(&mut document, path) {
            *text = document.to_string();
        }
    }

    /// Replaces the text or number at `path`; says whether there was one.
    fn replace_at(&self, document: &mut Value, path: &[String]) -> bool {
        let mut target = document;
        for key in path {
            match target.get_mut(key) {
                Some(inner) => target = inner,
                None => return false,
            }
        }
        let clear = match target {
            Value::String(text) => text.clone(),
            Value::Number(number) => number.to_string(),
            _ => return false,
        };
        *target = Value::String(self.pseudonym(&clear));
        true
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const KEY: &[u8] = b"a key of at least thirty-two bytes, held elsewhere";

    #[test]
    fn configured_fields_get_stable_keyed_pseudonyms_and_nothing_else_changes() {
        let fields = [
            "user_id",
            "traits.email",
            "properties.card.number",
            "context.ip",
        ]
        .map(str::to_string);
        let pseudonymiser = Pseudonymiser::new(KEY, &fields).expect("valid");
        let mut event = Event {
            user_id: Some("user-42".to_string()),
            anonymous_id: Some("cookie-1".to_string()),
            traits: json!({"email": " Ada@Example.com ", "plan": "pro"}).to_string(),
            properties: json!({"card": {"number": 4111111111111111u64}, "total": 3}).to_string(),
            context: "{}".to_string(),
            ..Event::default()
        };
        pseudonymiser.apply(&mut event);
        let user = event.user_id.clone().expect("kept");
        assert!(user.starts_with("ps_") && user.len() == 35, "{user}");
        assert_eq!(user, pseudonymiser.pseudonym("user-42"), "stable");
        assert_eq!(event.anonymous_id.as_deref(), Some("cookie-1"));
        let traits: Value = serde_json::from_str(&event.traits).expect("json");
        let email = traits["email"].as_str().expect("email");
        assert!(email.ends_with("@pseudonym.invalid"));
        assert_eq!(
            email,
            pseudonymiser.pseudonym("ada@example.com"),
            "normalised first"
        );
        assert_eq!(traits["plan"], "pro");
        let properties: Value = serde_json::from_str(&event.properties).expect("json");
        assert!(
            properties["card"]["number"]
                .as_str()
                .expect("text")
                .starts_with("ps_")
        );
        assert_eq!(properties["total"], 3);
        assert!(!format!("{event:?}").contains("4111111111111111"));

        let mut payload =
            json!({"userId": "user-42", "traits": {"email": "ada@example.com"}}).to_string();
        pseudonymiser.apply_to_payload(&mut payload);
        assert!(
            !payload.contains("user-42") && !payload.contains("ada@"),
            "{payload}"
        );

        let other = Pseudonymiser::new(b"another key of at least thirty-two bytes", &fields)
            .expect("valid");
        assert_ne!(other.pseudonym("user-42"), user, "keyed");
    }

    #[test]
    fn short_keys_and_unknown_fields_are_refused() {
        assert_eq!(
            Pseudonymiser::new(b"short", &[]).map(drop),
            Err(PseudonymError::ShortKey)
        );
        for bad in ["email", "traits.", "payload.x", "traits..email"] {
            assert_eq!(
                Pseudonymiser::new(KEY, &[bad.to_string()]).map(drop),
                Err(PseudonymError::UnknownField(bad.to_string()))
            );
        }
    }
}
