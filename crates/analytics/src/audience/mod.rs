//! Audience definitions: who belongs to an audience, as a condition tree over people's
//! events, traits, consents and other audiences. The tree has a JSON form (serde) for
//! programs and a text form for people, e.g.
//! `event("Order Completed").count(last 30d) >= 2 and trait(plan) = "pro" and not in_audience("churned")`;
//! both go through the same limits, so that a hostile definition is refused before it is
//! evaluated. Evaluating a definition is the caller's work.

mod lex;
mod parse;
mod print;
mod tree;

#[cfg(test)]
mod tests;

pub use parse::{MAX_TEXT_BYTES, ParseError, parse};
pub use tree::{
    AudienceError, Condition, CountCondition, EventCondition, EventMatch, MAX_COUNT, MAX_DEPTH,
    MAX_GROUP_CHILDREN, MAX_NAME_CHARS, MAX_NODES, MAX_SEQUENCE_STEPS, MIN_GROUP_CHILDREN,
    MIN_SEQUENCE_STEPS, SequenceCondition, TraitComparison, TraitCondition,
};

/// `text` in single quotes for an error message, shortened when long.
fn quote(text: &str) -> String {
    const MAX_QUOTED_CHARS: usize = 40;
    if text.chars().count() <= MAX_QUOTED_CHARS {
        return format!("'{text}'");
    }
    let start: String = text.chars().take(MAX_QUOTED_CHARS).collect();
    format!("'{start}…'")
}
