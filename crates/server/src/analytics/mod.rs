//! Funnels, retention, web analytics and attribution over HTTP (every role may read them).
//! Each analysis reads the events it needs with one DataFusion plan, shown as SQL with
//! `explain`, groups the rows by person (merged profile) and counts with `silta_analytics`.

pub mod attribution;
pub mod expressions;
pub mod funnel;
pub mod retention;
pub mod scan;
pub mod web;
