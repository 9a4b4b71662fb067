//! Tracking plans as data contracts: the plan document and its files, checking events
//! against an approved version, readable diffs between versions, and drafts drawn from the
//! events actually received. Pure computation; storage and workflow live in the server.

mod check;
mod diff;
mod draft;
mod file;
mod personal;
mod plan;
mod problems;

pub use check::{CompiledPlan, Observed};
pub use diff::{ChangeKind, PlanChange, diff_plans};
pub use draft::Drafter;
pub use file::{MAX_PLAN_BYTES, parse_plan, plan_to_yaml};
pub use personal::looks_personal;
pub use plan::{Category, Classification, PlannedEvent, TrackingPlan};
pub use problems::{Problem, schema_problems, structure_problems};

#[cfg(test)]
mod tests;
