//! Tracking plans and their review: a marketer proposes a version, an admin approves or
//! rejects it with a comment; only the approved version applies. Sources name the plan they
//! keep to. Replayed quarantine records are remembered so that none is replayed twice.

use chrono::{DateTime, Utc};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use serde_json::json;
use silta_contracts::TrackingPlan;

use crate::StateStore;
use crate::audit::{self, Actor, Change};
use crate::credentials::{Source, SourceContract, StateError, decode, encode};

/// plan key -> PlanHead (JSON)
pub(crate) const PLANS: TableDefinition<&str, &[u8]> = TableDefinition::new("plans");
/// (plan key, version) -> PlanVersion (JSON)
pub(crate) const PLAN_VERSIONS: TableDefinition<(&str, u32), &[u8]> =
    TableDefinition::new("plan_versions");
/// quarantine record (its WAL position) -> Replayed (JSON)
pub(crate) const REPLAYED: TableDefinition<u64, &[u8]> = TableDefinition::new("replayed");

/// A plan: its latest version and the one in effect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanHead {
    pub key: String,
    pub created_at: DateTime<Utc>,
    pub latest_version: u32,
    /// The approved version sources are checked against; none until one is approved.
    pub approved_version: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlanStatus {
    Proposed,
    Approved,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanVersion {
    pub key: String,
    pub version: u32,
    pub status: PlanStatus,
    pub plan: TrackingPlan,
    pub proposed_by: Actor,
    pub proposed_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewed_by: Option<Actor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewed_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// When a quarantined record was replayed, by whom.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Replayed {
    pub at: DateTime<Utc>,
    pub by: Actor,
}

impl StateStore {
    /// Records a proposed version of plan `key` (creating the plan), numbered after the latest.
    pub fn propose_plan(
        &self,
        key: &str,
        plan: &TrackingPlan,
        actor: &Actor,
    ) -> Result<PlanVersion, StateError> {
        let transaction = self.database.begin_write()?;
        let proposed = {
            let mut plans = transaction.open_table(PLANS)?;
            let mut head: PlanHead = match plans.get(key)? {
                Some(value) => decode(value.value())?,
                None => PlanHead {
                    key: key.to_string(),
                    created_at: Utc::now(),
                    latest_version: 0,
                    approved_version: None,
                },
            };
            head.latest_version += 1;
            let proposed = PlanVersion {
                key: key.to_string(),
                version: head.latest_version,
                status: PlanStatus::Proposed,
                plan: plan.clone(),
                proposed_by: actor.clone(),
                proposed_at: Utc::now(),
                reviewed_by: None,
                reviewed_at: None,
                comment: None,
            };
            plans.insert(key, encode(&head)?.as_slice())?;
            let mut versions = transaction.open_table(PLAN_VERSIONS)?;
            versions.insert((key, proposed.version), encode(&proposed)?.as_slice())?;
            proposed
        };
        audit::append(
            &transaction,
            Change {
                actor,
                action: "plan.proposed",
                target: key,
                detail: json!({"version": proposed.version, "events": plan.events.len()}),
            },
        )?;
        transaction.commit()?;
        Ok(proposed)
    }

    /// Approves or rejects a proposed version. An approved version takes effect at once.
    pub fn review_plan(
        &self,
        key: &str,
        version: u32,
        approve: bool,
        comment: Option<&str>,
        actor: &Actor,
    ) -> Result<PlanVersion, StateError> {
        let transaction = self.database.begin_write()?;
        let reviewed = {
            let mut versions = transaction.open_table(PLAN_VERSIONS)?;
            let mut reviewed: PlanVersion = match versions.get((key, version))? {
                Some(value) => decode(value.value())?,
                None => {
                    return Err(StateError::NotFound(format!(
                        "plan {key} version {version}"
                    )));
                }
            };
            if reviewed.status != PlanStatus::Proposed {
                return Err(StateError::Conflict(format!(
                    "plan {key} version {version} is already {}",
                    json!(reviewed.status).as_str().unwrap_or_default()
                )));
            }
            reviewed.status = if approve {
                PlanStatus::Approved
            } else {
                PlanStatus::Rejected
            };
            reviewed.reviewed_by = Some(actor.clone());
            reviewed.reviewed_at = Some(Utc::now());
            reviewed.comment = comment.map(str::to_string);
            versions.insert((key, version), encode(&reviewed)?.as_slice())?;
            if approve {
                let mut plans = transaction.open_table(PLANS)?;
                let mut head: PlanHead = match plans.get(key)? {
                    Some(value) => decode(value.value())?,
                    None => return Err(StateError::NotFound(format!("plan {key}"))),
                };
                head.approved_version = Some(version);
                plans.insert(key, encode(&head)?.as_slice())?;
            }
            reviewed
        };
        audit::append(
            &transaction,
            Change {
                actor,
                action: if approve {
                    "plan.approved"
                } else {
                    "plan.rejected"
                },
                target: key,
                detail: json!({"version": version, "comment": comment}),
            },
        )?;
        transaction.commit()?;
        Ok(reviewed)
    }

    pub fn plan_head(&self, key: &str) -> Result<Option<PlanHead>, StateError> {
        let transaction = self.database.begin_read()?;
        let plans = transaction.open_table(PLANS)?;
        let found = plans.get(key)?;
        found.map(|value| decode(value.value())).transpose()
    }

    pub fn plan_heads(&self) -> Result<Vec<PlanHead>, StateError> {
        let transaction = self.database.begin_read()?;
        let plans = transaction.open_table(PLANS)?;
        let mut heads = Vec::new();
        for entry in plans.iter()? {
            heads.push(decode(entry?.1.value())?);
        }
        Ok(heads)
    }

    pub fn plan_version(&self, key: &str, version: u32) -> Result<Option<PlanVersion>, StateError> {
        let transaction = self.database.begin_read()?;
        let versions = transaction.open_table(PLAN_VERSIONS)?;
        let found = versions.get((key, version))?;
        found.map(|value| decode(value.value())).transpose()
    }

    /// Every version of plan `key`, oldest first.
    pub fn plan_versions(&self, key: &str) -> Result<Vec<PlanVersion>, StateError> {
        let transaction = self.database.begin_read()?;
        let versions = transaction.open_table(PLAN_VERSIONS)?;
        let mut listed = Vec::new();
        for entry in versions.range((key, 0)..=(key, u32::MAX))? {
            listed.push(decode(entry?.1.value())?);
        }
        Ok(listed)
    }

    /// The approved version of every plan that has one.
    pub fn approved_plans(&self) -> Result<Vec<PlanVersion>, StateError> {
        let mut approved = Vec::new();
        for head in self.plan_heads()? {
            if let Some(version) = head.approved_version
                && let Some(found) = self.plan_version(&head.key, version)?
            {
                approved.push(found);
            }
        }
        Ok(approved)
    }

    /// Deletes a plan and its versions; refused while a source keeps to it.
    pub fn delete_plan(&self, key: &str, actor: &Actor) -> Result<(), StateError> {
        let attached: Vec<String> = self
            .sources()?
            .into_iter()
            .filter(|source| {
                source
                    .contract
                    .as_ref()
                    .is_some_and(|contract| contract.plan == key)
            })
            .map(|source| source.id)
            .collect();
        if !attached.is_empty() {
            return Err(StateError::Conflict(format!(
                "plan {key} is attached to {}; detach it first",
                attached.join(", ")
            )));
        }
        let transaction = self.database.begin_write()?;
        {
            let mut plans = transaction.open_table(PLANS)?;
            if plans.remove(key)?.is_none() {
                return Err(StateError::NotFound(format!("plan {key}")));
            }
            let mut versions = transaction.open_table(PLAN_VERSIONS)?;
            versions.retain_in((key, 0)..=(key, u32::MAX), |_, _| false)?;
        }
        audit::append(
            &transaction,
            Change {
                actor,
                action: "plan.deleted",
                target: key,
                detail: serde_json::Value::Null,
            },
        )?;
        transaction.commit()?;
        Ok(())
    }

    /// Attaches a plan to a source (or detaches it with `None`).
    pub fn set_source_contract(
        &self,
        source_id: &str,
        contract: Option<SourceContract>,
        actor: &Actor,
    ) -> Result<Source, StateError> {
        if let Some(contract) = &contract
            && self.plan_head(&contract.plan)?.is_none()
        {
            return Err(StateError::NotFound(format!("plan {}", contract.plan)));
        }
        self.update_source(source_id, actor, "source.contract_changed", |source| {
            source.contract = contract;
            json!({"contract": source.contract})
        })
    }

    /// Marks quarantine records as replayed; returns those that already were, untouched.
    pub fn mark_replayed(&self, records: &[u64], actor: &Actor) -> Result<Vec<u64>, StateError> {
        let transaction = self.database.begin_write()?;
        let mut already = Vec::new();
        {
            let mut replayed = transaction.open_table(REPLAYED)?;
            let entry = encode(&Replayed {
                at: Utc::now(),
                by: actor.clone(),
            })?;
            for &record in records {
                if replayed.get(record)?.is_some() {
                    already.push(record);
                } else {
                    replayed.insert(record, entry.as_slice())?;
                }
            }
        }
        audit::append(
            &transaction,
            Change {
                actor,
                action: "quarantine.replayed",
                target: "quarantine",
                detail: json!({"records": records.len() - already.len()}),
            },
        )?;
        transaction.commit()?;
        Ok(already)
    }

    /// When each of `records` was replayed, for those that were.
    pub fn replayed(&self, records: &[u64]) -> Result<Vec<Option<Replayed>>, StateError> {
        let transaction = self.database.begin_read()?;
        let replayed = transaction.open_table(REPLAYED)?;
        records
            .iter()
            .map(|&record| {
                replayed
                    .get(record)?
                    .map(|value| decode(value.value()))
                    .transpose()
            })
            .collect()
    }
}
