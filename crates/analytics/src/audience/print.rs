//! Condition -> text form. Whatever `validate` accepts prints as text that `parse` reads back
//! as the same tree: groups get parentheses wherever precedence or nesting would otherwise
//! be lost, and names print bare only when they read back as one identifier.

use std::fmt::{self, Write};

use super::lex::is_identifier;
use super::tree::{Condition, EventCondition, EventMatch, TraitCondition};
use crate::filter::{Filter, Window};

impl fmt::Display for Condition {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // A group inside a group of the same kind keeps its parentheses, or it would read
            // back merged into its parent.
            Condition::And(children) => write_group(formatter, children, " and ", |child| {
                matches!(child, Condition::And(_) | Condition::Or(_))
            }),
            Condition::Or(children) => write_group(formatter, children, " or ", |child| {
                matches!(child, Condition::Or(_))
            }),
            Condition::Not(negated) => {
                formatter.write_str("not ")?;
                let is_group = matches!(**negated, Condition::And(_) | Condition::Or(_));
                write_operand(formatter, negated, is_group)
            }
            Condition::Event(event) => write_event(formatter, event),
            Condition::Sequence(sequence) => {
                for (index, step) in sequence.steps.iter().enumerate() {
                    if index > 0 {
                        formatter.write_str(".then(")?;
                    }
                    write_event_match(formatter, step)?;
                    if index > 0 {
                        formatter.write_char(')')?;
                    }
                }
                write_within(formatter, sequence.window)
            }
            Condition::Trait(trait_condition) => write_trait(formatter, trait_condition),
            Condition::Consent(purpose) => write_call(formatter, "consent", purpose),
            Condition::InAudience(key) => write_call(formatter, "in_audience", key),
        }
    }
}

fn write_group(
    formatter: &mut fmt::Formatter<'_>,
    children: &[Condition],
    separator: &str,
    needs_parentheses: fn(&Condition) -> bool,
) -> fmt::Result {
    for (index, child) in children.iter().enumerate() {
        if index > 0 {
            formatter.write_str(separator)?;
        }
        write_operand(formatter, child, needs_parentheses(child))?;
    }
    Ok(())
}

fn write_operand(
    formatter: &mut fmt::Formatter<'_>,
    condition: &Condition,
    in_parentheses: bool,
) -> fmt::Result {
    if in_parentheses {
        write!(formatter, "({condition})")
    } else {
        write!(formatter, "{condition}")
    }
}

fn write_call(formatter: &mut fmt::Formatter<'_>, function: &str, text: &str) -> fmt::Result {
    write!(formatter, "{function}(")?;
    write_string(formatter, text)?;
    formatter.write_char(')')
}

fn write_event(formatter: &mut fmt::Formatter<'_>, event: &EventCondition) -> fmt::Result {
    write_event_match(formatter, &event.event)?;
    if event.count.is_at_least_once() {
        return write_within(formatter, event.window);
    }
    formatter.write_str(".count(")?;
    if let Some(window) = event.window {
        write_window(formatter, window)?;
    }
    write!(
        formatter,
        ") {} {}",
        event.count.op.symbol(),
        event.count.value
    )
}

fn write_event_match(formatter: &mut fmt::Formatter<'_>, event: &EventMatch) -> fmt::Result {
    match &event.name {
        Some(name) => write_call(formatter, "event", name)?,
        None => formatter.write_str("any_event()")?,
    }
    if event.filters.is_empty() {
        return Ok(());
    }
    formatter.write_str(".where(")?;
    for (index, filter) in event.filters.iter().enumerate() {
        if index > 0 {
            formatter.write_str(", ")?;
        }
        write_filter(formatter, filter)?;
    }
    formatter.write_char(')')
}

fn write_filter(formatter: &mut fmt::Formatter<'_>, filter: &Filter) -> fmt::Result {
    write_name(formatter, &filter.field.to_string())?;
    write!(formatter, " {} ", filter.op.symbol())?;
    write_value(formatter, &filter.value)
}

fn write_within(formatter: &mut fmt::Formatter<'_>, window: Option<Window>) -> fmt::Result {
    let Some(window) = window else {
        return Ok(());
    };
    formatter.write_str(".within(")?;
    write_window(formatter, window)?;
    formatter.write_char(')')
}

fn write_window(formatter: &mut fmt::Formatter<'_>, window: Window) -> fmt::Result {
    match window {
        Window::Last { last_days } => write!(formatter, "last {last_days}d"),
        Window::Between { from, to } => write!(formatter, "between \"{from}\" and \"{to}\""),
    }
}

fn write_trait(
    formatter: &mut fmt::Formatter<'_>,
    trait_condition: &TraitCondition,
) -> fmt::Result {
    let function = if trait_condition.computed {
        "computed"
    } else {
        "trait"
    };
    write!(formatter, "{function}(")?;
    write_name(formatter, &trait_condition.name)?;
    formatter.write_char(')')?;
    match (trait_condition.op.comparison(), &trait_condition.value) {
        (None, _) => formatter.write_str(" exists"),
        (Some(comparison), Some(value)) => {
            write!(formatter, " {} ", comparison.symbol())?;
            write_value(formatter, value)
        }
        // Refused by `validate`: there is nothing to print.
        (Some(_), None) => Ok(()),
    }
}

/// A field or trait name: bare when it reads back as one identifier token.
fn write_name(formatter: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
    if is_identifier(name) {
        formatter.write_str(name)
    } else {
        write_string(formatter, name)
    }
}

fn write_value(formatter: &mut fmt::Formatter<'_>, value: &serde_json::Value) -> fmt::Result {
    match value {
        serde_json::Value::String(text) => write_string(formatter, text),
        // Numbers and booleans print as in JSON, which the lexer reads; other values are
        // refused by `validate`.
        other => write!(formatter, "{other}"),
    }
}

/// A string in double quotes with JSON escapes.
fn write_string(formatter: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    formatter.write_char('"')?;
    for character in text.chars() {
        match character {
            '"' => formatter.write_str("\\\"")?,
            '\\' => formatter.write_str("\\\\")?,
            '\n' => formatter.write_str("\\n")?,
            '\r' => formatter.write_str("\\r")?,
            '\t' => formatter.write_str("\\t")?,
            control if control.is_control() => {
                for code_unit in control.encode_utf16(&mut [0; 2]) {
                    write!(formatter, "\\u{code_unit:04x}")?;
                }
            }
            other => formatter.write_char(other)?,
        }
    }
    formatter.write_char('"')
}
