//! GrowthBook's shared SDK test cases (`cases.json` of the growthbook repository, the sections
//! for hashing, bucket ranges, variation choice, namespaces and equal weights), run against
//! Silta's implementation.

use serde_json::Value;
use silta_experiments::{
    Namespace, bucket_ranges, choose_variation, equal_weights, hash, in_namespace,
};

const CASES: &str = include_str!("growthbook_cases.json");

fn cases(section: &str) -> Vec<Vec<Value>> {
    let all: Value = serde_json::from_str(CASES).expect("cases parse");
    serde_json::from_value(all[section].clone()).expect("a list of cases")
}

fn number(value: &Value) -> f64 {
    value.as_f64().expect("a number")
}

fn ranges(value: &Value) -> Vec<(f64, f64)> {
    value
        .as_array()
        .expect("ranges")
        .iter()
        .map(|range| (number(&range[0]), number(&range[1])))
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[test]
fn hashes_match_growthbook() {
    let cases = cases("hash");
    assert!(cases.len() >= 10);
    for case in cases {
        let (seed, value) = (
            case[0].as_str().expect("seed"),
            case[1].as_str().expect("value"),
        );
        let version = case[2].as_u64().expect("version") as u32;
        let expected = case[3].as_f64();
        let actual = hash(seed, value, version);
        match (actual, expected) {
            (Some(actual), Some(expected)) => {
                assert!(close(actual, expected), "{case:?}: {actual}");
            }
            (None, None) => {}
            _ => panic!("{case:?}: {actual:?}"),
        }
    }
}

#[test]
fn bucket_ranges_match_growthbook() {
    for case in cases("getBucketRange") {
        let arguments = &case[1];
        let variations = arguments[0].as_u64().expect("count") as usize;
        let coverage = number(&arguments[1]);
        let weights: Option<Vec<f64>> = arguments[2]
            .as_array()
            .map(|weights| weights.iter().map(number).collect());
        let actual = bucket_ranges(variations, coverage, weights.as_deref());
        let expected = ranges(&case[2]);
        assert_eq!(actual.len(), expected.len(), "{case:?}");
        for (actual, expected) in actual.iter().zip(&expected) {
            assert!(
                close(actual.0, expected.0) && close(actual.1, expected.1),
                "{case:?}: {actual:?}"
            );
        }
    }
}

#[test]
fn variation_choice_matches_growthbook() {
    for case in cases("chooseVariation") {
        let expected = case[3].as_i64().expect("index");
        let actual = choose_variation(number(&case[1]), &ranges(&case[2]));
        assert_eq!(
            actual.map_or(-1, |index| index as i64),
            expected,
            "{case:?}"
        );
    }
}

#[test]
fn namespaces_match_growthbook() {
    for case in cases("inNamespace") {
        let namespace = Namespace {
            id: case[2][0].as_str().expect("id").to_string(),
            start: number(&case[2][1]),
            end: number(&case[2][2]),
        };
        let value = case[1].as_str().expect("value");
        assert_eq!(
            in_namespace(value, &namespace),
            case[3].as_bool().expect("expected"),
            "{case:?}"
        );
    }
}

#[test]
fn equal_weights_match_growthbook() {
    for case in cases("getEqualWeights") {
        // A negative count (one of the cases) is no count at all.
        let count = usize::try_from(case[0].as_i64().expect("count")).unwrap_or(0);
        let expected: Vec<f64> = case[1]
            .as_array()
            .expect("weights")
            .iter()
            .map(number)
            .collect();
        let actual = equal_weights(count);
        assert_eq!(actual.len(), expected.len(), "{case:?}");
        assert!(
            actual.iter().zip(&expected).all(|(a, b)| close(*a, *b)),
            "{case:?}: {actual:?}"
        );
    }
}
