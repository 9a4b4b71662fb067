//! The audit log: who changed what, when and from where. Entries are appended in the same
//! transaction as the change they describe, so a change is never without its entry; nothing in
//! Silta updates or deletes them.

use chrono::{DateTime, Utc};
use redb::{ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use crate::credentials::{StateError, decode, encode};
use crate::{Role, StateStore};

/// sequence number -> AuditEntry (JSON)
pub(crate) const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");

/// Most entries one read returns.
pub const MAX_AUDIT_PAGE: usize = 1_000;

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Actor {
    /// A request with an API token, from a network address.
    Token {
        token_id: String,
        name: String,
        role: Role,
        address: Option<String>,
    },
    /// The `silta` command line on the data directory, run by this operating-system user.
    Local { user: String },
    /// Silta itself: first start, the configuration it started with, the CLI's token.
    System,
}

impl Actor {
    /// The operating-system user running this process.
    pub fn local() -> Actor {
        Actor::Local {
            user: std::env::var("USER").unwrap_or_else(|_| "unknown".to_string()),
        }
    }
}

/// One change. `detail` never holds secrets or personal data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub sequence: u64,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    /// What was done, e.g. `token.revoked`.
    pub action: String,
    /// What it was done to, e.g. a token or source id.
    pub target: String,
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub detail: serde_json::Value,
}

/// What a change records about itself.
pub struct Change<'a> {
    pub actor: &'a Actor,
    pub action: &'a str,
    pub target: &'a str,
    pub detail: serde_json::Value,
}

pub(crate) fn append(transaction: &WriteTransaction, change: Change<'_>) -> Result<(), StateError> {
    let mut audit = transaction.open_table(AUDIT)?;
    let sequence = match audit.last()? {
        Some((key, _)) => key.value() + 1,
        None => 1,
    };
    let entry = AuditEntry {
        sequence,
        at: Utc::now(),
        actor: change.actor.clone(),
        action: change.action.to_string(),
        target: change.target.to_string(),
        detail: change.detail,
    };
    audit.insert(sequence, encode(&entry)?.as_slice())?;
    Ok(())
}

impl StateStore {
    /// Records a change that is not a change of this database (the configuration a server
    /// started with, a data-subject request).
    pub fn record(&self, change: Change<'_>) -> Result<(), StateError> {
        let transaction = self.database.begin_write()?;
        append(&transaction, change)?;
        transaction.commit()?;
        Ok(())
    }

    /// Entries after `after` (a sequence number), oldest first, at most `limit` of them.
    pub fn audit(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>, StateError> {
        let transaction = self.database.begin_read()?;
        let audit = transaction.open_table(AUDIT)?;
        let mut entries = Vec::new();
        for entry in audit
            .range(after.saturating_add(1)..)?
            .take(limit.min(MAX_AUDIT_PAGE))
        {
            let (_, value) = entry?;
            entries.push(decode(value.value())?);
        }
        Ok(entries)
    }

    /// The latest entry with this action, if any.
    pub fn last_audited(&self, action: &str) -> Result<Option<AuditEntry>, StateError> {
        let transaction = self.database.begin_read()?;
        let audit = transaction.open_table(AUDIT)?;
        for entry in audit.iter()?.rev() {
            let (_, value) = entry?;
            let entry: AuditEntry = decode(value.value())?;
            if entry.action == action {
                return Ok(Some(entry));
            }
        }
        Ok(None)
    }
}
