//! GrowthBook's bucketing: FNV-1a hashing of seed and value (hash versions 1 and 2), bucket
//! ranges from weights and coverage, variation choice and namespaces. The shared test cases of
//! GrowthBook's SDKs (`tests/growthbook_cases.json`) check every function.

/// FNV-1a, 32 bits, over UTF-16 code units as JavaScript's `charCodeAt` sees them.
fn fnv1a_32(text: &str) -> u32 {
    text.encode_utf16().fold(0x811c_9dc5_u32, |hash, unit| {
        (hash ^ u32::from(unit)).wrapping_mul(0x0100_0193)
    })
}

/// A number in `[0, 1)` for `value` in an experiment with `seed`: version 2 (unbiased) hashes
/// twice, version 1 (the original) once; other versions have no hash.
pub fn hash(seed: &str, value: &str, version: u32) -> Option<f64> {
    match version {
        2 => {
            let once = fnv1a_32(&format!("{seed}{value}"));
            Some(f64::from(fnv1a_32(&once.to_string()) % 10_000) / 10_000.0)
        }
        1 => Some(f64::from(fnv1a_32(&format!("{value}{seed}")) % 1_000) / 1_000.0),
        _ => None,
    }
}

/// `n` equal weights that add up to 1.
pub fn equal_weights(variations: usize) -> Vec<f64> {
    vec![1.0 / variations as f64; variations]
}

/// `[start, end)` of each variation: weights (equal ones when missing, of the wrong length or
/// not adding up to 1) laid end to end, each range covering `coverage` of its weight.
pub fn bucket_ranges(variations: usize, coverage: f64, weights: Option<&[f64]>) -> Vec<(f64, f64)> {
    let coverage = coverage.clamp(0.0, 1.0);
    let equal = equal_weights(variations);
    let weights = match weights {
        Some(weights) if weights.len() == variations => {
            let total: f64 = weights.iter().sum();
            if (0.99..=1.01).contains(&total) {
                weights.to_vec()
            } else {
                equal
            }
        }
        _ => equal,
    };
    let mut cumulative = 0.0;
    weights
        .iter()
        .map(|weight| {
            let start = cumulative;
            cumulative += weight;
            (start, start + coverage * weight)
        })
        .collect()
}

/// The variation whose range holds `n`, if any.
pub fn choose_variation(n: f64, ranges: &[(f64, f64)]) -> Option<usize> {
    ranges
        .iter()
        .position(|&(start, end)| n >= start && n < end)
}

/// A namespace: experiments in one namespace with disjoint ranges never share a person.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Namespace {
    pub id: String,
    pub start: f64,
    pub end: f64,
}

/// Whether the person hashed by `value` falls into the namespace's range.
pub fn in_namespace(value: &str, namespace: &Namespace) -> bool {
    hash(&format!("__{}", namespace.id), value, 1)
        .is_some_and(|n| n >= namespace.start && n < namespace.end)
}
