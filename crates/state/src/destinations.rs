//! Destination configurations, keyed by id; every change is audited. Their queues live in the
//! outbox, not here.

use redb::{ReadableTable, TableDefinition};
use serde_json::json;
use silta_destinations::Destination;

use crate::StateStore;
use crate::audit::{self, Actor, Change};
use crate::credentials::{StateError, encode};

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
        self.record_of(DESTINATIONS, id)
    }

    /// Every destination, by id.
    pub fn destinations(&self) -> Result<Vec<Destination>, StateError> {
        self.records_of(DESTINATIONS)
    }

    pub fn delete_destination(&self, id: &str, actor: &Actor) -> Result<(), StateError> {
        self.delete_record(
            DESTINATIONS,
            id,
            "destination",
            "destination.deleted",
            actor,
        )
    }
}
