//! Visits to the shop, on the web or in the app: who comes, on which device and from where.

use rand::Rng;

use crate::ads;
use crate::app;
use crate::catalog::Order;
use crate::people::Person;
use crate::run::Run;
use crate::web::{self, Arrival};

/// What a visit is for; browsing visits are the bulk, the others are scheduled.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Goal<'order> {
    Browse,
    Purchase(&'order Order),
    SignUp { alias: bool },
}

/// Paid share of a newcomer's first visit: acquisition is what ads are bought for.
const FIRST_VISIT_PAID_SHARE: f64 = 0.45;
const RETURN_VISIT_PAID_SHARE: f64 = 0.22;

/// How a web visit arrives, without paid media. Search dominates, as in most shops.
pub(crate) fn unpaid_arrival(run: &mut Run) -> Arrival {
    let draw = run.rng.random::<f64>();
    if draw < 0.38 {
        Arrival::Direct
    } else if draw < 0.75 {
        let engine_draw = run.rng.random::<f64>();
        let referrer = if engine_draw < 0.85 {
            "https://www.google.com/"
        } else if engine_draw < 0.95 {
            "https://www.bing.com/"
        } else {
            "https://duckduckgo.com/"
        };
        Arrival::OrganicSearch { referrer }
    } else if draw < 0.89 {
        let networks = [
            "https://www.facebook.com/",
            "https://www.instagram.com/",
            "https://www.pinterest.com/",
            "https://www.reddit.com/",
        ];
        Arrival::Social {
            referrer: networks[run.rng.random_range(0..networks.len())],
        }
    } else {
        let sites = [
            "https://blog.nordic-living.example/best-gifts",
            "https://www.review-site.example/silta-shop",
            "https://forum.outdoors.example/t/gear-tips",
        ];
        Arrival::Referral {
            referrer: sites[run.rng.random_range(0..sites.len())],
        }
    }
}

/// A paid click with probability `paid_share` (its impressions and click are sent by the ad
/// server), otherwise an unpaid arrival.
pub(crate) fn arrival(run: &mut Run, anonymous_id: &str, paid_share: f64, start: u32) -> Arrival {
    if run.rng.random_bool(paid_share)
        && let Some(channel) = run.channel_by_clicks()
    {
        let creative = ads::random_creative(run, channel);
        ads::click_through(run, anonymous_id, channel, creative, start);
        return Arrival::Paid { channel, creative };
    }
    unpaid_arrival(run)
}

/// People with both devices pick the web a bit more often.
pub(crate) fn prefers_web(run: &mut Run, person: &Person) -> bool {
    match (person.uses_web(), person.uses_app()) {
        (true, true) => run.rng.random_bool(0.55),
        (web, _) => web,
    }
}

/// Which of a person's browsers this visit uses.
pub(crate) fn random_browser(run: &mut Run, person: &Person) -> u8 {
    if person.browsers() > 1 && run.rng.random_bool(0.35) {
        1
    } else {
        0
    }
}

/// A newcomer's first visit: anonymous, often from an ad, and on the app the install.
pub(crate) fn first_visit(run: &mut Run, index: u64) {
    let person = run.population.person(index);
    run.mark_seen(index);
    let start = run.moment();
    if prefers_web(run, &person) {
        let anonymous_id = person.web_anonymous_id(0);
        let arrival = arrival(run, &anonymous_id, FIRST_VISIT_PAID_SHARE, start);
        web::session(run, &person, 0, false, &arrival, Goal::Browse, start);
    } else {
        app::session(run, &person, false, Goal::Browse, true, start);
    }
}

/// A returning visitor browsing without buying; logged in once they have signed up.
pub(crate) fn return_visit(run: &mut Run) {
    let person = run.random_visitor();
    run.mark_seen(person.index);
    let logged_in = person.registered_before(run.day);
    let start = run.moment();
    if prefers_web(run, &person) {
        let browser = random_browser(run, &person);
        let anonymous_id = person.web_anonymous_id(browser);
        let arrival = arrival(run, &anonymous_id, RETURN_VISIT_PAID_SHARE, start);
        web::session(
            run,
            &person,
            browser,
            logged_in,
            &arrival,
            Goal::Browse,
            start,
        );
    } else {
        app::session(run, &person, logged_in, Goal::Browse, false, start);
    }
}
