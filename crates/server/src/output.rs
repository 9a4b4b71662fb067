//! Answers as JSON or, for tables, CSV (`?format=csv`).

use axum::Json;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::ApiError;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Json,
    Csv,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormatQuery {
    #[serde(default)]
    pub format: Format,
}

/// An answer that is also a table.
pub trait Tabular {
    fn header(&self) -> Vec<&'static str>;
    fn rows(&self) -> Vec<Vec<String>>;
}

/// The answer as CSV text: the header, then one line per row, quoted where needed.
pub fn csv_text(table: &impl Tabular) -> Result<String, ApiError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record(table.header())
        .map_err(ApiError::internal)?;
    for row in table.rows() {
        writer.write_record(&row).map_err(ApiError::internal)?;
    }
    let bytes = writer.into_inner().map_err(ApiError::internal)?;
    String::from_utf8(bytes).map_err(ApiError::internal)
}

pub fn respond<T: Serialize + Tabular>(answer: T, format: Format) -> Result<Response, ApiError> {
    Ok(match format {
        Format::Json => Json(answer).into_response(),
        Format::Csv => {
            let mut response = csv_text(&answer)?.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            response
        }
    })
}

/// A number for a CSV cell; empty when absent.
pub fn cell(value: Option<f64>) -> String {
    value.map(|value| value.to_string()).unwrap_or_default()
}
