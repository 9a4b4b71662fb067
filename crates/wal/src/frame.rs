//! One record on disk: `[payload length u32][crc32 u32][lsn u64][payload]`, little endian. The
//! checksum covers the lsn and the payload.

/// Log sequence number: the position of a record in the log, increasing by one per record and
/// never reused, also across restarts.
pub type Lsn = u64;

pub(crate) const HEADER_BYTES: usize = 16;

pub(crate) fn encode(lsn: Lsn, payload: &[u8], out: &mut Vec<u8>) {
    let payload_len =
        u32::try_from(payload.len()).expect("wal payloads are capped far below 4 GiB");
    out.extend_from_slice(&payload_len.to_le_bytes());
    out.extend_from_slice(&checksum(lsn, payload).to_le_bytes());
    out.extend_from_slice(&lsn.to_le_bytes());
    out.extend_from_slice(payload);
}

fn checksum(lsn: Lsn, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&lsn.to_le_bytes());
    hasher.update(payload);
    hasher.finalize()
}

/// Decodes the frame at the start of `bytes`: `Some((lsn, payload, frame length))`, or `None`
/// when the bytes hold no complete, intact frame.
pub(crate) fn decode(bytes: &[u8]) -> Option<(Lsn, &[u8], usize)> {
    let header = bytes.get(..HEADER_BYTES)?;
    let payload_len = u32::from_le_bytes(header[0..4].try_into().ok()?) as usize;
    let expected_checksum = u32::from_le_bytes(header[4..8].try_into().ok()?);
    let lsn = u64::from_le_bytes(header[8..16].try_into().ok()?);
    let payload = bytes.get(HEADER_BYTES..HEADER_BYTES + payload_len)?;
    (checksum(lsn, payload) == expected_checksum).then_some((
        lsn,
        payload,
        HEADER_BYTES + payload_len,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn frames_round_trip(lsn in any::<u64>(), payload in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut bytes = Vec::new();
            encode(lsn, &payload, &mut bytes);
            let (decoded_lsn, decoded_payload, length) = decode(&bytes).expect("intact frame");
            prop_assert_eq!(decoded_lsn, lsn);
            prop_assert_eq!(decoded_payload, &payload[..]);
            prop_assert_eq!(length, bytes.len());
        }

        #[test]
        fn any_flipped_bit_or_cut_is_detected(payload in proptest::collection::vec(any::<u8>(), 1..64), bit in 0usize..8, cut in 1usize..16) {
            let mut bytes = Vec::new();
            encode(7, &payload, &mut bytes);
            let mut flipped = bytes.clone();
            let position = HEADER_BYTES + (payload.len() - 1);
            flipped[position] ^= 1 << bit;
            prop_assert!(decode(&flipped).is_none());
            let cut_at = bytes.len().saturating_sub(cut);
            prop_assert!(decode(&bytes[..cut_at]).is_none());
        }
    }
}
