//! What a person agreed to: the current answer per purpose and the history of changes.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use silta_model::Event;

/// Changes kept per profile; beyond it the oldest are dropped and counted.
pub const MAX_CONSENT_HISTORY: usize = 500;

/// The latest answer for one purpose.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConsentState {
    pub granted: bool,
    pub at: DateTime<Utc>,
    pub source: String,
}

/// One answer that changed what was known at its time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConsentChange {
    pub purpose: String,
    pub granted: bool,
    pub at: DateTime<Utc>,
    pub source: String,
    pub message_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Consent {
    pub purposes: BTreeMap<String, ConsentState>,
    /// Oldest first.
    pub history: Vec<ConsentChange>,
    #[serde(skip_serializing_if = "is_zero")]
    pub history_dropped: u64,
}

fn is_zero(count: &u64) -> bool {
    *count == 0
}

impl Consent {
    /// Whether `purpose` is granted. Consent is opt-in: no answer is no.
    pub fn granted(&self, purpose: &str) -> bool {
        self.purposes
            .get(purpose)
            .is_some_and(|state| state.granted)
    }

    /// Takes the answers one event carries. Events repeat the same answer (consent managers
    /// attach it to every call); only answers that change something enter the history.
    pub fn observe(&mut self, preferences: &[(String, bool)], event: &Event) {
        for (purpose, granted) in preferences {
            self.apply(ConsentChange {
                purpose: purpose.clone(),
                granted: *granted,
                at: event.timestamp,
                source: event.source_id.clone(),
                message_id: event.message_id.clone(),
            });
        }
    }

    fn apply(&mut self, change: ConsentChange) {
        let current = self.purposes.get(&change.purpose);
        if current.is_some_and(|state| state.granted == change.granted && state.at <= change.at) {
            return;
        }
        if current.is_none_or(|state| state.at <= change.at) {
            self.purposes.insert(
                change.purpose.clone(),
                ConsentState {
                    granted: change.granted,
                    at: change.at,
                    source: change.source.clone(),
                },
            );
        }
        // A late answer goes where its time puts it.
        let position = self
            .history
            .partition_point(|earlier| earlier.at <= change.at);
        self.history.insert(position, change);
        self.trim();
    }

    /// Joins the consent of a profile merged into this one: per purpose the latest answer wins.
    pub fn absorb(&mut self, other: Consent) {
        for (purpose, state) in other.purposes {
            match self.purposes.get(&purpose) {
                Some(mine) if mine.at >= state.at => {}
                _ => {
                    self.purposes.insert(purpose, state);
                }
            }
        }
        self.history.extend(other.history);
        self.history.sort_by_key(|change| change.at);
        self.history_dropped += other.history_dropped;
        self.trim();
    }

    fn trim(&mut self) {
        let excess = self.history.len().saturating_sub(MAX_CONSENT_HISTORY);
        if excess > 0 {
            self.history.drain(..excess);
            self.history_dropped += excess as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn event(message_id: &str, minute: u32) -> Event {
        Event {
            message_id: message_id.to_string(),
            source_id: "src_web".to_string(),
            timestamp: Utc
                .with_ymd_and_hms(2026, 11, 20, 10, minute, 0)
                .single()
                .expect("time"),
            ..Event::default()
        }
    }

    fn answer(purpose: &str, granted: bool) -> Vec<(String, bool)> {
        vec![(purpose.to_string(), granted)]
    }

    #[test]
    fn the_latest_answer_wins_and_repeats_do_not_enter_the_history() {
        let mut consent = Consent::default();
        assert!(!consent.granted("marketing"));
        consent.observe(&answer("marketing", true), &event("m1", 1));
        consent.observe(&answer("marketing", true), &event("m2", 2));
        consent.observe(&answer("marketing", false), &event("m4", 4));
        // Arrives late: it changes the history but not the current answer.
        consent.observe(&answer("marketing", true), &event("m3", 3));
        assert!(!consent.granted("marketing"));
        let history: Vec<(&str, bool)> = consent
            .history
            .iter()
            .map(|change| (change.message_id.as_str(), change.granted))
            .collect();
        assert_eq!(history, [("m1", true), ("m3", true), ("m4", false)]);
    }

    #[test]
    fn merging_keeps_the_latest_answer_per_purpose_and_both_histories() {
        let mut survivor = Consent::default();
        survivor.observe(&answer("marketing", false), &event("s1", 1));
        survivor.observe(&answer("analytics", true), &event("s2", 5));
        let mut merged = Consent::default();
        merged.observe(&answer("marketing", true), &event("o1", 3));
        merged.observe(&answer("analytics", false), &event("o2", 2));
        survivor.absorb(merged);
        assert!(survivor.granted("marketing"));
        assert!(survivor.granted("analytics"));
        let order: Vec<&str> = survivor
            .history
            .iter()
            .map(|change| change.message_id.as_str())
            .collect();
        assert_eq!(order, ["s1", "o2", "o1", "s2"]);
    }

    #[test]
    fn the_history_is_capped_and_what_was_dropped_is_counted() {
        let mut consent = Consent::default();
        for index in 0..(MAX_CONSENT_HISTORY + 10) {
            let mut flip = event(&format!("e{index}"), 0);
            flip.timestamp += chrono::Duration::seconds(index as i64);
            consent.observe(&answer("marketing", index % 2 == 0), &flip);
        }
        assert_eq!(consent.history.len(), MAX_CONSENT_HISTORY);
        assert_eq!(consent.history_dropped, 10);
        assert_eq!(consent.history[0].message_id, "e10");
    }
}
