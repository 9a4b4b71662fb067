//! Consent per purpose, as events carry it (`context.consent.categoryPreferences`, the Segment
//! convention) and as sources enforce it at collection.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The purpose collection itself needs: a source's consent policy applies to events that do
/// not grant it.
pub const ANALYTICS: &str = "analytics";

/// Which purposes exist and how consent-manager categories map to them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsentConfig {
    /// Purposes people grant or refuse, lower case.
    pub purposes: Vec<String>,
    /// Category names that mean a purpose, e.g. `C0004 = "advertising"` for a OneTrust
    /// category. A category named like a purpose (in any case) means that purpose.
    pub categories: BTreeMap<String, String>,
}

impl Default for ConsentConfig {
    fn default() -> Self {
        ConsentConfig {
            purposes: ["analytics", "marketing", "personalisation", "advertising"]
                .into_iter()
                .map(str::to_string)
                .collect(),
            categories: BTreeMap::new(),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown consent purpose `{0}`")]
pub struct UnknownPurpose(pub String);

/// Categories the preferences of one event may name at most; the rest are ignored.
const MAX_CATEGORIES: usize = 64;

impl ConsentConfig {
    /// The configured purpose `name` stands for (a purpose or a mapped category), if any.
    pub fn purpose(&self, name: &str) -> Option<&str> {
        if let Some(purpose) = self.categories.get(name) {
            return self.known(purpose);
        }
        self.known(&name.to_lowercase())
    }

    /// `name` if it is a configured purpose.
    pub fn check(&self, name: &str) -> Result<(), UnknownPurpose> {
        self.known(name)
            .map(drop)
            .ok_or_else(|| UnknownPurpose(name.to_string()))
    }

    fn known(&self, purpose: &str) -> Option<&str> {
        self.purposes
            .iter()
            .find(|known| known.as_str() == purpose)
            .map(String::as_str)
    }

    /// The purposes an event's `context` grants (`true`) or refuses (`false`), each once.
    /// Categories that mean no purpose are ignored.
    pub fn preferences(&self, context: &Value) -> Vec<(String, bool)> {
        context
            .get("consent")
            .map(|consent| self.preferences_of(consent))
            .unwrap_or_default()
    }

    /// [`ConsentConfig::preferences`] of a `context.consent` object.
    pub fn preferences_of(&self, consent: &Value) -> Vec<(String, bool)> {
        let Some(categories) = consent
            .get("categoryPreferences")
            .and_then(Value::as_object)
        else {
            return Vec::new();
        };
        let mut preferences: Vec<(String, bool)> = Vec::new();
        for (category, granted) in categories.iter().take(MAX_CATEGORIES) {
            let (Some(purpose), Some(granted)) = (self.purpose(category), granted.as_bool()) else {
                continue;
            };
            match preferences.iter_mut().find(|(known, _)| known == purpose) {
                // Two categories for one purpose: it is granted only if both grant it.
                Some((_, earlier)) => *earlier &= granted,
                None => preferences.push((purpose.to_string(), granted)),
            }
        }
        preferences
    }

    /// Whether an event's `context` grants `purpose`. Consent is opt-in: no answer is no.
    pub fn grants(&self, context: &Value, purpose: &str) -> bool {
        self.preferences(context)
            .iter()
            .any(|(known, granted)| known == purpose && *granted)
    }
}

/// What a source does with events that do not grant analytics consent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsentPolicy {
    /// Keep them as they are (consent is enforced where data is used).
    #[default]
    Keep,
    /// Do not store them.
    Drop,
    /// Store them without anything that identifies a person.
    Anonymise,
}

impl ConsentPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentPolicy::Keep => "keep",
            ConsentPolicy::Drop => "drop",
            ConsentPolicy::Anonymise => "anonymise",
        }
    }
}

impl fmt::Display for ConsentPolicy {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown consent policy `{0}`; expected keep, drop or anonymise")]
pub struct UnknownConsentPolicy(pub String);

impl FromStr for ConsentPolicy {
    type Err = UnknownConsentPolicy;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "keep" => Ok(ConsentPolicy::Keep),
            "drop" => Ok(ConsentPolicy::Drop),
            "anonymise" => Ok(ConsentPolicy::Anonymise),
            other => Err(UnknownConsentPolicy(other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn preferences_map_categories_to_purposes_and_ignore_the_rest() {
        let config = ConsentConfig {
            categories: [("C0004".to_string(), "advertising".to_string())].into(),
            ..ConsentConfig::default()
        };
        let context = json!({"consent": {"categoryPreferences": {
            "Analytics": true, "C0004": false, "Functional": true, "marketing": "yes",
            "personalisation": true
        }}});
        assert_eq!(
            config.preferences(&context),
            [
                ("analytics".to_string(), true),
                ("advertising".to_string(), false),
                ("personalisation".to_string(), true)
            ]
        );
        assert!(config.grants(&context, "analytics"));
        assert!(!config.grants(&context, "advertising"));
        assert!(
            !config.grants(&context, "marketing"),
            "not a boolean: no answer"
        );
        assert!(!config.grants(&json!({}), "analytics"), "opt-in");
        assert!(config.preferences(&json!({"consent": []})).is_empty());
        assert_eq!(
            config.check("sales"),
            Err(UnknownPurpose("sales".to_string()))
        );
    }

    #[test]
    fn a_purpose_named_by_two_categories_is_granted_only_if_both_grant_it() {
        let config = ConsentConfig {
            categories: [("C0002".to_string(), "analytics".to_string())].into(),
            ..ConsentConfig::default()
        };
        let context =
            json!({"consent": {"categoryPreferences": {"analytics": true, "C0002": false}}});
        assert_eq!(
            config.preferences(&context),
            [("analytics".to_string(), false)]
        );
    }
}
