//! Reading and deleting JSON records keyed by name, for the tables that hold one definition per
//! key (experiments, destinations).

use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;

use crate::StateStore;
use crate::audit::{self, Actor, Change};
use crate::credentials::{StateError, decode};

pub(crate) type Records = TableDefinition<'static, &'static str, &'static [u8]>;

impl StateStore {
    pub(crate) fn record_of<T: DeserializeOwned>(
        &self,
        table: Records,
        key: &str,
    ) -> Result<Option<T>, StateError> {
        let transaction = self.database.begin_read()?;
        let records = transaction.open_table(table)?;
        let found = records.get(key)?;
        found.map(|value| decode(value.value())).transpose()
    }

    /// Every record, by key.
    pub(crate) fn records_of<T: DeserializeOwned>(
        &self,
        table: Records,
    ) -> Result<Vec<T>, StateError> {
        let transaction = self.database.begin_read()?;
        let records = transaction.open_table(table)?;
        let mut listed = Vec::new();
        for entry in records.iter()? {
            let (_, value) = entry?;
            listed.push(decode(value.value())?);
        }
        Ok(listed)
    }

    /// Deletes `key`, audited as `action`; `what` names the kind of record in the not-found
    /// error.
    pub(crate) fn delete_record(
        &self,
        table: Records,
        key: &str,
        what: &str,
        action: &str,
        actor: &Actor,
    ) -> Result<(), StateError> {
        let transaction = self.database.begin_write()?;
        {
            let mut records = transaction.open_table(table)?;
            if records.remove(key)?.is_none() {
                return Err(StateError::NotFound(format!("{what} {key}")));
            }
        }
        audit::append(
            &transaction,
            Change {
                actor,
                action,
                target: key,
                detail: serde_json::Value::Null,
            },
        )?;
        transaction.commit()?;
        Ok(())
    }
}
