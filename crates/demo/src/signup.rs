//! Signing up: the identify (and sometimes alias) that gives an anonymous visitor a user id,
//! the loyalty and CRM records that follow, and the login on a second device that leaves the
//! identity graph two anonymous ids to join.

use rand::Rng;

use crate::app;
use crate::calendar::{MILLIS_PER_HOUR, random_later};
use crate::crm;
use crate::loyalty;
use crate::people::Devices;
use crate::run::Run;
use crate::visits::{self, Goal, prefers_web};
use crate::web;

/// Share of web signups where the shop also calls `alias` (older analytics setups do).
const ALIAS_SHARE: f64 = 0.3;
const LOYALTY_JOIN_DELAY_MILLIS: std::ops::Range<u32> = 20_000..600_000;

pub(crate) fn sign_up(run: &mut Run, index: u64) {
    let person = run.population.person(index);
    run.mark_seen(index);
    let start = run.moment();
    let signed_up_on_web = prefers_web(run, &person);
    let session_end = if signed_up_on_web {
        let anonymous_id = person.web_anonymous_id(0);
        let arrival = visits::arrival(run, &anonymous_id, 0.2, start);
        let alias = run.rng.random_bool(ALIAS_SHARE);
        web::session(
            run,
            &person,
            0,
            false,
            &arrival,
            Goal::SignUp { alias },
            start,
        )
    } else {
        app::session(
            run,
            &person,
            false,
            Goal::SignUp { alias: false },
            false,
            start,
        )
    };
    if person.loyalty_member {
        let join_millis = random_later(&mut run.rng, session_end, LOYALTY_JOIN_DELAY_MILLIS);
        loyalty::join(run, &person, join_millis);
    }
    if run.rng.random_bool(0.5) || person.company.is_some() {
        let lead_millis = random_later(&mut run.rng, session_end, 60_000..2 * MILLIS_PER_HOUR);
        crm::new_lead(run, &person, lead_millis);
    }
    if person.devices == Devices::Both {
        let login_millis = random_later(
            &mut run.rng,
            session_end,
            MILLIS_PER_HOUR..8 * MILLIS_PER_HOUR,
        );
        if signed_up_on_web {
            app::log_in(run, &person, login_millis);
        } else {
            web::log_in(run, &person, 0, login_millis);
        }
    }
}
