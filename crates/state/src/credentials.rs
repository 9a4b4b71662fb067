use std::path::Path;

use chrono::{DateTime, Utc};
use rand::RngCore;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use silta_model::Channel;

use crate::Role;

/// source id -> Source (JSON)
const SOURCES: TableDefinition<&str, &[u8]> = TableDefinition::new("sources");
/// SHA-256 of a write key -> source id
const WRITE_KEYS: TableDefinition<&[u8], &str> = TableDefinition::new("write_keys");
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
    database: Database,
}

fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buffer);
    hex::encode(buffer)
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, StateError> {
    serde_json::from_slice(bytes).map_err(|error| StateError::Corrupt(error.to_string()))
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StateError> {
    serde_json::to_vec(value).map_err(|error| StateError::Corrupt(error.to_string()))
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
        transaction.commit()?;
        Ok(StateStore { database })
    }

    /// Creates a source and its write key.
    pub fn add_source(
        &self,
        name: &str,
        channel: Channel,
    ) -> Result<NewSecret<Source>, StateError> {
        let source = Source {
            id: format!("src_{}", random_hex(8)),
            name: name.to_string(),
            channel,
            created_at: Utc::now(),
        };
        let write_key = random_hex(20);
        let transaction = self.database.begin_write()?;
        {
            let mut sources = transaction.open_table(SOURCES)?;
            sources.insert(source.id.as_str(), encode(&source)?.as_slice())?;
            let mut write_keys = transaction.open_table(WRITE_KEYS)?;
            write_keys.insert(hash(&write_key).as_slice(), source.id.as_str())?;
        }
        transaction.commit()?;
        Ok(NewSecret {
            secret: write_key,
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

    /// The source a write key belongs to, if the key is known.
    pub fn source_for_write_key(&self, write_key: &str) -> Result<Option<Source>, StateError> {
        let transaction = self.database.begin_read()?;
        let write_keys = transaction.open_table(WRITE_KEYS)?;
        let Some(source_id) = write_keys.get(hash(write_key).as_slice())? else {
            return Ok(None);
        };
        let sources = transaction.open_table(SOURCES)?;
        let source = sources.get(source_id.value())?;
        source.map(|value| decode(value.value())).transpose()
    }

    pub fn add_token(&self, role: Role, name: &str) -> Result<NewSecret<Token>, StateError> {
        let token = Token {
            id: format!("tok_{}", random_hex(8)),
            role,
            name: name.to_string(),
            created_at: Utc::now(),
        };
        let secret = format!("silta_{}", random_hex(32));
        let transaction = self.database.begin_write()?;
        {
            let mut tokens = transaction.open_table(TOKENS)?;
            tokens.insert(hash(&secret).as_slice(), encode(&token)?.as_slice())?;
        }
        transaction.commit()?;
        Ok(NewSecret {
            secret,
            owner: token,
        })
    }

    pub fn token(&self, secret: &str) -> Result<Option<Token>, StateError> {
        let transaction = self.database.begin_read()?;
        let tokens = transaction.open_table(TOKENS)?;
        let token = tokens.get(hash(secret).as_slice())?;
        token.map(|value| decode(value.value())).transpose()
    }

    pub fn has_tokens(&self) -> Result<bool, StateError> {
        let transaction = self.database.begin_read()?;
        let tokens = transaction.open_table(TOKENS)?;
        Ok(!tokens.is_empty()?)
    }

    /// Deletes every token with this name (used for the per-run local admin token).
    pub fn remove_tokens_named(&self, name: &str) -> Result<usize, StateError> {
        let transaction = self.database.begin_write()?;
        let removed = {
            let mut tokens = transaction.open_table(TOKENS)?;
            let mut doomed = Vec::new();
            for entry in tokens.iter()? {
                let (key, value) = entry?;
                let token: Token = decode(value.value())?;
                if token.name == name {
                    doomed.push(key.value().to_vec());
                }
            }
            for key in &doomed {
                tokens.remove(key.as_slice())?;
            }
            doomed.len()
        };
        transaction.commit()?;
        Ok(removed)
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
        let created = state.add_source("Web shop", Channel::Web).expect("adds");
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
        let token = state.add_token(Role::Analyst, "reporting").expect("adds");
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
    fn a_second_process_is_told_the_database_is_in_use() {
        let directory = tempfile::tempdir().expect("tempdir");
        let path = directory.path().join("state.redb");
        let _first = StateStore::open(&path).expect("opens");
        assert!(matches!(StateStore::open(&path), Err(StateError::InUse(_))));
    }
}
