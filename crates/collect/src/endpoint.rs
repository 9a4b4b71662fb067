use silta_model::EventType;

/// The ingestion endpoint a request arrived on: one call type, or a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Single(EventType),
    /// `/v1/batch` and `/v1/import`: events carry their own `type`.
    Batch,
}

impl Endpoint {
    /// Maps the last path segment, long or analytics.js short form, to an endpoint.
    pub fn from_path_segment(segment: &str) -> Option<Endpoint> {
        let endpoint = match segment {
            "track" | "t" => Endpoint::Single(EventType::Track),
            "identify" | "i" => Endpoint::Single(EventType::Identify),
            "page" | "p" => Endpoint::Single(EventType::Page),
            "screen" | "s" => Endpoint::Single(EventType::Screen),
            "group" | "g" => Endpoint::Single(EventType::Group),
            "alias" | "a" => Endpoint::Single(EventType::Alias),
            "batch" | "b" | "import" => Endpoint::Batch,
            _ => return None,
        };
        Some(endpoint)
    }
}
