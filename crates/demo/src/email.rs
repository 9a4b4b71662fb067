//! The email platform: newsletters on Tuesdays and Thursdays, triggered flows on other days.
//! Sends, opens and clicks are reported by user id; a click starts a visit with the
//! newsletter's UTM parameters.

use rand::Rng;
use silta_model::EventType;

use crate::app;
use crate::batches::Source;
use crate::calendar::{later, random_later};
use crate::people::Person;
use crate::run::Run;
use crate::visits::{Goal, prefers_web};
use crate::web::{self, Arrival};

const OPEN_RATE: f64 = 0.25;
const CLICK_RATE_OF_OPENS: f64 = 0.2;

/// Monday = 0: newsletters go out on Tuesdays and Thursdays.
pub(crate) fn is_newsletter_day(weekday: usize) -> bool {
    weekday == 1 || weekday == 3
}

#[derive(Debug, Clone)]
pub(crate) struct EmailCampaign {
    pub(crate) campaign_id: String,
    pub(crate) name: String,
    pub(crate) subject: &'static str,
}

/// The newsletter of the day, or one of the always-on triggered flows.
pub(crate) fn todays_campaign(run: &mut Run) -> EmailCampaign {
    let date = run.calendar.date(run.day);
    if is_newsletter_day(run.calendar.weekday(run.day)) {
        let subjects = [
            "New in: pieces for the season",
            "Our favourites this week",
            "Members get early access",
            "Five ideas for the weekend",
        ];
        return EmailCampaign {
            campaign_id: format!("nl-{}", date.format("%Y%m%d")),
            name: format!("newsletter_{}", date.format("%Y_%m_%d")),
            subject: subjects[run.day as usize % subjects.len()],
        };
    }
    let flows = [
        ("welcome_series", "Welcome to Silta"),
        ("abandoned_cart", "You left something behind"),
        ("back_in_stock", "Back in stock: your saved items"),
        ("loyalty_update", "Your points balance"),
    ];
    let (name, subject) = flows[run.rng.random_range(0..flows.len())];
    EmailCampaign {
        campaign_id: format!("flow-{name}"),
        name: name.to_string(),
        subject,
    }
}

fn email_event(
    run: &mut Run,
    user_id: &str,
    name: &str,
    campaign: &EmailCampaign,
    email_id: &str,
    link_url: Option<&str>,
    millis: u32,
) {
    let mut event = run
        .out
        .event(Source::EmailPlatform, EventType::Track, millis);
    event.str("userId", user_id).str("event", name);
    event
        .object("properties")
        .str("campaign_id", &campaign.campaign_id)
        .str("campaign_name", &campaign.name)
        .str("email_id", email_id)
        .str("email_subject", campaign.subject)
        .opt_str("link_url", link_url);
    event
        .object("context")
        .object("library")
        .str("name", "analytics-ruby")
        .str("version", "2.4.1");
}

/// One email to one customer, and what they do with it.
pub(crate) fn send(run: &mut Run) {
    let Some(person) = run.random_customer() else {
        return;
    };
    run.mark_seen(person.index);
    let campaign = todays_campaign(run);
    let user_id = person.user_id();
    let email_id = format!("em-{:016x}", run.rng.random::<u64>());
    let sent_millis = run.moment();
    email_event(
        run,
        &user_id,
        "Email Sent",
        &campaign,
        &email_id,
        None,
        sent_millis,
    );
    if !run.rng.random_bool(OPEN_RATE) {
        return;
    }
    let opened_millis = random_later(&mut run.rng, sent_millis, 60_000..4 * 3_600_000);
    email_event(
        run,
        &user_id,
        "Email Opened",
        &campaign,
        &email_id,
        None,
        opened_millis,
    );
    if !run.rng.random_bool(CLICK_RATE_OF_OPENS) {
        return;
    }
    let clicked_millis = random_later(&mut run.rng, opened_millis, 3_000..120_000);
    let link_url = format!(
        "https://shop.silta.example/?utm_source=newsletter&utm_medium=email&utm_campaign={}",
        campaign.name
    );
    email_event(
        run,
        &user_id,
        "Email Link Clicked",
        &campaign,
        &email_id,
        Some(&link_url),
        clicked_millis,
    );
    visit_from_email(run, &person, campaign, later(clicked_millis, 1_500));
}

/// Email links carry a login token, so the visit is identified on whichever device opens it.
fn visit_from_email(run: &mut Run, person: &Person, campaign: EmailCampaign, start: u32) {
    if prefers_web(run, person) {
        let arrival = Arrival::Email {
            campaign: campaign.name,
        };
        web::session(run, person, 0, true, &arrival, Goal::Browse, start);
    } else {
        app::session(run, person, true, Goal::Browse, false, start);
    }
}
