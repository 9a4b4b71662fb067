//! Destination configurations, keyed by id; every change is audited. Their queues live in the
//! outbox, not here.

use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde_json::json;
use silta_destinations::Destination;

use crate::StateStore;
use crate::audit::{self, Actor, Change};
use crate::credentials::{StateError, decode, encode};

/// destination id -> Destination (JSON)
pub(crate) const DESTINATIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("destinations");

impl StateStore {
    /// Creates or replaces a destination (the caller has validated it).
    pub fn put_destination(
        &self,
        destination: &Destination,
        actor: &Actor,
    ) -> Result<(), StateError> {
        let transaction = self.database.begin_write()?;
        let replaced = {
            let mut destinations = transaction.open_table(DESTINATIONS)?;
            let replaced = destinations.get(destination.id.as_str())?.is_some();
            destinations.insert(destination.id.as_str(), encode(destination)?.as_slice())?;
            replaced
        };
        audit::append(
            &transaction,
            Change {
                actor,
                action: if replaced {
                    "destination.changed"
                } else {
                    "destination.created"
                },
                target: &destination.id,
                // Secrets are references to environment variables: nothing secret is logged.
                detail: json!(destination.spec),
            },
        )?;
        transaction.commit()?;
        Ok(())
    }

    pub fn destination(&self, id: &str) -> Result<Option<Destination>, StateError> {
        let transaction = self.database.begin_read()?;
        let destinations = transaction.open_table(DESTINATIONS)?;
        let found = destinations.get(id)?;
        found.map(|value| decode(value.value())).transpose()
    }

    /// Every destination, by id.
    pub fn destinations(&self) -> Result<Vec<Destination>, StateError> {
        let transaction = self.database.begin_read()?;
        let destinations = transaction.open_table(DESTINATIONS)?;
        let mut listed = Vec::new();
        for entry in destinations.iter()? {
            let (_, value) = entry?;
            listed.push(decode(value.value())?);
        }
        Ok(listed)
    }

    pub fn delete_destination(&self, id: &str, actor: &Actor) -> Result<(), StateError> {
        let transaction = self.database.begin_write()?;
        {
            let mut destinations = transaction.open_table(DESTINATIONS)?;
            if destinations.remove(id)?.is_none() {
                return Err(StateError::NotFound(format!("destination {id}")));
            }
        }
        audit::append(
            &transaction,
            Change {
                actor,
                action: "destination.deleted",
                target: id,
                detail: serde_json::Value::Null,
            },
        )?;
        transaction.commit()?;
        Ok(())
    }
}
