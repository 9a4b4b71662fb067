use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The places a client may put its write key. Current Segment clients send it only in the body,
/// RudderStack clients only as HTTP Basic auth.
#[derive(Debug, Default, Clone, Copy)]
pub struct WriteKeySources<'a> {
    pub authorization_header: Option<&'a str>,
    pub write_key_header: Option<&'a str>,
    pub query_parameter: Option<&'a str>,
    pub body_field: Option<&'a str>,
}

/// Returns the first non-empty write key, in the order: Basic auth, `X-Write-Key`, query, body.
pub fn extract_write_key(sources: WriteKeySources<'_>) -> Option<String> {
    let from_basic_auth = sources.authorization_header.and_then(basic_auth_user);
    from_basic_auth
        .or_else(|| non_empty(sources.write_key_header))
        .or_else(|| non_empty(sources.query_parameter))
        .or_else(|| non_empty(sources.body_field))
}

fn non_empty(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(str::to_string)
}

/// The user part of `Basic base64(user:password)`; Segment and RudderStack put the key there.
fn basic_auth_user(header: &str) -> Option<String> {
    let encoded = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))?;
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let user = text.split(':').next().unwrap_or_default();
    non_empty(Some(user))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_user_is_the_write_key() {
        let header = format!("Basic {}", STANDARD.encode("key123:"));
        let sources = WriteKeySources {
            authorization_header: Some(&header),
            body_field: Some("other"),
            ..Default::default()
        };
        assert_eq!(extract_write_key(sources).as_deref(), Some("key123"));
    }

    #[test]
    fn falls_back_to_header_query_and_body_in_order() {
        let sources = WriteKeySources {
            query_parameter: Some("from-query"),
            body_field: Some("from-body"),
            ..Default::default()
        };
        assert_eq!(extract_write_key(sources).as_deref(), Some("from-query"));
        let only_body = WriteKeySources {
            body_field: Some("from-body"),
            ..Default::default()
        };
        assert_eq!(extract_write_key(only_body).as_deref(), Some("from-body"));
        assert_eq!(extract_write_key(WriteKeySources::default()), None);
    }

    #[test]
    fn garbage_basic_auth_is_ignored() {
        let sources = WriteKeySources {
            authorization_header: Some("Basic !!!"),
            ..Default::default()
        };
        assert_eq!(extract_write_key(sources), None);
    }
}
