use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Every error the API returns: a status and a JSON body `{"error":{"code","message"}}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after_seconds: Option<u64>,
    /// Every problem found, when there are several (a tracking plan file, say).
    pub problems: Vec<serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after_seconds: None,
            problems: Vec::new(),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// A request that cannot be answered as it stands (code `invalid_request`).
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// Something the request names does not exist (code `not_found`).
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// The request clashes with the resource's state (code `conflict`).
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// An error of the server's own: the details go to the server log, the client gets a
    /// generic message (paths, table names and library errors are not for callers).
    pub fn internal(details: impl std::fmt::Display) -> ApiError {
        tracing::error!(%details, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the server log has the details",
        )
    }
}

impl From<silta_collect::CollectError> for ApiError {
    fn from(error: silta_collect::CollectError) -> ApiError {
        use silta_collect::CollectError;
        let status = match error {
            CollectError::BodyTooLarge { .. } | CollectError::InflatedBodyTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            CollectError::MissingWriteKey => StatusCode::UNAUTHORIZED,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, error.code(), error.to_string())
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::JsonRejection) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            rejection.body_text(),
        )
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::QueryRejection) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            rejection.body_text(),
        )
    }
}

impl From<datafusion::error::DataFusionError> for ApiError {
    fn from(error: datafusion::error::DataFusionError) -> ApiError {
        use datafusion::error::DataFusionError;
        // Planning a request's plan fails on what the request asked for: a value that does
        // not fit a column, a missing function argument.
        match error.find_root() {
            DataFusionError::Plan(_)
            | DataFusionError::SchemaError(..)
            | DataFusionError::ArrowError(..)
            | DataFusionError::Execution(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", error.to_string())
            }
            _ => ApiError::internal(error.to_string()),
        }
    }
}

impl From<silta_state::StateError> for ApiError {
    fn from(error: silta_state::StateError) -> ApiError {
        match error {
            silta_state::StateError::NotFound(what) => ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("{what} not found"),
            ),
            silta_state::StateError::Conflict(message) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", message)
            }
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Segment's own libraries read `code` and `message` at the top level; both shapes are sent.
        let mut body = json!({
            "error": {"code": self.code, "message": self.message},
            "success": false,
            "code": self.code,
            "message": self.message,
        });
        if !self.problems.is_empty() {
            body["error"]["problems"] = serde_json::Value::Array(self.problems);
        }
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after_seconds {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
