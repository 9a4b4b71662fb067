//! What marketing asks every week, as pure computation over people's events: funnels, retention,
//! web analytics, attribution, and audience definitions (their condition tree and text form).
//! Reading the events is the caller's work; everything here is counted in people.

pub mod attribution;
pub mod audience;
mod filter;
pub mod funnel;
pub mod retention;
pub mod web;

pub use filter::{Comparison, Document, Field, Filter, FilterError, Window};
