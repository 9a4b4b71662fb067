use std::borrow::Cow;
use std::io::Read;

use flate2::read::GzDecoder;

use crate::{CollectError, Limits};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Returns the JSON bytes of a request body, inflating gzip when the header says so or the body
/// starts with the gzip magic bytes. Inflation stops one byte past the cap, so a gzip bomb is
/// refused without being inflated in full.
pub fn decode_body<'a>(
    body: &'a [u8],
    content_encoding_gzip: bool,
    limits: &Limits,
) -> Result<Cow<'a, [u8]>, CollectError> {
    if body.len() > limits.max_body_bytes {
        return Err(CollectError::BodyTooLarge {
            limit: limits.max_body_bytes,
        });
    }
    let looks_gzipped = body.starts_with(&GZIP_MAGIC);
    if !content_encoding_gzip && !looks_gzipped {
        return Ok(Cow::Borrowed(body));
    }
    if !looks_gzipped {
        return Err(CollectError::BadGzip("missing gzip header".to_string()));
    }
    let read_limit = limits.max_body_bytes as u64 + 1;
    let mut inflated = Vec::with_capacity(body.len() * 4);
    GzDecoder::new(body)
        .take(read_limit)
        .read_to_end(&mut inflated)
        .map_err(|error| CollectError::BadGzip(error.to_string().to_lowercase()))?;
    if inflated.len() > limits.max_body_bytes {
        return Err(CollectError::InflatedBodyTooLarge {
            limit: limits.max_body_bytes,
        });
    }
    Ok(Cow::Owned(inflated))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).expect("write to vec");
        encoder.finish().expect("finish gzip")
    }

    #[test]
    fn plain_bodies_pass_through_untouched() {
        let decoded = decode_body(b"{}", false, &Limits::default()).expect("decodes");
        assert!(matches!(decoded, Cow::Borrowed(b"{}")));
    }

    #[test]
    fn gzip_is_detected_by_magic_bytes_without_a_header() {
        let compressed = gzip(b"{\"a\":1}");
        let decoded = decode_body(&compressed, false, &Limits::default()).expect("decodes");
        assert_eq!(&*decoded, b"{\"a\":1}");
    }

    #[test]
    fn a_gzip_bomb_is_refused_without_inflating_it_all() {
        let bomb = gzip(&vec![b' '; 50 * 1024 * 1024]);
        assert!(bomb.len() < Limits::default().max_body_bytes);
        let error = decode_body(&bomb, true, &Limits::default()).expect_err("refused");
        assert_eq!(error.code(), "body_too_large");
    }

    #[test]
    fn a_gzip_header_on_plain_bytes_is_an_error() {
        let error = decode_body(b"{}", true, &Limits::default()).expect_err("refused");
        assert_eq!(error.code(), "bad_gzip");
    }

    #[test]
    fn oversize_raw_bodies_are_refused() {
        let limits = Limits {
            max_body_bytes: 4,
            ..Limits::default()
        };
        let error = decode_body(b"{\"a\":1}", false, &limits).expect_err("refused");
        assert_eq!(error, CollectError::BodyTooLarge { limit: 4 });
    }
}
