use proptest::prelude::*;
use serde_json::{Value, json};
use silta_model::{EventType, ViolationKind};

use crate::{ChangeKind, CompiledPlan, Drafter, Observed, diff_plans, parse_plan, plan_to_yaml};

const SHOP_PLAN: &str = r#"
name: Web shop
owner: shop-team
events:
  - name: Order Completed
    description: A customer paid for an order.
    properties:
      type: object
      required: [order_id, revenue]
      additionalProperties: false
      properties:
        order_id: {type: string}
        revenue: {type: number, minimum: 0}
        currency: {type: string, enum: [EUR, USD, SEK]}
        contact: {type: string}
    classification:
      contact: {personal: true, category: contact}
  - type: identify
    traits:
      type: object
      properties:
        email: {type: string}
        plan: {type: string}
    classification:
      email: {personal: true, category: contact}
  - type: page
    properties:
      type: object
      properties:
        path: {type: string}
"#;

fn kinds(
    plan: &CompiledPlan,
    event_type: EventType,
    name: Option<&str>,
    payload: Value,
) -> Vec<(ViolationKind, String)> {
    plan.check(&Observed {
        event_type,
        name,
        payload: &payload,
    })
    .into_iter()
    .map(|violation| (violation.kind, violation.field))
    .collect()
}

#[test]
fn events_are_checked_against_their_schema() {
    let plan =
        CompiledPlan::compile(&parse_plan(SHOP_PLAN).expect("valid plan")).expect("compiles");
    let order = Some("Order Completed");
    assert!(
        kinds(
            &plan,
            EventType::Track,
            order,
            json!({"order_id": "o1", "revenue": 10.5, "currency": "EUR"})
        )
        .is_empty()
    );
    assert_eq!(
        kinds(&plan, EventType::Track, order, json!({"revenue": "10"})),
        vec![
            (
                ViolationKind::MissingRequired,
                "properties.order_id".to_string()
            ),
            (ViolationKind::WrongType, "properties.revenue".to_string()),
        ]
    );
    assert_eq!(
        kinds(&plan, EventType::Track, Some("Cart Viewed"), json!({})),
        vec![(ViolationKind::UnplannedEvent, String::new())]
    );
}

#[test]
fn every_kind_of_schema_violation_is_named() {
    let plan =
        CompiledPlan::compile(&parse_plan(SHOP_PLAN).expect("valid plan")).expect("compiles");
    let mut found = kinds(
        &plan,
        EventType::Track,
        Some("Order Completed"),
        json!({"order_id": "o1", "revenue": -1, "currency": "NOK", "coupon": "X"}),
    );
    found.sort();
    assert_eq!(
        found,
        vec![
            (
                ViolationKind::EnumMismatch,
                "properties.currency".to_string()
            ),
            (
                ViolationKind::UnplannedProperty,
                "properties.coupon".to_string()
            ),
            (
                ViolationKind::InvalidValue,
                "properties.revenue".to_string()
            ),
        ]
    );
}

#[test]
fn personal_data_is_expected_only_where_classified() {
    let plan =
        CompiledPlan::compile(&parse_plan(SHOP_PLAN).expect("valid plan")).expect("compiles");
    assert!(
        kinds(
            &plan,
            EventType::Identify,
            None,
            json!({"email": "anna@example.fi"})
        )
        .is_empty()
    );
    assert_eq!(
        kinds(
            &plan,
            EventType::Identify,
            None,
            json!({"plan": "anna@example.fi"})
        ),
        vec![(ViolationKind::PersonalData, "traits.plan".to_string())]
    );
    assert_eq!(
        kinds(
            &plan,
            EventType::Page,
            Some("Any page"),
            json!({"path": "/x", "q": "+358 40 123 4567"})
        ),
        vec![(ViolationKind::PersonalData, "properties.q".to_string())]
    );
    let violations = plan.check(&Observed {
        event_type: EventType::Identify,
        name: None,
        payload: &json!({"plan": "anna@example.fi"}),
    });
    assert!(
        !violations[0].message.contains("anna"),
        "messages never quote values"
    );
}

#[test]
fn types_the_plan_does_not_mention_are_not_checked() {
    let plan = CompiledPlan::compile(
        &parse_plan("name: Only orders\nevents:\n  - name: Order Completed\n").expect("valid"),
    )
    .expect("compiles");
    assert!(kinds(&plan, EventType::Identify, None, json!({"anything": 1})).is_empty());
    assert!(kinds(&plan, EventType::Alias, None, json!({})).is_empty());
    assert_eq!(
        kinds(&plan, EventType::Track, Some("Other"), json!({})).len(),
        1
    );
}

#[test]
fn every_problem_of_a_file_is_reported_with_its_position() {
    let text = "name: Broken\nevents:\n  - type: track\n    description: no name\n  - name: Signed Up\n    colour: blue\n  - name: Paid\n    properties: {type: object, required: 5}\n  - name: Paid\n";
    let problems = parse_plan(text).expect_err("invalid plan");
    let lines: Vec<Option<usize>> = problems.iter().map(|problem| problem.line).collect();
    // The structure is checked first: the unknown key on line 6 is reported alone.
    assert_eq!(lines, vec![Some(6)], "{problems:?}");
    assert!(problems[0].message.contains("colour"), "{problems:?}");

    let text = "name: Broken\nevents:\n  - type: track\n    description: no name\n  - name: Paid\n    properties: {type: object, required: 5}\n  - name: Paid\n";
    let problems = parse_plan(text).expect_err("invalid plan");
    let found: Vec<(Option<usize>, &str)> = problems
        .iter()
        .map(|problem| (problem.line, problem.path.as_str()))
        .collect();
    assert_eq!(
        found,
        vec![
            (Some(3), "/events/0"),
            (Some(6), "/events/1/properties/required"),
            (Some(7), "/events/2"),
        ],
        "{problems:?}"
    );
}

#[test]
fn syntax_errors_point_at_the_line() {
    let problems = parse_plan("name: x\nevents: [\n  - a: b\n").expect_err("bad yaml");
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].line.is_some_and(|line| line >= 2),
        "{problems:?}"
    );
}

#[test]
fn plans_round_trip_through_yaml_and_json() {
    let plan = parse_plan(SHOP_PLAN).expect("valid plan");
    let yaml = plan_to_yaml(&plan);
    assert!(yaml.starts_with("name: Web shop"), "{yaml}");
    assert_eq!(parse_plan(&yaml).expect("reads back"), plan);
    let json = serde_json::to_string_pretty(&plan).expect("serialises");
    assert_eq!(parse_plan(&json).expect("JSON reads as YAML"), plan);
}

#[test]
fn diffs_say_what_changed() {
    let old = parse_plan(SHOP_PLAN).expect("valid plan");
    let new_text = SHOP_PLAN
        .replace("required: [order_id, revenue]", "required: [order_id, revenue, currency]")
        .replace("revenue: {type: number, minimum: 0}", "revenue: {type: integer, minimum: 0}")
        .replace("  - type: page\n    properties:\n      type: object\n      properties:\n        path: {type: string}\n", "  - name: Signed Up\n");
    let new = parse_plan(&new_text).expect("valid plan");
    let lines: Vec<String> = diff_plans(&old, &new)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        lines,
        vec![
            "~ track \"Order Completed\" currency: now required",
            "~ track \"Order Completed\" revenue: type number → integer",
            "+ track \"Signed Up\": new event with 0 properties",
            "- page: event removed from the plan",
        ]
    );
    assert!(diff_plans(&old, &old).is_empty());
    assert!(
        diff_plans(&new, &old)
            .iter()
            .any(|change| change.kind == ChangeKind::Added && change.event == "page")
    );
}

fn payload() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(Value::from),
        (-1000i64..1000).prop_map(Value::from),
        (-1e3f64..1e3).prop_map(Value::from),
        "[a-z]{0,3}".prop_map(Value::from),
        Just(Value::Null),
    ];
    let field = leaf.prop_recursive(2, 8, 3, |inner| {
        proptest::collection::btree_map("[a-c]", inner, 0..3)
            .prop_map(|fields| Value::Object(fields.into_iter().collect()))
    });
    proptest::collection::btree_map("[a-e]", field, 0..5)
        .prop_map(|fields| Value::Object(fields.into_iter().collect()))
}

proptest! {
    /// A plan drafted from events accepts every one of them.
    #[test]
    fn drafts_accept_the_events_they_were_drawn_from(
        events in proptest::collection::vec(("(A|B)", payload()), 1..40)
    ) {
        let mut drafter = Drafter::default();
        for (name, payload) in &events {
            drafter.observe(EventType::Track, Some(name), payload);
        }
        let plan = drafter.plan("Draft");
        let text = plan_to_yaml(&plan);
        let read_back = parse_plan(&text).map_err(|problems| TestCaseError::fail(format!("{problems:?}\n{text}")))?;
        prop_assert_eq!(&read_back, &plan);
        let compiled = CompiledPlan::compile(&plan).map_err(|problems| TestCaseError::fail(format!("{problems:?}")))?;
        for (name, payload) in &events {
            let violations = compiled.check(&Observed { event_type: EventType::Track, name: Some(name), payload });
            prop_assert!(violations.is_empty(), "{:?} for {} in\n{}", violations, payload, text);
        }
    }
}

#[test]
fn drafts_describe_enumerations_presence_and_personal_fields() {
    let mut drafter = Drafter::default();
    for index in 0..10 {
        let mut payload = json!({"currency": if index % 2 == 0 { "EUR" } else { "USD" }, "order_id": format!("o{index}")});
        if index < 5 {
            payload["email"] = json!(format!("person{index}@example.com"));
        }
        drafter.observe(EventType::Track, Some("Order Completed"), &payload);
    }
    let plan = drafter.plan("Draft");
    let schema = plan.events[0].properties.as_ref().expect("schema");
    assert_eq!(schema["required"], json!(["currency", "order_id"]));
    assert_eq!(
        schema["properties"]["currency"]["enum"],
        json!(["EUR", "USD"])
    );
    assert!(schema["properties"]["order_id"].get("enum").is_none());
    assert_eq!(
        schema["properties"]["email"]["description"],
        json!("Present in 50 % of 10 events.")
    );
    assert!(plan.events[0].classification["email"].personal);
}

#[test]
fn hostile_files_are_refused_without_exhausting_memory_or_stack() {
    let laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
    assert!(parse_plan(laughs).is_err());
    let deep = format!(
        "name: x\nevents: {}{}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(parse_plan(&deep).is_err());
    let large = format!(
        "name: x\ndescription: \"{}\"\n",
        "y".repeat(crate::MAX_PLAN_BYTES)
    );
    assert!(parse_plan(&large).is_err());
}
