//! Data-subject requests and the suppression list. Neither holds personal data: requests name
//! only the identifier type, and suppressed identifiers are stored as salted SHA-256 hashes.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::StateStore;
use crate::audit::{self, Actor, Change};
use crate::credentials::{StateError, decode, encode};

/// request id -> SubjectRequest (JSON)
pub(crate) const SUBJECT_REQUESTS: TableDefinition<&str, &[u8]> =
    TableDefinition::new("subject_requests");
/// salted SHA-256 of `type:value` -> request id
pub(crate) const SUPPRESSED: TableDefinition<&[u8], &str> = TableDefinition::new("suppressed");
/// `salt` -> this installation's random salt for suppression hashes
pub(crate) const SETTINGS: TableDefinition<&str, &[u8]> = TableDefinition::new("settings");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestStatus {
    Pending,
    Running,
    Completed,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubjectRequest {
    pub id: String,
    /// `erasure`
    pub kind: String,
    /// The type of the identifier the request named (never its value).
    pub identifier_type: String,
    pub status: RequestStatus,
    /// The step being worked on or last done.
    pub step: String,
    pub requested_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    /// What was removed (counts only).
    #[serde(default)]
    pub outcome: serde_json::Value,
    /// Why the last attempt failed; the request is retried at the next start.
    pub error: Option<String>,
}

/// A salted hash of an identifier, as the suppression list holds it.
pub type SuppressionHash = [u8; 32];

fn salt(transaction: &redb::WriteTransaction) -> Result<Vec<u8>, StateError> {
    let mut settings = transaction.open_table(SETTINGS)?;
    if let Some(salt) = settings.get("salt")? {
        return Ok(salt.value().to_vec());
    }
    let salt: [u8; 32] = rand::random();
    settings.insert("salt", salt.as_slice())?;
    Ok(salt.to_vec())
}

fn hash_with(salt: &[u8], kind: &str, value: &str) -> SuppressionHash {
    let mut hasher = Sha256::new();
    hasher.update(salt);
    hasher.update(kind.as_bytes());
    hasher.update(b":");
    hasher.update(value.as_bytes());
    hasher.finalize().into()
}

/// The suppression list in memory: checks identifiers against it.
#[derive(Debug, Clone, Default)]
pub struct Suppression {
    salt: Vec<u8>,
    hashes: HashSet<SuppressionHash>,
}

impl Suppression {
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Whether `kind:value` (normalised) belongs to an erased person.
    pub fn contains(&self, kind: &str, value: &str) -> bool {
        !self.hashes.is_empty() && self.hashes.contains(&hash_with(&self.salt, kind, value))
    }
}

impl StateStore {
    /// Records a new request (with its audit entry) and puts the identifiers on the suppression
    /// list, in one transaction.
    pub fn add_subject_request(
        &self,
        request: &SubjectRequest,
        suppress: &[(String, String)],
        actor: &Actor,
    ) -> Result<(), StateError> {
        let transaction = self.database.begin_write()?;
        let salt = salt(&transaction)?;
        {
            let mut requests = transaction.open_table(SUBJECT_REQUESTS)?;
            requests.insert(request.id.as_str(), encode(request)?.as_slice())?;
            let mut suppressed = transaction.open_table(SUPPRESSED)?;
            for (kind, value) in suppress {
                suppressed.insert(
                    hash_with(&salt, kind, value).as_slice(),
                    request.id.as_str(),
                )?;
            }
        }
        audit::append(
            &transaction,
            Change {
                actor,
                action: &format!("subject.{}_requested", request.kind),
                target: &request.id,
                detail: serde_json::json!({
                    "identifier_type": request.identifier_type,
                    "identifiers": suppress.len(),
                }),
            },
        )?;
        transaction.commit()?;
        Ok(())
    }

    /// Saves a request's progress; a completed or failed request is also audited.
    pub fn update_subject_request(&self, request: &SubjectRequest) -> Result<(), StateError> {
        let transaction = self.database.begin_write()?;
        {
            let mut requests = transaction.open_table(SUBJECT_REQUESTS)?;
            requests.insert(request.id.as_str(), encode(request)?.as_slice())?;
        }
        if matches!(
            request.status,
            RequestStatus::Completed | RequestStatus::Failed
        ) {
            let status = match request.status {
                RequestStatus::Completed => "completed",
                _ => "failed",
            };
            audit::append(
                &transaction,
                Change {
                    actor: &Actor::System,
                    action: &format!("subject.{}_{status}", request.kind),
                    target: &request.id,
                    detail: serde_json::json!({
                        "outcome": request.outcome,
                        "error": request.error,
                    }),
                },
            )?;
        }
        transaction.commit()?;
        Ok(())
    }

    pub fn subject_request(&self, id: &str) -> Result<Option<SubjectRequest>, StateError> {
        let transaction = self.database.begin_read()?;
        let requests = transaction.open_table(SUBJECT_REQUESTS)?;
        let request = requests.get(id)?;
        request.map(|value| decode(value.value())).transpose()
    }

    /// Every request, oldest first.
    pub fn subject_requests(&self) -> Result<Vec<SubjectRequest>, StateError> {
        let transaction = self.database.begin_read()?;
        let requests = transaction.open_table(SUBJECT_REQUESTS)?;
        let mut listed = Vec::new();
        for entry in requests.iter()? {
            let (_, value) = entry?;
            listed.push(decode::<SubjectRequest>(value.value())?);
        }
        listed.sort_by_key(|request| request.requested_at);
        Ok(listed)
    }

    /// The suppression list as it is now.
    pub fn suppression(&self) -> Result<Suppression, StateError> {
        let transaction = self.database.begin_write()?;
        let salt = salt(&transaction)?;
        let hashes = {
            let suppressed = transaction.open_table(SUPPRESSED)?;
            let mut hashes = HashSet::new();
            for entry in suppressed.iter()? {
                let (key, _) = entry?;
                let hash: SuppressionHash = key
                    .value()
                    .try_into()
                    .map_err(|_| StateError::Corrupt("suppression hash".to_string()))?;
                hashes.insert(hash);
            }
            hashes
        };
        transaction.commit()?;
        Ok(Suppression { salt, hashes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suppressed_identifiers_are_recognised_and_stored_only_hashed() {
        let directory = tempfile::tempdir().expect("tempdir");
        let path = directory.path().join("state.redb");
        let state = StateStore::open(&path).expect("opens");
        assert!(state.suppression().expect("reads").is_empty());
        let request = SubjectRequest {
            id: "dsr_1".to_string(),
            kind: "erasure".to_string(),
            identifier_type: "email".to_string(),
            status: RequestStatus::Pending,
            step: "requested".to_string(),
            requested_at: Utc::now(),
            completed_at: None,
            outcome: serde_json::Value::Null,
            error: None,
        };
        let identifiers = [
            ("email".to_string(), "ada@example.com".to_string()),
            ("user_id".to_string(), "ada-42".to_string()),
        ];
        state
            .add_subject_request(&request, &identifiers, &Actor::System)
            .expect("adds");
        let suppression = state.suppression().expect("reads");
        assert!(suppression.contains("email", "ada@example.com"));
        assert!(suppression.contains("user_id", "ada-42"));
        assert!(!suppression.contains("user_id", "ada@example.com"));
        assert!(!suppression.contains("email", "grace@example.com"));
        assert_eq!(
            state.subject_request("dsr_1").expect("reads"),
            Some(request)
        );
        let audit = state.audit(0, 10).expect("audit");
        assert_eq!(audit[0].action, "subject.erasure_requested");
        drop(state);
        let bytes = std::fs::read(&path).expect("reads file");
        for needle in ["ada@example.com", "ada-42"] {
            assert!(
                !bytes
                    .windows(needle.len())
                    .any(|window| window == needle.as_bytes()),
                "{needle} stored in clear text"
            );
        }
    }
}
