//! Experiment definitions, keyed by experiment key; every change is audited.

use redb::{ReadableTable, TableDefinition};
use serde_json::json;
use silta_experiments::Experiment;

use crate::StateStore;
use crate::audit::{self, Actor, Change};
use crate::credentials::{StateError, encode};

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
        self.record_of(EXPERIMENTS, key)
    }

    /// Every experiment, by key.
    pub fn experiments(&self) -> Result<Vec<Experiment>, StateError> {
        self.records_of(EXPERIMENTS)
    }

    pub fn delete_experiment(&self, key: &str, actor: &Actor) -> Result<(), StateError> {
        self.delete_record(EXPERIMENTS, key, "experiment", "experiment.deleted", actor)
    }
}
