//! The loyalty programme: members join, earn points for orders and other deeds, and redeem
//! rewards. It knows members by user id only.

use rand::Rng;
use silta_model::EventType;

use crate::batches::Source;
use crate::catalog::Order;
use crate::json::JsonObject;
use crate::people::Person;
use crate::run::Run;

const PROGRAMME: &str = "Silta Rewards";

fn loyalty_event<'run>(
    run: &'run mut Run,
    user_id: &str,
    name: &str,
    millis: u32,
) -> JsonObject<'run> {
    let mut event = run
        .out
        .event(Source::LoyaltyProgramme, EventType::Track, millis);
    event.str("userId", user_id).str("event", name);
    event
        .object("context")
        .object("library")
        .str("name", "analytics-java")
        .str("version", "3.5.1");
    event
}

pub(crate) fn join(run: &mut Run, person: &Person, millis: u32) {
    let mut event = loyalty_event(run, &person.user_id(), "Loyalty Signed Up", millis);
    event
        .object("properties")
        .str("programme", PROGRAMME)
        .str("tier", "bronze");
}

/// One point per euro spent.
pub(crate) fn points_for_order(run: &mut Run, person: &Person, order: &Order, millis: u32) {
    let mut event = loyalty_event(run, &person.user_id(), "Points Earned", millis);
    event
        .object("properties")
        .str("programme", PROGRAMME)
        .u64("points", order.revenue_cents / 100)
        .str("reason", "purchase")
        .str("order_id", &order.order_id);
}

pub(crate) fn redeem_reward(run: &mut Run, person: &Person, millis: u32) {
    let rewards = [
        ("rw-5off", "5 EUR voucher", 500),
        ("rw-ship", "Free express shipping", 300),
        ("rw-tote", "Canvas tote bag", 800),
    ];
    let (reward_id, reward_name, points) = rewards[run.rng.random_range(0..rewards.len())];
    let mut event = loyalty_event(run, &person.user_id(), "Reward Redeemed", millis);
    event
        .object("properties")
        .str("programme", PROGRAMME)
        .str("reward_id", reward_id)
        .str("reward_name", reward_name)
        .u64("points", points);
}

/// Points for things other than orders: reviews, birthdays, referrals.
pub(crate) fn bonus_points(run: &mut Run) {
    let member = (0..4).find_map(|_| run.random_customer().filter(|person| person.loyalty_member));
    let Some(person) = member else {
        return;
    };
    run.mark_seen(person.index);
    let reasons = [
        ("review", 50),
        ("birthday", 200),
        ("referral", 500),
        ("app_download", 100),
    ];
    let (reason, points) = reasons[run.rng.random_range(0..reasons.len())];
    let millis = run.moment();
    let mut event = loyalty_event(run, &person.user_id(), "Points Earned", millis);
    event
        .object("properties")
        .str("programme", PROGRAMME)
        .u64("points", points)
        .str("reason", reason);
}
