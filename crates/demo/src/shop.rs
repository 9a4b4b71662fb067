//! The shop backend: the server-side record of every order and of refunds. It is the one source
//! that sees every order, whatever the browser blocked.

use rand::Rng;
use silta_model::EventType;

use crate::batches::Source;
use crate::calendar;
use crate::catalog::{self, Order};
use crate::json::JsonObject;
use crate::run::Run;

const LIBRARY: (&str, &str) = ("analytics-node", "2.2.0");
const REFUND_SHARE: f64 = 0.04;

/// Who placed an order, as the backend knows them: the account, or for a guest checkout the
/// anonymous id the storefront passed along.
#[derive(Debug, Clone)]
pub(crate) struct Buyer {
    pub(crate) user_id: Option<String>,
    pub(crate) anonymous_id: String,
}

impl Buyer {
    fn write_identity(&self, event: &mut JsonObject<'_>) {
        match &self.user_id {
            Some(user_id) => event.str("userId", user_id),
            None => event.str("anonymousId", &self.anonymous_id),
        };
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Refund {
    buyer: Buyer,
    order_id: String,
    revenue_cents: u64,
    reason: &'static str,
}

fn write_context(event: &mut JsonObject<'_>) {
    event
        .object("context")
        .object("library")
        .str("name", LIBRARY.0)
        .str("version", LIBRARY.1);
}

/// `storefront` is "web" or "app".
pub(crate) fn confirm_order(
    run: &mut Run,
    buyer: &Buyer,
    order: &Order,
    storefront: &str,
    millis: u32,
) {
    let payment_methods = ["card", "card", "card", "paypal", "klarna", "apple_pay"];
    let payment_method = payment_methods[run.rng.random_range(0..payment_methods.len())];
    let shipping_method = if run.rng.random_bool(0.8) {
        "standard"
    } else {
        "express"
    };
    let mut event = run.out.event(Source::ShopBackend, EventType::Track, millis);
    buyer.write_identity(&mut event);
    event.str("event", "Order Completed");
    {
        let mut properties = event.object("properties");
        properties
            .str("order_id", &order.order_id)
            .str("affiliation", storefront)
            .money("total", order.revenue_cents)
            .money("revenue", order.revenue_cents)
            .str("currency", "EUR")
            .str("payment_method", payment_method)
            .str("shipping_method", shipping_method);
        catalog::write_order_products(&mut properties.array("products"), order);
    }
    write_context(&mut event);
}

/// Some orders come back a few days later; refunds that would fall after the period are not
/// kept.
pub(crate) fn maybe_schedule_refund(run: &mut Run, buyer: &Buyer, order: &Order) {
    if !run.rng.random_bool(REFUND_SHARE) {
        return;
    }
    let refund_day = run.day + run.rng.random_range(2..=20);
    if refund_day >= run.calendar.days() {
        return;
    }
    let refund_hour = run.rng.random_range(8..18);
    let reasons = ["damaged", "wrong_size", "changed_mind", "late_delivery"];
    let reason = reasons[run.rng.random_range(0..reasons.len())];
    run.refunds
        .entry((refund_day, refund_hour))
        .or_default()
        .push(Refund {
            buyer: buyer.clone(),
            order_id: order.order_id.clone(),
            revenue_cents: order.revenue_cents,
            reason,
        });
}

/// Sends the refunds scheduled for the current hour.
pub(crate) fn issue_due_refunds(run: &mut Run) {
    let Some(refunds) = run.refunds.remove(&(run.day, run.hour)) else {
        return;
    };
    for refund in refunds {
        let millis = calendar::random_millis_in_hour(&mut run.rng, run.hour);
        let mut event = run.out.event(Source::ShopBackend, EventType::Track, millis);
        refund.buyer.write_identity(&mut event);
        event.str("event", "Order Refunded");
        event
            .object("properties")
            .str("order_id", &refund.order_id)
            .money("total", refund.revenue_cents)
            .str("currency", "EUR")
            .str("reason", refund.reason);
        write_context(&mut event);
    }
}
