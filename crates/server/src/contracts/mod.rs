//! Data contracts at ingestion: each source's approved tracking plan, compiled once, checks its
//! events; violations are counted, kept on flagged events, and blocked events go to quarantine
//! to be replayed once the plan or the sender is fixed.

pub mod plans;
pub mod quarantine;
pub mod violations;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde_json::Value;
use silta_contracts::{CompiledPlan, Observed};
use silta_model::{
    ContractMode, Event, EventType, Rejected, Violation, ViolationKind, ViolationReport,
};
use silta_state::{PlanVersion, Source, StateStore};

use crate::runtime::StartError;

/// An approved plan version, ready to check events.
pub struct ActivePlan {
    pub key: String,
    pub version: u32,
    pub compiled: CompiledPlan,
}

/// The approved version of every plan, by key. Replaced whole when a version is approved.
#[derive(Default)]
pub struct Contracts {
    active: RwLock<HashMap<String, Arc<ActivePlan>>>,
    /// One replay at a time, so that no quarantined event is replayed twice.
    pub(crate) replaying: tokio::sync::Mutex<()>,
}

/// What the plans of a source decided about a request's valid events.
#[derive(Default)]
pub struct Enforced {
    /// Blocked events, as quarantine records with their violations.
    pub blocked: Vec<Rejected>,
    /// The violations of every event that had some, whatever was done with it.
    pub reports: Vec<ViolationReport>,
}

impl Contracts {
    /// Compiles the approved version of every plan.
    pub fn load(state: &StateStore) -> Result<Contracts, StartError> {
        let contracts = Contracts::default();
        for approved in state.approved_plans()? {
            contracts.activate(&approved).map_err(StartError::Plan)?;
        }
        Ok(contracts)
    }

    /// Makes `approved` the version events of its plan are checked against.
    pub fn activate(&self, approved: &PlanVersion) -> Result<(), String> {
        let compiled = CompiledPlan::compile(&approved.plan).map_err(|problems| {
            format!(
                "approved plan {} version {} does not compile: {}",
                approved.key,
                approved.version,
                problems
                    .first()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            )
        })?;
        self.write().insert(
            approved.key.clone(),
            Arc::new(ActivePlan {
                key: approved.key.clone(),
                version: approved.version,
                compiled,
            }),
        );
        Ok(())
    }

    pub fn deactivate(&self, key: &str) {
        self.write().remove(key);
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<ActivePlan>>> {
        self.active
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn plan(&self, key: &str) -> Option<Arc<ActivePlan>> {
        self.active
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    /// Checks `events` against the source's approved plan. Flagged events keep their
    /// violations; blocked ones leave `events` for quarantine.
    pub fn enforce(&self, source: &Source, events: &mut Vec<Event>) -> Enforced {
        let mut enforced = Enforced::default();
        let Some(contract) = &source.contract else {
            return enforced;
        };
        let Some(plan) = self.plan(&contract.plan) else {
            return enforced;
        };
        events.retain_mut(|event| {
            let violations = check(&plan.compiled, event);
            if violations.is_empty() {
                return true;
            }
            let unplanned = violations
                .iter()
                .any(|violation| violation.kind == ViolationKind::UnplannedEvent);
            let mode = if unplanned {
                contract.unplanned
            } else {
                contract.mode
            };
            enforced.reports.push(ViolationReport {
                received_at: event.received_at,
                source_id: event.source_id.clone(),
                message_id: event.message_id.clone(),
                event_type: event.event_type,
                event: event.event.clone().or_else(|| event.name.clone()),
                plan: plan.key.clone(),
                plan_version: plan.version,
                mode,
                violations: violations.clone(),
            });
            match mode {
                ContractMode::Allow => true,
                ContractMode::Flag => {
                    event.violations = violations;
                    true
                }
                ContractMode::Block => {
                    enforced.blocked.push(blocked(&plan, event, violations));
                    false
                }
            }
        });
        enforced
    }
}

/// The plan's verdict on one event: its properties (or traits) against the planned schema.
fn check(plan: &CompiledPlan, event: &Event) -> Vec<Violation> {
    let payload = match event.event_type {
        EventType::Identify | EventType::Group => &event.traits,
        _ => &event.properties,
    };
    let payload: Value = serde_json::from_str(payload).unwrap_or(Value::Null);
    plan.check(&Observed {
        event_type: event.event_type,
        name: event.event.as_deref().or(event.name.as_deref()),
        payload: &payload,
    })
}

fn blocked(plan: &ActivePlan, event: &Event, violations: Vec<Violation>) -> Rejected {
    Rejected {
        received_at: event.received_at,
        source_id: event.source_id.clone(),
        message_id: Some(event.message_id.clone()),
        reason: format!(
            "breaks tracking plan {} (version {}): {}",
            plan.key,
            plan.version,
            violations
                .iter()
                .map(|violation| violation.kind.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        payload: serde_json::to_string(event).unwrap_or_default(),
        violations,
    }
}
