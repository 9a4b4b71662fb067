//! Experiment definitions, keyed by experiment key; every change is audited.

use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde_json::json;
use silta_experiments::Experiment;

use crate::StateStore;
use crate::audit::{self, Actor, Change};
use crate::credentials::{StateError, decode, encode};

/// experiment key -> Experiment (JSON)
pub(crate) const EXPERIMENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("experiments");

impl StateStore {
    /// Creates or replaces an experiment (the caller has validated it).
    pub fn put_experiment(&self, experiment: &Experiment, actor: &Actor) -> Result<(), StateError> {
        let transaction = self.database.begin_write()?;
        let replaced = {
            let mut experiments = transaction.open_table(EXPERIMENTS)?;
            let replaced = experiments.get(experiment.key.as_str())?.is_some();
            experiments.insert(experiment.key.as_str(), encode(experiment)?.as_slice())?;
            replaced
        };
        audit::append(
            &transaction,
            Change {
                actor,
                action: if replaced {
                    "experiment.changed"
                } else {
                    "experiment.created"
                },
                target: &experiment.key,
                detail: json!(experiment),
            },
        )?;
        transaction.commit()?;
        Ok(())
    }

    pub fn experiment(&self, key: &str) -> Result<Option<Experiment>, StateError> {
        let transaction = self.database.begin_read()?;
        let experiments = transaction.open_table(EXPERIMENTS)?;
        let found = experiments.get(key)?;
        found.map(|value| decode(value.value())).transpose()
    }

    /// Every experiment, by key.
    pub fn experiments(&self) -> Result<Vec<Experiment>, StateError> {
        let transaction = self.database.begin_read()?;
        let experiments = transaction.open_table(EXPERIMENTS)?;
        let mut listed = Vec::new();
        for entry in experiments.iter()? {
            let (_, value) = entry?;
            listed.push(decode(value.value())?);
        }
        Ok(listed)
    }

    pub fn delete_experiment(&self, key: &str, actor: &Actor) -> Result<(), StateError> {
        let transaction = self.database.begin_write()?;
        {
            let mut experiments = transaction.open_table(EXPERIMENTS)?;
            if experiments.remove(key)?.is_none() {
                return Err(StateError::NotFound(format!("experiment {key}")));
            }
        }
        audit::append(
            &transaction,
            Change {
                actor,
                action: "experiment.deleted",
                target: key,
                detail: serde_json::Value::Null,
            },
        )?;
        transaction.commit()?;
        Ok(())
    }
}
