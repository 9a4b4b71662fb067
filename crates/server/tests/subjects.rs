//! Data-subject requests: export everything about a person, erase them from every store (proved
//! by reading every byte of the data directory, Parquet decoded), resume after a crash.

mod common;

use std::path::Path;

use axum::http::{Method, StatusCode};
use common::TestSilta;
use serde_json::{Value, json};
use silta_state::{Actor, RequestStatus, SubjectRequest};

/// Ada's identifiers as they were sent; her phone is also kept normalised (`+358401234567`).
const ADA: [&str; 4] = [
    "ada@example.com",
    "ada-user-7",
    "cookie-ada-1",
    "+358 40 1234567",
];

/// Ada (four identifiers, one event naming her only in a property, one rejected event) and
/// Grace, sent through the collection API.
async fn send_people(silta: &TestSilta) {
    let body = json!({"writeKey": silta.write_key, "batch": [
        {"type": "page", "anonymousId": "cookie-ada-1", "messageId": "a-1", "properties": {"path": "/"}},
        {"type": "identify", "anonymousId": "cookie-ada-1", "userId": "ada-user-7", "messageId": "a-2",
         "traits": {"email": "Ada@Example.com", "phone": "+358 40 1234567", "name": "Ada"}},
        {"type": "track", "userId": "ada-user-7", "event": "Order Completed", "messageId": "a-3",
         "properties": {"revenue": 30, "gift_for": "friend"}},
        {"type": "track", "userId": "someone-else", "event": "Referral Sent", "messageId": "a-4",
         "properties": {"invited": "ada@example.com"}},
        {"type": "track", "userId": "ada-user-7", "messageId": "a-5"},
        {"type": "identify", "userId": "grace-user-9", "anonymousId": "cookie-grace", "messageId": "g-1",
         "traits": {"email": "grace@example.com"}},
        {"type": "track", "userId": "grace-user-9", "event": "Order Completed", "messageId": "g-2",
         "properties": {"revenue": 12}}
    ]});
    let (status, outcome) = silta.post_json("/v1/batch", body.to_string(), None).await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["accepted"], 6, "{outcome}");
}

/// Every file under `directory`, as raw bytes and, for Parquet files, decoded to text.
fn every_byte(directory: &Path, found: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(directory).expect("lists") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            every_byte(&path, found);
            continue;
        }
        let bytes = std::fs::read(&path).expect("reads");
        if path
            .extension()
            .is_some_and(|extension| extension == "parquet")
        {
            let file = std::fs::File::open(&path).expect("opens");
            let reader =
                parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                    .expect("parquet")
                    .build()
                    .expect("reader");
            let mut text = Vec::new();
            for batch in reader {
                let batch = batch.expect("batch");
                text.extend(
                    arrow::util::pretty::pretty_format_batches(&[batch])
                        .expect("formats")
                        .to_string()
                        .into_bytes(),
                );
            }
            found.push((format!("{} (decoded)", path.display()), text));
        }
        found.push((path.display().to_string(), bytes));
    }
}

fn files_mentioning(directory: &Path, needle: &str) -> Vec<String> {
    let mut files = Vec::new();
    every_byte(directory, &mut files);
    files
        .into_iter()
        .filter(|(_, bytes)| {
            bytes
                .windows(needle.len())
                .any(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
        })
        .map(|(path, _)| path)
        .collect()
}

async fn wait_for(silta: &TestSilta, id: &str) -> Value {
    for _ in 0..600 {
        let (status, request) = silta
            .call(
                Method::GET,
                &format!("/v1/subjects/requests/{id}"),
                &silta.admin_token,
                Value::Null,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        if request["status"] == "completed" || request["status"] == "failed" {
            return request;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("erasure {id} did not end");
}

#[tokio::test]
async fn an_export_holds_everything_and_an_erasure_leaves_no_byte_of_the_person() {
    let silta = TestSilta::start().await;
    send_people(&silta).await;
    // Part of it committed to the tables, part still buffered and in the write-ahead log.
    silta.silta.state.store.flush().await.expect("flushes");
    let late = json!({"type": "page", "anonymousId": "cookie-ada-1", "messageId": "a-6",
                      "writeKey": silta.write_key, "properties": {"path": "/pricing"}});
    silta.post_json("/v1/page", late.to_string(), None).await;

    let (status, export) = silta
        .call(
            Method::GET,
            "/v1/subjects/email/ADA@example.com",
            &silta.admin_token,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{export}");
    let mut exported: Vec<&str> = export["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|event| event["message_id"].as_str().expect("id"))
        .collect();
    exported.sort_unstable();
    assert_eq!(exported, ["a-1", "a-2", "a-3", "a-4", "a-6"]);
    assert_eq!(export["quarantined"].as_array().map(Vec::len), Some(1));
    assert_eq!(export["profile"]["traits"]["name"]["value"], "Ada");
    assert_eq!(export["identifiers"].as_array().map(Vec::len), Some(4));
    assert_eq!(export["truncated"], false);

    for needle in ADA {
        assert!(
            !files_mentioning(silta.data.path(), needle).is_empty(),
            "before the erasure the scan finds {needle}"
        );
    }

    let (status, request) = silta
        .call(
            Method::POST,
            "/v1/subjects/user_id/ada-user-7/erase",
            &silta.admin_token,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{request}");
    let id = request["id"].as_str().expect("id").to_string();
    let done = wait_for(&silta, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["outcome"]["profiles"], 1);

    for identifier in [
        "email/ada@example.com",
        "user_id/ada-user-7",
        "anonymous_id/cookie-ada-1",
    ] {
        let (status, _) = silta
            .call(
                Method::GET,
                &format!("/v1/profiles/{identifier}"),
                &silta.admin_token,
                Value::Null,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{identifier}");
    }
    let (_, export) = silta
        .call(
            Method::GET,
            "/v1/subjects/email/ada@example.com",
            &silta.admin_token,
            Value::Null,
        )
        .await;
    assert_eq!(export["events"], json!([]));
    assert_eq!(export["quarantined"], json!([]));
    // Her future events are refused.
    let (status, outcome) = silta
        .post_json(
            "/v1/track",
            json!({"userId": "ada-user-7", "event": "Back", "writeKey": silta.write_key})
                .to_string(),
            None,
        )
        .await;
    assert_eq!(
        (status, outcome["withheld"].as_u64()),
        (StatusCode::OK, Some(1))
    );
    // Everyone else is intact.
    let rows = silta
        .sql("SELECT message_id FROM events ORDER BY message_id")
        .await;
    assert_eq!(
        rows,
        vec![json!({"message_id": "g-1"}), json!({"message_id": "g-2"})]
    );
    let (status, grace) = silta
        .call(
            Method::GET,
            "/v1/profiles/email/grace@example.com",
            &silta.admin_token,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(grace["computed"]["total_revenue"], 12.0);

    silta.silta.state.store.flush().await.expect("flushes");
    let (data, write_key) = silta.stop().await;
    for needle in ADA.into_iter().chain(["+358401234567"]) {
        let files = files_mentioning(data.path(), needle);
        assert!(files.is_empty(), "{needle} is still in {files:?}");
    }
    assert!(
        !files_mentioning(data.path(), "grace@example.com").is_empty(),
        "the scan reads the files"
    );

    // The audit log has the requests, without her identifiers.
    let silta = TestSilta::reopen(data, write_key).await;
    let (_, audit) = silta
        .call(
            Method::GET,
            "/v1/audit?limit=1000",
            &silta.admin_token,
            Value::Null,
        )
        .await;
    let actions: Vec<&str> = audit
        .as_array()
        .expect("entries")
        .iter()
        .map(|entry| entry["action"].as_str().expect("action"))
        .filter(|action| action.starts_with("subject."))
        .collect();
    assert_eq!(
        actions,
        [
            "subject.exported",
            "subject.erasure_requested",
            "subject.erasure_completed",
            "subject.exported"
        ]
    );
    let (status, _) = silta
        .call(
            Method::GET,
            "/v1/profiles/user_id/ada-user-7",
            &silta.admin_token,
            Value::Null,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a restart does not bring her back"
    );
}

#[tokio::test]
async fn an_erasure_interrupted_by_a_crash_resumes_at_the_next_start() {
    let silta = TestSilta::start().await;
    send_people(&silta).await;
    silta.silta.state.store.flush().await.expect("flushes");
    let (data, write_key) = silta.stop().await;

    // What a request leaves behind when the process dies before its job ran: the request and
    // the suppression in the state database, the identifiers in the job file.
    {
        let state = silta_state::StateStore::open(&data.path().join("state.redb")).expect("opens");
        let request = SubjectRequest {
            id: "dsr_interrupted".to_string(),
            kind: "erasure".to_string(),
            identifier_type: "email".to_string(),
            status: RequestStatus::Running,
            step: "events".to_string(),
            requested_at: chrono::Utc::now(),
            completed_at: None,
            outcome: Value::Null,
            error: None,
        };
        let identifiers: Vec<(String, String)> = [
            ("email", "ada@example.com"),
            ("user_id", "ada-user-7"),
            ("anonymous_id", "cookie-ada-1"),
            ("phone", "+358401234567"),
        ]
        .iter()
        .map(|(kind, value)| (kind.to_string(), value.to_string()))
        .collect();
        state
            .add_subject_request(&request, &identifiers, &Actor::System)
            .expect("records");
        let jobs = data.path().join("subjects");
        std::fs::create_dir_all(&jobs).expect("creates");
        std::fs::write(
            jobs.join("dsr_interrupted.json"),
            json!({"id": "dsr_interrupted", "identifiers": identifiers}).to_string(),
        )
        .expect("writes");
    }

    let silta = TestSilta::reopen(data, write_key).await;
    let done = wait_for(&silta, "dsr_interrupted").await;
    assert_eq!(done["status"], "completed", "{done}");
    let rows = silta.sql("SELECT count(*) AS n FROM events").await;
    assert_eq!(rows, vec![json!({"n": 2})]);
    let (data, _) = silta.stop().await;
    assert!(files_mentioning(data.path(), "ada@example.com").is_empty());
    assert!(!data.path().join("subjects/dsr_interrupted.json").exists());
}
