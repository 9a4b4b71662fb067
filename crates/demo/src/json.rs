//! A minimal streaming JSON writer. Events are written straight into their batch body because
//! building a `serde_json::Value` per event costs several allocations per key, and the demo has
//! to produce millions of events in seconds.

/// An open JSON object; the closing brace is written when it is dropped, so nesting follows
/// Rust scopes.
pub(crate) struct JsonObject<'buffer> {
    buffer: &'buffer mut Vec<u8>,
    has_fields: bool,
}

impl<'buffer> JsonObject<'buffer> {
    pub(crate) fn open(buffer: &'buffer mut Vec<u8>) -> Self {
        buffer.push(b'{');
        JsonObject {
            buffer,
            has_fields: false,
        }
    }

    fn key(&mut self, key: &str) {
        debug_assert!(
            key.bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_'),
            "keys are written without escaping"
        );
        if self.has_fields {
            self.buffer.push(b',');
        }
        self.has_fields = true;
        self.buffer.push(b'"');
        self.buffer.extend_from_slice(key.as_bytes());
        self.buffer.extend_from_slice(b"\":");
    }

    pub(crate) fn str(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        write_string(self.buffer, value);
        self
    }

    pub(crate) fn opt_str(&mut self, key: &str, value: Option<&str>) -> &mut Self {
        if let Some(value) = value {
            self.str(key, value);
        }
        self
    }

    pub(crate) fn u64(&mut self, key: &str, value: u64) -> &mut Self {
        self.key(key);
        write_u64(self.buffer, value);
        self
    }

    pub(crate) fn bool(&mut self, key: &str, value: bool) -> &mut Self {
        self.key(key);
        self.buffer
            .extend_from_slice(if value { b"true" } else { b"false" });
        self
    }

    /// Money is kept in cents so that sums are exact and the text always has two decimals.
    pub(crate) fn money(&mut self, key: &str, cents: u64) -> &mut Self {
        self.key(key);
        write_u64(self.buffer, cents / 100);
        self.buffer.push(b'.');
        let fraction = cents % 100;
        self.buffer.push(b'0' + (fraction / 10) as u8);
        self.buffer.push(b'0' + (fraction % 10) as u8);
        self
    }

    pub(crate) fn object(&mut self, key: &str) -> JsonObject<'_> {
        self.key(key);
        JsonObject::open(self.buffer)
    }

    pub(crate) fn array(&mut self, key: &str) -> JsonArray<'_> {
        self.key(key);
        self.buffer.push(b'[');
        JsonArray {
            buffer: self.buffer,
            has_items: false,
        }
    }

    /// The buffer, to write a value whose text is built piecewise (message ids).
    pub(crate) fn raw_value(&mut self, key: &str) -> &mut Vec<u8> {
        self.key(key);
        self.buffer
    }
}

impl Drop for JsonObject<'_> {
    fn drop(&mut self) {
        self.buffer.push(b'}');
    }
}

/// An open JSON array of objects; closed when dropped.
pub(crate) struct JsonArray<'buffer> {
    buffer: &'buffer mut Vec<u8>,
    has_items: bool,
}

impl JsonArray<'_> {
    pub(crate) fn object(&mut self) -> JsonObject<'_> {
        if self.has_items {
            self.buffer.push(b',');
        }
        self.has_items = true;
        JsonObject::open(self.buffer)
    }
}

impl Drop for JsonArray<'_> {
    fn drop(&mut self) {
        self.buffer.push(b']');
    }
}

pub(crate) fn write_u64(buffer: &mut Vec<u8>, value: u64) {
    let mut digits = [0u8; 20];
    let mut position = digits.len();
    let mut rest = value;
    loop {
        position -= 1;
        digits[position] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    buffer.extend_from_slice(&digits[position..]);
}

/// Writes `value` as a JSON string: quotes, backslashes and control characters are escaped.
pub(crate) fn write_string(buffer: &mut Vec<u8>, value: &str) {
    buffer.push(b'"');
    let bytes = value.as_bytes();
    let mut clean_from = 0;
    for (position, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => b"",
            _ => continue,
        };
        buffer.extend_from_slice(&bytes[clean_from..position]);
        clean_from = position + 1;
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            buffer.extend_from_slice(b"\\u00");
            buffer.push(HEX[usize::from(byte >> 4)]);
            buffer.push(HEX[usize::from(byte & 0x0f)]);
        } else {
            buffer.extend_from_slice(escape);
        }
    }
    buffer.extend_from_slice(&bytes[clean_from..]);
    buffer.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_objects_and_arrays_close_in_scope_order() {
        let mut buffer = Vec::new();
        {
            let mut object = JsonObject::open(&mut buffer);
            object
                .str("name", "a \"quoted\"\\ value\n\u{1}")
                .u64("count", 1234);
            object
                .money("revenue", 4_205)
                .money("small", 7)
                .bool("flag", true);
            object.object("inner").str("key", "é");
            let mut items = object.array("items");
            items.object().u64("id", 0);
            items.object().u64("id", 18_446_744_073_709_551_615);
        }
        let text = String::from_utf8(buffer).expect("utf-8");
        let parsed: serde_json::Value = serde_json::from_str(&text).expect("valid json");
        assert_eq!(parsed["name"], "a \"quoted\"\\ value\n\u{1}");
        assert_eq!(parsed["count"], 1234);
        assert_eq!(parsed["revenue"].as_f64(), Some(42.05));
        assert_eq!(parsed["small"].as_f64(), Some(0.07));
        assert_eq!(parsed["flag"], true);
        assert_eq!(parsed["inner"]["key"], "é");
        assert_eq!(parsed["items"][1]["id"], u64::MAX);
    }
}
