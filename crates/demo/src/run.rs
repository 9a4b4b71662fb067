//! The state of one generation run that every activity shares: the random stream, the batches
//! being written, today's media plan and the few counters that end up in the summary.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::DemoOptions;
use crate::batches::Emitter;
use crate::calendar::{self, Calendar};
use crate::media_mix::{MediaMix, PAID_CHANNELS, Reach};
use crate::people::{Person, Population};
use crate::shop::Refund;

/// Keeps the event stream independent of the media-mix stream drawn from the same seed.
const EVENT_STREAM: u64 = 2;
/// Tries before giving up on finding someone who fits (e.g. a registered person on day one).
const PICK_ATTEMPTS: usize = 16;

/// Seasonal campaign themes by month, January first.
const CAMPAIGN_THEMES: [&str; 12] = [
    "winter_sale",
    "valentines",
    "spring_edit",
    "easter",
    "spring_sale",
    "summer_edit",
    "summer_sale",
    "late_summer",
    "back_to_school",
    "autumn_edit",
    "black_friday",
    "holiday_gifts",
];

pub(crate) struct Run {
    pub(crate) rng: ChaCha8Rng,
    pub(crate) out: Emitter,
    pub(crate) population: Population,
    pub(crate) calendar: Calendar,
    pub(crate) media: MediaMix,
    pub(crate) day: u32,
    pub(crate) hour: usize,
    /// One bit per person: who has appeared in an event.
    seen: Vec<u64>,
    seen_count: u64,
    pub(crate) orders: u64,
    pub(crate) revenue_cents: u64,
    /// Refunds waiting for their (day, hour).
    pub(crate) refunds: BTreeMap<(u32, usize), Vec<Refund>>,
    /// Today's cumulative click and impression counts per paid channel, for weighted picks.
    cumulative_clicks: Vec<u64>,
    cumulative_impressions: Vec<u64>,
    /// Today's seasonal campaign, shared by every paid channel.
    pub(crate) campaign: String,
}

impl Run {
    pub(crate) fn new(options: &DemoOptions, media: MediaMix) -> Self {
        let calendar = Calendar::new(options.end_date, options.days);
        let population = Population::new(options.seed, options.events, calendar.clone());
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
        rng.set_stream(EVENT_STREAM);
        Run {
            rng,
            out: Emitter::new(options.seed),
            seen: vec![0; population.total().div_ceil(64) as usize],
            population,
            calendar,
            media,
            day: 0,
            hour: 0,
            seen_count: 0,
            orders: 0,
            revenue_cents: 0,
            refunds: BTreeMap::new(),
            cumulative_clicks: Vec::new(),
            cumulative_impressions: Vec::new(),
            campaign: String::new(),
        }
    }

    pub(crate) fn start_day(&mut self, day: u32) {
        self.day = day;
        self.hour = 0;
        self.out.start_day(&self.calendar.timestamp_prefix(day));
        let running_total = |counts: &Vec<Vec<u64>>| -> Vec<u64> {
            counts
                .iter()
                .zip(&PAID_CHANNELS)
                .scan(0, |total, (channel_counts, channel)| {
                    if channel.reach == Reach::AdServer {
                        *total += channel_counts[day as usize];
                    }
                    Some(*total)
                })
                .collect()
        };
        self.cumulative_clicks = running_total(&self.media.clicks);
        self.cumulative_impressions = running_total(&self.media.impressions);
        let date = self.calendar.date(day);
        let month = chrono::Datelike::month0(&date) as usize;
        self.campaign = format!(
            "{}_{}",
            CAMPAIGN_THEMES[month],
            chrono::Datelike::year(&date)
        );
    }

    pub(crate) fn mark_seen(&mut self, index: u64) {
        let word = &mut self.seen[(index / 64) as usize];
        let bit = 1u64 << (index % 64);
        if *word & bit == 0 {
            *word |= bit;
            self.seen_count += 1;
        }
    }

    pub(crate) fn people_seen(&self) -> u64 {
        self.seen_count
    }

    /// A moment in the current hour.
    pub(crate) fn moment(&mut self) -> u32 {
        calendar::random_millis_in_hour(&mut self.rng, self.hour)
    }

    /// Someone who has already arrived, favouring the engaged few.
    pub(crate) fn random_visitor(&mut self) -> Person {
        let arrived = self.population.arrived_before(self.day, self.hour);
        let mut person = self.population.person(self.rng.random_range(0..arrived));
        for _ in 0..PICK_ATTEMPTS {
            if self.rng.random::<f64>() < person.engagement {
                break;
            }
            person = self.population.person(self.rng.random_range(0..arrived));
        }
        person
    }

    /// Someone who signed up before today, so that the email platform, the CRM and the loyalty
    /// programme know them.
    pub(crate) fn random_customer(&mut self) -> Option<Person> {
        let day = self.day;
        (0..PICK_ATTEMPTS)
            .map(|_| self.random_visitor())
            .find(|person| person.registered_before(day))
    }

    /// Anyone, including people who have not visited yet: ads reach prospects too.
    pub(crate) fn random_prospect(&mut self) -> Person {
        let index = self.rng.random_range(0..self.population.total());
        self.population.person(index)
    }

    fn weighted_channel(rng: &mut ChaCha8Rng, cumulative: &[u64]) -> Option<usize> {
        let total = *cumulative.last()?;
        if total == 0 {
            return None;
        }
        let target = rng.random_range(0..total);
        cumulative.iter().position(|running| target < *running)
    }

    /// A paid online channel, in proportion to today's clicks.
    pub(crate) fn channel_by_clicks(&mut self) -> Option<usize> {
        Self::weighted_channel(&mut self.rng, &self.cumulative_clicks)
    }

    /// A paid online channel, in proportion to today's impressions.
    pub(crate) fn channel_by_impressions(&mut self) -> Option<usize> {
        Self::weighted_channel(&mut self.rng, &self.cumulative_impressions)
    }
}
