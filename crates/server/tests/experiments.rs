//! Experiments over HTTP: definitions, assignment on the merged profile (sticky by user id
//! across devices), bulk assignment and exposure events through the write-ahead log.

mod common;

use axum::http::{Method, StatusCode};
use common::TestSilta;
use serde_json::{Value, json};

/// Assigns the anonymous ids `prefix0..prefix{count}` to experiment `key`, recording their
/// exposures; the variation of each, in order.
async fn expose(silta: &TestSilta, key: &str, prefix: &str, count: usize) -> Vec<usize> {
    let people: Vec<Value> = (0..count)
        .map(|index| json!({"identifier_type": "anonymous_id", "value": format!("{prefix}{index}"), "record_exposure": true}))
        .collect();
    let (status, assigned) = silta
        .call(
            Method::POST,
            &format!("/v1/experiments/{key}/assignments"),
            &silta.marketer_token,
            json!({"people": people}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{assigned}");
    assigned
        .as_array()
        .expect("assignments")
        .iter()
        .map(|assignment| assignment["variation"].as_u64().expect("variation") as usize)
        .collect()
}

/// Sends `batch` with the test source's write key.
async fn send(silta: &TestSilta, batch: Vec<Value>) {
    let body = json!({"writeKey": silta.write_key, "batch": batch});
    let (status, _) = silta.post_json("/v1/batch", body.to_string(), None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_person_keeps_their_variant_on_every_device_once_known_and_exposures_are_recorded() {
    let silta = TestSilta::start().await;
    let marketer = silta.marketer_token.clone();
    let definition = json!({"key": "checkout-button", "variations": ["control", "green", "blue"],
                            "weights": [0.34, 0.33, 0.33]});
    let (status, saved) = silta
        .call(
            Method::PUT,
            "/v1/experiments/checkout-button",
            &marketer,
            definition,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["hash_version"], 2);
    let (status, answer) = silta
        .call(
            Method::PUT,
            "/v1/experiments/other",
            &marketer,
            json!({"key": "other", "variations": ["only"]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");

    // The same person on two devices, linked by logging in on both.
    let body = json!({"writeKey": silta.write_key, "batch": [
        {"type": "identify", "anonymousId": "phone", "userId": "ada", "messageId": "i-1"},
        {"type": "identify", "anonymousId": "laptop", "userId": "ada", "messageId": "i-2"},
        {"type": "page", "anonymousId": "stranger", "messageId": "p-1"}
    ]});
    let (status, _) = silta.post_json("/v1/batch", body.to_string(), None).await;
    assert_eq!(status, StatusCode::OK);
    let assign = |kind: &str, value: &str, exposure: bool| {
        format!(
            "/v1/experiments/checkout-button/assignment?identifier_type={kind}&value={value}&record_exposure={exposure}"
        )
    };
    let (_, by_user) = silta
        .call(
            Method::GET,
            &assign("user_id", "ada", false),
            &marketer,
            Value::Null,
        )
        .await;
    let (_, on_phone) = silta
        .call(
            Method::GET,
            &assign("anonymous_id", "phone", true),
            &marketer,
            Value::Null,
        )
        .await;
    let (_, on_laptop) = silta
        .call(
            Method::GET,
            &assign("anonymous_id", "laptop", true),
            &marketer,
            Value::Null,
        )
        .await;
    assert_eq!(by_user["in_experiment"], true, "{by_user}");
    assert_eq!(by_user["hashed"], "user_id");
    assert_eq!(on_phone["variation"], by_user["variation"]);
    assert_eq!(on_laptop["variation"], by_user["variation"]);
    assert_eq!(on_phone["profile_id"], on_laptop["profile_id"]);
    let (_, stranger) = silta
        .call(
            Method::GET,
            &assign("anonymous_id", "stranger", false),
            &marketer,
            Value::Null,
        )
        .await;
    assert_eq!(stranger["hashed"], "anonymous_id");

    // Bulk: 300 unknown visitors spread over the three variations.
    let people: Vec<Value> = (0..300)
        .map(
            |index| json!({"identifier_type": "anonymous_id", "value": format!("visitor-{index}")}),
        )
        .collect();
    let (status, bulk) = silta
        .call(
            Method::POST,
            "/v1/experiments/checkout-button/assignments",
            &marketer,
            json!({"people": people}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut counts = [0u32; 3];
    for assignment in bulk.as_array().expect("assignments") {
        counts[assignment["variation"].as_u64().expect("variation") as usize] += 1;
    }
    assert!(
        counts.iter().all(|&count| (70..=130).contains(&count)),
        "{counts:?}"
    );

    let exposures = silta
        .sql(
            "SELECT anonymous_id, json_get_str(properties, 'experiment_id') AS experiment, \
             json_get_int(properties, 'variation_id') AS variation FROM events \
             WHERE event = 'Experiment Viewed' ORDER BY anonymous_id",
        )
        .await;
    let variation = by_user["variation"].clone();
    assert_eq!(
        exposures,
        vec![
            json!({"anonymous_id": "laptop", "experiment": "checkout-button", "variation": variation}),
            json!({"anonymous_id": "phone", "experiment": "checkout-button", "variation": variation}),
        ]
    );

    let (status, _) = silta
        .call(
            Method::DELETE,
            "/v1/experiments/checkout-button",
            &marketer,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = silta
        .call(
            Method::GET,
            &assign("user_id", "ada", false),
            &marketer,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn results_count_only_what_exposed_people_did_after_their_exposure() {
    let silta = TestSilta::start().await;
    let marketer = silta.marketer_token.clone();
    let definition = json!({"key": "free-shipping", "variations": ["control", "free"],
    "metrics": [
        {"name": "purchase", "kind": "conversion", "event": "Order Completed"},
        {"name": "revenue", "kind": "mean", "event": "Order Completed", "property": "revenue", "cap": 40.0}
    ]});
    let (status, saved) = silta
        .call(
            Method::PUT,
            "/v1/experiments/free-shipping",
            &marketer,
            definition,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    // An order long before anyone was exposed does not count.
    send(
        &silta,
        vec![json!(
            {"type": "track", "event": "Order Completed", "anonymousId": "v1", "messageId": "early",
             "timestamp": "2020-01-01T00:00:00Z", "properties": {"revenue": 99}}
        )],
    )
    .await;
    let variation_of = expose(&silta, "free-shipping", "v", 40).await;
    let orders: Vec<Value> = (0..40)
        .filter(|index| index % 3 == 0)
        .map(|index| json!({"type": "track", "event": "Order Completed", "anonymousId": format!("v{index}"),
                            "messageId": format!("order-{index}"), "properties": {"revenue": 10 + index}}))
        .collect();
    send(&silta, orders).await;

    // The same figures, computed by hand from what was sent.
    let mut expected = [(0u64, 0.0f64, 0.0f64, 0.0f64); 2];
    for (index, &variation) in variation_of.iter().enumerate() {
        let (n, conversions, sum, squares) = &mut expected[variation];
        *n += 1;
        if index % 3 == 0 {
            let revenue = (10.0 + index as f64).min(40.0);
            *conversions += 1.0;
            *sum += revenue;
            *squares += revenue * revenue;
        }
    }
    let (status, results) = silta
        .call(
            Method::GET,
            "/v1/experiments/free-shipping/results",
            &marketer,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{results}");
    assert_eq!(results["units"], json!([expected[0].0, expected[1].0]));
    let purchase = &results["metrics"][0];
    let revenue = &results["metrics"][1];
    for variation in 0..2 {
        let (n, conversions, sum, squares) = expected[variation];
        assert_eq!(
            purchase["statistics"][variation],
            json!({"type": "proportion", "n": n, "sum": conversions})
        );
        assert_eq!(
            revenue["statistics"][variation],
            json!({"type": "mean", "n": n, "sum": sum, "sum_squares": squares})
        );
    }
    let statistic = |value: &Value| -> silta_experiments::Statistic {
        serde_json::from_value(value.clone()).expect("statistic")
    };
    let recomputed = silta_experiments::two_sided_test(
        &statistic(&revenue["statistics"][0]),
        &statistic(&revenue["statistics"][1]),
        &silta_experiments::TestConfig::default(),
    );
    // The served result is the stats engine's on these statistics (JSON keeps 17 digits).
    let served = &revenue["results"][0];
    let close =
        |value: &Value, expected: f64| (value.as_f64().expect("number") - expected).abs() < 1e-12;
    assert!(close(&served["expected"], recomputed.expected), "{served}");
    assert!(close(&served["ci"][0], recomputed.ci[0]), "{served}");
    assert!(close(&served["ci"][1], recomputed.ci[1]), "{served}");
    assert!(close(&served["p_value"], recomputed.p_value), "{served}");

    // Holm across both metrics: the smaller p-value doubled, the larger at least that.
    let (status, corrected) = silta
        .call(
            Method::GET,
            "/v1/experiments/free-shipping/results?correction=holm",
            &marketer,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{corrected}");
    let raw: Vec<f64> = (0..2)
        .map(|metric| {
            corrected["metrics"][metric]["results"][0]["p_value"]
                .as_f64()
                .expect("p")
        })
        .collect();
    let adjusted = silta_experiments::holm_bonferroni(&raw);
    for metric in 0..2 {
        assert!(close(
            &corrected["metrics"][metric]["adjusted_p_values"][0],
            adjusted[metric]
        ));
    }
    assert!(results["metrics"][0].get("adjusted_p_values").is_none());
}

#[tokio::test]
async fn cuped_results_hold_each_metric_before_exposure_ratios_their_denominator_and_the_bayesian_answer()
 {
    let silta = TestSilta::start().await;
    let marketer = silta.marketer_token.clone();
    let definition = json!({"key": "checkout", "variations": ["control", "new"],
    "metrics": [
        {"name": "purchase", "kind": "conversion", "event": "Order Completed"},
        {"name": "revenue", "kind": "mean", "event": "Order Completed", "property": "revenue"},
        {"name": "revenue per order", "kind": "ratio", "event": "Order Completed", "property": "revenue",
         "denominator": {"event": "Order Completed"}}
    ]});
    let (status, saved) = silta
        .call(
            Method::PUT,
            "/v1/experiments/checkout",
            &marketer,
            definition,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    // Orders a day before exposure fall in the 72-hour window before it; a year before, not.
    let day_before = (chrono::Utc::now() - chrono::Duration::hours(24)).to_rfc3339();
    let mut before: Vec<Value> = (0..30)
        .filter(|index| index % 2 == 0)
        .map(|index| {
            json!({"type": "track", "event": "Order Completed", "anonymousId": format!("c{index}"),
                            "messageId": format!("before-{index}"), "timestamp": day_before,
                            "properties": {"revenue": 5 + index}})
        })
        .collect();
    before.push(
        json!({"type": "track", "event": "Order Completed", "anonymousId": "c4",
                       "messageId": "long-before", "timestamp": "2020-01-01T00:00:00Z",
                       "properties": {"revenue": 1000}}),
    );
    send(&silta, before).await;
    let variation_of = expose(&silta, "checkout", "c", 30).await;
    let after: Vec<Value> = (0..30)
        .filter(|index| index % 3 == 0)
        .map(|index| json!({"type": "track", "event": "Order Completed", "anonymousId": format!("c{index}"),
                            "messageId": format!("after-{index}"), "properties": {"revenue": 10 + index}}))
        .collect();
    send(&silta, after).await;

    // Per variation, by hand: n, then (sum, squares) after and before, and their products, for
    // the conversion and for the revenue.
    #[derive(Default, Clone, Copy)]
    struct Sums {
        n: u64,
        post: (f64, f64),
        pre: (f64, f64),
        products: f64,
    }
    let mut conversion = [Sums::default(); 2];
    let mut revenue = [Sums::default(); 2];
    for (index, &variation) in variation_of.iter().enumerate() {
        let post = if index % 3 == 0 {
            10.0 + index as f64
        } else {
            0.0
        };
        let pre = if index % 2 == 0 {
            5.0 + index as f64
        } else {
            0.0
        };
        let converted = |value: f64| if value > 0.0 { 1.0 } else { 0.0 };
        for (sums, (post, pre)) in [
            (
                &mut conversion[variation],
                (converted(post), converted(pre)),
            ),
            (&mut revenue[variation], (post, pre)),
        ] {
            sums.n += 1;
            sums.post = (sums.post.0 + post, sums.post.1 + post * post);
            sums.pre = (sums.pre.0 + pre, sums.pre.1 + pre * pre);
            sums.products += post * pre;
        }
    }
    let (status, results) = silta
        .call(
            Method::GET,
            "/v1/experiments/checkout/results?cuped=true&bayesian=true",
            &marketer,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{results}");
    for variation in 0..2 {
        let sums = conversion[variation];
        assert_eq!(
            results["metrics"][0]["statistics"][variation],
            json!({"type": "regression_adjusted", "n": sums.n,
                   "post": {"type": "proportion", "sum": sums.post.0},
                   "pre": {"type": "proportion", "sum": sums.pre.0},
                   "post_pre_sum_of_products": sums.products})
        );
        let sums = revenue[variation];
        assert_eq!(
            results["metrics"][1]["statistics"][variation],
            json!({"type": "regression_adjusted", "n": sums.n,
                   "post": {"type": "mean", "sum": sums.post.0, "sum_squares": sums.post.1},
                   "pre": {"type": "mean", "sum": sums.pre.0, "sum_squares": sums.pre.1},
                   "post_pre_sum_of_products": sums.products})
        );
        // A ratio is not adjusted: revenue after exposure over orders after exposure.
        let orders = conversion[variation].post;
        assert_eq!(
            results["metrics"][2]["statistics"][variation],
            json!({"type": "ratio", "n": sums.n,
                   "numerator": {"type": "mean", "sum": sums.post.0, "sum_squares": sums.post.1},
                   "denominator": {"type": "mean", "sum": orders.0, "sum_squares": orders.1},
                   "sum_of_products": sums.post.0})
        );
    }
    let statistic = |value: &Value| -> silta_experiments::Statistic {
        serde_json::from_value(value.clone()).expect("statistic")
    };
    let metric = &results["metrics"][1];
    let (control, treatment) = (
        statistic(&metric["statistics"][0]),
        statistic(&metric["statistics"][1]),
    );
    let frequentist = silta_experiments::two_sided_test(
        &control,
        &treatment,
        &silta_experiments::TestConfig::default(),
    );
    let bayesian = silta_experiments::bayesian_test(
        &control,
        &treatment,
        &silta_experiments::BayesianConfig::default(),
    );
    let close =
        |value: &Value, expected: f64| (value.as_f64().expect("number") - expected).abs() < 1e-12;
    assert!(close(&metric["results"][0]["p_value"], frequentist.p_value));
    let served = &metric["bayesian"][0];
    assert!(
        close(&served["chance_to_win"], bayesian.chance_to_win),
        "{served}"
    );
    assert!(close(&served["risk"][0], bayesian.risk[0]), "{served}");
    assert!(close(&served["risk"][1], bayesian.risk[1]), "{served}");

    let (_, plain) = silta
        .call(
            Method::GET,
            "/v1/experiments/checkout/results",
            &marketer,
            Value::Null,
        )
        .await;
    assert_eq!(plain["metrics"][0]["statistics"][0]["type"], "proportion");
    assert!(plain["metrics"][0].get("bayesian").is_none());
}
