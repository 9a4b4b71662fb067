//! Arrow schemas of Silta's tables. Partition columns come last, as Delta readers expect.

use std::sync::{Arc, LazyLock};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

pub const EVENT_DATE_COLUMN: &str = "event_date";
pub const LSN_COLUMN: &str = "lsn";

fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn text(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}

pub static EVENTS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        text("message_id", false),
        text("type", false),
        text("event", true),
        text("name", true),
        text("user_id", true),
        text("anonymous_id", true),
        text("group_id", true),
        text("previous_id", true),
        Field::new("timestamp", timestamp(), false),
        Field::new("original_timestamp", timestamp(), true),
        Field::new("sent_at", timestamp(), true),
        Field::new("received_at", timestamp(), false),
        text("source", false),
        text("channel", false),
        text("page_url", true),
        text("page_path", true),
        text("page_referrer", true),
        text("page_title", true),
        text("utm_source", true),
        text("utm_medium", true),
        text("utm_campaign", true),
        text("utm_term", true),
        text("utm_content", true),
        text("ip", true),
        text("user_agent", true),
        Field::new("revenue", DataType::Float64, true),
        text("currency", true),
        text("properties", false),
        text("traits", false),
        text("context", false),
        text("integrations", false),
        // Nullable: files written before these columns existed read them as null.
        Field::new("is_bot", DataType::Boolean, true),
        // What the source's tracking plan found wrong (JSON), when the source flags it.
        text("violations", true),
        // The event's write-ahead log sequence number: the order events arrived in.
        Field::new(LSN_COLUMN, DataType::Int64, true),
        Field::new(EVENT_DATE_COLUMN, DataType::Date32, false),
    ]))
});

pub static QUARANTINE_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("received_at", timestamp(), false),
        text("source", false),
        text("message_id", true),
        text("reason", false),
        text("payload", false),
        // Null for rows written before these columns existed.
        text("violations", true),
        // The record's write-ahead log sequence number: its id, e.g. for a replay.
        Field::new(LSN_COLUMN, DataType::Int64, true),
    ]))
});

/// One row per tracking-plan violation, whatever the source did with the event.
pub static VIOLATIONS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("received_at", timestamp(), false),
        text("source", false),
        text("message_id", false),
        text("type", false),
        text("event", true),
        text("plan", false),
        Field::new("plan_version", DataType::Int64, false),
        text("mode", false),
        text("kind", false),
        text("field", false),
        text("message", false),
        Field::new(LSN_COLUMN, DataType::Int64, false),
    ]))
});
