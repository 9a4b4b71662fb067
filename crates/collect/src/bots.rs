//! Bot detection at collection: the user agent against isbot's maintained pattern list,
//! headless-browser hints, and request rates per client address and per anonymous id.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use silta_model::{Channel, Event};

/// Thresholds of the behaviour signals. 0 turns a signal off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BotLimits {
    /// Events one client address may send to web and app sources in a minute before its
    /// further events count as a bot's (server-side sources send everything from one address).
    pub max_events_per_minute_per_ip: u32,
    /// Events one anonymous id may send in a minute before its further events count as a bot's.
    pub max_events_per_minute_per_visitor: u32,
}

impl Default for BotLimits {
    fn default() -> Self {
        BotLimits {
            max_events_per_minute_per_ip: 1_200,
            max_events_per_minute_per_visitor: 300,
        }
    }
}

/// Keys a rate window tracks before the ones of past minutes are forgotten.
const MAX_TRACKED: usize = 200_000;
/// User agents whose verdict is remembered (traffic shares a few thousand at most; matching
/// the pattern list costs microseconds).
const MAX_KNOWN_AGENTS: usize = 10_000;
const WINDOW: Duration = Duration::from_secs(60);

/// Events per key in the current minute.
#[derive(Default)]
struct RateWindow {
    counts: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateWindow {
    /// Counts one event for `key`; true once the key has gone over `limit` in its minute.
    fn over(&self, key: &str, limit: u32, now: Instant) -> bool {
        if limit == 0 {
            return false;
        }
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if counts.len() >= MAX_TRACKED {
            counts.retain(|_, (started, _)| now.duration_since(*started) < WINDOW);
        }
        // Most events come from keys already counted: no allocation for them.
        if !counts.contains_key(key) {
            counts.insert(key.to_string(), (now, 0));
        }
        let Some((started, count)) = counts.get_mut(key) else {
            return false;
        };
        if now.duration_since(*started) >= WINDOW {
            *started = now;
            *count = 0;
        }
        *count = count.saturating_add(1);
        *count > limit
    }
}

pub struct BotDetector {
    patterns: isbot::Bots,
    known_agents: Mutex<HashMap<Box<str>, bool>>,
    limits: BotLimits,
    per_ip: RateWindow,
    per_visitor: RateWindow,
}

impl std::fmt::Debug for BotDetector {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("BotDetector")
    }
}

/// Browsers that announce themselves as automated in `context.userAgentData.brands`.
fn headless_brand(context: &str) -> bool {
    if !context.contains("HeadlessChrome") {
        return false;
    }
    let context: Value = serde_json::from_str(context).unwrap_or_default();
    context
        .pointer("/userAgentData/brands")
        .and_then(Value::as_array)
        .is_some_and(|brands| {
            brands
                .iter()
                .any(|brand| brand.get("brand").and_then(Value::as_str) == Some("HeadlessChrome"))
        })
}

impl BotDetector {
    pub fn new(limits: BotLimits) -> BotDetector {
        BotDetector {
            patterns: isbot::Bots::default(),
            known_agents: Mutex::new(HashMap::new()),
            limits,
            per_ip: RateWindow::default(),
            per_visitor: RateWindow::default(),
        }
    }

    /// Whether `agent` matches the pattern list, remembered per user agent.
    fn bot_agent(&self, agent: &str) -> bool {
        let mut known = self
            .known_agents
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(&verdict) = known.get(agent) {
            return verdict;
        }
        if known.len() >= MAX_KNOWN_AGENTS {
            known.clear();
        }
        let verdict = self.patterns.is_bot(agent);
        known.insert(agent.into(), verdict);
        verdict
    }

    /// Sets `is_bot` on the events of one request from `peer` to a source of `channel`. Rates
    /// count only for `live` traffic: an import or the demo sends weeks of history at once.
    pub fn flag(&self, events: &mut [Event], peer: Option<IpAddr>, channel: Channel, live: bool) {
        let now = Instant::now();
        let browser_channel = live && matches!(channel, Channel::Web | Channel::App);
        for event in events {
            let by_agent = event
                .user_agent
                .as_deref()
                .is_some_and(|agent| self.bot_agent(agent))
                || headless_brand(&event.context);
            let by_address = browser_channel
                && peer.is_some_and(|peer| {
                    self.per_ip.over(
                        &peer.to_string(),
                        self.limits.max_events_per_minute_per_ip,
                        now,
                    )
                });
            let by_visitor = live
                && event.anonymous_id.as_deref().is_some_and(|visitor| {
                    self.per_visitor.over(
                        visitor,
                        self.limits.max_events_per_minute_per_visitor,
                        now,
                    )
                });
            event.is_bot = by_agent || by_address || by_visitor;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

    fn event(agent: &str, anonymous_id: &str, context: &str) -> Event {
        Event {
            user_agent: Some(agent.to_string()),
            anonymous_id: Some(anonymous_id.to_string()),
            context: context.to_string(),
            ..Event::default()
        }
    }

    #[test]
    fn known_crawlers_and_headless_browsers_are_bots_and_browsers_are_not() {
        let detector = BotDetector::new(BotLimits::default());
        let headless =
            r#"{"userAgentData":{"brands":[{"brand":"HeadlessChrome","version":"131"}]}}"#;
        let mut events = vec![
            event(CHROME, "a", "{}"),
            event(
                "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
                "b",
                "{}",
            ),
            event(&CHROME.replace("Chrome/", "HeadlessChrome/"), "c", "{}"),
            event(CHROME, "d", headless),
            event("python-requests/2.32", "e", "{}"),
        ];
        detector.flag(&mut events, None, Channel::Web, true);
        let flags: Vec<bool> = events.iter().map(|event| event.is_bot).collect();
        assert_eq!(flags, [false, true, true, true, true]);
    }

    #[test]
    fn a_visitor_or_address_over_its_rate_is_a_bot_from_then_on() {
        let detector = BotDetector::new(BotLimits {
            max_events_per_minute_per_ip: 5,
            max_events_per_minute_per_visitor: 3,
        });
        let peer: IpAddr = [192, 0, 2, 1].into();
        let mut visitor: Vec<Event> = (0..4).map(|_| event(CHROME, "busy", "{}")).collect();
        detector.flag(
            &mut visitor,
            Some([192, 0, 2, 9].into()),
            Channel::Web,
            true,
        );
        let flags: Vec<bool> = visitor.iter().map(|event| event.is_bot).collect();
        assert_eq!(flags, [false, false, false, true]);

        let mut crowd: Vec<Event> = (0..6)
            .map(|index| event(CHROME, &format!("v{index}"), "{}"))
            .collect();
        detector.flag(&mut crowd, Some(peer), Channel::Server, true);
        assert!(
            crowd.iter().all(|event| !event.is_bot),
            "server sources share one address"
        );
        detector.flag(&mut crowd, Some(peer), Channel::Web, false);
        assert!(
            crowd.iter().all(|event| !event.is_bot),
            "imported history has no rate"
        );
        detector.flag(&mut crowd, Some(peer), Channel::Web, true);
        assert_eq!(crowd.iter().filter(|event| event.is_bot).count(), 1);
    }
}
