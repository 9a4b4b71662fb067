//! Data contracts over HTTP: the review workflow (a marketer proposes, an admin approves or
//! rejects), plan files with positioned problems, enforcement per source (allow, flag, block),
//! violation counts, the quarantine and its replay, and drafts from received events.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::TestSilta;
use serde_json::{Value, json};

const PLAN_V1: &str = r#"
name: Web shop
owner: shop-team
events:
  - name: Order Completed
    description: A customer paid for an order.
    properties:
      type: object
      required: [order_id, revenue]
      properties:
        order_id: {type: string}
        revenue: {type: number}
        currency: {type: string, enum: [EUR, USD]}
  - type: identify
    traits:
      type: object
      properties:
        email: {type: string}
    classification:
      email: {personal: true, category: contact}
"#;

async fn propose(silta: &TestSilta, token: &str, text: &str) -> (StatusCode, Value) {
    let request = Request::post("/v1/plans/shop/versions")
        .header("content-type", "application/yaml")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(text.to_string()))
        .expect("request");
    let (status, _, answer) = silta.send(request).await;
    (status, answer)
}

async fn review(
    silta: &TestSilta,
    version: u32,
    verdict: &str,
    body: Value,
) -> (StatusCode, Value) {
    silta
        .call(
            Method::POST,
            &format!("/v1/plans/shop/versions/{version}/{verdict}"),
            &silta.admin_token,
            body,
        )
        .await
}

async fn send(silta: &TestSilta, batch: Vec<Value>) -> Value {
    let body = json!({"writeKey": silta.write_key, "batch": batch});
    let (status, answer) = silta.post_json("/v1/batch", body.to_string(), None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

fn source_id(silta: &TestSilta) -> String {
    silta.silta.state.credentials.sources().expect("sources")[0]
        .id
        .clone()
}

async fn attach(silta: &TestSilta, mode: &str, unplanned: &str) {
    let (status, answer) = silta
        .call(
            Method::PUT,
            &format!("/v1/sources/{}/contract", source_id(silta)),
            &silta.admin_token,
            json!({"plan": "shop", "mode": mode, "unplanned": unplanned}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// Proposes `text` as a marketer and approves it as an admin; returns the version.
async fn approved(silta: &TestSilta, text: &str) -> u32 {
    let (status, proposal) = propose(silta, &silta.marketer_token, text).await;
    assert_eq!(status, StatusCode::CREATED, "{proposal}");
    let version = proposal["version"].as_u64().expect("version") as u32;
    let (status, answer) = review(silta, version, "approve", json!({"comment": "ok"})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    version
}

fn order(id: &str, revenue: Value) -> Value {
    json!({"type": "track", "event": "Order Completed", "userId": "u1", "messageId": id,
           "properties": {"order_id": id, "revenue": revenue, "currency": "EUR"}})
}

#[tokio::test]
async fn marketers_propose_admins_review_and_every_step_is_audited() {
    let silta = TestSilta::start().await;
    let (status, proposal) = propose(&silta, &silta.marketer_token, PLAN_V1).await;
    assert_eq!(status, StatusCode::CREATED, "{proposal}");
    assert_eq!(proposal["version"], 1);
    assert_eq!(proposal["status"], "proposed");
    assert_eq!(proposal["changes"].as_array().map(Vec::len), Some(2));

    let (status, _) = propose(&silta, &silta.analyst_token, PLAN_V1).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "analysts do not propose");
    let (status, _) = silta
        .call(
            Method::POST,
            "/v1/plans/shop/versions/1/approve",
            &silta.marketer_token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "marketers do not approve");

    let (status, answer) = review(&silta, 1, "reject", json!({})).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a rejection needs a reason: {answer}"
    );
    let (status, rejected) = review(
        &silta,
        1,
        "reject",
        json!({"comment": "currency must allow SEK"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rejected}");
    assert_eq!(rejected["status"], "rejected");
    let (status, _) = review(&silta, 1, "approve", json!({})).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a rejected version stays rejected"
    );

    let version_2 = approved(&silta, &PLAN_V1.replace("[EUR, USD]", "[EUR, USD, SEK]")).await;
    assert_eq!(version_2, 2);
    let (status, plan) = silta
        .call(
            Method::GET,
            "/v1/plans/shop",
            &silta.analyst_token,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(
        (
            plan["approved_version"].clone(),
            plan["latest_version"].clone()
        ),
        (json!(2), json!(2))
    );
    assert_eq!(plan["versions"][0]["comment"], "currency must allow SEK");

    let (_, changes) = silta
        .call(
            Method::GET,
            "/v1/plans/shop/diff?from=1&to=2",
            &silta.analyst_token,
            Value::Null,
        )
        .await;
    assert_eq!(
        changes[0]["text"], "allowed values [\"EUR\",\"USD\"] → [\"EUR\",\"USD\",\"SEK\"]",
        "{changes}"
    );

    // The approved version exports as YAML that reads back as the same plan.
    let request = Request::get("/v1/plans/shop/versions/approved?format=yaml")
        .header("authorization", format!("Bearer {}", silta.analyst_token))
        .body(Body::empty())
        .expect("request");
    let response =
        tower::ServiceExt::oneshot(silta.router.clone(), {
            let mut request = request;
            request.extensions_mut().insert(axum::extract::ConnectInfo(
                std::net::SocketAddr::from(([127, 0, 0, 1], 1)),
            ));
            request
        })
        .await
        .expect("answers");
    let yaml = String::from_utf8(
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body")
            .to_vec(),
    )
    .expect("utf-8");
    let exported = silta_contracts::parse_plan(&yaml).expect("exported YAML reads back");
    assert_eq!(
        exported,
        silta_contracts::parse_plan(&PLAN_V1.replace("[EUR, USD]", "[EUR, USD, SEK]"))
            .expect("plan")
    );

    let (_, audit) = silta
        .call(Method::GET, "/v1/audit", &silta.admin_token, Value::Null)
        .await;
    let actions: Vec<&str> = audit
        .as_array()
        .or_else(|| audit["entries"].as_array())
        .expect("entries")
        .iter()
        .filter_map(|entry| entry["action"].as_str())
        .filter(|action| action.starts_with("plan."))
        .collect();
    assert_eq!(
        actions,
        vec![
            "plan.proposed",
            "plan.rejected",
            "plan.proposed",
            "plan.approved"
        ]
    );
}

#[tokio::test]
async fn a_plan_file_with_problems_is_refused_with_all_of_them_and_their_lines() {
    let silta = TestSilta::start().await;
    let broken = "name: Broken\nevents:\n  - type: track\n  - name: Paid\n    properties: {type: object, required: 5}\n  - name: Paid\n";
    let (status, answer) = propose(&silta, &silta.marketer_token, broken).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["code"], "invalid_plan");
    let lines: Vec<u64> = answer["error"]["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .filter_map(|problem| problem["line"].as_u64())
        .collect();
    assert_eq!(lines, vec![3, 5, 6], "{answer}");
    let (status, _) = propose(&silta, &silta.marketer_token, "name: [unclosed\n").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = silta
        .call(
            Method::GET,
            "/v1/plans/shop",
            &silta.admin_token,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing was stored");
}

#[tokio::test]
async fn blocked_events_wait_in_quarantine_and_replay_once_after_the_plan_is_fixed() {
    let silta = TestSilta::start().await;
    approved(&silta, PLAN_V1).await;
    attach(&silta, "block", "flag").await;
    let answer = send(
        &silta,
        vec![
            order("good", json!(10.5)),
            order("text-revenue", json!("10.50")),
            json!({"type": "track", "event": "Coupon Applied", "userId": "u1", "messageId": "unplanned"}),
            json!({"type": "identify", "userId": "u1", "messageId": "who", "traits": {"email": "u1@example.com"}}),
            json!({"type": "track", "userId": "u1", "messageId": "malformed"}),
        ],
    )
    .await;
    assert_eq!(
        (answer["accepted"].clone(), answer["blocked"].clone()),
        (json!(3), json!(1)),
        "{answer}"
    );
    assert_eq!(answer["rejected"].as_array().map(Vec::len), Some(1));

    let stored = silta
        .sql("SELECT message_id, violations FROM events ORDER BY message_id")
        .await;
    let ids: Vec<&str> = stored
        .iter()
        .filter_map(|row| row["message_id"].as_str())
        .collect();
    assert_eq!(ids, vec!["good", "unplanned", "who"]);
    assert!(stored[0]["violations"].is_null());
    assert!(
        stored[1]["violations"]
            .as_str()
            .is_some_and(|text| text.contains("unplanned_event")),
        "the unplanned event is flagged: {stored:?}"
    );

    let (status, counts) = silta
        .call(
            Method::GET,
            "/v1/violations",
            &silta.analyst_token,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{counts}");
    let summary: Vec<(String, String, u64, u64)> = counts
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| {
            (
                row["field"].as_str().unwrap_or_default().to_string(),
                row["kind"].as_str().unwrap_or_default().to_string(),
                row["count"].as_u64().unwrap_or_default(),
                row["blocked"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (String::new(), "unplanned_event".to_string(), 1, 0),
            (
                "properties.revenue".to_string(),
                "wrong_type".to_string(),
                1,
                1
            ),
        ]
    );
    let by_sql = silta
        .sql("SELECT kind, count(*) AS n FROM violations GROUP BY kind ORDER BY kind")
        .await;
    assert_eq!(
        by_sql,
        vec![
            json!({"kind": "unplanned_event", "n": 1}),
            json!({"kind": "wrong_type", "n": 1})
        ]
    );

    let (status, listed) = silta
        .call(
            Method::GET,
            "/v1/quarantine",
            &silta.admin_token,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let listed = listed.as_array().expect("entries").clone();
    assert_eq!(
        listed.len(),
        2,
        "the blocked and the malformed event: {listed:?}"
    );
    let blocked = listed
        .iter()
        .find(|entry| entry["replayable"] == true)
        .expect("blocked entry");
    let malformed = listed
        .iter()
        .find(|entry| entry["replayable"] == false)
        .expect("malformed entry");
    assert!(
        blocked.get("payload").is_none(),
        "listings leave payloads out"
    );
    let (status, _) = silta
        .call(
            Method::GET,
            "/v1/quarantine",
            &silta.analyst_token,
            Value::Null,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "quarantine holds events as sent: admins only"
    );
    let record = blocked["record"].as_u64().expect("record id");
    let (_, shown) = silta
        .call(
            Method::GET,
            &format!("/v1/quarantine/{record}"),
            &silta.admin_token,
            Value::Null,
        )
        .await;
    assert!(
        shown["payload"]
            .as_str()
            .is_some_and(|payload| payload.contains("text-revenue")),
        "{shown}"
    );

    // Replayed against the same plan, the event is still blocked and stays in quarantine.
    let replay = |records: Vec<u64>| {
        let silta = &silta;
        async move {
            let (status, outcome) = silta
                .call(
                    Method::POST,
                    "/v1/quarantine/replay",
                    &silta.admin_token,
                    json!({"records": records}),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{outcome}");
            outcome
        }
    };
    let malformed_record = malformed["record"].as_u64().expect("record id");
    let outcome = replay(vec![record, malformed_record, 999_999]).await;
    assert_eq!(outcome["still_blocked"][0]["record"], record);
    assert_eq!(outcome["not_replayable"][0]["record"], malformed_record);
    assert_eq!(outcome["not_found"], json!([999_999]));

    // Once the plan accepts the value, the replay stores the event, once.
    approved(
        &silta,
        &PLAN_V1.replace(
            "revenue: {type: number}",
            "revenue: {type: [number, string]}",
        ),
    )
    .await;
    let outcome = replay(vec![record]).await;
    assert_eq!(outcome["replayed"], json!([record]), "{outcome}");
    let outcome = replay(vec![record]).await;
    assert_eq!(outcome["already_replayed"], json!([record]), "{outcome}");
    let (status, outcome) = silta
        .call(
            Method::POST,
            "/v1/quarantine/replay",
            &silta.admin_token,
            json!({"source": source_id(&silta)}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        outcome["replayed"],
        json!([]),
        "nothing is replayed twice: {outcome}"
    );
    let stored = silta
        .sql("SELECT count(*) AS n FROM events WHERE message_id = 'text-revenue'")
        .await;
    assert_eq!(stored, vec![json!({"n": 1})]);
}

#[tokio::test]
async fn allowed_violations_are_counted_but_not_marked() {
    let silta = TestSilta::start().await;
    approved(&silta, PLAN_V1).await;
    attach(&silta, "allow", "allow").await;
    let answer = send(
        &silta,
        vec![
            order("valid", json!(5)),
            json!({"type": "track", "event": "Order Completed", "userId": "u1", "messageId": "pii",
                   "properties": {"order_id": "anna@example.com", "revenue": 1}}),
        ],
    )
    .await;
    assert_eq!(answer["accepted"], 2, "{answer}");
    let flagged = silta
        .sql("SELECT count(*) AS n FROM events WHERE violations IS NOT NULL")
        .await;
    assert_eq!(flagged, vec![json!({"n": 0})]);
    let counted = silta
        .sql("SELECT message_id, kind, field, mode FROM violations ORDER BY message_id")
        .await;
    assert_eq!(
        counted,
        vec![
            json!({"message_id": "pii", "kind": "personal_data", "field": "properties.order_id", "mode": "allow"})
        ]
    );
}

#[tokio::test]
async fn drafts_describe_what_a_source_sends() {
    let silta = TestSilta::start().await;
    let orders: Vec<Value> = (0..6)
        .map(|index| order(&format!("o{index}"), json!(index)))
        .chain([json!({"type": "page", "name": "Home", "anonymousId": "a1", "properties": {"path": "/"}})])
        .collect();
    send(&silta, orders).await;
    let (status, draft) = silta
        .call(
            Method::GET,
            &format!("/v1/plans/draft?source={}&since=30d", source_id(&silta)),
            &silta.marketer_token,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{draft}");
    let events = draft["events"].as_array().expect("events");
    assert_eq!(events.len(), 2, "{draft}");
    let order = events
        .iter()
        .find(|event| event["name"] == "Order Completed")
        .expect("orders");
    assert_eq!(
        order["properties"]["required"],
        json!(["currency", "order_id", "revenue"])
    );
    assert_eq!(
        order["properties"]["properties"]["currency"]["enum"],
        json!(["EUR"])
    );
    assert_eq!(
        order["properties"]["properties"]["revenue"]["type"],
        "integer"
    );
    // The draft is a valid plan a marketer can propose as it is.
    let (status, proposal) = propose(&silta, &silta.marketer_token, &draft.to_string()).await;
    assert_eq!(status, StatusCode::CREATED, "{proposal}");
    let (status, _) = silta
        .call(
            Method::GET,
            "/v1/plans/draft?source=nope",
            &silta.marketer_token,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
