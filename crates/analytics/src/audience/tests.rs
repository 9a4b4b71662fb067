use chrono::NaiveDate;
use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::filter::{Comparison, Document, EVENT_COLUMNS, Field, Filter, Window};

fn named(name: &str) -> EventMatch {
    EventMatch {
        name: Some(name.to_string()),
        filters: Vec::new(),
    }
}

fn any_event() -> EventMatch {
    EventMatch {
        name: None,
        filters: Vec::new(),
    }
}

fn filter(field: &str, op: Comparison, value: serde_json::Value) -> Filter {
    Filter {
        field: Field::parse(field).expect("field"),
        op,
        value,
    }
}

fn did(event: EventMatch) -> Condition {
    Condition::Event(EventCondition {
        event,
        window: None,
        count: CountCondition::AT_LEAST_ONCE,
    })
}

fn did_within(event: EventMatch, window: Window) -> Condition {
    Condition::Event(EventCondition {
        event,
        window: Some(window),
        count: CountCondition::AT_LEAST_ONCE,
    })
}

fn counted(event: EventMatch, window: Option<Window>, op: Comparison, value: u64) -> Condition {
    Condition::Event(EventCondition {
        event,
        window,
        count: CountCondition { op, value },
    })
}

fn trait_is(name: &str, op: TraitComparison, value: Option<serde_json::Value>) -> Condition {
    Condition::Trait(TraitCondition {
        name: name.to_string(),
        computed: false,
        op,
        value,
    })
}

fn consent(purpose: &str) -> Condition {
    Condition::Consent(purpose.to_string())
}

fn not(condition: Condition) -> Condition {
    Condition::Not(Box::new(condition))
}

fn date(text: &str) -> NaiveDate {
    text.parse().expect("date")
}

fn last_days(last_days: u32) -> Window {
    Window::Last { last_days }
}

const EXAMPLE_TEXT: &str = r#"event("Order Completed").count(last 30d) >= 2 and trait(plan) = "pro" and not in_audience("churned")"#;

fn example_tree() -> Condition {
    Condition::And(vec![
        counted(
            named("Order Completed"),
            Some(last_days(30)),
            Comparison::Gte,
            2,
        ),
        trait_is("plan", TraitComparison::Eq, Some(json!("pro"))),
        not(Condition::InAudience("churned".to_string())),
    ])
}

#[test]
fn the_example_reads_the_same_as_text_and_json() {
    assert_eq!(parse(EXAMPLE_TEXT), Ok(example_tree()));
    let from_json: Condition = serde_json::from_str(
        r#"{"and": [
            {"event": {"name": "Order Completed", "window": {"last_days": 30}, "count": {"op": "gte", "value": 2}}},
            {"trait": {"name": "plan", "op": "eq", "value": "pro"}},
            {"not": {"in_audience": "churned"}}
        ]}"#,
    )
    .expect("example json");
    assert_eq!(from_json, example_tree());
    assert_eq!(example_tree().to_string(), EXAMPLE_TEXT);
}

#[test]
fn every_construct_of_the_grammar_parses() {
    let cases: Vec<(&str, Condition)> = vec![
        (r#"event("Signed Up")"#, did(named("Signed Up"))),
        ("any_event()", did(any_event())),
        (
            r#"event("X").within(last 30d)"#,
            did_within(named("X"), last_days(30)),
        ),
        (
            r#"event("X").within(last 2w)"#,
            did_within(named("X"), last_days(14)),
        ),
        (
            r#"event("X").within(between "2026-01-01" and "2026-01-31")"#,
            did_within(
                named("X"),
                Window::Between {
                    from: date("2026-01-01"),
                    to: date("2026-01-31"),
                },
            ),
        ),
        (
            r#"event("X").count() = 0"#,
            counted(named("X"), None, Comparison::Eq, 0),
        ),
        (
            r#"event("X").count(last 7d) < 3"#,
            counted(named("X"), Some(last_days(7)), Comparison::Lt, 3),
        ),
        (r#"event("X").count() >= 1"#, did(named("X"))),
        (
            r#"event("Viewed").where(properties.plan = "pro", page_path contains "/pricing", revenue >= 10.5, properties.trial != true, context.campaign.source <= -3, "properties.first name" > 1e3)"#,
            did(EventMatch {
                name: Some("Viewed".to_string()),
                filters: vec![
                    filter("properties.plan", Comparison::Eq, json!("pro")),
                    filter("page_path", Comparison::Contains, json!("/pricing")),
                    filter("revenue", Comparison::Gte, json!(10.5)),
                    filter("properties.trial", Comparison::Ne, json!(true)),
                    filter("context.campaign.source", Comparison::Lte, json!(-3)),
                    filter("properties.first name", Comparison::Gt, json!(1000.0)),
                ],
            }),
        ),
        (
            r#"event("A").then(event("B")).then(any_event().where(channel = "email"))"#,
            Condition::Sequence(SequenceCondition {
                steps: vec![
                    named("A"),
                    named("B"),
                    EventMatch {
                        name: None,
                        filters: vec![filter("channel", Comparison::Eq, json!("email"))],
                    },
                ],
                window: None,
            }),
        ),
        (
            r#"event("A").then(event("B")).within(last 1d)"#,
            Condition::Sequence(SequenceCondition {
                steps: vec![named("A"), named("B")],
                window: Some(last_days(1)),
            }),
        ),
        (
            r#"trait(plan) = "pro""#,
            trait_is("plan", TraitComparison::Eq, Some(json!("pro"))),
        ),
        (
            r#"trait("2fa") exists"#,
            trait_is("2fa", TraitComparison::Exists, None),
        ),
        (
            r#"trait($email) contains "@acme.com""#,
            trait_is(
                "$email",
                TraitComparison::Contains,
                Some(json!("@acme.com")),
            ),
        ),
        (
            "trait(address.country-code) != false",
            trait_is(
                "address.country-code",
                TraitComparison::Ne,
                Some(json!(false)),
            ),
        ),
        (
            "computed(lifetime_value) > 99.5",
            Condition::Trait(TraitCondition {
                name: "lifetime_value".to_string(),
                computed: true,
                op: TraitComparison::Gt,
                value: Some(json!(99.5)),
            }),
        ),
        (r#"consent("marketing")"#, consent("marketing")),
        (
            r#"in_audience("vip")"#,
            Condition::InAudience("vip".to_string()),
        ),
        (
            r#"channel("email")"#,
            did(EventMatch {
                name: None,
                filters: vec![filter("channel", Comparison::Eq, json!("email"))],
            }),
        ),
        (
            r#"source("web")"#,
            did(EventMatch {
                name: None,
                filters: vec![filter("source", Comparison::Eq, json!("web"))],
            }),
        ),
        (r#"not not consent("a")"#, not(not(consent("a")))),
        (
            r#"consent("a") or consent("b") and consent("c")"#,
            Condition::Or(vec![
                consent("a"),
                Condition::And(vec![consent("b"), consent("c")]),
            ]),
        ),
        (
            r#"(consent("a") or consent("b")) and consent("c")"#,
            Condition::And(vec![
                Condition::Or(vec![consent("a"), consent("b")]),
                consent("c"),
            ]),
        ),
        (
            r#"consent("a") and consent("b") and consent("c")"#,
            Condition::And(vec![consent("a"), consent("b"), consent("c")]),
        ),
        (
            r#"consent("a") and (consent("b") and consent("c"))"#,
            Condition::And(vec![
                consent("a"),
                Condition::And(vec![consent("b"), consent("c")]),
            ]),
        ),
        (
            r#"consent("a") or consent("b") or consent("c")"#,
            Condition::Or(vec![consent("a"), consent("b"), consent("c")]),
        ),
        (
            r#"not (consent("a") or consent("b"))"#,
            not(Condition::Or(vec![consent("a"), consent("b")])),
        ),
        (
            "\n  event ( \"X\" ) . within ( last 30 d )\n",
            did_within(named("X"), last_days(30)),
        ),
        (
            r#"consent("a\"b\\c\nd\t\u00e9\ud83d\ude00")"#,
            consent("a\"b\\c\nd\t\u{e9}\u{1f600}"),
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(parse(text), Ok(expected.clone()), "{text}");
        assert_eq!(parse(&expected.to_string()), Ok(expected), "{text}");
    }
}

#[test]
fn short_forms_print_as_documented() {
    assert_eq!(did(named("X")).to_string(), r#"event("X")"#);
    assert_eq!(
        did_within(named("X"), last_days(14)).to_string(),
        r#"event("X").within(last 14d)"#
    );
    assert_eq!(
        parse(r#"channel("x")"#).map(|tree| tree.to_string()),
        Ok(r#"any_event().where(channel = "x")"#.to_string())
    );
    assert_eq!(
        parse(r#"event("X").count() < 1"#).map(|tree| tree.to_string()),
        Ok(r#"event("X").count() < 1"#.to_string())
    );
}

/// `(text, line, column, expected, found)`.
fn assert_parse_error(text: &str, line: usize, column: usize, expected: &str, found: &str) {
    let error = parse(text).expect_err(text);
    assert_eq!(
        (
            error.line,
            error.column,
            error.expected.as_str(),
            error.found.as_str()
        ),
        (line, column, expected, found),
        "{text}"
    );
}

const CONDITION_EXPECTED: &str = "a condition (event, any_event, trait, computed, consent, in_audience, channel, source, not or '(')";

#[test]
fn mistakes_are_reported_where_they_are() {
    assert_parse_error(
        r#"event("Order"#,
        1,
        7,
        "a '\"' closing this string",
        "end of input",
    );
    assert_parse_error(
        r#"event("Order Completed").count() and trait(plan) = "pro""#,
        1,
        34,
        "a comparison (=, !=, >, >=, <, <=) after count(...)",
        "'and'",
    );
    assert_parse_error(
        r#"evnt("Order")"#,
        1,
        1,
        CONDITION_EXPECTED,
        "unknown function 'evnt'",
    );
    assert_parse_error("event(Order)", 1, 7, "a string in double quotes", "'Order'");
    assert_parse_error(
        r#"event("X").where(password = "x")"#,
        1,
        18,
        &format!(
            "a valid field ({})",
            Field::parse("password").expect_err("unknown field")
        ),
        "'password'",
    );
    assert_parse_error(
        r#"consent("a") consent("b")"#,
        1,
        14,
        "'and', 'or' or end of input",
        "'consent'",
    );
    assert_parse_error(
        &format!("{}consent(\"a\")", "not ".repeat(17)),
        1,
        65,
        "at most 16 levels of parentheses and 'not'",
        "'not'",
    );
    assert_parse_error(
        &format!("{}consent(\"a\"){}", "(".repeat(17), ")".repeat(17)),
        1,
        17,
        "at most 16 levels of parentheses and 'not'",
        "'('",
    );
    assert_parse_error(
        &"a".repeat(MAX_TEXT_BYTES + 1),
        1,
        1,
        "at most 10000 bytes",
        "10001 bytes",
    );
    assert_parse_error("", 1, 1, CONDITION_EXPECTED, "end of input");
    assert_parse_error("  \n ", 2, 2, CONDITION_EXPECTED, "end of input");
    assert_parse_error(r#"consent("a""#, 1, 12, "')'", "end of input");
    assert_parse_error(
        "consent(\"a\") and\n  trait(plan) =",
        2,
        16,
        "a value (a string in double quotes, a number, true or false)",
        "end of input",
    );
    assert_parse_error(
        r#"consent("a\qb")"#,
        1,
        11,
        "an escape: \\\", \\\\, \\/, \\b, \\f, \\n, \\r, \\t or \\uXXXX",
        "'\\q'",
    );
    assert_parse_error(
        r#"consent("\ud83d")"#,
        1,
        10,
        "\\u and four hex digits of a unicode character",
        "'\\ud83d\")'",
    );
    assert_parse_error(
        r#"consent("é") xyz"#,
        1,
        14,
        "'and', 'or' or end of input",
        "'xyz'",
    );
    assert_parse_error(
        r#"event("X").within(last 30x)"#,
        1,
        26,
        "'d' (days) or 'w' (weeks) after the number",
        "'x'",
    );
    assert_parse_error(
        r#"event("X").within(last 700000000w)"#,
        1,
        24,
        "a shorter window",
        "'700000000'",
    );
    assert_parse_error(
        r#"event("X").within(between "2026-02-30" and "2026-03-01")"#,
        1,
        27,
        "a date in double quotes, like \"2026-01-31\"",
        "'\"2026-02-30\"'",
    );
    assert_parse_error(
        r#"event("A").then(event("B")).count() > 1"#,
        1,
        29,
        "'.then' or '.within' (a sequence has no count)",
        "'count'",
    );
    assert_parse_error(
        r#"event("A").times(2)"#,
        1,
        12,
        "'.where', '.then', '.count' or '.within' after the event",
        "'times'",
    );
    assert_parse_error(
        "trait(plan) # 1",
        1,
        13,
        "a comparison (=, !=, >, >=, <, <=, contains) or 'exists' after trait(...)",
        "'#'",
    );
    assert_parse_error(
        r#"event("X").count() >= 2.5"#,
        1,
        23,
        "a whole number of times",
        "'2.5'",
    );
    assert_parse_error(
        r#"(consent("a") consent("b"))"#,
        1,
        15,
        "'and', 'or' or ')'",
        "'consent'",
    );
}

#[test]
fn the_message_says_where_what_was_expected_and_what_was_found() {
    let error = parse(r#"event("Order Completed").count() and trait(plan) = "pro""#)
        .expect_err("missing comparison");
    assert_eq!(
        error.to_string(),
        "line 1, column 34: expected a comparison (=, !=, >, >=, <, <=) after count(...), found 'and'"
    );
    assert_eq!(error.offset, 33);
}

#[test]
fn limits_found_after_parsing_are_reported_at_the_condition() {
    assert_parse_error(
        r#"consent("a") and event("X").count() > 2000000"#,
        1,
        18,
        "a count of at most 1000000",
        "2000000",
    );
    assert_parse_error(
        &format!("{}consent(\"a\")", "not ".repeat(16)),
        1,
        65,
        "conditions nested at most 16 deep",
        "a condition at depth 17",
    );
    assert_parse_error(
        r#"consent("a") or trait("first name") exists"#,
        1,
        17,
        "a trait name of letters, digits, '_', '.', '$' or '-'",
        "'first name'",
    );
    assert_parse_error(
        r#"event("X").within(last 0d)"#,
        1,
        1,
        "a valid window",
        "window: last_days must be between 1 and 36600, not 0",
    );
    let chain = vec![r#"consent("a")"#; MAX_GROUP_CHILDREN + 1].join(" or ");
    assert_parse_error(
        &chain,
        1,
        1,
        "'or' joining 2 to 50 conditions",
        "51 conditions",
    );
}

#[test]
fn json_refuses_unknown_fields() {
    let refused = [
        r#"{"event": {"name": "x", "bogus": 1}}"#,
        r#"{"event": {"nmae": "x"}}"#,
        r#"{"event": {"name": "x", "count": {"op": "gte", "value": 1, "extra": 0}}}"#,
        r#"{"sequence": {"steps": [{"name": "a", "nope": 1}, {"name": "b"}]}}"#,
        r#"{"trait": {"name": "plan", "op": "exists", "other": 1}}"#,
        r#"{"member_of": "x"}"#,
    ];
    for json in refused {
        assert!(serde_json::from_str::<Condition>(json).is_err(), "{json}");
    }
    let any_event_at_least_once: Condition =
        serde_json::from_str(r#"{"event": {}}"#).expect("any event");
    assert_eq!(any_event_at_least_once, did(any_event()));
    assert_eq!(
        serde_json::to_value(did(named("X"))).expect("serialise"),
        json!({"event": {"name": "X"}})
    );
}

#[test]
fn referenced_audiences_and_purposes_are_listed_once_in_order() {
    let tree = parse(
        r#"in_audience("b") and (consent("email") or in_audience("a")) and not in_audience("b") and consent("ads")"#,
    )
    .expect("parse");
    assert_eq!(tree.referenced_audiences(), vec!["b", "a"]);
    assert_eq!(tree.purposes(), vec!["email", "ads"]);
}

fn nested_nots(count: usize) -> Condition {
    (0..count).fold(consent("a"), |inner, _| not(inner))
}

fn event_with_filters(filter_count: usize) -> Condition {
    did(EventMatch {
        name: Some("X".to_string()),
        filters: vec![filter("channel", Comparison::Eq, json!("web")); filter_count],
    })
}

fn assert_refused(tree: Condition, expected: &str) {
    let error = tree.validate().expect_err(expected);
    assert_eq!(error.expected, expected, "{error}");
}

#[test]
fn validate_refuses_each_limit() {
    assert_eq!(nested_nots(MAX_DEPTH - 1).validate(), Ok(()));
    assert_refused(nested_nots(MAX_DEPTH), "conditions nested at most 16 deep");

    // 1 group + 40 events of 1 + 4 filters = 201 nodes.
    let group_of = |count, filters| Condition::And(vec![event_with_filters(filters); count]);
    assert_eq!(group_of(40, 3).validate(), Ok(()));
    assert_refused(group_of(40, 4), "at most 200 conditions and filters in all");

    assert_eq!(
        Condition::Or(vec![consent("a"); MAX_GROUP_CHILDREN]).validate(),
        Ok(())
    );
    for size in [0, 1, MAX_GROUP_CHILDREN + 1] {
        assert_refused(
            Condition::And(vec![consent("a"); size]),
            "'and' joining 2 to 50 conditions",
        );
        assert_refused(
            Condition::Or(vec![consent("a"); size]),
            "'or' joining 2 to 50 conditions",
        );
    }

    let too_long = "x".repeat(MAX_NAME_CHARS + 1);
    assert_eq!(consent(&"é".repeat(MAX_NAME_CHARS)).validate(), Ok(()));
    assert_refused(consent(""), "a consent purpose of 1 to 200 characters");
    assert_refused(
        Condition::InAudience(too_long.clone()),
        "an audience key of 1 to 200 characters",
    );
    assert_refused(did(named("")), "an event name of 1 to 200 characters");
    assert_refused(
        trait_is(&too_long, TraitComparison::Exists, None),
        "a trait name of 1 to 200 characters",
    );
    assert_refused(
        trait_is("first name", TraitComparison::Exists, None),
        "a trait name of letters, digits, '_', '.', '$' or '-'",
    );

    assert_eq!(
        counted(named("X"), None, Comparison::Lte, MAX_COUNT).validate(),
        Ok(())
    );
    assert_refused(
        counted(named("X"), None, Comparison::Lte, MAX_COUNT + 1),
        "a count of at most 1000000",
    );
    assert_refused(
        counted(named("X"), None, Comparison::Contains, 1),
        "a comparison (=, !=, >, >=, <, <=) for a count",
    );

    let sequence_of = |count| {
        Condition::Sequence(SequenceCondition {
            steps: vec![named("X"); count],
            window: None,
        })
    };
    assert_eq!(sequence_of(MAX_SEQUENCE_STEPS).validate(), Ok(()));
    assert_refused(sequence_of(1), "a sequence of 2 to 8 steps");
    assert_refused(
        sequence_of(MAX_SEQUENCE_STEPS + 1),
        "a sequence of 2 to 8 steps",
    );

    let with_filter = |filter| {
        did(EventMatch {
            name: None,
            filters: vec![filter],
        })
    };
    assert_refused(
        with_filter(filter("revenue", Comparison::Eq, json!([1]))),
        "a valid filter value",
    );
    assert_refused(
        with_filter(filter("revenue", Comparison::Contains, json!(1))),
        "a valid filter value",
    );
    assert_refused(
        with_filter(Filter {
            field: Field::Column("password".to_string()),
            op: Comparison::Eq,
            value: json!("x"),
        }),
        "a valid field",
    );
    assert_refused(
        with_filter(Filter {
            field: Field::Json {
                document: Document::Properties,
                path: vec!["a.b".to_string()],
            },
            op: Comparison::Eq,
            value: json!("x"),
        }),
        "a valid field",
    );
    assert_refused(did_within(named("X"), last_days(0)), "a valid window");
    assert_refused(
        Condition::Sequence(SequenceCondition {
            steps: vec![named("A"), named("B")],
            window: Some(Window::Between {
                from: date("2026-02-01"),
                to: date("2026-01-01"),
            }),
        }),
        "a valid window",
    );

    assert_refused(
        trait_is("plan", TraitComparison::Exists, Some(json!("pro"))),
        "no value after 'exists'",
    );
    assert_refused(
        trait_is("plan", TraitComparison::Eq, None),
        "a value after '='",
    );
    assert_refused(
        trait_is("plan", TraitComparison::Contains, Some(json!(3))),
        "a string after 'contains'",
    );
    assert_refused(
        trait_is("plan", TraitComparison::Gt, Some(json!({"a": 1}))),
        "a string, number or boolean",
    );
}

fn any_string(min_chars: usize) -> impl Strategy<Value = String> {
    // Any character, control characters and quotes included, to exercise the escapes.
    proptest::string::string_regex(&format!("(?s).{{{min_chars},12}}")).expect("regex")
}

fn comparison(contains_allowed: bool) -> impl Strategy<Value = Comparison> {
    let mut comparisons = vec![
        Comparison::Eq,
        Comparison::Ne,
        Comparison::Gt,
        Comparison::Gte,
        Comparison::Lt,
        Comparison::Lte,
    ];
    if contains_allowed {
        comparisons.push(Comparison::Contains);
    }
    proptest::sample::select(comparisons)
}

fn scalar(comparison: Comparison) -> BoxedStrategy<serde_json::Value> {
    let string = any_string(0).prop_map(serde_json::Value::String);
    if comparison == Comparison::Contains {
        return string.boxed();
    }
    prop_oneof![
        string,
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        // Eighths are exact in binary, so that JSON's float parsing reads them back equal.
        any::<i32>().prop_map(|eighths| serde_json::Value::from(f64::from(eighths) / 8.0)),
        any::<bool>().prop_map(serde_json::Value::Bool),
    ]
    .boxed()
}

fn field() -> impl Strategy<Value = Field> {
    let document = proptest::sample::select(vec![
        Document::Properties,
        Document::Context,
        Document::Traits,
    ]);
    prop_oneof![
        proptest::sample::select(EVENT_COLUMNS)
            .prop_map(|column| Field::Column(column.to_string())),
        (
            document,
            prop::collection::vec("[a-zA-Z0-9 _$-]{1,8}", 1..4)
        )
            .prop_map(|(document, path)| Field::Json { document, path }),
    ]
}

fn filter_strategy() -> impl Strategy<Value = Filter> {
    (field(), comparison(true)).prop_flat_map(|(field, op)| {
        scalar(op).prop_map(move |value| Filter {
            field: field.clone(),
            op,
            value,
        })
    })
}

fn window() -> impl Strategy<Value = Window> {
    let first_day = NaiveDate::from_ymd_opt(2000, 1, 1).expect("date");
    prop_oneof![
        (1u32..=36_600).prop_map(|last_days| Window::Last { last_days }),
        (0u64..40_000, 0u64..400).prop_map(move |(start, length)| {
            let from = first_day + chrono::Days::new(start);
            Window::Between {
                from,
                to: from + chrono::Days::new(length),
            }
        }),
    ]
}

fn event_match() -> impl Strategy<Value = EventMatch> {
    (
        proptest::option::of(any_string(1)),
        prop::collection::vec(filter_strategy(), 0..3),
    )
        .prop_map(|(name, filters)| EventMatch { name, filters })
}

fn count() -> impl Strategy<Value = CountCondition> {
    prop_oneof![
        Just(CountCondition::AT_LEAST_ONCE),
        (comparison(false), 0..=MAX_COUNT).prop_map(|(op, value)| CountCondition { op, value }),
    ]
}

fn trait_condition() -> impl Strategy<Value = TraitCondition> {
    let op = prop_oneof![
        Just(TraitComparison::Exists),
        comparison(true).prop_map(TraitComparison::from),
    ];
    ("[A-Za-z0-9_.$-]{1,12}", any::<bool>(), op).prop_flat_map(|(name, computed, op)| {
        let value = match op.comparison() {
            None => Just(None).boxed(),
            Some(comparison) => scalar(comparison).prop_map(Some).boxed(),
        };
        value.prop_map(move |value| TraitCondition {
            name: name.clone(),
            computed,
            op,
            value,
        })
    })
}

fn leaf() -> impl Strategy<Value = Condition> {
    prop_oneof![
        (event_match(), proptest::option::of(window()), count()).prop_map(
            |(event, window, count)| Condition::Event(EventCondition {
                event,
                window,
                count
            })
        ),
        (
            prop::collection::vec(event_match(), 2..=3),
            proptest::option::of(window())
        )
            .prop_map(|(steps, window)| Condition::Sequence(SequenceCondition { steps, window })),
        trait_condition().prop_map(Condition::Trait),
        any_string(1).prop_map(Condition::Consent),
        any_string(1).prop_map(Condition::InAudience),
    ]
}

fn condition() -> impl Strategy<Value = Condition> {
    leaf()
        .prop_recursive(4, 40, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 2..=4).prop_map(Condition::And),
                prop::collection::vec(inner.clone(), 2..=4).prop_map(Condition::Or),
                inner.prop_map(|negated| Condition::Not(Box::new(negated))),
            ]
        })
        .prop_filter("within the limits", |tree| {
            tree.validate().is_ok() && tree.to_string().len() <= MAX_TEXT_BYTES
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn valid_trees_read_back_from_their_text_and_json(tree in condition()) {
        let text = tree.to_string();
        prop_assert_eq!(parse(&text), Ok(tree.clone()), "text: {}", text);
        let json = serde_json::to_string(&tree).expect("serialise");
        let from_json: Condition = serde_json::from_str(&json).expect("deserialise");
        prop_assert_eq!(from_json, tree);
    }
}
