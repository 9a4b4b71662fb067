//! A destination filter's conditions on the event's fields, so that a trigger fires on "Order
//! Completed with a total of at least 100" rather than on every order. They are the conditions
//! of funnel steps and audience behaviour (`{"field": "properties.total", "op": "gte", "value":
//! 100}`), evaluated here on one event as it is applied.

use serde_json::Value;
use silta_analytics::{Comparison, Field, Filter};
use silta_model::Event;

pub const MAX_CONDITIONS: usize = 20;

/// The value of `field` in `event`, if it has one.
fn value_of(field: &Field, event: &Event) -> Option<Value> {
    let text = |value: &Option<String>| value.clone().map(Value::String);
    match field {
        Field::Column(column) => match column.as_str() {
            "event" => text(&event.event),
            "name" => text(&event.name),
            "type" => Some(Value::String(event.event_type.as_str().to_string())),
            "source" => Some(Value::String(event.source_id.clone())),
            "channel" => Some(Value::String(event.channel.as_str().to_string())),
            "page_url" => text(&event.page_url),
            "page_path" => text(&event.page_path),
            "page_referrer" => text(&event.page_referrer),
            "page_title" => text(&event.page_title),
            "utm_source" => text(&event.utm_source),
            "utm_medium" => text(&event.utm_medium),
            "utm_campaign" => text(&event.utm_campaign),
            "utm_term" => text(&event.utm_term),
            "utm_content" => text(&event.utm_content),
            "revenue" => event
                .revenue
                .and_then(|revenue| serde_json::Number::from_f64(revenue).map(Value::Number)),
            "currency" => text(&event.currency),
            "user_agent" => text(&event.user_agent),
            _ => None,
        },
        Field::Json { document, path } => {
            let source = match document.column() {
                "properties" => &event.properties,
                "context" => &event.context,
                _ => &event.traits,
            };
            let parsed: Value = serde_json::from_str(source).ok()?;
            path.iter()
                .try_fold(&parsed, |value, step| match value {
                    Value::Object(fields) => fields.get(step),
                    Value::Array(items) => step.parse::<usize>().ok().and_then(|at| items.get(at)),
                    _ => None,
                })
                .cloned()
        }
    }
}

/// Whether `event` meets `condition`. A missing field never does (not even `ne`), as in
/// funnels and audiences; numbers compare as numbers, text as text.
pub fn holds(condition: &Filter, event: &Event) -> bool {
    let Some(field) = value_of(&condition.field, event) else {
        return false;
    };
    let op = condition.op;
    match (&field, &condition.value) {
        (Value::String(text), Value::String(part)) if op == Comparison::Contains => {
            text.contains(part.as_str())
        }
        (_, _) if op == Comparison::Contains => false,
        (Value::Number(left), Value::Number(right)) => match (left.as_f64(), right.as_f64()) {
            (Some(left), Some(right)) => op.holds(&left, &right),
            _ => false,
        },
        (Value::String(left), Value::String(right)) => op.holds(left, right),
        (Value::Bool(left), Value::Bool(right)) => op.holds(left, right),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn condition(value: Value) -> Filter {
        serde_json::from_value(value).expect("condition parses")
    }

    #[test]
    fn conditions_read_columns_and_json_paths_and_compare_by_type() {
        let order = Event {
            event: Some("Order Completed".into()),
            revenue: Some(120.0),
            properties: json!({"total": 120, "coupon": "SPRING-10", "items": [{"sku": "A"}]})
                .to_string(),
            ..Event::default()
        };
        let holds = |value: Value| holds(&condition(value), &order);
        assert!(holds(
            json!({"field": "properties.total", "op": "gte", "value": 100})
        ));
        assert!(holds(
            json!({"field": "properties.total", "op": "eq", "value": 120.0})
        ));
        assert!(holds(
            json!({"field": "revenue", "op": "gt", "value": 119.5})
        ));
        assert!(!holds(
            json!({"field": "properties.total", "op": "lt", "value": 100})
        ));
        assert!(!holds(
            json!({"field": "properties.total", "op": "gt", "value": "100"})
        ));
        assert!(holds(
            json!({"field": "properties.coupon", "op": "contains", "value": "SPRING"})
        ));
        assert!(holds(
            json!({"field": "properties.items.0.sku", "op": "eq", "value": "A"})
        ));
        assert!(holds(
            json!({"field": "event", "op": "ne", "value": "Signed Up"})
        ));
        assert!(!holds(
            json!({"field": "properties.missing", "op": "ne", "value": "x"})
        ));
        assert!(!holds(
            json!({"field": "utm_source", "op": "eq", "value": "x"})
        ));
    }
}
