//! The CRM: contact records as identify calls (email, phone, company, lifecycle stage) and, for
//! business customers, group calls that tie them to their company.

use rand::Rng;
use silta_model::EventType;

use crate::batches::Source;
use crate::calendar::random_later;
use crate::choice::weighted_choice;
use crate::people::{self, Person};
use crate::run::Run;

const LIBRARY: (&str, &str) = ("analytics-python", "2.3.3");

/// Lifecycle stages with how common each is among known customers.
const LIFECYCLE_STAGES: [(&str, f64); 5] = [
    ("subscriber", 0.15),
    ("lead", 0.2),
    ("marketing_qualified_lead", 0.15),
    ("customer", 0.4),
    ("evangelist", 0.1),
];

fn identify(run: &mut Run, person: &Person, lifecycle_stage: &str, millis: u32) {
    let company = person.company.map(people::company);
    let mut event = run.out.event(Source::Crm, EventType::Identify, millis);
    event.str("userId", &person.user_id());
    {
        let mut traits = event.object("traits");
        traits
            .str("email", &person.email())
            .str("first_name", person.first_name())
            .str("last_name", person.last_name())
            .str("phone", &person.phone())
            .str("lifecycle_stage", lifecycle_stage);
        if let Some(company) = &company {
            traits
                .object("company")
                .str("id", &company.group_id)
                .str("name", &company.name)
                .str("industry", company.industry)
                .u64("employee_count", company.employees);
        }
    }
    event
        .object("context")
        .object("library")
        .str("name", LIBRARY.0)
        .str("version", LIBRARY.1);
}

fn group(run: &mut Run, person: &Person, company_index: u64, millis: u32) {
    let company = people::company(company_index);
    let mut event = run.out.event(Source::Crm, EventType::Group, millis);
    event
        .str("userId", &person.user_id())
        .str("groupId", &company.group_id);
    event
        .object("traits")
        .str("name", &company.name)
        .str("industry", company.industry)
        .u64("employees", company.employees)
        .str("plan", "business");
    event
        .object("context")
        .object("library")
        .str("name", LIBRARY.0)
        .str("version", LIBRARY.1);
}

/// The contact the CRM creates when someone signs up.
pub(crate) fn new_lead(run: &mut Run, person: &Person, millis: u32) {
    identify(run, person, "lead", millis);
    if let Some(company) = person.company {
        let group_millis = random_later(&mut run.rng, millis, 1_000..60_000);
        group(run, person, company, group_millis);
    }
}

/// A sales or service update to a known customer's record.
pub(crate) fn update(run: &mut Run) {
    let Some(person) = run.random_customer() else {
        return;
    };
    run.mark_seen(person.index);
    let lifecycle_stage = weighted_choice(&mut run.rng, &LIFECYCLE_STAGES);
    let millis = run.moment();
    identify(run, &person, lifecycle_stage, millis);
    if let Some(company) = person.company
        && run.rng.random_bool(0.5)
    {
        let group_millis = random_later(&mut run.rng, millis, 1_000..60_000);
        group(run, &person, company, group_millis);
    }
}
