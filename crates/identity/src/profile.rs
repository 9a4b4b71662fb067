//! What a profile knows: traits (latest wins, with source and time) and computed traits kept up
//! to date event by event.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use silta_model::{Event, EventType};

/// A trait larger than this (as JSON) is not kept on the profile.
pub const MAX_TRAIT_BYTES: usize = 4096;
/// Traits a profile holds at most; later new names are ignored.
pub const MAX_TRAITS: usize = 256;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraitValue {
    pub value: Value,
    pub source: String,
    pub at: DateTime<Utc>,
}

/// A marketing touch: where a visit came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Touch {
    pub source: Option<String>,
    pub medium: Option<String>,
    pub campaign: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PageVisit {
    pub path: String,
    pub at: DateTime<Utc>,
}

/// Traits Silta computes from behaviour; they live apart from sent traits, so a sent trait
/// named like one of them never overwrites it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ComputedTraits {
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
    pub event_count: u64,
    /// Track events per event name.
    pub event_counts: BTreeMap<String, u64>,
    /// Events that carried revenue, and its sum.
    pub order_count: u64,
    pub total_revenue: f64,
    pub channels: BTreeSet<String>,
    pub sources: BTreeSet<String>,
    pub first_touch: Option<Touch>,
    pub last_touch: Option<Touch>,
    pub last_page: Option<PageVisit>,
    pub device_types: BTreeSet<String>,
}

impl ComputedTraits {
    pub fn average_revenue(&self) -> Option<f64> {
        (self.order_count > 0).then(|| self.total_revenue / self.order_count as f64)
    }

    pub fn observe(&mut self, event: &Event, device_type: Option<&str>) {
        let at = event.timestamp;
        self.first_seen = Some(self.first_seen.map_or(at, |seen| seen.min(at)));
        self.last_seen = Some(self.last_seen.map_or(at, |seen| seen.max(at)));
        self.event_count += 1;
        if let (EventType::Track, Some(name)) = (event.event_type, &event.event) {
            count_event(&mut self.event_counts, name.clone(), 1);
        }
        if let Some(revenue) = event.revenue.filter(|revenue| revenue.is_finite()) {
            self.order_count += 1;
            self.total_revenue += revenue;
        }
        insert_new(&mut self.channels, event.channel.as_str());
        insert_new(&mut self.sources, &event.source_id);
        if event.utm_source.is_some() || event.utm_campaign.is_some() {
            let touch = Touch {
                source: event.utm_source.clone(),
                medium: event.utm_medium.clone(),
                campaign: event.utm_campaign.clone(),
                at,
            };
            keep_earliest(&mut self.first_touch, Some(touch.clone()), |touch| touch.at);
            keep_latest(&mut self.last_touch, Some(touch), |touch| touch.at);
        }
        if let (EventType::Page | EventType::Screen, Some(path)) = (
            event.event_type,
            event.page_path.as_ref().or(event.name.as_ref()),
        ) {
            let visit = PageVisit {
                path: path.clone(),
                at,
            };
            keep_latest(&mut self.last_page, Some(visit), |visit| visit.at);
        }
        if let Some(device_type) = device_type.filter(|_| self.device_types.len() < MAX_SET_SIZE) {
            insert_new(&mut self.device_types, device_type);
        }
    }

    /// Folds another profile's computed traits into these (a merge).
    pub fn absorb(&mut self, other: ComputedTraits) {
        self.first_seen = match (self.first_seen, other.first_seen) {
            (Some(mine), Some(theirs)) => Some(mine.min(theirs)),
            (mine, theirs) => mine.or(theirs),
        };
        self.last_seen = self.last_seen.max(other.last_seen);
        self.event_count += other.event_count;
        for (name, count) in other.event_counts {
            count_event(&mut self.event_counts, name, count);
        }
        self.order_count += other.order_count;
        self.total_revenue += other.total_revenue;
        self.channels.extend(other.channels);
        self.sources.extend(other.sources);
        keep_earliest(&mut self.first_touch, other.first_touch, |touch| touch.at);
        keep_latest(&mut self.last_touch, other.last_touch, |touch| touch.at);
        keep_latest(&mut self.last_page, other.last_page, |visit| visit.at);
        self.device_types.extend(other.device_types);
        while self.device_types.len() > MAX_SET_SIZE {
            self.device_types.pop_last();
        }
    }
}

/// Event names counted per profile at most: a sender inventing names cannot grow a profile
/// without bound.
pub const MAX_EVENT_NAMES: usize = 500;
/// Device types kept per profile at most (they come from `context.device.type`).
const MAX_SET_SIZE: usize = 32;

fn count_event(counts: &mut BTreeMap<String, u64>, name: String, count: u64) {
    if counts.len() < MAX_EVENT_NAMES || counts.contains_key(&name) {
        *counts.entry(name).or_default() += count;
    }
}

fn insert_new(set: &mut BTreeSet<String>, value: &str) {
    if !set.contains(value) {
        set.insert(value.to_string());
    }
}

fn keep_earliest<T>(slot: &mut Option<T>, candidate: Option<T>, at: impl Fn(&T) -> DateTime<Utc>) {
    if let Some(candidate) = candidate
        && slot
            .as_ref()
            .is_none_or(|current| at(&candidate) < at(current))
    {
        *slot = Some(candidate);
    }
}

fn keep_latest<T>(slot: &mut Option<T>, candidate: Option<T>, at: impl Fn(&T) -> DateTime<Utc>) {
    if let Some(candidate) = candidate
        && slot
            .as_ref()
            .is_none_or(|current| at(&candidate) >= at(current))
    {
        *slot = Some(candidate);
    }
}

/// Sent traits merged across identities: per trait the value with the latest timestamp.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Traits(pub BTreeMap<String, TraitValue>);

impl Traits {
    /// Sets `name` unless a later value is already known; says why a trait was not kept.
    pub fn set(&mut self, name: &str, incoming: TraitValue) -> Result<(), String> {
        if name.is_empty() || name.len() > 128 {
            return Err("trait names must have 1 to 128 bytes".to_string());
        }
        let size = serde_json::to_string(&incoming.value).map_or(usize::MAX, |text| text.len());
        if size > MAX_TRAIT_BYTES {
            return Err(format!(
                "trait `{name}` is larger than {MAX_TRAIT_BYTES} bytes"
            ));
        }
        let full = self.0.len() >= MAX_TRAITS;
        match self.0.get_mut(name) {
            Some(current) => {
                if incoming.at >= current.at {
                    *current = incoming;
                }
            }
            None if full => {
                return Err(format!("a profile keeps at most {MAX_TRAITS} traits"));
            }
            None => {
                self.0.insert(name.to_string(), incoming);
            }
        }
        Ok(())
    }

    pub fn absorb(&mut self, other: Traits) {
        for (name, value) in other.0 {
            // The other profile's traits passed these checks when they were set.
            let _ = self.set(&name, value);
        }
    }

    /// `{name: value}` without sources and times.
    pub fn values(&self) -> serde_json::Map<String, Value> {
        self.0
            .iter()
            .map(|(name, trait_value)| (name.clone(), trait_value.value.clone()))
            .collect()
    }
}
