//! An audience definition as one DataFusion plan over the `profiles` table and the events:
//! behaviour counted per person in one pass over the events, sequences by joins that find
//! each step's earliest occurrence after the previous one, and the condition tree as one
//! filter expression over the results. User values are literals, never SQL text.

use datafusion::common::JoinType;
use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::functions_aggregate::expr_fn::{min, sum};
use datafusion::logical_expr::{Expr, when};
use datafusion::prelude::{SessionContext, coalesce, col, lit};
use silta_analytics::audience::{Condition, EventMatch, TraitCondition};
use silta_analytics::{Comparison, Window};

use crate::analytics::expressions::{
    compare, compare_json, event_match, function, json_text, not_bot, time_range,
};

/// Profile columns that `computed(name)` may name, besides the declared computed traits.
const PROFILE_COLUMNS: &[&str] = &[
    "event_count",
    "order_count",
    "total_revenue",
    "average_revenue",
    "identifier_count",
    "first_touch_source",
    "first_touch_medium",
    "first_touch_campaign",
    "last_touch_source",
    "last_touch_medium",
    "last_touch_campaign",
    "last_page",
];

const NUMERIC_PROFILE_COLUMNS: &[&str] = &[
    "event_count",
    "order_count",
    "total_revenue",
    "average_revenue",
    "identifier_count",
];

/// The behavioural conditions of a tree, numbered in the order the filter meets them.
#[derive(Default)]
struct Leaves<'a> {
    events: Vec<&'a silta_analytics::audience::EventCondition>,
    sequences: Vec<&'a silta_analytics::audience::SequenceCondition>,
}

fn collect<'a>(condition: &'a Condition, leaves: &mut Leaves<'a>) {
    match condition {
        Condition::And(children) | Condition::Or(children) => {
            children.iter().for_each(|child| collect(child, leaves));
        }
        Condition::Not(child) => collect(child, leaves),
        Condition::Event(event) => leaves.events.push(event),
        Condition::Sequence(sequence) => leaves.sequences.push(sequence),
        Condition::Trait(_) | Condition::Consent(_) | Condition::InAudience(_) => {}
    }
}

/// The `profiles` columns the conditions read: the profile table builds only those.
fn profile_columns_used(condition: &Condition, used: &mut Vec<&'static str>) {
    match condition {
        Condition::And(children) | Condition::Or(children) => {
            children
                .iter()
                .for_each(|child| profile_columns_used(child, used));
        }
        Condition::Not(child) => profile_columns_used(child, used),
        Condition::Trait(condition) if !condition.computed => used.push("traits"),
        Condition::Trait(condition) => used.push(
            PROFILE_COLUMNS
                .iter()
                .find(|name| **name == condition.name)
                .copied()
                .unwrap_or("computed_traits"),
        ),
        Condition::Consent(_) => used.push("consent"),
        Condition::Event(_) | Condition::Sequence(_) | Condition::InAudience(_) => {}
    }
}

/// The window as `[start, end)`, or all time.
fn bounds(window: Option<&Window>, now_micros: i64) -> (i64, i64) {
    window.map_or((0, i64::MAX / 2), |window| window.bounds(now_micros))
}

fn matching(
    context: &SessionContext,
    event: &EventMatch,
    window: Option<&Window>,
    now_micros: i64,
) -> Result<Expr, DataFusionError> {
    let (start, end) = bounds(window, now_micros);
    let mut condition = event_match(context, event.name.as_deref(), &event.filters)?;
    if window.is_some() {
        condition = condition.and(time_range(start, end));
    }
    Ok(condition)
}

fn person(context: &SessionContext) -> Result<Expr, DataFusionError> {
    function(
        context,
        "profile_id",
        vec![col("user_id"), col("anonymous_id")],
    )
}

/// One row per person with a count column `e{i}` per event condition.
async fn behaviour(
    context: &SessionContext,
    events: &[&silta_analytics::audience::EventCondition],
    now_micros: i64,
) -> Result<DataFrame, DataFusionError> {
    let mut any = lit(false);
    let mut flags = vec![person(context)?.alias("b_pid")];
    let mut counts = Vec::with_capacity(events.len());
    for (index, event) in events.iter().enumerate() {
        let matches = matching(context, &event.event, event.window.as_ref(), now_micros)?;
        flags.push(
            when(matches.clone(), lit(1_i64))
                .otherwise(lit(0_i64))?
                .alias(format!("f{index}")),
        );
        counts.push(sum(col(format!("f{index}"))).alias(format!("e{index}")));
        any = any.or(matches);
    }
    context
        .table("events")
        .await?
        .filter(not_bot().and(any))?
        .select(flags)?
        .filter(col("b_pid").is_not_null())?
        .aggregate(vec![col("b_pid")], counts)
}

/// The people who did the steps in order (each strictly after the previous), as `s{index}`.
async fn sequence(
    context: &SessionContext,
    steps: &[EventMatch],
    window: Option<&Window>,
    now_micros: i64,
    index: usize,
) -> Result<DataFrame, DataFusionError> {
    let step_times = |step: usize| {
        let event = &steps[step];
        async move {
            context
                .table("events")
                .await?
                .filter(not_bot().and(matching(context, event, window, now_micros)?))?
                .select(vec![
                    person(context)?.alias(format!("p{step}")),
                    col("timestamp").alias(format!("t{step}")),
                ])
        }
    };
    let mut reached = step_times(0)
        .await?
        .aggregate(vec![col("p0")], vec![min(col("t0")).alias("at0")])?
        .select(vec![col("p0").alias("pid"), col("at0").alias("at")])?;
    for step in 1..steps.len() {
        let (person_column, time_column) = (format!("p{step}"), format!("t{step}"));
        reached = reached
            .join_on(
                step_times(step).await?,
                JoinType::Inner,
                [
                    col("pid").eq(col(&person_column)),
                    col(&time_column).gt(col("at")),
                ],
            )?
            .aggregate(vec![col("pid")], vec![min(col(&time_column)).alias("next")])?
            .select(vec![col("pid"), col("next").alias("at")])?;
    }
    reached.select(vec![col("pid").alias(format!("s{index}"))])
}

fn trait_condition(
    context: &SessionContext,
    condition: &TraitCondition,
) -> Result<Expr, DataFusionError> {
    let path: Vec<String> = condition.name.split('.').map(str::to_string).collect();
    let column = if condition.computed {
        "computed_traits"
    } else {
        "traits"
    };
    let profile_column = PROFILE_COLUMNS
        .iter()
        .find(|name| condition.computed && **name == condition.name);
    let Some(op) = condition.op.comparison() else {
        return Ok(match profile_column {
            Some(name) => col(*name).is_not_null(),
            None => json_text(context, column, &path)?.is_not_null(),
        });
    };
    let value = condition
        .value
        .as_ref()
        .ok_or_else(|| DataFusionError::Plan(format!("trait {} needs a value", condition.name)))?;
    match profile_column {
        Some(name) => {
            let right = match value {
                serde_json::Value::Number(number) => lit(number.as_f64().unwrap_or(f64::NAN)),
                serde_json::Value::String(text) => lit(text.clone()),
                other => lit(other.to_string()),
            };
            let numeric_column = NUMERIC_PROFILE_COLUMNS.contains(name);
            if numeric_column && !value.is_number() {
                return Err(DataFusionError::Plan(format!(
                    "{name} compares with numbers"
                )));
            }
            let left = if value.is_number() {
                datafusion::prelude::try_cast(col(*name), arrow::datatypes::DataType::Float64)
            } else {
                col(*name)
            };
            Ok(compare(left, op, right))
        }
        None => compare_json(context, column, &path, op, value),
    }
}

/// The tree as a filter over the joined columns; every leaf is true or false, never null, so
/// that `not` means "not".
fn expression(
    context: &SessionContext,
    condition: &Condition,
    next: &mut (usize, usize),
) -> Result<Expr, DataFusionError> {
    let definite = |expr: Expr| coalesce(vec![expr, lit(false)]);
    Ok(match condition {
        Condition::And(children) | Condition::Or(children) => {
            let is_and = matches!(condition, Condition::And(_));
            let mut combined: Option<Expr> = None;
            for child in children {
                let child = expression(context, child, next)?;
                combined = Some(match combined {
                    None => child,
                    Some(so_far) if is_and => so_far.and(child),
                    Some(so_far) => so_far.or(child),
                });
            }
            combined.unwrap_or(lit(is_and))
        }
        Condition::Not(child) => !expression(context, child, next)?,
        Condition::Event(event) => {
            let index = next.0;
            next.0 += 1;
            let count = coalesce(vec![col(format!("e{index}")), lit(0_i64)]);
            let threshold = lit(event.count.value as i64);
            match event.count.op {
                Comparison::Contains => lit(false),
                op => compare(count, op, threshold),
            }
        }
        Condition::Sequence(_) => {
            let index = next.1;
            next.1 += 1;
            col(format!("s{index}")).is_not_null()
        }
        Condition::Trait(condition) => definite(trait_condition(context, condition)?),
        Condition::Consent(purpose) => definite(function(
            context,
            "json_get_bool",
            vec![col("consent"), lit(purpose.clone())],
        )?),
        Condition::InAudience(key) => {
            return Err(DataFusionError::Plan(format!(
                "audience {key} was not expanded before planning"
            )));
        }
    })
}

/// The profile ids (`profile_id`) of the people `condition` selects at `now_micros`.
/// `condition` must have its audience references expanded.
pub async fn members(
    context: &SessionContext,
    condition: &Condition,
    now_micros: i64,
) -> Result<DataFrame, DataFusionError> {
    let mut leaves = Leaves::default();
    collect(condition, &mut leaves);
    let mut used = vec!["profile_id"];
    profile_columns_used(condition, &mut used);
    used.sort_unstable();
    used.dedup();
    let columns: Vec<Expr> = used.into_iter().map(col).collect();
    let mut people = context.table("profiles").await?.select(columns)?;
    if !leaves.events.is_empty() {
        let counted = behaviour(context, &leaves.events, now_micros).await?;
        people = people.join_on(
            counted,
            JoinType::Left,
            [col("profile_id").eq(col("b_pid"))],
        )?;
    }
    for (index, steps) in leaves.sequences.iter().enumerate() {
        let done = sequence(
            context,
            &steps.steps,
            steps.window.as_ref(),
            now_micros,
            index,
        )
        .await?;
        people = people.join_on(
            done,
            JoinType::Left,
            [col("profile_id").eq(col(format!("s{index}")))],
        )?;
    }
    let filter = expression(context, condition, &mut (0, 0))?;
    people.filter(filter)?.select(vec![col("profile_id")])
}
