//! Audiences over HTTP: both forms of a definition, sizes checked against the events by hand,
//! consent for a purpose, references between audiences, membership changes recorded with
//! their time, exports and the audiences of one profile.

mod common;

use axum::http::{Method, StatusCode};
use common::TestSilta;
use serde_json::{Value, json};

fn days_ago(days: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::days(days)).to_rfc3339()
}

async fn send(silta: &TestSilta, batch: Vec<Value>) {
    let body = json!({"writeKey": silta.write_key, "batch": batch});
    let (status, answer) = silta.post_json("/v1/batch", body.to_string(), None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

fn order(user: &str, days: i64, total: f64) -> Value {
    json!({"type": "track", "event": "Order Completed", "userId": user,
           "timestamp": days_ago(days), "properties": {"revenue": total}})
}

fn viewed(user: &str, days: i64) -> Value {
    json!({"type": "track", "event": "Product Viewed", "userId": user, "timestamp": days_ago(days)})
}

fn identify(user: &str, plan: &str, consent: bool) -> Value {
    json!({"type": "identify", "userId": user, "traits": {"plan": plan},
           "timestamp": days_ago(90),
           "context": {"consent": {"categoryPreferences": {"Marketing": consent}}}})
}

async fn preview(silta: &TestSilta, body: Value) -> (StatusCode, Value) {
    silta
        .call(
            Method::POST,
            "/v1/audiences/preview",
            &silta.marketer_token,
            body,
        )
        .await
}

async fn size(silta: &TestSilta, text: &str) -> u64 {
    let (status, answer) = preview(silta, json!({"text": text})).await;
    assert_eq!(status, StatusCode::OK, "{text}: {answer}");
    answer["size"].as_u64().expect("size")
}

#[tokio::test]
async fn definitions_select_the_people_their_conditions_describe() {
    let silta = TestSilta::start().await;
    send(
        &silta,
        vec![
            identify("ada", "pro", true),
            identify("bob", "free", true),
            identify("cy", "pro", false),
            identify("dee", "pro", true),
            // ada: two orders this month, viewed before ordering.
            viewed("ada", 20),
            order("ada", 10, 120.0),
            order("ada", 5, 30.0),
            // bob: two orders, one of them 40 days ago.
            order("bob", 40, 80.0),
            order("bob", 3, 20.0),
            // cy: viewed after ordering, not before.
            order("cy", 9, 15.0),
            viewed("cy", 2),
            order("cy", 1, 15.0),
            // dee: only views.
            viewed("dee", 1),
        ],
    )
    .await;

    assert_eq!(
        size(&silta, r#"event("Order Completed").count(last 30d) >= 2"#).await,
        2
    );
    assert_eq!(
        size(&silta, r#"event("Order Completed").count() >= 2"#).await,
        3
    );
    assert_eq!(
        size(&silta, r#"event("Order Completed").where(revenue > 100)"#).await,
        1
    );
    assert_eq!(size(&silta, r#"not event("Order Completed")"#).await, 1);
    assert_eq!(
        size(
            &silta,
            r#"event("Product Viewed").then(event("Order Completed"))"#
        )
        .await,
        2,
        "ada, and cy who ordered again after viewing"
    );
    assert_eq!(
        size(
            &silta,
            r#"event("Product Viewed").then(event("Order Completed")).within(last 7d)"#
        )
        .await,
        1,
        "only cy's sequence is within the last week"
    );
    assert_eq!(size(&silta, r#"trait(plan) = "pro""#).await, 3);
    assert_eq!(
        size(&silta, r#"trait(plan) = "pro" and consent("marketing")"#).await,
        2
    );
    assert_eq!(size(&silta, r#"computed(order_count) >= 2"#).await, 3);

    // The JSON form is the same tree.
    let tree = json!({"and": [
        {"event": {"name": "Order Completed", "window": {"last_days": 30}, "count": {"op": "gte", "value": 2}}},
        {"trait": {"name": "plan", "op": "eq", "value": "pro"}}
    ]});
    let (status, answer) = preview(&silta, json!({"definition": tree, "explain": true})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["size"], 2, "ada and cy");
    let sql = answer["explain"]["sql"][0].as_str().expect("sql");
    assert!(
        sql.contains("profiles") && sql.contains("Order Completed"),
        "{sql}"
    );

    // A purpose keeps out those who did not grant it.
    let (_, with_purpose) = preview(
        &silta,
        json!({"text": r#"trait(plan) = "pro""#, "purpose": "marketing"}),
    )
    .await;
    assert_eq!(with_purpose["size"], 2, "{with_purpose}");

    // Saved audiences refer to each other; members are recorded with their entry time.
    let marketer = silta.marketer_token.clone();
    let (status, buyers) = silta
        .call(
            Method::PUT,
            "/v1/audiences/repeat-buyers",
            &marketer,
            json!({"text": r#"event("Order Completed").count() >= 2"#}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{buyers}");
    assert_eq!(buyers["members"], 3);
    let (status, pro) = silta
        .call(
            Method::PUT,
            "/v1/audiences/pro-not-buying",
            &marketer,
            json!({"text": r#"trait(plan) = "pro" and not in_audience("repeat-buyers")"#,
                   "purpose": "marketing"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{pro}");
    assert_eq!(pro["members"], 1, "dee: pro, consented, not a repeat buyer");

    // dee buys twice: the next refresh records the entry into one and the exit from the other.
    send(&silta, vec![order("dee", 0, 10.0), order("dee", 0, 12.0)]).await;
    for key in ["repeat-buyers", "pro-not-buying"] {
        let (status, refreshed) = silta
            .call(
                Method::POST,
                &format!("/v1/audiences/{key}/refresh"),
                &marketer,
                Value::Null,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{refreshed}");
    }
    let (_, changes) = silta
        .call(
            Method::GET,
            "/v1/audiences/pro-not-buying/changes",
            &marketer,
            Value::Null,
        )
        .await;
    let changes = changes.as_array().expect("changes");
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert_eq!(changes[0]["entered"], true);
    assert_eq!(changes[1]["entered"], false);
    assert_eq!(changes[0]["profile_id"], changes[1]["profile_id"]);

    // Retention with the audience as the cohort: its members, by the day they entered.
    let today = chrono::Utc::now().date_naive().to_string();
    let (status, retention) = silta
        .call(
            Method::POST,
            "/v1/analytics/retention",
            &marketer,
            json!({"cohort_audience": "repeat-buyers", "return_event": {"event": "Order Completed"},
                   "period": "day", "periods": 2, "from": today, "to": today}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{retention}");
    assert_eq!(retention["cohorts"][0]["people"], 4, "{retention}");
    let (status, _) = silta
        .call(
            Method::POST,
            "/v1/analytics/retention",
            &marketer,
            json!({"cohort_audience": "nobody", "return_event": {"event": "Order Completed"},
                   "from": today, "to": today}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The same history in SQL: who joined or left which audience, and when.
    let joined = silta
        .sql(
            "SELECT audience, count(*) AS people FROM audience_changes \
             WHERE entered AND at >= now() - INTERVAL '7 days' GROUP BY audience ORDER BY audience",
        )
        .await;
    assert_eq!(
        joined,
        vec![
            json!({"audience": "pro-not-buying", "people": 1}),
            json!({"audience": "repeat-buyers", "people": 4}),
        ]
    );

    let (status, dee) = silta
        .call(
            Method::GET,
            "/v1/profiles/user_id/dee/audiences",
            &marketer,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{dee}");
    assert_eq!(dee["audiences"], json!(["repeat-buyers"]));

    let (status, members) = silta
        .call(
            Method::GET,
            "/v1/audiences/repeat-buyers/members",
            &marketer,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(members.as_array().map(Vec::len), Some(4));

    // A referenced audience cannot be deleted; an unknown reference or a cycle is refused.
    let (status, _) = silta
        .call(
            Method::DELETE,
            "/v1/audiences/repeat-buyers",
            &marketer,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, answer) = silta
        .call(
            Method::PUT,
            "/v1/audiences/repeat-buyers",
            &marketer,
            json!({"text": r#"in_audience("pro-not-buying")"#}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("cycle"))
    );
    let (status, _) = silta
        .call(
            Method::DELETE,
            "/v1/audiences/pro-not-buying",
            &marketer,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn bad_definitions_say_where_and_what_was_expected() {
    let silta = TestSilta::start().await;
    let (status, answer) =
        preview(&silta, json!({"text": r#"event("A").count(last 30d) and"#})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let message = answer["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("column") && message.contains("expected"),
        "{message}"
    );
    for body in [
        json!({}),
        json!({"text": "trait(plan) = \"pro\"", "definition": {"consent": "marketing"}}),
        json!({"text": "consent(\"telepathy\")"}),
        json!({"text": "in_audience(\"nobody-defined-this\")"}),
        json!({"text": "computed(order_count) = \"many\""}),
        json!({"text": "event(\"A\").where(revenue = \"lots\")"}),
        json!({"definition": {"event": {"name": "A", "count": {"op": "gte", "value": 99999999999_u64}}}}),
    ] {
        let (status, answer) = preview(&silta, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
    }
    let (status, _) = silta
        .call(
            Method::PUT,
            "/v1/audiences/Not%20A%20Key",
            &silta.marketer_token,
            json!({"text": "consent(\"marketing\")"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
