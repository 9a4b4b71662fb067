//! Arbitrary request bodies through the whole decoder: gunzip under caps, envelope parsing,
//! per-event validation and normalisation. Run: `cargo +nightly fuzz run request_decoder`
//! (or `RUSTC_BOOTSTRAP=1 cargo fuzz run request_decoder` on a stable toolchain).
#![no_main]

use libfuzzer_sys::fuzz_target;
use silta_collect::{Endpoint, Limits, Normaliser, RequestMeta, collect_events, decode_body, parse_request};

fuzz_target!(|input: &[u8]| {
    let Some((&selector, body)) = input.split_first() else {
        return;
    };
    let limits = Limits {
        max_body_bytes: 64 * 1024,
        ..Limits::default()
    };
    let endpoint = match selector % 8 {
        0 => Endpoint::Batch,
        1 => Endpoint::from_path_segment("t"),
        2 => Endpoint::from_path_segment("i"),
        3 => Endpoint::from_path_segment("p"),
        4 => Endpoint::from_path_segment("s"),
        5 => Endpoint::from_path_segment("g"),
        6 => Endpoint::from_path_segment("a"),
        _ => Endpoint::from_path_segment("import"),
    }
    .unwrap_or(Endpoint::Batch);
    let Ok(decoded) = decode_body(body, selector & 0x80 != 0, &limits) else {
        return;
    };
    let Ok(request) = parse_request(&decoded, endpoint, &limits) else {
        return;
    };
    let meta = RequestMeta {
        received_at: chrono::Utc::now(),
        source_id: "fuzz".to_string(),
        channel: silta_model::Channel::Web,
        peer_ip: None,
        user_agent: None,
    };
    let normaliser = Normaliser { limits, truncate_ip: true };
    let collected = collect_events(&request, &meta, &normaliser);
    assert_eq!(collected.accepted.len() + collected.rejected.len(), request.events.len());
});
