//! Paid media: daily spend for twenty channels and the known media-mix model that turns it into
//! revenue. The model is the usual one (geometric adstock, then Hill saturation), so a media-mix
//! fit on the demo can be checked against the truth.

use chrono::NaiveDate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde::Serialize;

use crate::DemoOptions;
use crate::calendar::Calendar;
use Reach::{AdServer, Offline};
use Schedule::{AlwaysOn, Flights, Weekly};

/// Keeps the spend stream independent of the event stream drawn from the same seed.
const MEDIA_MIX_STREAM: u64 = 1;

/// One day of spend on one channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpendRow {
    pub date: NaiveDate,
    pub channel: String,
    /// EUR, rounded to cents.
    pub spend: f64,
    pub impressions: u64,
    /// Zero for offline channels (TV, radio, print, out-of-home, podcast).
    pub clicks: u64,
}

/// The true response of revenue to one channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelTruth {
    pub channel: String,
    /// `adstock[t] = spend[t] + adstock_decay * adstock[t - 1]`, starting from 0 before the first
    /// day.
    pub adstock_decay: f64,
    /// Adstock (EUR) at which the Hill curve reaches half of its maximum.
    pub hill_half_saturation: f64,
    /// `hill(x) = x^shape / (x^shape + half_saturation^shape)`.
    pub hill_shape: f64,
    /// Revenue (EUR per day) per unit of saturated effect: the channel's daily ceiling.
    pub beta: f64,
    /// Revenue attributed to the channel over the whole period.
    pub contribution: f64,
    /// `contribution / total spend`; 0 when the channel spent nothing.
    pub roi: f64,
}

/// The ground truth that generated the daily revenue:
/// `revenue[t] = baseline_daily_revenue + trend_per_day * t + weekly_seasonality[weekday(t)]
///  + sum over channels of beta * hill(adstock(spend))[t]`,
/// with `t` the number of days since the first day and `weekday` 0 for Monday.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MediaMixTruth {
    pub baseline_daily_revenue: f64,
    pub trend_per_day: f64,
    /// Additive EUR per weekday, Monday first.
    pub weekly_seasonality: [f64; 7],
    pub channels: Vec<ChannelTruth>,
    /// Expected revenue per day (no noise); realised orders are drawn around it.
    pub daily_revenue: Vec<(NaiveDate, f64)>,
}

/// Where a channel's ads can be seen, which decides whether the ad server reports on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// Served and clicked online: impressions and clicks show up as ad-server events and the
    /// visits carry UTM parameters.
    AdServer,
    /// Seen offline: no clicks, the visits it causes look direct or like brand search.
    Offline,
}

/// When a channel is live.
#[derive(Debug, Clone, Copy)]
enum Schedule {
    AlwaysOn,
    /// Bursts of `on_days` followed by `off_days` dark, as TV and radio are bought.
    Flights {
        on_days: u32,
        off_days: u32,
    },
    /// One day a week (Monday = 0): a weekly podcast episode, a Saturday newspaper.
    Weekly {
        weekday: usize,
    },
}

impl Schedule {
    fn duty_cycle(self) -> f64 {
        match self {
            Schedule::AlwaysOn => 1.0,
            Schedule::Flights { on_days, off_days } => {
                f64::from(on_days) / f64::from(on_days + off_days)
            }
            Schedule::Weekly { .. } => 1.0 / 7.0,
        }
    }
}

/// A paid channel as the demo advertiser runs it. The numbers are nominal; each seed jitters
/// them so that a model cannot learn one fixed answer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PaidChannel {
    pub(crate) name: &'static str,
    pub(crate) utm_source: &'static str,
    pub(crate) utm_medium: &'static str,
    pub(crate) reach: Reach,
    /// EUR per live day.
    live_daily_spend: f64,
    schedule: Schedule,
    cost_per_mille: f64,
    click_through_rate: f64,
    adstock_decay: f64,
    /// Half saturation relative to the steady-state adstock of the average spend.
    half_saturation_ratio: f64,
    hill_shape: f64,
    target_roi: f64,
}

const fn channel(
    name: &'static str,
    (utm_source, utm_medium): (&'static str, &'static str),
    reach: Reach,
    (live_daily_spend, schedule): (f64, Schedule),
    (cost_per_mille, click_through_rate): (f64, f64),
    (adstock_decay, half_saturation_ratio, hill_shape): (f64, f64, f64),
    target_roi: f64,
) -> PaidChannel {
    PaidChannel {
        name,
        utm_source,
        utm_medium,
        reach,
        live_daily_spend,
        schedule,
        cost_per_mille,
        click_through_rate,
        adstock_decay,
        half_saturation_ratio,
        hill_shape,
        target_roi,
    }
}

#[rustfmt::skip]
pub(crate) const PAID_CHANNELS: [PaidChannel; 20] = [
    channel("google_search", ("google", "cpc"), AdServer, (5200.0, AlwaysOn), (38.0, 0.045), (0.10, 0.9, 1.2), 2.8),
    channel("google_display", ("google", "display"), AdServer, (1400.0, AlwaysOn), (3.5, 0.004), (0.35, 1.1, 1.6), 0.6),
    channel("youtube", ("youtube", "video"), AdServer, (2200.0, AlwaysOn), (9.0, 0.003), (0.55, 1.0, 1.8), 0.9),
    channel("meta_facebook", ("facebook", "paid_social"), AdServer, (3600.0, AlwaysOn), (7.5, 0.011), (0.30, 0.8, 1.4), 1.4),
    channel("meta_instagram", ("instagram", "paid_social"), AdServer, (2800.0, AlwaysOn), (8.5, 0.009), (0.30, 0.9, 1.5), 1.2),
    channel("tiktok", ("tiktok", "paid_social"), AdServer, (1800.0, AlwaysOn), (6.0, 0.007), (0.25, 1.2, 1.9), 0.8),
    channel("snapchat", ("snapchat", "paid_social"), AdServer, (600.0, AlwaysOn), (4.5, 0.005), (0.20, 1.3, 2.0), 0.4),
    channel("pinterest", ("pinterest", "paid_social"), AdServer, (700.0, AlwaysOn), (5.0, 0.006), (0.35, 1.0, 1.5), 0.9),
    channel("linkedin", ("linkedin", "paid_social"), AdServer, (900.0, AlwaysOn), (28.0, 0.005), (0.30, 1.4, 1.3), 0.3),
    channel("x_twitter", ("x", "paid_social"), AdServer, (500.0, AlwaysOn), (5.5, 0.004), (0.20, 1.5, 1.7), 0.25),
    channel("bing_search", ("bing", "cpc"), AdServer, (900.0, AlwaysOn), (30.0, 0.040), (0.10, 0.9, 1.2), 2.2),
    channel("amazon_ads", ("amazon", "cpc"), AdServer, (1500.0, AlwaysOn), (12.0, 0.012), (0.15, 1.0, 1.3), 1.6),
    channel("programmatic_display", ("dv360", "display"), AdServer, (1200.0, AlwaysOn), (2.5, 0.002), (0.40, 1.2, 1.8), 0.5),
    channel("native_ads", ("taboola", "native"), AdServer, (700.0, AlwaysOn), (3.0, 0.003), (0.30, 1.1, 1.6), 0.45),
    channel("affiliate", ("awin", "affiliate"), AdServer, (1100.0, AlwaysOn), (15.0, 0.020), (0.15, 0.8, 1.1), 1.9),
    channel("podcast", ("podcast", "audio"), Offline, (2500.0, Weekly { weekday: 2 }), (22.0, 0.0), (0.60, 0.9, 1.4), 1.1),
    channel("tv", ("tv", "offline"), Offline, (14000.0, Flights { on_days: 14, off_days: 14 }), (11.0, 0.0), (0.75, 1.0, 2.2), 0.9),
    channel("radio", ("radio", "audio"), Offline, (3000.0, Flights { on_days: 10, off_days: 11 }), (6.0, 0.0), (0.55, 1.0, 1.8), 0.6),
    channel("out_of_home", ("ooh", "offline"), Offline, (2500.0, Flights { on_days: 21, off_days: 14 }), (4.0, 0.0), (0.65, 1.2, 2.0), 0.35),
    channel("print", ("print", "offline"), Offline, (3500.0, Weekly { weekday: 5 }), (18.0, 0.0), (0.50, 1.3, 1.5), 0.3),
];

/// Additive revenue per weekday (Monday first) before seed jitter: weekends sell more.
const NOMINAL_WEEKLY_SEASONALITY: [f64; 7] =
    [-1200.0, -2100.0, -1500.0, -400.0, 1300.0, 3100.0, 800.0];
const NOMINAL_BASELINE: f64 = 30_000.0;
const NOMINAL_TREND_PER_DAY: f64 = 25.0;

/// Everything the event generator needs from the media simulation, day by day.
#[derive(Debug, Clone)]
pub(crate) struct MediaMix {
    /// `[channel][day]`, indexed like [`PAID_CHANNELS`].
    pub(crate) spend: Vec<Vec<f64>>,
    pub(crate) impressions: Vec<Vec<u64>>,
    pub(crate) clicks: Vec<Vec<u64>>,
    /// Revenue caused by each channel each day.
    pub(crate) effects: Vec<Vec<f64>>,
    pub(crate) truth: MediaMixTruth,
}

impl MediaMix {
    pub(crate) fn revenue(&self, day: u32) -> f64 {
        self.truth.daily_revenue[day as usize].1
    }

    pub(crate) fn spend_rows(&self) -> Vec<SpendRow> {
        let mut rows = Vec::with_capacity(self.truth.daily_revenue.len() * PAID_CHANNELS.len());
        for (day, (date, _)) in self.truth.daily_revenue.iter().enumerate() {
            for (channel_index, channel) in PAID_CHANNELS.iter().enumerate() {
                rows.push(SpendRow {
                    date: *date,
                    channel: channel.name.to_string(),
                    spend: self.spend[channel_index][day],
                    impressions: self.impressions[channel_index][day],
                    clicks: self.clicks[channel_index][day],
                });
            }
        }
        rows
    }
}

/// Daily spend for the twenty paid channels and the media-mix truth behind the demo's orders.
/// Depends on the seed, the period and the end date, not on the number of events.
pub fn generate_media_mix(options: &DemoOptions) -> (Vec<SpendRow>, MediaMixTruth) {
    let media_mix = simulate(options);
    (media_mix.spend_rows(), media_mix.truth)
}

/// `1 ± spread`, uniformly.
fn jitter(rng: &mut ChaCha8Rng, spread: f64) -> f64 {
    1.0 + spread * (2.0 * rng.random::<f64>() - 1.0)
}

pub(crate) fn hill(adstock: f64, half_saturation: f64, shape: f64) -> f64 {
    if adstock <= 0.0 {
        return 0.0;
    }
    let powered = adstock.powf(shape);
    powered / (powered + half_saturation.powf(shape))
}

fn round_to_cents(euros: f64) -> f64 {
    (euros * 100.0).round() / 100.0
}

pub(crate) fn simulate(options: &DemoOptions) -> MediaMix {
    let calendar = Calendar::new(options.end_date, options.days);
    let days = calendar.days() as usize;
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    rng.set_stream(MEDIA_MIX_STREAM);

    let baseline_daily_revenue = (NOMINAL_BASELINE * jitter(&mut rng, 0.1)).round();
    let trend_per_day = (NOMINAL_TREND_PER_DAY * jitter(&mut rng, 0.3) * 100.0).round() / 100.0;
    let weekly_seasonality =
        NOMINAL_WEEKLY_SEASONALITY.map(|value| (value * jitter(&mut rng, 0.15)).round());
    // One sale week shared by every channel: spend moves together, as it does in real plans,
    // which is what makes media-mix models hard.
    let sale_start = rng.random_range(0..days.max(1)) as u32;
    let log_drift = Normal::new(0.0, 0.07).expect("constant standard deviation is valid");
    let daily_noise = Normal::new(0.0, 0.10).expect("constant standard deviation is valid");

    let mut spend = Vec::with_capacity(PAID_CHANNELS.len());
    let mut impressions = Vec::with_capacity(PAID_CHANNELS.len());
    let mut clicks = Vec::with_capacity(PAID_CHANNELS.len());
    let mut effects = Vec::with_capacity(PAID_CHANNELS.len());
    let mut channels = Vec::with_capacity(PAID_CHANNELS.len());
    let mut media_revenue = vec![0.0; days];

    for paid_channel in &PAID_CHANNELS {
        let live_daily_spend = paid_channel.live_daily_spend * jitter(&mut rng, 0.2);
        let adstock_decay = (paid_channel.adstock_decay * jitter(&mut rng, 0.15)).clamp(0.0, 0.95);
        let hill_shape = paid_channel.hill_shape * jitter(&mut rng, 0.1);
        let target_roi = paid_channel.target_roi * jitter(&mut rng, 0.2);
        let weekly_profile: [f64; 7] = std::array::from_fn(|_| jitter(&mut rng, 0.15));
        let flight_phase = rng.random_range(0..28u32);

        // Saturation and ceiling are set from the nominal average spend, not the realised one,
        // so that they do not depend on the period length.
        let average_spend = live_daily_spend * paid_channel.schedule.duty_cycle();
        let steady_adstock = average_spend / (1.0 - adstock_decay);
        let hill_half_saturation =
            steady_adstock * paid_channel.half_saturation_ratio * jitter(&mut rng, 0.15);
        let beta =
            target_roi * average_spend / hill(steady_adstock, hill_half_saturation, hill_shape);

        let mut channel_spend = Vec::with_capacity(days);
        let mut channel_impressions = Vec::with_capacity(days);
        let mut channel_clicks = Vec::with_capacity(days);
        let mut channel_effects = Vec::with_capacity(days);
        let mut log_level: f64 = 0.0;
        let mut adstock = 0.0;
        for day in 0..days as u32 {
            log_level = 0.85 * log_level + log_drift.sample(&mut rng);
            let noise = daily_noise.sample(&mut rng);
            let live = match paid_channel.schedule {
                Schedule::AlwaysOn => true,
                Schedule::Flights { on_days, off_days } => {
                    (day + flight_phase) % (on_days + off_days) < on_days
                }
                Schedule::Weekly { weekday } => calendar.weekday(day) == weekday,
            };
            let in_sale = day >= sale_start && day < sale_start + 7;
            let sale_boost = if in_sale { 1.4 } else { 1.0 };
            let day_spend = if live {
                round_to_cents(
                    live_daily_spend
                        * (log_level + noise).exp()
                        * weekly_profile[calendar.weekday(day)]
                        * sale_boost,
                )
            } else {
                0.0
            };
            let cost_per_mille = paid_channel.cost_per_mille * jitter(&mut rng, 0.1);
            let day_impressions = (day_spend / cost_per_mille * 1000.0).round();
            let day_clicks = match paid_channel.reach {
                Reach::AdServer => {
                    (day_impressions * paid_channel.click_through_rate * jitter(&mut rng, 0.15))
                        .round()
                }
                Reach::Offline => 0.0,
            };
            adstock = day_spend + adstock_decay * adstock;
            let effect = beta * hill(adstock, hill_half_saturation, hill_shape);
            media_revenue[day as usize] += effect;
            channel_spend.push(day_spend);
            channel_impressions.push(day_impressions as u64);
            channel_clicks.push(day_clicks as u64);
            channel_effects.push(effect);
        }

        let contribution: f64 = channel_effects.iter().sum();
        let total_spend: f64 = channel_spend.iter().sum();
        channels.push(ChannelTruth {
            channel: paid_channel.name.to_string(),
            adstock_decay,
            hill_half_saturation,
            hill_shape,
            beta,
            contribution,
            roi: if total_spend > 0.0 {
                contribution / total_spend
            } else {
                0.0
            },
        });
        spend.push(channel_spend);
        impressions.push(channel_impressions);
        clicks.push(channel_clicks);
        effects.push(channel_effects);
    }

    let daily_revenue = (0..days as u32)
        .map(|day| {
            let base = baseline_daily_revenue
                + trend_per_day * f64::from(day)
                + weekly_seasonality[calendar.weekday(day)];
            (calendar.date(day), base + media_revenue[day as usize])
        })
        .collect();

    MediaMix {
        spend,
        impressions,
        clicks,
        effects,
        truth: MediaMixTruth {
            baseline_daily_revenue,
            trend_per_day,
            weekly_seasonality,
            channels,
            daily_revenue,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> DemoOptions {
        DemoOptions::new(
            10_000,
            7,
            NaiveDate::from_ymd_opt(2025, 6, 30).expect("date"),
        )
    }

    #[test]
    fn at_least_nineteen_channels_with_varying_non_negative_spend() {
        let (rows, truth) = generate_media_mix(&options());
        assert!(truth.channels.len() >= 19);
        assert_eq!(rows.len(), truth.channels.len() * 90);
        for channel in &truth.channels {
            let spends: Vec<f64> = rows
                .iter()
                .filter(|row| row.channel == channel.channel)
                .map(|row| row.spend)
                .collect();
            assert_eq!(spends.len(), 90);
            assert!(
                spends
                    .iter()
                    .all(|spend| *spend >= 0.0 && spend.is_finite())
            );
            let minimum = spends.iter().copied().fold(f64::INFINITY, f64::min);
            let maximum = spends.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            assert!(
                maximum > minimum * 1.1 && maximum > 0.0,
                "{} does not vary",
                channel.channel
            );
            assert!(
                channel.roi > 0.0 && channel.contribution > 0.0,
                "{channel:?}"
            );
        }
        let offline_clicks: u64 = rows
            .iter()
            .filter(|row| row.channel == "tv")
            .map(|row| row.clicks)
            .sum();
        assert_eq!(offline_clicks, 0);
    }

    /// Recomputes the revenue from the published parameters and the spend rows alone, the way
    /// a user checking a media-mix fit would.
    #[test]
    fn daily_revenue_follows_the_published_model() {
        let options = options();
        let (rows, truth) = generate_media_mix(&options);
        let first_date = truth.daily_revenue[0].0;
        for (day, (date, revenue)) in truth.daily_revenue.iter().enumerate() {
            let weekday = chrono::Datelike::weekday(date).num_days_from_monday() as usize;
            let mut expected = truth.baseline_daily_revenue
                + truth.trend_per_day * (*date - first_date).num_days() as f64
                + truth.weekly_seasonality[weekday];
            for channel in &truth.channels {
                let mut adstock = 0.0;
                for row in rows
                    .iter()
                    .filter(|row| row.channel == channel.channel && row.date <= *date)
                {
                    adstock = row.spend + channel.adstock_decay * adstock;
                }
                let saturated = if adstock > 0.0 {
                    adstock.powf(channel.hill_shape)
                        / (adstock.powf(channel.hill_shape)
                            + channel.hill_half_saturation.powf(channel.hill_shape))
                } else {
                    0.0
                };
                expected += channel.beta * saturated;
            }
            assert!(
                (expected - revenue).abs() < 1e-6,
                "day {day}: {expected} != {revenue}"
            );
            assert!(*revenue > 0.0);
        }
        let media_share = truth
            .channels
            .iter()
            .map(|channel| channel.contribution)
            .sum::<f64>()
            / truth
                .daily_revenue
                .iter()
                .map(|(_, revenue)| revenue)
                .sum::<f64>();
        assert!(
            (0.2..0.7).contains(&media_share),
            "media share {media_share}"
        );
    }

    #[test]
    fn the_seed_decides_the_spend() {
        let (rows, _) = generate_media_mix(&options());
        let (same, _) = generate_media_mix(&options());
        let mut other_options = options();
        other_options.seed += 1;
        let (other, _) = generate_media_mix(&other_options);
        assert_eq!(rows, same);
        assert_ne!(rows, other);
    }
}
