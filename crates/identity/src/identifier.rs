//! Typed identifiers and their normal forms.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use silta_model::ConsentConfig;

use crate::declared::{DeclaredTrait, validate_all};

/// The identifier types Silta knows without configuration, from the strongest (a login) to the
/// weakest (a cookie). An event belongs to the profile of its strongest identifier.
pub const BUILT_IN_TYPES: [&str; 6] = [
    "user_id",
    "email",
    "phone",
    "advertising_id",
    "device_id",
    "anonymous_id",
];

/// Where custom identifier types rank: after phone, before device-level ids.
const CUSTOM_RANK: u8 = 3;

/// The rank of a type in [`BUILT_IN_TYPES`] order; custom types (CRM ids, loyalty cards) rank
/// between personal contact data and device ids.
pub fn rank(identifier_type: &str) -> u8 {
    match identifier_type {
        "user_id" => 0,
        "email" => 1,
        "phone" => 2,
        "advertising_id" => 4,
        "device_id" => 5,
        "anonymous_id" => 6,
        _ => CUSTOM_RANK,
    }
}

/// A custom identifier type name: lower-case letters, digits and `_`, starting with a letter.
pub fn is_valid_type_name(name: &str) -> bool {
    let mut characters = name.chars();
    characters
        .next()
        .is_some_and(|first| first.is_ascii_lowercase())
        && name.len() <= 64
        && characters.all(|character| {
            character.is_ascii_lowercase() || character.is_ascii_digit() || character == '_'
        })
}

/// Longest identifier value kept; longer ones are refused as malformed.
pub const MAX_VALUE_BYTES: usize = 256;

/// How identifier values are normalised and which traits carry identifiers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdentityConfig {
    /// Trait name → identifier type, e.g. `email = "email"`, `loyalty_card = "loyalty_card"`.
    pub trait_identifiers: BTreeMap<String, String>,
    /// Most identifiers of one type a profile may hold; an edge that would exceed it does not
    /// merge. Types not listed get `default_limit`.
    pub limits: BTreeMap<String, usize>,
    pub default_limit: usize,
    /// Country (ISO 3166-1 alpha-2, e.g. `FI`) assumed for phone numbers written without a
    /// country code. Without it only international numbers (`+358…`, `00358…`) are accepted.
    pub phone_region: Option<String>,
    /// Further computed traits: count, sum, min, max or last of an event property.
    pub computed_traits: Vec<DeclaredTrait>,
    /// Consent purposes and the consent-manager categories that mean them.
    pub consent: ConsentConfig,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            trait_identifiers: [("email", "email"), ("phone", "phone")]
                .into_iter()
                .map(|(name, kind)| (name.to_string(), kind.to_string()))
                .collect(),
            // A person has one login; a handful of e-mail addresses and numbers; a few phones and
            // browsers. A profile beyond these is a shared device or a test account.
            limits: [
                ("user_id", 1),
                ("email", 5),
                ("phone", 5),
                ("advertising_id", 10),
                ("device_id", 20),
                ("anonymous_id", 100),
            ]
            .into_iter()
            .map(|(kind, limit)| (kind.to_string(), limit))
            .collect(),
            default_limit: 5,
            phone_region: None,
            computed_traits: Vec::new(),
            consent: ConsentConfig::default(),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("`{0}` is not a valid identifier type (lower-case letters, digits and _)")]
    TypeName(String),
    #[error("the limit for `{0}` must be at least 1")]
    ZeroLimit(String),
    #[error("unknown phone region `{0}`; expected an ISO 3166-1 alpha-2 code such as FI")]
    PhoneRegion(String),
    #[error("{0}")]
    ComputedTrait(String),
}

impl IdentityConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        for name in self.trait_identifiers.values().chain(self.limits.keys()) {
            if !is_valid_type_name(name) {
                return Err(ConfigError::TypeName(name.clone()));
            }
        }
        if let Some((name, _)) = self.limits.iter().find(|(_, limit)| **limit == 0) {
            return Err(ConfigError::ZeroLimit(name.clone()));
        }
        if self.default_limit == 0 {
            return Err(ConfigError::ZeroLimit("default_limit".to_string()));
        }
        if let Some(region) = &self.phone_region {
            phone_region(region)?;
        }
        validate_all(&self.computed_traits).map_err(ConfigError::ComputedTrait)
    }

    pub fn limit(&self, identifier_type: &str) -> usize {
        self.limits
            .get(identifier_type)
            .copied()
            .unwrap_or(self.default_limit)
    }

    /// The stored form of a value of `identifier_type`, or why it cannot be one.
    pub fn normalise(&self, identifier_type: &str, value: &str) -> Result<String, String> {
        let value = value.trim();
        if value.is_empty() {
            return Err(format!("empty {identifier_type}"));
        }
        if value.len() > MAX_VALUE_BYTES {
            return Err(format!(
                "{identifier_type} longer than {MAX_VALUE_BYTES} bytes"
            ));
        }
        match identifier_type {
            "email" => normalise_email(value),
            "phone" => self.normalise_phone(value),
            _ => Ok(value.to_string()),
        }
    }

    fn normalise_phone(&self, value: &str) -> Result<String, String> {
        let region = self
            .phone_region
            .as_deref()
            .and_then(|region| phone_region(region).ok());
        let number = phonenumber::parse(region, value)
            .map_err(|error| format!("malformed phone number: {error}"))?;
        if !phonenumber::is_valid(&number) {
            return Err("not a valid phone number".to_string());
        }
        Ok(number.format().mode(phonenumber::Mode::E164).to_string())
    }
}

fn phone_region(code: &str) -> Result<phonenumber::country::Id, ConfigError> {
    code.to_ascii_uppercase()
        .parse()
        .map_err(|_| ConfigError::PhoneRegion(code.to_string()))
}

/// Trimmed and lower-cased; one `@` with text on both sides and a dot in the domain.
fn normalise_email(value: &str) -> Result<String, String> {
    let email = value.to_lowercase();
    let well_formed = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !email.chars().any(char::is_whitespace)
    });
    if well_formed {
        Ok(email)
    } else {
        Err("malformed email address".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_lowered_and_checked() {
        let config = IdentityConfig::default();
        assert_eq!(
            config.normalise("email", "  Ada.Lovelace@Example.COM "),
            Ok("ada.lovelace@example.com".to_string())
        );
        for malformed in [
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
        ] {
            assert!(config.normalise("email", malformed).is_err(), "{malformed}");
        }
    }

    #[test]
    fn phones_become_e164_where_the_country_is_known() {
        let international = IdentityConfig::default();
        assert_eq!(
            international.normalise("phone", "+358 40 123 4567"),
            Ok("+358401234567".to_string())
        );
        assert!(international.normalise("phone", "040 123 4567").is_err());
        let finnish = IdentityConfig {
            phone_region: Some("fi".to_string()),
            ..IdentityConfig::default()
        };
        assert_eq!(
            finnish.normalise("phone", "040 123 4567"),
            Ok("+358401234567".to_string())
        );
        assert!(finnish.normalise("phone", "12").is_err());
    }

    #[test]
    fn configuration_is_validated() {
        let mut config = IdentityConfig::default();
        assert_eq!(config.validate(), Ok(()));
        config
            .trait_identifiers
            .insert("card".to_string(), "Loyalty Card".to_string());
        assert!(matches!(config.validate(), Err(ConfigError::TypeName(_))));
        let zero = IdentityConfig {
            limits: [("email".to_string(), 0)].into_iter().collect(),
            ..IdentityConfig::default()
        };
        assert!(matches!(zero.validate(), Err(ConfigError::ZeroLimit(_))));
        let region = IdentityConfig {
            phone_region: Some("XX".to_string()),
            ..IdentityConfig::default()
        };
        assert!(matches!(
            region.validate(),
            Err(ConfigError::PhoneRegion(_))
        ));
    }
}
