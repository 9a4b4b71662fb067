//! Orders, the link between the media-mix truth and the events: each order is caused either by
//! one paid channel or by the baseline, in proportion to that day's modelled revenue, and its
//! visit shows the traces that cause would leave.

use rand::Rng;

use crate::ads;
use crate::app;
use crate::calendar::{later, random_later};
use crate::catalog;
use crate::email;
use crate::loyalty;
use crate::media_mix::{PAID_CHANNELS, Reach};
use crate::people::Person;
use crate::run::Run;
use crate::shop::{self, Buyer};
use crate::visits::{self, Goal, prefers_web};
use crate::web::{self, Arrival};

/// Browsers that block analytics.js or the app's tracking: only the backend sees the order.
const UNTRACKED_SHARE: f64 = 0.08;
/// Ad-driven orders whose visit came from a click rather than after a view.
const CLICK_THROUGH_SHARE: f64 = 0.8;
const REWARD_REDEMPTION_SHARE: f64 = 0.1;

/// The paid channel behind an order, or `None` for the baseline (organic demand).
fn cause_of_order(run: &mut Run) -> Option<usize> {
    let day = run.day as usize;
    let revenue = run.media.revenue(run.day);
    let mut remaining = run.rng.random::<f64>() * revenue;
    for (channel, effects) in run.media.effects.iter().enumerate() {
        remaining -= effects[day];
        if remaining < 0.0 {
            return Some(channel);
        }
    }
    None
}

fn buyer_for(run: &mut Run, cause: Option<usize>) -> Person {
    let needs_web = cause.is_some_and(|channel| PAID_CHANNELS[channel].reach == Reach::AdServer);
    let mut person = run.random_visitor();
    for _ in 0..8 {
        if !needs_web || person.uses_web() {
            break;
        }
        person = run.random_visitor();
    }
    person
}

/// How the ordering visit arrived, emitting the ad events an ad-driven visit leaves.
fn arrival_for(
    run: &mut Run,
    cause: Option<usize>,
    person: &Person,
    anonymous_id: &str,
    start: u32,
) -> Arrival {
    match cause {
        Some(channel) if PAID_CHANNELS[channel].reach == Reach::AdServer => {
            let creative = ads::random_creative(run, channel);
            if run.rng.random_bool(CLICK_THROUGH_SHARE) {
                ads::click_through(run, anonymous_id, channel, creative, start);
                Arrival::Paid { channel, creative }
            } else {
                ads::view_through(run, anonymous_id, channel, creative, start);
                Arrival::Direct
            }
        }
        // TV, radio, print and the rest leave no click: people type the address or search
        // for the brand.
        Some(_) => {
            if run.rng.random_bool(0.5) {
                Arrival::Direct
            } else {
                Arrival::OrganicSearch {
                    referrer: "https://www.google.com/",
                }
            }
        }
        None => {
            if person.registered_before(run.day) && run.rng.random_bool(0.15) {
                Arrival::Email {
                    campaign: email::todays_campaign(run).name,
                }
            } else {
                visits::unpaid_arrival(run)
            }
        }
    }
}

pub(crate) fn place_order(run: &mut Run) {
    let cause = cause_of_order(run);
    let person = buyer_for(run, cause);
    run.mark_seen(person.index);
    run.orders += 1;
    let order_id = format!("ord-{:08}", run.orders);
    let order = catalog::random_order(&mut run.rng, order_id);
    run.revenue_cents += order.revenue_cents;

    let logged_in = person.registered_before(run.day);
    let start = run.moment();
    let tracked = !run.rng.random_bool(UNTRACKED_SHARE);
    let on_web = cause.is_some_and(|channel| PAID_CHANNELS[channel].reach == Reach::AdServer)
        || prefers_web(run, &person);
    let (anonymous_id, storefront) = if on_web {
        (person.web_anonymous_id(0), "web")
    } else {
        (person.app_anonymous_id(), "app")
    };
    // The ad server reports impressions and clicks whatever the browser blocks.
    let arrival = if on_web {
        Some(arrival_for(run, cause, &person, &anonymous_id, start))
    } else {
        None
    };
    let session_end = match (tracked, &arrival) {
        (false, _) => random_later(&mut run.rng, start, 120_000..900_000),
        (true, Some(arrival)) => web::session(
            run,
            &person,
            0,
            logged_in,
            arrival,
            Goal::Purchase(&order),
            start,
        ),
        (true, None) => app::session(
            run,
            &person,
            logged_in,
            Goal::Purchase(&order),
            false,
            start,
        ),
    };

    let buyer = Buyer {
        user_id: logged_in.then(|| person.user_id()),
        anonymous_id,
    };
    let confirmed_millis = random_later(&mut run.rng, session_end, 1_000..20_000);
    shop::confirm_order(run, &buyer, &order, storefront, confirmed_millis);
    if logged_in && person.loyalty_member {
        if run.rng.random_bool(REWARD_REDEMPTION_SHARE) {
            loyalty::redeem_reward(run, &person, later(session_end, 500));
        }
        let points_millis = random_later(&mut run.rng, confirmed_millis, 1_000..300_000);
        loyalty::points_for_order(run, &person, &order, points_millis);
    }
    shop::maybe_schedule_refund(run, &buyer, &order);
}
