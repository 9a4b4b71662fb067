//! The generation loop: day by day and hour by hour, first what is scheduled (newcomers,
//! signups, orders, refunds), then everyday activity until the event budget up to that hour is
//! spent. Nothing is kept across hours but open batches, pending refunds and one bit per
//! person, so 100 million events stream in bounded memory.

use rand_distr::{Distribution, Poisson};

use crate::ads;
use crate::catalog;
use crate::choice::weighted_choice;
use crate::crm;
use crate::email;
use crate::loyalty;
use crate::media_mix;
use crate::orders;
use crate::run::Run;
use crate::shop;
use crate::signup;
use crate::visits;
use crate::{DemoBatch, DemoOptions, DemoSummary};

/// Orders per event: about 2 % of visits convert, and a visit is about five events.
const ORDERS_PER_EVENT: f64 = 0.004;
/// Half of the traffic follows the day's demand, half is the same every day.
const DEMAND_DRIVEN_TRAFFIC: f64 = 0.5;
/// Activities in a row that may produce nothing (nobody fits yet) before the hour gives up.
const MAX_IDLE_ACTIVITIES: u32 = 64;

#[derive(Debug, Clone, Copy)]
enum Activity {
    Visit,
    AdImpressions,
    Email,
    CrmUpdate,
    LoyaltyBonus,
}

fn next_activity(run: &mut Run, newsletter_day: bool) -> Activity {
    let email_weight = if newsletter_day { 0.4 } else { 0.15 };
    let weights = [
        (Activity::Visit, 0.42),
        (Activity::AdImpressions, 0.3),
        (Activity::Email, email_weight),
        (Activity::CrmUpdate, 0.05),
        (Activity::LoyaltyBonus, 0.05),
    ];
    weighted_choice(&mut run.rng, &weights)
}

fn deliver<E>(run: &mut Run, sink: &mut impl FnMut(DemoBatch) -> Result<(), E>) -> Result<(), E> {
    for batch in run.out.take_ready() {
        sink(batch)?;
    }
    Ok(())
}

/// Streams the demo's event batches in rough time order (day by day), calling `sink` for each
/// batch and stopping at the first error it returns.
///
/// Order revenue follows the media-mix truth of [`crate::generate_media_mix`]: the expected
/// revenue of day `d` is `scale * truth.daily_revenue[d]`, where `scale` makes the orders about
/// 0.4 % of `options.events`. The backend's `Order Completed` events carry each order once.
pub fn generate_events<E>(
    options: &DemoOptions,
    mut sink: impl FnMut(DemoBatch) -> Result<(), E>,
) -> Result<DemoSummary, E> {
    let media = media_mix::simulate(options);
    let mut run = Run::new(options, media);
    let days = run.calendar.days();
    let total_revenue: f64 = (0..days).map(|day| run.media.revenue(day)).sum();
    let order_value = catalog::expected_order_value_cents() / 100.0;
    let revenue_scale = options.events as f64 * ORDERS_PER_EVENT * order_value / total_revenue;
    let event_budget = options.events as f64;
    let mut budget_so_far = 0.0;

    for day in 0..days {
        run.start_day(day);
        let demand_share = run.media.revenue(day) / total_revenue;
        let day_share =
            (1.0 - DEMAND_DRIVEN_TRAFFIC) / f64::from(days) + DEMAND_DRIVEN_TRAFFIC * demand_share;
        let newsletter_day = email::is_newsletter_day(run.calendar.weekday(day));

        let expected_orders = revenue_scale * run.media.revenue(day) / order_value;
        let orders_today = match Poisson::new(expected_orders) {
            Ok(poisson) => poisson.sample(&mut run.rng) as u64,
            Err(_) => 0,
        };
        let mut orders_by_hour = [0u64; 24];
        for _ in 0..orders_today {
            orders_by_hour[run.calendar.random_hour(&mut run.rng)] += 1;
        }
        let signups = run.population.signing_up(day);
        let mut signups = signups.into_iter().peekable();

        for (hour, orders_this_hour) in orders_by_hour.into_iter().enumerate() {
            run.hour = hour;
            budget_so_far += event_budget * day_share * run.calendar.hour_share(hour);

            shop::issue_due_refunds(&mut run);
            for index in run.population.arriving(day, hour) {
                visits::first_visit(&mut run, index);
                deliver(&mut run, &mut sink)?;
            }
            while let Some((_, index)) = signups.next_if(|(signup_hour, _)| *signup_hour == hour) {
                signup::sign_up(&mut run, index);
                deliver(&mut run, &mut sink)?;
            }
            for _ in 0..orders_this_hour {
                orders::place_order(&mut run);
                deliver(&mut run, &mut sink)?;
            }

            let mut idle_activities = 0;
            while (run.out.events() as f64) < budget_so_far && idle_activities < MAX_IDLE_ACTIVITIES
            {
                let events_before = run.out.events();
                match next_activity(&mut run, newsletter_day) {
                    Activity::Visit => visits::return_visit(&mut run),
                    Activity::AdImpressions => ads::impressions_only(&mut run),
                    Activity::Email => email::send(&mut run),
                    Activity::CrmUpdate => crm::update(&mut run),
                    Activity::LoyaltyBonus => loyalty::bonus_points(&mut run),
                }
                deliver(&mut run, &mut sink)?;
                idle_activities = if run.out.events() == events_before {
                    idle_activities + 1
                } else {
                    0
                };
            }
        }
        debug_assert!(signups.next().is_none(), "every signup of the day was sent");
        run.out.end_day();
        deliver(&mut run, &mut sink)?;
    }

    Ok(DemoSummary {
        events: run.out.events(),
        people: run.people_seen(),
        orders: run.orders,
        revenue: run.revenue_cents as f64 / 100.0,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::hash::{DefaultHasher, Hasher};

    use chrono::NaiveDate;
    use serde_json::Value;

    use super::*;
    use crate::DEMO_SOURCES;
    use crate::media_mix::PAID_CHANNELS;

    fn options(events: u64, seed: u64) -> DemoOptions {
        DemoOptions::new(
            events,
            seed,
            NaiveDate::from_ymd_opt(2025, 6, 30).expect("date"),
        )
    }

    fn body_hash(options: &DemoOptions) -> (u64, DemoSummary) {
        let mut hasher = DefaultHasher::new();
        let summary = generate_events(options, |batch| {
            hasher.write_usize(batch.source_index);
            hasher.write(&batch.body);
            Ok::<(), ()>(())
        })
        .expect("the sink never fails");
        (hasher.finish(), summary)
    }

    /// Every event with the index of its source.
    fn all_events(options: &DemoOptions) -> (Vec<(usize, Value)>, DemoSummary) {
        let mut events = Vec::new();
        let summary = generate_events(options, |batch| {
            assert!(batch.source_index < DEMO_SOURCES.len());
            assert!(
                batch.body.len() < 500 * 1024,
                "body of {} bytes",
                batch.body.len()
            );
            let body: Value = serde_json::from_slice(&batch.body).expect("a body is valid json");
            let batch_events = body["batch"].as_array().expect("a batch array");
            assert!(!batch_events.is_empty() && batch_events.len() <= 500);
            events.extend(
                batch_events
                    .iter()
                    .map(|event| (batch.source_index, event.clone())),
            );
            Ok::<(), ()>(())
        })
        .expect("the sink never fails");
        (events, summary)
    }

    fn text<'value>(event: &'value Value, key: &str) -> Option<&'value str> {
        event.get(key).and_then(Value::as_str)
    }

    #[test]
    fn the_same_seed_gives_the_same_bytes_and_another_seed_does_not() {
        let (first, first_summary) = body_hash(&options(20_000, 42));
        let (again, again_summary) = body_hash(&options(20_000, 42));
        let (other, _) = body_hash(&options(20_000, 43));
        assert_eq!(first, again);
        assert_eq!(first_summary, again_summary);
        assert_ne!(first, other);
    }

    #[test]
    fn events_follow_the_segment_spec_and_stay_in_the_period() {
        let options = options(20_000, 42);
        let (events, summary) = all_events(&options);
        let count = events.len() as f64;
        assert!((count / 20_000.0 - 1.0).abs() < 0.1, "{count} events");
        assert_eq!(summary.events, events.len() as u64);

        let first_day = options.end_date - chrono::Duration::days(i64::from(options.days) - 1);
        let mut message_ids = BTreeSet::new();
        let mut previous_day = first_day;
        for (source_index, event) in &events {
            let event_type = text(event, "type").expect("type");
            assert!(
                ["track", "identify", "page", "screen", "group", "alias"].contains(&event_type)
            );
            let message_id = text(event, "messageId").expect("messageId");
            assert!(
                message_ids.insert(message_id.to_string()),
                "duplicate {message_id}"
            );
            let timestamp = text(event, "timestamp").expect("timestamp");
            assert!(timestamp.ends_with('Z'), "{timestamp}");
            let date = chrono::DateTime::parse_from_rfc3339(timestamp)
                .expect("rfc 3339 timestamp")
                .date_naive();
            assert!(date >= first_day && date <= options.end_date, "{timestamp}");
            assert!(date >= previous_day, "batches come day by day");
            previous_day = date;
            assert!(
                text(event, "userId").is_some() || text(event, "anonymousId").is_some(),
                "{event}"
            );
            assert!(event.get("sentAt").is_none());
            assert!(event["context"]["library"]["name"].is_string(), "{event}");
            match event_type {
                "track" => assert!(text(event, "event").is_some(), "{event}"),
                "alias" => assert!(text(event, "previousId").is_some()),
                "group" => assert!(text(event, "groupId").is_some()),
                "page" => {
                    assert_eq!(*source_index, 0);
                    assert!(event["context"]["page"]["url"].is_string());
                    assert!(event["context"]["userAgent"].is_string());
                }
                "screen" => {
                    assert_eq!(*source_index, 1);
                    assert!(event["context"]["os"]["name"].is_string());
                }
                _ => {}
            }
        }

        let sources: BTreeSet<usize> = events
            .iter()
            .map(|(source_index, _)| *source_index)
            .collect();
        assert_eq!(
            sources.len(),
            DEMO_SOURCES.len(),
            "every source sends events"
        );
        let campaign_landings = events
            .iter()
            .filter(|(_, event)| {
                text(event, "type") == Some("page")
                    && event["context"]["campaign"]["source"].is_string()
                    && text(&event["context"]["page"], "url")
                        .is_some_and(|url| url.contains("utm_source="))
            })
            .count();
        assert!(
            campaign_landings > 50,
            "{campaign_landings} campaign landings"
        );
    }

    #[test]
    fn the_event_budget_is_met_from_small_to_large() {
        for (events, days) in [
            (1_000, 90),
            (5_000, 90),
            (100_000, 90),
            (2_000, 7),
            (3_000, 365),
        ] {
            let mut options = options(events, 7);
            options.days = days;
            let (_, summary) = body_hash(&options);
            let ratio = summary.events as f64 / events as f64;
            assert!(
                (0.9..=1.1).contains(&ratio),
                "{} events for a budget of {events}",
                summary.events
            );
            assert!(summary.people > 0 && summary.orders > 0, "{summary:?}");
        }
    }

    #[test]
    fn people_use_web_and_app_under_one_user_id() {
        let (events, _) = all_events(&options(20_000, 42));
        let mut devices_by_user: BTreeMap<&str, (BTreeSet<&str>, BTreeSet<&str>)> = BTreeMap::new();
        for (source_index, event) in &events {
            let (Some(user_id), Some(anonymous_id)) =
                (text(event, "userId"), text(event, "anonymousId"))
            else {
                continue;
            };
            let (web, app) = devices_by_user.entry(user_id).or_default();
            match source_index {
                0 => web.insert(anonymous_id),
                1 => app.insert(anonymous_id),
                _ => false,
            };
        }
        let linked = devices_by_user
            .values()
            .filter(|(web, app)| !web.is_empty() && !app.is_empty() && web.is_disjoint(app))
            .count();
        assert!(linked >= 10, "{linked} users on both web and app");
        let aliases = events
            .iter()
            .filter(|(_, event)| text(event, "type") == Some("alias"))
            .count();
        assert!(aliases > 0);
    }

    #[test]
    fn orders_carry_the_media_mix_revenue() {
        let options = options(200_000, 5);
        let (events, summary) = all_events(&options);
        let (_, truth) = media_mix::generate_media_mix(&options);

        let mut revenue_by_day: BTreeMap<NaiveDate, f64> = BTreeMap::new();
        let mut backend_orders = BTreeSet::new();
        let mut storefront_orders = BTreeSet::new();
        for (source_index, event) in &events {
            if text(event, "event") != Some("Order Completed") {
                continue;
            }
            let order_id = event["properties"]["order_id"]
                .as_str()
                .expect("order_id")
                .to_string();
            let revenue = event["properties"]["revenue"].as_f64().expect("revenue");
            assert!(revenue > 0.0 && event["properties"]["currency"] == "EUR");
            if *source_index == 3 {
                let date = chrono::DateTime::parse_from_rfc3339(
                    text(event, "timestamp").expect("timestamp"),
                )
                .expect("timestamp")
                .date_naive();
                *revenue_by_day.entry(date).or_default() += revenue;
                assert!(
                    backend_orders.insert(order_id),
                    "each order is confirmed once"
                );
            } else {
                storefront_orders.insert(order_id);
            }
        }
        assert_eq!(backend_orders.len() as u64, summary.orders);
        assert!(storefront_orders.is_subset(&backend_orders));
        let tracked_share = storefront_orders.len() as f64 / backend_orders.len() as f64;
        assert!((0.85..0.98).contains(&tracked_share), "{tracked_share}");
        let backend_revenue: f64 = revenue_by_day.values().sum();
        assert!((backend_revenue - summary.revenue).abs() < 0.01 * summary.orders as f64);

        let truth_total: f64 = truth.daily_revenue.iter().map(|(_, revenue)| revenue).sum();
        let expected_scale = 200_000.0 * ORDERS_PER_EVENT * catalog::expected_order_value_cents()
            / 100.0
            / truth_total;
        let realised_scale = summary.revenue / truth_total;
        assert!(
            (realised_scale / expected_scale - 1.0).abs() < 0.1,
            "{realised_scale} vs {expected_scale}"
        );
        let average_order_value = summary.revenue / summary.orders as f64;
        assert!(
            (40.0..=120.0).contains(&average_order_value),
            "{average_order_value}"
        );

        // Weekly ups and downs of the truth show in the orders: the best and worst truth days
        // differ in order revenue the same way on average.
        let mut days: Vec<(f64, f64)> = truth
            .daily_revenue
            .iter()
            .map(|(date, revenue)| (*revenue, revenue_by_day.get(date).copied().unwrap_or(0.0)))
            .collect();
        days.sort_by(|left, right| left.0.total_cmp(&right.0));
        let third = days.len() / 3;
        let low: f64 = days[..third].iter().map(|(_, orders)| orders).sum();
        let high: f64 = days[days.len() - third..]
            .iter()
            .map(|(_, orders)| orders)
            .sum();
        let truth_low: f64 = days[..third].iter().map(|(truth, _)| truth).sum();
        let truth_high: f64 = days[days.len() - third..]
            .iter()
            .map(|(truth, _)| truth)
            .sum();
        assert!(
            high / low > 1.0 + 0.5 * (truth_high / truth_low - 1.0),
            "{high} / {low} vs {truth_high} / {truth_low}"
        );
    }

    #[test]
    fn ad_events_name_the_paid_channels() {
        let (events, _) = all_events(&options(20_000, 42));
        let channel_names: BTreeSet<&str> =
            PAID_CHANNELS.iter().map(|channel| channel.name).collect();
        let mut ad_events = 0;
        for (source_index, event) in &events {
            if *source_index != 5 {
                continue;
            }
            ad_events += 1;
            assert!(
                ["Ad Impression", "Ad Clicked"].contains(&text(event, "event").expect("event"))
            );
            let channel = event["properties"]["channel"].as_str().expect("channel");
            assert!(channel_names.contains(channel), "{channel}");
            assert!(text(event, "anonymousId").is_some());
            assert!(
                event["properties"]["campaign"].is_string()
                    && event["properties"]["creative"].is_string()
            );
        }
        assert!(ad_events > 1_000, "{ad_events} ad events");
    }

    #[test]
    fn the_first_sink_error_stops_generation() {
        let mut calls = 0;
        let result = generate_events(&options(20_000, 42), |_batch| {
            calls += 1;
            if calls == 3 { Err("full") } else { Ok(()) }
        });
        assert_eq!(result, Err("full"));
        assert_eq!(calls, 3);
    }

    /// `cargo test -p silta-demo --release -- --ignored` prints how long a million events take.
    #[test]
    #[ignore = "timing; run in release"]
    fn one_million_events_timing() {
        let options = options(1_000_000, 42);
        let started = std::time::Instant::now();
        let mut batches_per_source = [0u64; 7];
        let mut bytes = 0usize;
        let mut largest_body = 0usize;
        let summary = generate_events(&options, |batch| {
            batches_per_source[batch.source_index] += 1;
            bytes += batch.body.len();
            largest_body = largest_body.max(batch.body.len());
            Ok::<(), ()>(())
        })
        .expect("the sink never fails");
        let elapsed = started.elapsed();
        println!(
            "generated {} events ({} people, {} orders, {:.2} EUR) in {:.2} s: {} MB in {:?} batches per source, largest body {} bytes",
            summary.events,
            summary.people,
            summary.orders,
            summary.revenue,
            elapsed.as_secs_f64(),
            bytes / 1_000_000,
            batches_per_source,
            largest_body
        );
        let ratio = summary.events as f64 / 1_000_000.0;
        assert!((0.9..=1.1).contains(&ratio), "{} events", summary.events);
        assert!(largest_body < 500 * 1024);
    }
}
