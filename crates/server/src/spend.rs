//! The `spend` table: ad spend per day, channel and campaign, which attribution turns into cost
//! per acquisition and return on ad spend and media-mix models read. Loaded whole from CSV
//! (`PUT /v1/spend`) or written by the demo.

use std::net::SocketAddr;
use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Array, Float64Array, RecordBatch, StringArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::NaiveDate;
use serde::Serialize;
use serde_json::json;
use silta_state::{Actor, Change, Permission};

use crate::analytics::expressions::epoch_days;
use crate::{ApiError, AppState, auth};

/// Largest CSV body accepted.
pub const MAX_SPEND_BYTES: usize = 32 * 1024 * 1024;
const MAX_ROWS: usize = 1_000_000;
/// Problems reported at most in one answer.
const MAX_PROBLEMS: usize = 50;

/// One row of spend.
#[derive(Debug, Clone, PartialEq)]
pub struct SpendRecord {
    pub date: NaiveDate,
    pub channel: String,
    pub campaign: Option<String>,
    pub spend: f64,
    pub impressions: Option<u64>,
    pub clicks: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct SpendLoaded {
    pub rows: usize,
    pub channels: usize,
    pub first_date: Option<NaiveDate>,
    pub last_date: Option<NaiveDate>,
    pub total_spend: f64,
}

/// The records as the `spend` table's one batch.
pub fn spend_batch(rows: &[SpendRecord]) -> Result<RecordBatch, ApiError> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("date", DataType::Date32, false),
        Field::new("channel", DataType::Utf8, false),
        Field::new("campaign", DataType::Utf8, true),
        Field::new("spend", DataType::Float64, false),
        Field::new("impressions", DataType::UInt64, true),
        Field::new("clicks", DataType::UInt64, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Date32Array::from_iter_values(
            rows.iter().map(|row| epoch_days(row.date)),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|row| row.channel.as_str()),
        )),
        Arc::new(StringArray::from_iter(
            rows.iter().map(|row| row.campaign.as_deref()),
        )),
        Arc::new(Float64Array::from_iter_values(
            rows.iter().map(|row| row.spend),
        )),
        Arc::new(UInt64Array::from_iter(
            rows.iter().map(|row| row.impressions),
        )),
        Arc::new(UInt64Array::from_iter(rows.iter().map(|row| row.clicks))),
    ];
    RecordBatch::try_new(schema, columns).map_err(ApiError::internal)
}

/// Reads spend CSV: a header naming `date`, `channel` and `spend`, optionally `campaign`,
/// `impressions` and `clicks`, in any order. Every problem is reported with its line, at once.
pub fn parse_spend_csv(bytes: &[u8]) -> Result<Vec<SpendRecord>, Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let headers = match reader.headers() {
        Ok(headers) => headers.clone(),
        Err(error) => return Err(vec![format!("line 1: {error}")]),
    };
    let column = |name: &str| headers.iter().position(|header| header == name);
    let (Some(date_at), Some(channel_at), Some(spend_at)) =
        (column("date"), column("channel"), column("spend"))
    else {
        return Err(vec![
            "line 1: the header must name date, channel and spend (campaign, impressions and clicks are optional)"
                .to_string(),
        ]);
    };
    let (campaign_at, impressions_at, clicks_at) =
        (column("campaign"), column("impressions"), column("clicks"));
    let mut records = Vec::new();
    let mut problems = Vec::new();
    for (index, row) in reader.records().enumerate() {
        let line = index + 2;
        if problems.len() >= MAX_PROBLEMS {
            break;
        }
        if records.len() >= MAX_ROWS {
            problems.push(format!("line {line}: more than {MAX_ROWS} rows"));
            break;
        }
        let row = match row {
            Ok(row) => row,
            Err(error) => {
                problems.push(format!("line {line}: {error}"));
                continue;
            }
        };
        let field = |at: Option<usize>| {
            at.and_then(|at| row.get(at))
                .filter(|text| !text.is_empty())
        };
        let count = |name: &str, at: Option<usize>| match field(at) {
            None => Ok(None),
            Some(text) => text
                .parse::<u64>()
                .map(Some)
                .map_err(|_| format!("line {line}: {name} must be a whole number, not {text:?}")),
        };
        let date = field(Some(date_at))
            .and_then(|text| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
            .ok_or_else(|| format!("line {line}: date must be YYYY-MM-DD"));
        let channel = field(Some(channel_at))
            .filter(|text| text.chars().count() <= 200)
            .map(str::to_string)
            .ok_or_else(|| format!("line {line}: channel must be 1 to 200 characters"));
        let spend = field(Some(spend_at))
            .and_then(|text| text.parse::<f64>().ok())
            .filter(|spend| spend.is_finite() && *spend >= 0.0)
            .ok_or_else(|| format!("line {line}: spend must be a number of at least 0"));
        let parsed = (
            date,
            channel,
            spend,
            count("impressions", impressions_at),
            count("clicks", clicks_at),
        );
        match parsed {
            (Ok(date), Ok(channel), Ok(spend), Ok(impressions), Ok(clicks)) => {
                records.push(SpendRecord {
                    date,
                    channel,
                    campaign: field(campaign_at).map(str::to_string),
                    spend,
                    impressions,
                    clicks,
                })
            }
            (date, channel, spend, impressions, clicks) => problems.extend(
                [
                    date.err(),
                    channel.err(),
                    spend.err(),
                    impressions.err(),
                    clicks.err(),
                ]
                .into_iter()
                .flatten(),
            ),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    if records.is_empty() {
        return Err(vec!["the file has no rows".to_string()]);
    }
    Ok(records)
}

/// Replaces the `spend` table with `records`, and records who did it.
pub async fn replace_spend(
    state: &AppState,
    records: &[SpendRecord],
    actor: &Actor,
) -> Result<SpendLoaded, ApiError> {
    state
        .store
        .overwrite_reference_table("spend", vec![spend_batch(records)?])
        .await?;
    let mut channels: Vec<&str> = records.iter().map(|row| row.channel.as_str()).collect();
    channels.sort_unstable();
    channels.dedup();
    let loaded = SpendLoaded {
        rows: records.len(),
        channels: channels.len(),
        first_date: records.iter().map(|row| row.date).min(),
        last_date: records.iter().map(|row| row.date).max(),
        total_spend: records.iter().map(|row| row.spend).sum(),
    };
    state.credentials.record(Change {
        actor,
        action: "spend.replaced",
        target: "spend",
        detail: json!(loaded),
    })?;
    Ok(loaded)
}

/// `PUT /v1/spend` (admins and marketers): the CSV body replaces the whole table.
pub async fn put(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<SpendLoaded>, ApiError> {
    let actor = auth::require_actor(&state, &headers, address, Permission::ManageSpend)?;
    let records = parse_spend_csv(&body).map_err(|problems| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_spend",
            problems.join("; "),
        )
    })?;
    Ok(Json(replace_spend(&state, &records, &actor).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spend_csv_reads_optional_columns_in_any_order() {
        let records = parse_spend_csv(
            b"channel,date,spend,clicks\ngoogle,2026-10-01,120.5,30\nmeta,2026-10-01,80,\n",
        )
        .expect("valid");
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].clicks, Some(30));
        assert_eq!(records[1].clicks, None);
        assert_eq!(records[1].impressions, None);
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let problems = parse_spend_csv(
            b"date,channel,spend\n2026-13-01,google,1\n2026-10-01,,-5\n2026-10-02,meta,NaN\n",
        )
        .expect_err("invalid");
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems[0].starts_with("line 2: date"));
        assert!(problems[1].starts_with("line 3: channel"));
        assert!(problems[2].starts_with("line 3: spend"));
        assert!(problems[3].starts_with("line 4: spend"));
        assert!(parse_spend_csv(b"day,cost\n1,2\n").is_err());
        assert!(parse_spend_csv(b"date,channel,spend\n").is_err());
    }
}
