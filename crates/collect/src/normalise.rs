use std::net::IpAddr;

use chrono::{DateTime, Datelike, NaiveDateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use silta_model::{Channel, Event, EventType};

use crate::{Limits, ParsedRequest};

/// What the server knows about a request apart from its body.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub received_at: DateTime<Utc>,
    pub source_id: String,
    pub channel: Channel,
    pub peer_ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

/// Turns raw Segment events into [`Event`]s following the Segment spec.
#[derive(Debug, Clone)]
pub struct Normaliser {
    pub limits: Limits,
    /// Keep only the network part of IP addresses (IPv4 /24, IPv6 /48).
    pub truncate_ip: bool,
}

impl Normaliser {
    fn stored_ip(&self, ip: IpAddr) -> IpAddr {
        if self.truncate_ip {
            truncate_ip(ip)
        } else {
            ip
        }
    }

    /// The text of an event kept in quarantine: as sent, except that `context.ip` is truncated
    /// like that of an accepted event.
    pub fn quarantine_payload(&self, raw_event: &RawValue) -> String {
        let Ok(mut event) = serde_json::from_str::<Map<String, Value>>(raw_event.get()) else {
            return raw_event.get().to_string();
        };
        let ip = event
            .get_mut("context")
            .and_then(Value::as_object_mut)
            .and_then(|context| context.get_mut("ip"));
        match ip {
            Some(ip) => {
                if let Some(parsed) = ip.as_str().and_then(|text| text.parse::<IpAddr>().ok()) {
                    *ip = Value::String(self.stored_ip(parsed).to_string());
                }
                Value::Object(event).to_string()
            }
            None => raw_event.get().to_string(),
        }
    }
}

/// Identifiers may arrive as strings or numbers; both are stored as text.
#[derive(Deserialize)]
#[serde(untagged)]
enum Identifier {
    Text(String),
    Number(serde_json::Number),
}

impl Identifier {
    fn into_text(self) -> Option<String> {
        let text = match self {
            Identifier::Text(text) => text,
            Identifier::Number(number) => number.to_string(),
        };
        (!text.trim().is_empty()).then_some(text)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IncomingEvent<'a> {
    #[serde(rename = "type", default)]
    event_type: Option<String>,
    #[serde(default)]
    message_id: Option<Identifier>,
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    user_id: Option<Identifier>,
    #[serde(default)]
    anonymous_id: Option<Identifier>,
    #[serde(default)]
    group_id: Option<Identifier>,
    #[serde(default)]
    previous_id: Option<Identifier>,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    original_timestamp: Option<String>,
    #[serde(default)]
    sent_at: Option<String>,
    #[serde(borrow, default)]
    properties: Option<&'a RawValue>,
    #[serde(borrow, default)]
    traits: Option<&'a RawValue>,
    #[serde(default)]
    context: Option<Map<String, Value>>,
    #[serde(borrow, default)]
    integrations: Option<&'a RawValue>,
}

/// The few properties Silta lifts into typed columns.
#[derive(Deserialize, Default)]
struct KnownProperties {
    #[serde(default)]
    revenue: Option<Value>,
    #[serde(default)]
    currency: Option<Value>,
    #[serde(default)]
    url: Option<Value>,
    #[serde(default)]
    path: Option<Value>,
    #[serde(default)]
    referrer: Option<Value>,
    #[serde(default)]
    title: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageIdOnly {
    #[serde(default)]
    message_id: Option<Identifier>,
}

/// The `messageId` of a raw event, if it has a readable one (for quarantine records).
pub(crate) fn message_id_of(raw_event: &RawValue) -> Option<String> {
    serde_json::from_str::<MessageIdOnly>(raw_event.get())
        .ok()
        .and_then(|only| only.message_id)
        .and_then(Identifier::into_text)
}

impl Normaliser {
    /// Validates and normalises one event. The error is the reason kept in quarantine.
    pub fn normalise(
        &self,
        raw_event: &RawValue,
        request: &ParsedRequest<'_>,
        meta: &RequestMeta,
    ) -> Result<Event, String> {
        let raw_text = raw_event.get();
        if raw_text.len() > self.limits.max_event_bytes {
            return Err(format!(
                "event is {} bytes; the limit is {}",
                raw_text.len(),
                self.limits.max_event_bytes
            ));
        }
        let incoming: IncomingEvent<'_> =
            serde_json::from_str(raw_text).map_err(|error| format!("invalid event: {error}"))?;

        let event_type = match (request.forced_type, incoming.event_type.as_deref()) {
            (Some(forced), _) => forced,
            (None, Some(name)) => name
                .parse::<EventType>()
                .map_err(|error| error.to_string())?,
            (None, None) => return Err("missing `type`".to_string()),
        };
        let user_id = incoming.user_id.and_then(Identifier::into_text);
        let anonymous_id = incoming.anonymous_id.and_then(Identifier::into_text);
        if user_id.is_none() && anonymous_id.is_none() {
            return Err("either `userId` or `anonymousId` is required".to_string());
        }
        let event_name = incoming.event.filter(|name| !name.trim().is_empty());
        if event_type == EventType::Track && event_name.is_none() {
            return Err("track requires `event`".to_string());
        }
        let previous_id = incoming.previous_id.and_then(Identifier::into_text);
        if event_type == EventType::Alias && previous_id.is_none() {
            return Err("alias requires `previousId`".to_string());
        }
        let group_id = incoming.group_id.and_then(Identifier::into_text);
        if event_type == EventType::Group && group_id.is_none() {
            return Err("group requires `groupId`".to_string());
        }
        for (field, value) in [
            ("properties", incoming.properties),
            ("traits", incoming.traits),
        ] {
            if let Some(value) = value
                && !is_object_or_null(value)
            {
                return Err(format!("`{field}` must be an object"));
            }
        }

        let mut context = merged_context(request.context.as_ref(), incoming.context);
        let (timestamp, original_timestamp, sent_at) = event_time(
            incoming.timestamp.as_deref(),
            incoming.original_timestamp.as_deref(),
            incoming.sent_at.as_deref().or(request.sent_at.as_deref()),
            meta.received_at,
        )?;

        let known: KnownProperties = incoming
            .properties
            .and_then(|properties| serde_json::from_str(properties.get()).ok())
            .unwrap_or_default();
        let page_context = context.get("page").and_then(Value::as_object);
        let page_field = |property: &Option<Value>, key: &str| -> Option<String> {
            let from_properties = matches!(event_type, EventType::Page | EventType::Screen)
                .then(|| text_of(property.as_ref()))
                .flatten();
            from_properties.or_else(|| text_of(page_context.and_then(|page| page.get(key))))
        };
        let page_url = page_field(&known.url, "url");
        let page_path =
            page_field(&known.path, "path").or_else(|| page_url.as_deref().and_then(path_of_url));
        let page_referrer = page_field(&known.referrer, "referrer");
        let page_title = page_field(&known.title, "title");
        let campaign = Campaign::from_context_or_url(&context, page_url.as_deref());

        let ip = text_of(context.get("ip"))
            .and_then(|text| text.parse::<IpAddr>().ok())
            .or(meta.peer_ip)
            .map(|ip| self.stored_ip(ip));
        match ip {
            Some(ip) => context.insert("ip".to_string(), Value::String(ip.to_string())),
            None => context.remove("ip"),
        };
        let user_agent = text_of(context.get("userAgent")).or_else(|| meta.user_agent.clone());
        let traits = incoming
            .traits
            .map(|raw| raw.get().to_string())
            .or_else(|| context.get("traits").map(Value::to_string))
            .unwrap_or_else(|| "{}".to_string());
        let integrations = incoming
            .integrations
            .or(request.integrations)
            .map_or_else(|| "{}".to_string(), |raw| raw.get().to_string());

        Ok(Event {
            message_id: incoming
                .message_id
                .and_then(Identifier::into_text)
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            event_type,
            event: event_name,
            name: incoming.name,
            user_id,
            anonymous_id,
            group_id,
            previous_id,
            timestamp,
            original_timestamp,
            sent_at,
            received_at: meta.received_at,
            source_id: meta.source_id.clone(),
            channel: meta.channel,
            page_url,
            page_path,
            page_referrer,
            page_title,
            utm_source: campaign.source,
            utm_medium: campaign.medium,
            utm_campaign: campaign.name,
            utm_term: campaign.term,
            utm_content: campaign.content,
            ip: ip.map(|ip| ip.to_string()),
            user_agent,
            is_bot: false,
            violations: Vec::new(),
            revenue: known.revenue.as_ref().and_then(number_of),
            currency: text_of(known.currency.as_ref()),
            properties: incoming
                .properties
                .map_or_else(|| "{}".to_string(), |raw| raw.get().to_string()),
            traits,
            context: Value::Object(context).to_string(),
            integrations,
        })
    }
}

fn is_object_or_null(raw: &RawValue) -> bool {
    let text = raw.get().trim_start();
    text.starts_with('{') || text == "null"
}

/// Envelope context underneath, the event's own keys on top.
fn merged_context(
    envelope: Option<&Map<String, Value>>,
    event: Option<Map<String, Value>>,
) -> Map<String, Value> {
    let mut context = envelope.cloned().unwrap_or_default();
    for (key, value) in event.unwrap_or_default() {
        context.insert(key, value);
    }
    context
}

fn text_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn number_of(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|number| number.is_finite())
}

fn path_of_url(url: &str) -> Option<String> {
    url::Url::parse(url).ok().map(|url| url.path().to_string())
}

pub(crate) fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    // Clients without a time zone mean UTC.
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|naive| naive.and_utc())
}

type EventTimes = (DateTime<Utc>, Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// Segment's rule: when the client says both when the event happened and when it sent it, the
/// difference is trusted and the server clock anchors it:
/// `timestamp = receivedAt - (sentAt - originalTimestamp)`.
fn event_time(
    timestamp: Option<&str>,
    original_timestamp: Option<&str>,
    sent_at: Option<&str>,
    received_at: DateTime<Utc>,
) -> Result<EventTimes, String> {
    let parse_field = |field: &str, text: Option<&str>| match text {
        None => Ok(None),
        Some(text) => parse_time(text)
            .map(Some)
            .ok_or_else(|| format!("`{field}` is not an ISO-8601 date: {text:?}")),
    };
    let timestamp = parse_field("timestamp", timestamp)?;
    let original_timestamp = parse_field("originalTimestamp", original_timestamp)?;
    let sent_at = parse_field("sentAt", sent_at)?;
    let client_time = original_timestamp.or(timestamp);
    let corrected = match (client_time, sent_at) {
        (Some(client_time), Some(sent_at)) => {
            received_at.checked_sub_signed(sent_at.signed_duration_since(client_time))
        }
        (Some(client_time), None) => Some(client_time),
        (None, _) => Some(received_at),
    }
    .filter(is_plausible)
    .ok_or_else(|| {
        format!(
            "the event time lies outside {PLAUSIBLE_FROM_YEAR}..{PLAUSIBLE_UNTIL_YEAR} \
             (check `timestamp`, `originalTimestamp` and `sentAt`)"
        )
    })?;
    Ok((corrected, client_time, sent_at))
}

/// Event times outside these years are clock errors, not history or plans.
const PLAUSIBLE_FROM_YEAR: i32 = 1970;
const PLAUSIBLE_UNTIL_YEAR: i32 = 2200;

fn is_plausible(time: &DateTime<Utc>) -> bool {
    (PLAUSIBLE_FROM_YEAR..PLAUSIBLE_UNTIL_YEAR).contains(&time.year())
}

#[derive(Default)]
struct Campaign {
    source: Option<String>,
    medium: Option<String>,
    name: Option<String>,
    term: Option<String>,
    content: Option<String>,
}

impl Campaign {
    fn from_context_or_url(context: &Map<String, Value>, page_url: Option<&str>) -> Campaign {
        if let Some(campaign) = context.get("campaign").and_then(Value::as_object) {
            return Campaign {
                source: text_of(campaign.get("source")),
                medium: text_of(campaign.get("medium")),
                name: text_of(campaign.get("name")),
                term: text_of(campaign.get("term")),
                content: text_of(campaign.get("content")),
            };
        }
        let Some(url) = page_url.and_then(|url| url::Url::parse(url).ok()) else {
            return Campaign::default();
        };
        let mut campaign = Campaign::default();
        for (key, value) in url.query_pairs() {
            let slot = match key.as_ref() {
                "utm_source" => &mut campaign.source,
                "utm_medium" => &mut campaign.medium,
                "utm_campaign" => &mut campaign.name,
                "utm_term" => &mut campaign.term,
                "utm_content" => &mut campaign.content,
                _ => continue,
            };
            *slot = Some(value.into_owned()).filter(|text| !text.is_empty());
        }
        campaign
    }
}

/// Keeps the network part of an address: IPv4 /24, IPv6 /48.
pub fn truncate_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            IpAddr::from([a, b, c, 0])
        }
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            IpAddr::from([segments[0], segments[1], segments[2], 0, 0, 0, 0, 0])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Endpoint, parse_request};

    fn meta() -> RequestMeta {
        RequestMeta {
            received_at: parse_time("2026-11-22T12:00:00Z").expect("time"),
            source_id: "src".to_string(),
            channel: Channel::Web,
            peer_ip: Some("203.0.113.77".parse().expect("ip")),
            user_agent: Some("curl/8".to_string()),
        }
    }

    fn normaliser() -> Normaliser {
        Normaliser {
            limits: Limits::default(),
            truncate_ip: true,
        }
    }

    fn normalise_batch(body: &str) -> Vec<Result<Event, String>> {
        let request =
            parse_request(body.as_bytes(), Endpoint::Batch, &Limits::default()).expect("parses");
        request
            .events
            .iter()
            .map(|raw| normaliser().normalise(raw, &request, &meta()))
            .collect()
    }

    #[test]
    fn clock_skew_is_corrected_with_sent_at() {
        // The client clock is one hour fast: it sent at 13:00 what happened 10 s earlier.
        let results = normalise_batch(
            r#"{"sentAt":"2026-11-22T13:00:00Z","batch":[{"type":"track","event":"A","userId":"u","timestamp":"2026-11-22T12:59:50Z"}]}"#,
        );
        let event = results[0].as_ref().expect("valid");
        assert_eq!(
            event.timestamp,
            parse_time("2026-11-22T11:59:50Z").expect("time")
        );
    }

    #[test]
    fn extreme_times_are_rejected_not_panicked_on() {
        let mut results = normalise_batch(
            r#"{"sentAt":"-200000-01-01T00:00:00","batch":[
                {"type":"track","event":"A","userId":"u","timestamp":"+200000-01-01T00:00:00"}
            ]}"#,
        );
        results.extend(normalise_batch(
            r#"{"batch":[{"type":"track","event":"B","userId":"u","timestamp":"1960-01-01T00:00:00Z"}]}"#,
        ));
        assert_eq!(results.len(), 2);
        for result in &results {
            let reason = result.as_ref().expect_err("rejected");
            assert!(reason.contains("outside 1970..2200"), "{reason}");
        }
    }

    #[test]
    fn quarantined_events_keep_only_the_truncated_ip() {
        let raw: Box<RawValue> = serde_json::from_str(
            r#"{"type":"track","context":{"ip":"198.51.100.9","locale":"fi-FI"}}"#,
        )
        .expect("json");
        let kept = normaliser().quarantine_payload(&raw);
        assert!(kept.contains("198.51.100.0"), "{kept}");
        assert!(!kept.contains("198.51.100.9"), "{kept}");
        assert!(kept.contains("fi-FI"), "{kept}");
    }

    #[test]
    fn required_fields_are_enforced_per_type() {
        let results = normalise_batch(
            r#"{"batch":[
                {"type":"track","userId":"u"},
                {"type":"alias","userId":"u"},
                {"type":"identify"},
                {"type":"group","userId":"u"},
                {"type":"launch","userId":"u"},
                {"type":"track","event":7,"userId":"u"},
                {"type":"track","event":"ok","anonymousId":"a","properties":[1]},
                {"type":"identify","userId":42}
            ]}"#,
        );
        let reasons: Vec<String> = results
            .iter()
            .map(|result| result.as_ref().err().cloned().unwrap_or_default())
            .collect();
        assert_eq!(reasons[0], "track requires `event`");
        assert_eq!(reasons[1], "alias requires `previousId`");
        assert_eq!(reasons[2], "either `userId` or `anonymousId` is required");
        assert_eq!(reasons[3], "group requires `groupId`");
        assert!(reasons[4].contains("unknown event type `launch`"));
        assert!(
            reasons[5].starts_with("invalid event: invalid type"),
            "{}",
            reasons[5]
        );
        assert_eq!(reasons[6], "`properties` must be an object");
        assert_eq!(
            results[7]
                .as_ref()
                .expect("numeric ids are fine")
                .user_id
                .as_deref(),
            Some("42")
        );
    }

    #[test]
    fn context_campaign_page_ip_and_revenue_are_lifted() {
        let results = normalise_batch(
            r#"{"context":{"library":{"name":"x"},"ip":"198.51.100.9"},"batch":[
                {"type":"page","anonymousId":"a","properties":{"url":"https://shop.example/p?utm_source=news&utm_campaign=winter","referrer":"https://search.example/"}},
                {"type":"track","event":"Order Completed","userId":"u","properties":{"revenue":"19.90","currency":"EUR"},"context":{"campaign":{"source":"mail","medium":"email","name":"nov"}}}
            ]}"#,
        );
        let page = results[0].as_ref().expect("valid");
        assert_eq!(page.page_path.as_deref(), Some("/p"));
        assert_eq!(page.utm_source.as_deref(), Some("news"));
        assert_eq!(page.utm_campaign.as_deref(), Some("winter"));
        assert_eq!(page.ip.as_deref(), Some("198.51.100.0"));
        assert!(page.context.contains("\"library\""));
        assert!(!page.context.contains("198.51.100.9"));
        let order = results[1].as_ref().expect("valid");
        assert_eq!(order.revenue, Some(19.9));
        assert_eq!(order.currency.as_deref(), Some("EUR"));
        assert_eq!(order.utm_medium.as_deref(), Some("email"));
        assert_eq!(order.user_agent.as_deref(), Some("curl/8"));
        assert!(!order.message_id.is_empty());
    }

    #[test]
    fn ipv6_keeps_the_first_48_bits() {
        let ip: IpAddr = "2001:db8:abcd:1234::1".parse().expect("ip");
        assert_eq!(truncate_ip(ip).to_string(), "2001:db8:abcd::");
    }
}
