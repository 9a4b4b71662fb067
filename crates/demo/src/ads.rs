//! The ad server: impressions and clicks for the paid online channels, keyed by the browser's
//! anonymous id so that they join the visits they cause.

use rand::Rng;
use silta_model::EventType;

use crate::batches::Source;
use crate::calendar::{later, random_later};
use crate::media_mix::PAID_CHANNELS;
use crate::run::Run;

fn creatives(medium: &str) -> &'static [&'static str] {
    match medium {
        "cpc" => &["text_a", "text_b", "brand_text"],
        "display" => &["banner_300x250", "banner_728x90", "responsive_a"],
        "video" => &["bumper_6s", "skippable_30s"],
        "paid_social" => &["carousel_a", "video_15s", "static_b"],
        "native" => &["article_a", "article_b"],
        _ => &["partner_link"],
    }
}

pub(crate) fn random_creative(run: &mut Run, channel: usize) -> &'static str {
    let options = creatives(PAID_CHANNELS[channel].utm_medium);
    options[run.rng.random_range(0..options.len())]
}

fn ad_event(
    run: &mut Run,
    name: &str,
    anonymous_id: &str,
    channel: usize,
    creative: &str,
    millis: u32,
) {
    let paid_channel = &PAID_CHANNELS[channel];
    let mut event = run.out.event(Source::AdServer, EventType::Track, millis);
    event.str("anonymousId", anonymous_id).str("event", name);
    event
        .object("properties")
        .str("channel", paid_channel.name)
        .str("network", paid_channel.utm_source)
        .str("campaign", &run.campaign)
        .str("creative", creative);
    event
        .object("context")
        .object("library")
        .str("name", "analytics-go")
        .str("version", "3.3.0");
}

/// One to three impressions, then the click that starts a visit at `visit_millis`.
pub(crate) fn click_through(
    run: &mut Run,
    anonymous_id: &str,
    channel: usize,
    creative: &str,
    visit_millis: u32,
) {
    let impressions = run.rng.random_range(1..=3);
    let first_impression = visit_millis.saturating_sub(run.rng.random_range(60_000..1_800_000));
    for impression in 0..impressions {
        let millis = later(
            first_impression,
            impression * run.rng.random_range(20_000..300_000),
        );
        ad_event(
            run,
            "Ad Impression",
            anonymous_id,
            channel,
            creative,
            millis.min(visit_millis),
        );
    }
    let click_millis = visit_millis.saturating_sub(run.rng.random_range(500..4_000));
    ad_event(
        run,
        "Ad Clicked",
        anonymous_id,
        channel,
        creative,
        click_millis,
    );
}

/// An impression earlier in the day that the visitor acts on later without clicking.
pub(crate) fn view_through(
    run: &mut Run,
    anonymous_id: &str,
    channel: usize,
    creative: &str,
    visit_millis: u32,
) {
    let millis = visit_millis.saturating_sub(run.rng.random_range(600_000..6 * 3_600_000));
    ad_event(
        run,
        "Ad Impression",
        anonymous_id,
        channel,
        creative,
        millis,
    );
}

/// Impressions that lead nowhere, which is what most impressions do. Prospects who have not
/// visited yet are shown ads too.
pub(crate) fn impressions_only(run: &mut Run) {
    let Some(channel) = run.channel_by_impressions() else {
        return;
    };
    let person = run.random_prospect();
    run.mark_seen(person.index);
    let anonymous_id = person.web_anonymous_id(0);
    let creative = random_creative(run, channel);
    let impressions = run.rng.random_range(1..=4);
    let mut millis = run.moment();
    for _ in 0..impressions {
        ad_event(
            run,
            "Ad Impression",
            &anonymous_id,
            channel,
            creative,
            millis,
        );
        millis = random_later(&mut run.rng, millis, 5_000..600_000);
    }
}
