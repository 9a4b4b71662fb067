/// Why a whole request was refused. Each variant maps to one HTTP status in the server.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CollectError {
    #[error("request body exceeds {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("request body inflates past {limit} bytes")]
    InflatedBodyTooLarge { limit: usize },
    #[error("request body is not valid gzip: {0}")]
    BadGzip(String),
    #[error("request body is empty")]
    EmptyBody,
    #[error("malformed json: {0}")]
    MalformedJson(String),
    #[error("batch must be a non-empty array of events")]
    MissingBatch,
    #[error("batch has {count} events; the limit is {limit}")]
    TooManyEvents { count: usize, limit: usize },
    #[error(
        "no write key: send it as basic auth user, `writeKey` in the body, `X-Write-Key` or `?writeKey=`"
    )]
    MissingWriteKey,
}

impl CollectError {
    /// A stable machine-readable code for the JSON error body.
    pub fn code(&self) -> &'static str {
        match self {
            CollectError::BodyTooLarge { .. } | CollectError::InflatedBodyTooLarge { .. } => {
                "body_too_large"
            }
            CollectError::BadGzip(_) => "bad_gzip",
            CollectError::EmptyBody => "empty_body",
            CollectError::MalformedJson(_) => "malformed_json",
            CollectError::MissingBatch => "missing_batch",
            CollectError::TooManyEvents { .. } => "too_many_events",
            CollectError::MissingWriteKey => "missing_write_key",
        }
    }
}
