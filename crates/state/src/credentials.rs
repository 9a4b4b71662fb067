use std::path::Path;

use chrono::{DateTime, Utc};
use rand::RngCore;
use redb::{
    Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
    WriteTransaction,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use silta_model::{BotPolicy, Channel, ConsentPolicy, ContractMode};

use crate::Role;
use crate::audit::{self, AUDIT, Actor, Change};
use crate::experiments::EXPERIMENTS;
use crate::subjects::{SETTINGS, SUBJECT_REQUESTS, SUPPRESSED};

/// source id -> Source (JSON)
const SOURCES: TableDefinition<&str, &[u8]> = TableDefinition::new("sources");
/// SHA-256 of a write key -> WriteKey (JSON)
const WRITE_KEYS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("write_key_records");
/// Earlier layout: SHA-256 of a write key -> source id. Moved to `WRITE_KEYS` on open.
const LEGACY_WRITE_KEYS: TableDefinition<&[u8], &str> = TableDefinition::new("write_keys");
/// SHA-256 of a token -> Token (JSON)
const TOKENS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("tokens");

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state database error: {0}")]
    Database(String),
    #[error("state database {0} is in use by another silta process")]
    InUse(String),
    #[error("corrupt state record: {0}")]
    Corrupt(String),
    #[error("{0} not found")]
    NotFound(String),
    /// The change is not possible in the record's current state (say, approving a version
    /// that was already rejected).
    #[error("{0}")]
    Conflict(String),
}

macro_rules! database_error {
    ($($error:ty),*) => {$(
        impl From<$error> for StateError {
            fn from(error: $error) -> Self {
                StateError::Database(error.to_string())
            }
        }
    )*};
}
database_error!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub id: String,
    pub name: String,
    pub channel: Channel,
    pub created_at: DateTime<Utc>,
    /// What happens to this source's events that do not grant analytics consent.
    #[serde(default)]
    pub consent_policy: ConsentPolicy,
    /// What happens to this source's events flagged as a bot's.
    #[serde(default)]
    pub bot_policy: BotPolicy,
    /// The tracking plan this source's events are checked against, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<SourceContract>,
}

/// A source's data contract: its plan and what happens to events that break it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceContract {
    /// The plan's key; its approved version applies.
    pub plan: String,
    /// Events the plan knows that break it.
    #[serde(default)]
    pub mode: ContractMode,
    /// Events the plan does not know.
    #[serde(default)]
    pub unplanned: ContractMode,
}

/// Policies to change on a source; `None` leaves one as it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcePolicies {
    #[serde(default)]
    pub consent_policy: Option<ConsentPolicy>,
    #[serde(default)]
    pub bot_policy: Option<BotPolicy>,
}

/// One of a source's write keys. A source may have several at once, so that senders can move
/// to a new key before the old one is revoked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteKey {
    pub id: String,
    pub source_id: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Token {
    pub id: String,
    pub role: Role,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// A secret shown once: the clear text and what it belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewSecret<T> {
    pub secret: String,
    #[serde(flatten)]
    pub owner: T,
}

pub struct StateStore {
    pub(crate) database: Database,
}

fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buffer);
    hex::encode(buffer)
}

pub(crate) fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, StateError> {
    serde_json::from_slice(bytes).map_err(|error| StateError::Corrupt(error.to_string()))
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StateError> {
    serde_json::to_vec(value).map_err(|error| StateError::Corrupt(error.to_string()))
}

fn new_write_key(source_id: &str) -> (String, WriteKey) {
    let key = WriteKey {
        id: format!("wk_{}", random_hex(8)),
        source_id: source_id.to_string(),
        created_at: Utc::now(),
    };
    (random_hex(20), key)
}

fn token_secret() -> String {
    format!("silta_{}", random_hex(32))
}

fn new_token(role: Role, name: &str) -> (String, Token) {
    let token = Token {
        id: format!("tok_{}", random_hex(8)),
        role,
        name: name.to_string(),
        created_at: Utc::now(),
    };
    (token_secret(), token)
}

/// Every (hash, record) of a table of JSON records.
fn records<T: for<'de> Deserialize<'de>>(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
) -> Result<Vec<(Vec<u8>, T)>, StateError> {
    let mut found = Vec::new();
    for entry in table.iter()? {
        let (key, value) = entry?;
        found.push((key.value().to_vec(), decode(value.value())?));
    }
    Ok(found)
}

fn move_legacy_write_keys(transaction: &WriteTransaction) -> Result<(), StateError> {
    let legacy: Vec<(Vec<u8>, String)> = {
        let table = transaction.open_table(LEGACY_WRITE_KEYS)?;
        let mut legacy = Vec::new();
        for entry in table.iter()? {
            let (key, value) = entry?;
            legacy.push((key.value().to_vec(), value.value().to_string()));
        }
        legacy
    };
    let mut write_keys = transaction.open_table(WRITE_KEYS)?;
    for (key_hash, source_id) in legacy {
        let (_, record) = new_write_key(&source_id);
        write_keys.insert(key_hash.as_slice(), encode(&record)?.as_slice())?;
    }
    drop(write_keys);
    transaction.delete_table(LEGACY_WRITE_KEYS)?;
    Ok(())
}

impl StateStore {
    /// Opens or creates the database. Only one process may hold it; a second gets `InUse`.
    pub fn open(path: &Path) -> Result<StateStore, StateError> {
        let database = Database::create(path).map_err(|error| match error {
            redb::DatabaseError::DatabaseAlreadyOpen => {
                StateError::InUse(path.display().to_string())
            }
            other => StateError::Database(other.to_string()),
        })?;
        let transaction = database.begin_write()?;
        transaction.open_table(SOURCES)?;
        transaction.open_table(WRITE_KEYS)?;
        transaction.open_table(TOKENS)?;
        transaction.open_table(AUDIT)?;
        transaction.open_table(SUBJECT_REQUESTS)?;
        transaction.open_table(SUPPRESSED)?;
        transaction.open_table(SETTINGS)?;
        transaction.open_table(EXPERIMENTS)?;
        transaction.open_table(crate::destinations::DESTINATIONS)?;
        transaction.open_table(crate::audiences::AUDIENCES)?;
        transaction.open_table(crate::audiences::MEMBERS)?;
        transaction.open_table(crate::audiences::BY_PROFILE)?;
        transaction.open_table(crate::audiences::CHANGES)?;
        transaction.open_table(crate::plans::PLANS)?;
        transaction.open_table(crate::plans::PLAN_VERSIONS)?;
        transaction.open_table(crate::plans::REPLAYED)?;
        move_legacy_write_keys(&transaction)?;
        transaction.commit()?;
        Ok(StateStore { database })
    }

    /// Creates a source and its first write key.
    pub fn add_source(
        &self,
        name: &str,
        channel: Channel,
        actor: &Actor,
    ) -> Result<NewSecret<Source>, StateError> {
        let source = Source {
            id: format!("src_{}", random_hex(8)),
            name: name.to_string(),
            channel,
            created_at: Utc::now(),
            consent_policy: ConsentPolicy::default(),
            bot_policy: BotPolicy::default(),
            contract: None,
        };
        let (secret, key) = new_write_key(&source.id);
        let transaction = self.database.begin_write()?;
        {
            let mut sources = transaction.open_table(SOURCES)?;
            sources.insert(source.id.as_str(), encode(&source)?.as_slice())?;
            let mut write_keys = transaction.open_table(WRITE_KEYS)?;
            write_keys.insert(hash(&secret).as_slice(), encode(&key)?.as_slice())?;
        }
        audit::append(
            &transaction,
            Change {
                actor,
                action: "source.created",
                target: &source.id,
                detail: json!({"name": name, "channel": channel, "write_key_id": key.id}),
            },
        )?;
        transaction.commit()?;
        Ok(NewSecret {
            secret,
            owner: source,
        })
    }

    pub fn sources(&self) -> Result<Vec<Source>, StateError> {
        let transaction = self.database.begin_read()?;
        let sources = transaction.open_table(SOURCES)?;
        let mut listed = Vec::new();
        for entry in sources.iter()? {
            let (_, value) = entry?;
            listed.push(decode(value.value())?);
        }
        Ok(listed)
    }

    /// Sets what a source does with events that do not grant analytics consent and with events
    /// flagged as a bot's.
    pub fn set_source_policies(
        &self,
        source_id: &str,
        policies: SourcePolicies,
        actor: &Actor,
    ) -> Result<Source, StateError> {
        self.update_source(source_id, actor, "source.policies_changed", |source| {
            source.consent_policy = policies.consent_policy.unwrap_or(source.consent_policy);
            source.bot_policy = policies.bot_policy.unwrap_or(source.bot_policy);
            json!({
                "consent_policy": source.consent_policy,
                "bot_policy": source.bot_policy,
            })
        })
    }

    /// Changes a source with `change` (which returns the audit entry's detail) and records the
    /// change as `action`, in one transaction.
    pub(crate) fn update_source(
        &self,
        source_id: &str,
        actor: &Actor,
        action: &str,
        change: impl FnOnce(&mut Source) -> serde_json::Value,
    ) -> Result<Source, StateError> {
        let transaction = self.database.begin_write()?;
        let (source, detail) = {
            let mut sources = transaction.open_table(SOURCES)?;
            let mut source: Source = match sources.get(source_id)? {
                Some(value) => decode(value.value())?,
                None => return Err(StateError::NotFound(format!("source {source_id}"))),
            };
            let detail = change(&mut source);
            sources.insert(source_id, encode(&source)?.as_slice())?;
            (source, detail)
        };
        audit::append(
            &transaction,
            Change {
                actor,
                action,
                target: source_id,
                detail,
            },
        )?;
        transaction.commit()?;
        Ok(source)
    }

    /// The source a write key belongs to, if the key is known and not revoked.
    pub fn source_for_write_key(&self, write_key: &str) -> Result<Option<Source>, StateError> {
        let transaction = self.database.begin_read()?;
        let write_keys = transaction.open_table(WRITE_KEYS)?;
        let Some(record) = write_keys.get(hash(write_key).as_slice())? else {
            return Ok(None);
        };
        let key: WriteKey = decode(record.value())?;
        let sources = transaction.open_table(SOURCES)?;
        let source = sources.get(key.source_id.as_str())?;
        source.map(|value| decode(value.value())).transpose()
    }

    /// Issues another write key for a source; its other keys keep working until revoked.
    pub fn add_write_key(
        &self,
        source_id: &str,
        actor: &Actor,
    ) -> Result<NewSecret<WriteKey>, StateError> {
        let (secret, key) = new_write_key(source_id);
        let transaction = self.database.begin_write()?;
        {
            let sources = transaction.open_table(SOURCES)?;
            if sources.get(source_id)?.is_none() {
                return Err(StateError::NotFound(format!("source {source_id}")));
            }
            let mut write_keys = transaction.open_table(WRITE_KEYS)?;
            write_keys.insert(hash(&secret).as_slice(), encode(&key)?.as_slice())?;
        }
        audit::append(
            &transaction,
            Change {
                actor,
                action: "write_key.created",
                target: &key.id,
                detail: json!({"source_id": source_id}),
            },
        )?;
        transaction.commit()?;
        Ok(NewSecret { secret, owner: key })
    }

    /// The write keys of a source (their ids, never the keys).
    pub fn write_keys(&self, source_id: &str) -> Result<Vec<WriteKey>, StateError> {
        let transaction = self.database.begin_read()?;
        let sources = transaction.open_table(SOURCES)?;
        if sources.get(source_id)?.is_none() {
            return Err(StateError::NotFound(format!("source {source_id}")));
        }
        let write_keys = transaction.open_table(WRITE_KEYS)?;
        let mut keys: Vec<WriteKey> = records(&write_keys)?
            .into_iter()
            .map(|(_, key): (_, WriteKey)| key)
            .filter(|key| key.source_id == source_id)
            .collect();
        keys.sort_by_key(|key| key.created_at);
        Ok(keys)
    }

    /// Revokes a write key: from the next request on, it is refused.
    pub fn revoke_write_key(
        &self,
        source_id: &str,
        key_id: &str,
        actor: &Actor,
    ) -> Result<(), StateError> {
        let transaction = self.database.begin_write()?;
        {
            let mut write_keys = transaction.open_table(WRITE_KEYS)?;
            let found = records(&write_keys)?
                .into_iter()
                .find(|(_, key): &(_, WriteKey)| key.id == key_id && key.source_id == source_id)
                .ok_or_else(|| StateError::NotFound(format!("write key {key_id}")))?;
            write_keys.remove(found.0.as_slice())?;
        }
        audit::append(
            &transaction,
            Change {
                actor,
                action: "write_key.revoked",
                target: key_id,
                detail: json!({"source_id": source_id}),
            },
        )?;
        transaction.commit()?;
        Ok(())
    }

    pub fn add_token(
        &self,
        role: Role,
        name: &str,
        actor: &Actor,
    ) -> Result<NewSecret<Token>, StateError> {
        let (secret, token) = new_token(role, name);
        self.insert_token(&secret, &token, "token.created", actor)?;
        Ok(NewSecret {
            secret,
            owner: token,
        })
    }

    /// Makes sure a token with this clear text exists (an admin token from the configuration),
    /// replacing any earlier token of the same name.
    pub fn ensure_token(
        &self,
        secret: &str,
        role: Role,
        name: &str,
        actor: &Actor,
    ) -> Result<(), StateError> {
        if self.token(secret)?.is_some_and(|token| token.role == role) {
            return Ok(());
        }
        self.remove_tokens_named(name, actor)?;
        let (_, token) = new_token(role, name);
        self.insert_token(secret, &token, "token.configured", actor)
    }

    fn insert_token(
        &self,
        secret: &str,
        token: &Token,
        action: &str,
        actor: &Actor,
    ) -> Result<(), StateError> {
        let transaction = self.database.begin_write()?;
        {
            let mut tokens = transaction.open_table(TOKENS)?;
            tokens.insert(hash(secret).as_slice(), encode(token)?.as_slice())?;
        }
        audit::append(
            &transaction,
            Change {
                actor,
                action,
                target: &token.id,
                detail: json!({"role": token.role, "name": token.name}),
            },
        )?;
        transaction.commit()?;
        Ok(())
    }

    pub fn token(&self, secret: &str) -> Result<Option<Token>, StateError> {
        let transaction = self.database.begin_read()?;
        let tokens = transaction.open_table(TOKENS)?;
        let token = tokens.get(hash(secret).as_slice())?;
        token.map(|value| decode(value.value())).transpose()
    }

    /// Every token (ids, roles and names; never the secrets), oldest first.
    pub fn tokens(&self) -> Result<Vec<Token>, StateError> {
        let transaction = self.database.begin_read()?;
        let tokens = transaction.open_table(TOKENS)?;
        let mut listed: Vec<Token> = records(&tokens)?
            .into_iter()
            .map(|(_, token)| token)
            .collect();
        listed.sort_by_key(|token| token.created_at);
        Ok(listed)
    }

    pub fn has_tokens(&self) -> Result<bool, StateError> {
        let transaction = self.database.begin_read()?;
        let tokens = transaction.open_table(TOKENS)?;
        Ok(!tokens.is_empty()?)
    }

    /// Revokes a token: from the next request on, it is refused.
    pub fn revoke_token(&self, id: &str, actor: &Actor) -> Result<(), StateError> {
        self.replace_token(id, None, "token.revoked", actor)
            .map(drop)
    }

    /// Gives a token a new secret, keeping its id, role and name; the old secret stops working.
    pub fn rotate_token(&self, id: &str, actor: &Actor) -> Result<NewSecret<Token>, StateError> {
        let secret = token_secret();
        let token = self.replace_token(id, Some(&secret), "token.rotated", actor)?;
        Ok(NewSecret {
            secret,
            owner: token,
        })
    }

    /// Removes token `id` and, with `new_secret`, stores it again under that secret.
    fn replace_token(
        &self,
        id: &str,
        new_secret: Option<&str>,
        action: &str,
        actor: &Actor,
    ) -> Result<Token, StateError> {
        let transaction = self.database.begin_write()?;
        let token = {
            let mut tokens = transaction.open_table(TOKENS)?;
            let (key, token) = records::<Token>(&tokens)?
                .into_iter()
                .find(|(_, token)| token.id == id)
                .ok_or_else(|| StateError::NotFound(format!("token {id}")))?;
            tokens.remove(key.as_slice())?;
            if let Some(secret) = new_secret {
                tokens.insert(hash(secret).as_slice(), encode(&token)?.as_slice())?;
            }
            token
        };
        audit::append(
            &transaction,
            Change {
                actor,
                action,
                target: id,
                detail: json!({"role": token.role, "name": token.name}),
            },
        )?;
        transaction.commit()?;
        Ok(token)
    }

    /// Revokes every token with this name (the per-run token of the local CLI).
    pub fn remove_tokens_named(&self, name: &str, actor: &Actor) -> Result<usize, StateError> {
        let doomed: Vec<Token> = self
            .tokens()?
            .into_iter()
            .filter(|token| token.name == name)
            .collect();
        for token in &doomed {
            self.revoke_token(&token.id, actor)?;
        }
        Ok(doomed.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_keys_and_tokens_resolve_and_are_stored_hashed() {
        let directory = tempfile::tempdir().expect("tempdir");
        let path = directory.path().join("state.redb");
        let state = StateStore::open(&path).expect("opens");
        let created = state
            .add_source("Web shop", Channel::Web, &Actor::System)
            .expect("adds");
        let found = state
            .source_for_write_key(&created.secret)
            .expect("reads")
            .expect("known key");
        assert_eq!(found, created.owner);
        assert!(
            state
                .source_for_write_key("not-a-key")
                .expect("reads")
                .is_none()
        );
        let token = state
            .add_token(Role::Analyst, "reporting", &Actor::System)
            .expect("adds");
        assert_eq!(
            state
                .token(&token.secret)
                .expect("reads")
                .map(|token| token.role),
            Some(Role::Analyst)
        );
        drop(state);
        let bytes = std::fs::read(&path).expect("reads file");
        let contains = |needle: &str| {
            bytes
                .windows(needle.len())
                .any(|window| window == needle.as_bytes())
        };
        assert!(!contains(&created.secret), "write key stored in clear text");
        assert!(!contains(&token.secret), "token stored in clear text");
    }

    #[test]
    fn revoked_and_rotated_secrets_stop_working_at_once_and_every_change_is_audited() {
        let directory = tempfile::tempdir().expect("tempdir");
        let state = StateStore::open(&directory.path().join("state.redb")).expect("opens");
        let admin = Actor::Token {
            token_id: "tok_admin".to_string(),
            name: "it".to_string(),
            role: Role::Admin,
            address: Some("192.0.2.1".to_string()),
        };
        let source = state.add_source("App", Channel::App, &admin).expect("adds");
        let second = state
            .add_write_key(&source.owner.id, &admin)
            .expect("adds key");
        let keys = state.write_keys(&source.owner.id).expect("lists");
        assert_eq!(keys.len(), 2);
        let first_id = keys
            .iter()
            .find(|key| key.id != second.owner.id)
            .expect("first key")
            .id
            .clone();
        state
            .revoke_write_key(&source.owner.id, &first_id, &admin)
            .expect("revokes");
        assert!(
            state
                .source_for_write_key(&source.secret)
                .expect("reads")
                .is_none()
        );
        assert!(
            state
                .source_for_write_key(&second.secret)
                .expect("reads")
                .is_some()
        );
        assert!(matches!(
            state.revoke_write_key(&source.owner.id, &first_id, &admin),
            Err(StateError::NotFound(_))
        ));

        let token = state
            .add_token(Role::Marketer, "campaigns", &admin)
            .expect("adds");
        let rotated = state
            .rotate_token(&token.owner.id, &admin)
            .expect("rotates");
        assert_eq!(rotated.owner, token.owner);
        assert!(state.token(&token.secret).expect("reads").is_none());
        assert_eq!(
            state.token(&rotated.secret).expect("reads"),
            Some(token.owner.clone())
        );
        state
            .revoke_token(&token.owner.id, &admin)
            .expect("revokes");
        assert!(state.token(&rotated.secret).expect("reads").is_none());

        let audit = state.audit(0, 100).expect("reads audit");
        let actions: Vec<&str> = audit.iter().map(|entry| entry.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "source.created",
                "write_key.created",
                "write_key.revoked",
                "token.created",
                "token.rotated",
                "token.revoked"
            ]
        );
        assert!(audit.iter().all(|entry| entry.actor == admin));
        assert_eq!(audit[2].target, first_id);
        let sequences: Vec<u64> = audit.iter().map(|entry| entry.sequence).collect();
        assert_eq!(sequences, [1, 2, 3, 4, 5, 6]);
        assert_eq!(state.audit(4, 100).expect("reads").len(), 2);
    }

    #[test]
    fn write_keys_of_the_earlier_layout_keep_working() {
        let directory = tempfile::tempdir().expect("tempdir");
        let path = directory.path().join("state.redb");
        let source = Source {
            id: "src_old".to_string(),
            name: "Old shop".to_string(),
            channel: Channel::Shop,
            created_at: Utc::now(),
            consent_policy: ConsentPolicy::Keep,
            bot_policy: BotPolicy::Flag,
            contract: None,
        };
        {
            let database = Database::create(&path).expect("creates");
            let transaction = database.begin_write().expect("writes");
            {
                let mut sources = transaction.open_table(SOURCES).expect("table");
                sources
                    .insert("src_old", encode(&source).expect("encodes").as_slice())
                    .expect("inserts");
                let mut keys = transaction.open_table(LEGACY_WRITE_KEYS).expect("table");
                keys.insert(hash("old-key").as_slice(), "src_old")
                    .expect("inserts");
            }
            transaction.commit().expect("commits");
        }
        let state = StateStore::open(&path).expect("opens");
        assert_eq!(
            state.source_for_write_key("old-key").expect("reads"),
            Some(source)
        );
        assert_eq!(state.write_keys("src_old").expect("lists").len(), 1);
    }

    #[test]
    fn a_second_process_is_told_the_database_is_in_use() {
        let directory = tempfile::tempdir().expect("tempdir");
        let path = directory.path().join("state.redb");
        let _first = StateStore::open(&path).expect("opens");
        assert!(matches!(StateStore::open(&path), Err(StateError::InUse(_))));
    }
}
