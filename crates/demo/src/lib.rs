//! Silta's demo data: a seeded, reproducible shop with web, app, email, backend, loyalty, ad
//! server and CRM sources, streamed as Segment `/v1/batch` bodies, plus the daily media spend and
//! the media-mix ground truth that the shop's orders follow. Pure computation: no I/O, no async.
//!
//! Revenue: every order is confirmed by the shop backend (`Order Completed` from
//! "Shop backend", exactly once per order). The web shop and the app also send `Order Completed`
//! for the same `order_id` unless the client was blocking tracking (about 8 %), so count
//! revenue per distinct `order_id`, or from the backend alone. Expected order revenue on day `d`
//! is `scale * truth.daily_revenue[d]`, where the scale keeps orders at about 0.4 % of the event
//! budget; `DemoSummary::revenue / sum(truth.daily_revenue)` is the realised scale.

mod ads;
mod app;
mod batches;
mod calendar;
mod catalog;
mod choice;
mod crm;
mod email;
mod generator;
mod json;
mod loyalty;
mod media_mix;
mod orders;
mod people;
mod planning;
mod run;
mod shop;
mod signup;
mod visits;
mod web;

use chrono::NaiveDate;
use serde::Serialize;
use silta_model::Channel;

pub use generator::generate_events;
pub use media_mix::{ChannelTruth, MediaMixTruth, SpendRow, generate_media_mix};
pub use planning::{
    ControlRow, ControlTruth, DAILY_NOISE_SHARE, PlanningData, generate_planning_data,
};

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoOptions {
    /// Approximate total number of events (the result is within a few per cent).
    pub events: u64,
    pub seed: u64,
    /// Length of the history in days.
    pub days: u32,
    /// Last day of data, inclusive.
    pub end_date: NaiveDate,
}

impl DemoOptions {
    pub const DEFAULT_EVENTS: u64 = 1_000_000;
    pub const DEFAULT_SEED: u64 = 42;
    pub const DEFAULT_DAYS: u32 = 90;

    pub fn new(events: u64, seed: u64, end_date: NaiveDate) -> Self {
        DemoOptions {
            events,
            seed,
            days: Self::DEFAULT_DAYS,
            end_date,
        }
    }
}

/// One of the demo's event sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoSource {
    pub name: &'static str,
    pub channel: Channel,
}

pub const DEMO_SOURCES: &[DemoSource] = &[
    DemoSource {
        name: "Web shop",
        channel: Channel::Web,
    },
    DemoSource {
        name: "Mobile app",
        channel: Channel::App,
    },
    DemoSource {
        name: "Email platform",
        channel: Channel::Email,
    },
    DemoSource {
        name: "Shop backend",
        channel: Channel::Shop,
    },
    DemoSource {
        name: "Loyalty programme",
        channel: Channel::Loyalty,
    },
    DemoSource {
        name: "Ad server",
        channel: Channel::Ads,
    },
    DemoSource {
        name: "CRM",
        channel: Channel::Crm,
    },
];

/// A Segment `/v1/batch` body, `{"batch":[...]}` with at most 500 events, for one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoBatch {
    /// Index into [`DEMO_SOURCES`].
    pub source_index: usize,
    pub body: Vec<u8>,
}

/// What a generation run produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DemoSummary {
    pub events: u64,
    /// Distinct people who appear in at least one event.
    pub people: u64,
    pub orders: u64,
    /// EUR, each order counted once.
    pub revenue: f64,
}
