//! The demo population. A person is never stored: every attribute is a hash of the seed and the
//! person's index, so 4 million people cost no memory and any activity can look anyone up.
//!
//! People `0..existing` were customers before the period; the rest arrive during it, in index
//! order, following the time-of-day curve, so "who has arrived by then" is an index range.

use crate::calendar::Calendar;
use crate::json::JsonObject;

/// Events per person on average, which sizes the population from the event budget.
const EVENTS_PER_PERSON: u64 = 25;
const EXISTING_SHARE: f64 = 0.35;
/// Newcomers sign up at most this many days after their first visit.
pub(crate) const MAX_SIGNUP_DELAY_DAYS: u32 = 13;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Devices {
    WebOnly,
    AppOnly,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Registration {
    Never,
    BeforePeriod,
    During { day: u32, hour: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Platform {
    Ios,
    Android,
}

/// Independent hash streams, one per attribute, so that one attribute can be computed without
/// the others (signup scans look at millions of people).
#[derive(Clone, Copy)]
enum Attribute {
    Devices = 1,
    Registers,
    SignupDelay,
    SignupHour,
    Engagement,
    Loyalty,
    Company,
    SecondBrowser,
    Platform,
    FirstName,
    LastName,
    EmailDomain,
    Browser,
    Locale,
    Plan,
    Address,
    Phone,
    AppModel,
    AnonymousId,
}

/// SplitMix64's finaliser: a fast, well-mixed 64-bit hash.
pub(crate) fn mix(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform number in [0, 1) from a hash.
fn unit(hash: u64) -> f64 {
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

fn pick<T: Copy>(hash: u64, items: &[T]) -> T {
    items[(hash % items.len() as u64) as usize]
}

#[derive(Debug, Clone)]
pub(crate) struct Population {
    seed: u64,
    total: u64,
    existing: u64,
    newcomers: u64,
    companies: u64,
    calendar: Calendar,
}

impl Population {
    pub(crate) fn new(seed: u64, events: u64, calendar: Calendar) -> Self {
        let total = (events / EVENTS_PER_PERSON).max(20);
        let existing = ((total as f64 * EXISTING_SHARE) as u64).max(1);
        Population {
            seed,
            total,
            existing,
            newcomers: total - existing,
            companies: (total / 80).max(3),
            calendar,
        }
    }

    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// Newcomers who arrived before `hour` (0..=24) of `day`.
    fn newcomers_before(&self, day: u32, hour: usize) -> u64 {
        let elapsed_days = f64::from(day) + self.calendar.share_before_hour(hour);
        let arrived =
            (self.newcomers as f64 * elapsed_days / f64::from(self.calendar.days())) as u64;
        arrived.min(self.newcomers)
    }

    /// Everyone who can be active before `hour` (0..=24) of `day`: the index bound.
    pub(crate) fn arrived_before(&self, day: u32, hour: usize) -> u64 {
        self.existing + self.newcomers_before(day, hour)
    }

    /// When newcomer `index` first visits.
    fn arrival(&self, index: u64) -> Option<(u32, usize)> {
        let newcomer = index.checked_sub(self.existing)?;
        let days = self.calendar.days();
        let estimate = (newcomer as f64 + 0.5) * f64::from(days) / self.newcomers as f64;
        let mut day = (estimate as u32).min(days - 1);
        while day + 1 < days && self.newcomers_before(day + 1, 0) <= newcomer {
            day += 1;
        }
        while day > 0 && self.newcomers_before(day, 0) > newcomer {
            day -= 1;
        }
        let hour = (0..24)
            .find(|&hour| self.newcomers_before(day, hour + 1) > newcomer)
            .unwrap_or(23);
        Some((day, hour))
    }

    fn key(&self, index: u64) -> u64 {
        mix(self.seed ^ mix(index))
    }

    fn draw(&self, index: u64, attribute: Attribute) -> u64 {
        mix(self.key(index) ^ (attribute as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93))
    }

    pub(crate) fn registration(&self, index: u64) -> Registration {
        self.registration_after(index, self.arrival(index))
    }

    /// `arrival` is `None` for people who were customers before the period.
    fn registration_after(&self, index: u64, arrival: Option<(u32, usize)>) -> Registration {
        let registers = unit(self.draw(index, Attribute::Registers));
        let Some((arrival_day, arrival_hour)) = arrival else {
            return if registers < 0.6 {
                Registration::BeforePeriod
            } else {
                Registration::Never
            };
        };
        if registers >= 0.45 {
            return Registration::Never;
        }
        let delay_hash = self.draw(index, Attribute::SignupDelay);
        // Four in ten sign up in the hour after their first visit (so never before it), the
        // rest come back for it on a later day.
        let (day, hour) = if unit(delay_hash) < 0.4 && arrival_hour < 23 {
            (arrival_day, arrival_hour + 1)
        } else {
            let delay_days = 1 + (delay_hash >> 32) as u32 % MAX_SIGNUP_DELAY_DAYS;
            let hour = self
                .calendar
                .hour_of_share(unit(self.draw(index, Attribute::SignupHour)));
            (arrival_day + delay_days, hour)
        };
        if day >= self.calendar.days() {
            return Registration::Never;
        }
        Registration::During { day, hour }
    }

    /// Newcomers arriving during `hour` of `day`, in index order.
    pub(crate) fn arriving(&self, day: u32, hour: usize) -> std::ops::Range<u64> {
        self.arrived_before(day, hour)..self.arrived_before(day, hour + 1)
    }

    /// People who sign up on `day`, as `(hour, index)` in time order. Only newcomers of the
    /// last [`MAX_SIGNUP_DELAY_DAYS`] days can, and their arrival is known from the scan.
    pub(crate) fn signing_up(&self, day: u32) -> Vec<(usize, u64)> {
        let mut signups = Vec::new();
        for arrival_day in day.saturating_sub(MAX_SIGNUP_DELAY_DAYS)..=day {
            for arrival_hour in 0..24 {
                for index in self.arriving(arrival_day, arrival_hour) {
                    let registration =
                        self.registration_after(index, Some((arrival_day, arrival_hour)));
                    if let Registration::During {
                        day: signup_day,
                        hour,
                    } = registration
                        && signup_day == day
                    {
                        signups.push((hour, index));
                    }
                }
            }
        }
        signups.sort_unstable();
        signups
    }

    pub(crate) fn person(&self, index: u64) -> Person {
        debug_assert!(index < self.total);
        let registration = self.registration(index);
        let registers = registration != Registration::Never;
        let devices = match unit(self.draw(index, Attribute::Devices)) {
            share if share < 0.5 => Devices::WebOnly,
            share if share < 0.7 => Devices::AppOnly,
            _ => Devices::Both,
        };
        let engagement = match unit(self.draw(index, Attribute::Engagement)) {
            share if share < 0.5 => 0.15,
            share if share < 0.85 => 0.45,
            _ => 1.0,
        };
        let company_hash = self.draw(index, Attribute::Company);
        Person {
            index,
            key: self.key(index),
            devices,
            registration,
            engagement,
            loyalty_member: registers && unit(self.draw(index, Attribute::Loyalty)) < 0.45,
            company: (registers && unit(company_hash) < 0.15)
                .then_some((company_hash >> 24) % self.companies),
            second_browser: unit(self.draw(index, Attribute::SecondBrowser)) < 0.2,
            platform: if unit(self.draw(index, Attribute::Platform)) < 0.45 {
                Platform::Ios
            } else {
                Platform::Android
            },
            first_name: pick(self.draw(index, Attribute::FirstName), FIRST_NAMES),
            last_name: pick(self.draw(index, Attribute::LastName), LAST_NAMES),
            email_domain: pick(self.draw(index, Attribute::EmailDomain), EMAIL_DOMAINS),
            browser_hash: self.draw(index, Attribute::Browser),
            locale: pick(self.draw(index, Attribute::Locale), LOCALES),
            plan: match unit(self.draw(index, Attribute::Plan)) {
                share if share < 0.6 => "free",
                share if share < 0.9 => "plus",
                _ => "pro",
            },
            address_hash: self.draw(index, Attribute::Address),
            phone_hash: self.draw(index, Attribute::Phone),
            app_model_hash: self.draw(index, Attribute::AppModel),
        }
    }
}

/// One person's attributes. Identifiers are built on demand because most activities need only
/// one or two of them.
#[derive(Debug, Clone)]
pub(crate) struct Person {
    pub(crate) index: u64,
    key: u64,
    pub(crate) devices: Devices,
    pub(crate) registration: Registration,
    /// Chance to accept being picked for a random visit: a few people do most of the visiting.
    pub(crate) engagement: f64,
    pub(crate) loyalty_member: bool,
    pub(crate) company: Option<u64>,
    /// A second browser (work laptop) means a second web anonymous id for the same person.
    second_browser: bool,
    pub(crate) platform: Platform,
    first_name: &'static str,
    last_name: &'static str,
    email_domain: &'static str,
    browser_hash: u64,
    pub(crate) locale: &'static str,
    pub(crate) plan: &'static str,
    address_hash: u64,
    phone_hash: u64,
    app_model_hash: u64,
}

impl Person {
    pub(crate) fn uses_web(&self) -> bool {
        self.devices != Devices::AppOnly
    }

    pub(crate) fn uses_app(&self) -> bool {
        self.devices != Devices::WebOnly
    }

    /// Logged in on every device from the day after signing up.
    pub(crate) fn registered_before(&self, day: u32) -> bool {
        match self.registration {
            Registration::Never => false,
            Registration::BeforePeriod => true,
            Registration::During {
                day: signup_day, ..
            } => signup_day < day,
        }
    }

    pub(crate) fn browsers(&self) -> u8 {
        if self.second_browser { 2 } else { 1 }
    }

    /// A version-4-shaped UUID per device, lower case like analytics.js writes it.
    pub(crate) fn web_anonymous_id(&self, browser: u8) -> String {
        uuid_text(
            mix(self.key ^ mix(Attribute::AnonymousId as u64 + u64::from(browser))),
            false,
        )
    }

    /// The app's install id: upper case on iOS (IDFV style), lower case on Android.
    pub(crate) fn app_anonymous_id(&self) -> String {
        uuid_text(
            mix(self.key ^ mix(Attribute::AnonymousId as u64 + 100)),
            self.platform == Platform::Ios,
        )
    }

    pub(crate) fn user_id(&self) -> String {
        format!("user-{}", self.index + 1)
    }

    pub(crate) fn first_name(&self) -> &'static str {
        self.first_name
    }

    pub(crate) fn last_name(&self) -> &'static str {
        self.last_name
    }

    pub(crate) fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }

    /// Unique per person (the index is part of it) so that email never links two people, on
    /// reserved example domains so that no real mailbox is named.
    pub(crate) fn email(&self) -> String {
        let domain = match self.company {
            Some(company) => format!("{}.example", company_slug(company)),
            None => self.email_domain.to_string(),
        };
        format!(
            "{}.{}.{}@{}",
            self.first_name.to_ascii_lowercase(),
            self.last_name.to_ascii_lowercase(),
            self.index + 1,
            domain
        )
    }

    /// From Ofcom's range reserved for drama, so no real line is named.
    pub(crate) fn phone(&self) -> String {
        format!("+44 7700 900{:03}", self.phone_hash % 1000)
    }

    pub(crate) fn home_ip(&self) -> String {
        let first_octets = [62, 77, 78, 80, 81, 84, 85, 87, 88, 89, 90, 91, 93, 94, 95];
        ip_text(self.address_hash, &first_octets)
    }

    pub(crate) fn mobile_ip(&self) -> String {
        let first_octets = [31, 37, 46, 176, 178, 185, 188, 193, 212, 213, 217];
        ip_text(self.address_hash.rotate_left(29), &first_octets)
    }

    pub(crate) fn user_agent(&self, browser: u8) -> &'static str {
        let hash = if browser == 0 {
            self.browser_hash
        } else {
            mix(self.browser_hash)
        };
        pick(hash, WEB_USER_AGENTS)
    }

    pub(crate) fn app_device(&self) -> AppDevice {
        match self.platform {
            Platform::Ios => pick(self.app_model_hash, IOS_DEVICES),
            Platform::Android => pick(self.app_model_hash, ANDROID_DEVICES),
        }
    }
}

/// The profile traits an identify call carries at signup and login.
pub(crate) fn write_profile_traits(traits: &mut JsonObject<'_>, person: &Person) {
    traits
        .str("email", &person.email())
        .str("name", &person.full_name())
        .str("first_name", person.first_name())
        .str("last_name", person.last_name())
        .str("plan", person.plan);
}

fn uuid_text(hash: u64, upper_case: bool) -> String {
    let second = mix(hash);
    let text = format!(
        "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
        hash >> 32,
        (hash >> 16) & 0xffff,
        hash & 0x0fff,
        8 + (second >> 62),
        (second >> 48) & 0x0fff,
        second & 0xffff_ffff_ffff
    );
    if upper_case {
        text.to_ascii_uppercase()
    } else {
        text
    }
}

fn ip_text(hash: u64, first_octets: &[u8]) -> String {
    format!(
        "{}.{}.{}.{}",
        pick(hash, first_octets),
        (hash >> 8) % 256,
        (hash >> 16) % 256,
        1 + (hash >> 24) % 254
    )
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct AppDevice {
    pub(crate) manufacturer: &'static str,
    pub(crate) model: &'static str,
    pub(crate) os_name: &'static str,
    pub(crate) os_version: &'static str,
}

const fn device(
    manufacturer: &'static str,
    model: &'static str,
    os_name: &'static str,
    os_version: &'static str,
) -> AppDevice {
    AppDevice {
        manufacturer,
        model,
        os_name,
        os_version,
    }
}

const IOS_DEVICES: &[AppDevice] = &[
    device("Apple", "iPhone15,2", "iOS", "17.5.1"),
    device("Apple", "iPhone14,5", "iOS", "17.4"),
    device("Apple", "iPhone16,1", "iOS", "18.1"),
    device("Apple", "iPhone13,2", "iOS", "16.7.8"),
    device("Apple", "iPad13,18", "iPadOS", "17.5"),
];

const ANDROID_DEVICES: &[AppDevice] = &[
    device("samsung", "SM-S911B", "Android", "14"),
    device("samsung", "SM-A546B", "Android", "14"),
    device("Google", "Pixel 8", "Android", "15"),
    device("Xiaomi", "2201116SG", "Android", "13"),
    device("OnePlus", "CPH2449", "Android", "14"),
];

const WEB_USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
];

const LOCALES: &[&str] = &[
    "en-GB", "de-DE", "fr-FR", "nl-NL", "fi-FI", "sv-SE", "es-ES", "it-IT",
];

const EMAIL_DOMAINS: &[&str] = &[
    "example.com",
    "example.net",
    "example.org",
    "mail.example",
    "post.example",
];

const FIRST_NAMES: &[&str] = &[
    "Anna", "Liam", "Emma", "Noah", "Sofia", "Lukas", "Mia", "Elias", "Aino", "Leo", "Olivia",
    "Hugo", "Ella", "Oskar", "Lea", "Matteo", "Ida", "Jonas", "Clara", "Felix", "Alice", "Milan",
    "Nora", "Emil", "Julia", "Louis", "Sara", "Finn", "Maja", "Theo", "Chloe", "Mateo", "Lina",
    "Jan", "Eva", "Aleksi",
];

const LAST_NAMES: &[&str] = &[
    "Virtanen",
    "Muller",
    "Martin",
    "Jansen",
    "Rossi",
    "Garcia",
    "Andersson",
    "Smith",
    "Schmidt",
    "Bernard",
    "Dubois",
    "Peeters",
    "Korhonen",
    "Nielsen",
    "Novak",
    "Kowalski",
    "Horvath",
    "Silva",
    "Lopez",
    "Meyer",
    "Wagner",
    "Bianchi",
    "Johansson",
    "Laine",
    "Visser",
    "Moreau",
    "Fischer",
    "Costa",
    "Brown",
    "Wilson",
];

const COMPANY_PREFIXES: &[&str] = &[
    "Nordic", "Alpine", "Baltic", "Harbour", "Granite", "Aurora", "Cedar", "Polar", "Meridian",
    "Summit", "Atlas", "Lumen", "Fjord", "Orbit", "Kestrel", "Willow",
];
const COMPANY_SUFFIXES: &[&str] = &[
    "Logistics",
    "Studios",
    "Analytics",
    "Foods",
    "Retail",
    "Labs",
    "Systems",
    "Partners",
    "Works",
    "Health",
];
const INDUSTRIES: &[&str] = &[
    "Logistics",
    "Media",
    "Software",
    "Food & Beverage",
    "Retail",
    "Research",
    "Manufacturing",
    "Consulting",
    "Construction",
    "Healthcare",
];

/// A B2B customer's employer, shared by every person with the same company index.
#[derive(Debug, Clone)]
pub(crate) struct Company {
    pub(crate) group_id: String,
    pub(crate) name: String,
    pub(crate) industry: &'static str,
    pub(crate) employees: u64,
}

fn company_words(company: u64) -> (&'static str, &'static str) {
    let hash = mix(company ^ 0xC0DE);
    (
        pick(hash, COMPANY_PREFIXES),
        pick(hash >> 20, COMPANY_SUFFIXES),
    )
}

fn company_slug(company: u64) -> String {
    let (prefix, suffix) = company_words(company);
    format!(
        "{}-{}-{}",
        prefix.to_ascii_lowercase(),
        suffix.to_ascii_lowercase(),
        company + 1
    )
}

pub(crate) fn company(company: u64) -> Company {
    let (prefix, suffix) = company_words(company);
    let hash = mix(company ^ 0xF1E1D);
    Company {
        group_id: format!("company-{}", company + 1),
        // The number keeps names unique; real CRMs also hold many "Nordic Logistics".
        name: format!("{prefix} {suffix} {}", company + 1),
        industry: pick(hash >> 8, INDUSTRIES),
        employees: [8, 25, 60, 140, 320, 900, 2500][(hash % 7) as usize],
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn population(events: u64) -> Population {
        let calendar = Calendar::new(NaiveDate::from_ymd_opt(2025, 6, 30).expect("date"), 90);
        Population::new(42, events, calendar)
    }

    #[test]
    fn newcomers_arrive_once_in_index_order() {
        let population = population(100_000);
        let mut next_index = population.arrived_before(0, 0);
        assert_eq!(next_index, population.existing);
        for day in 0..90 {
            for hour in 0..24 {
                let arriving = population.arriving(day, hour);
                assert_eq!(arriving.start, next_index);
                for index in arriving.clone() {
                    assert_eq!(population.arrival(index), Some((day, hour)));
                }
                next_index = arriving.end;
            }
        }
        assert_eq!(next_index, population.total());
    }

    #[test]
    fn signups_are_found_exactly_once_on_their_day() {
        let population = population(50_000);
        let mut found = 0;
        for day in 0..90 {
            for (hour, index) in population.signing_up(day) {
                assert_eq!(
                    population.registration(index),
                    Registration::During { day, hour }
                );
                found += 1;
            }
        }
        let expected = (0..population.total())
            .filter(|&index| matches!(population.registration(index), Registration::During { .. }))
            .count();
        assert_eq!(found, expected);
        assert!(found > 100);
    }

    #[test]
    fn identifiers_look_real_and_differ_per_device() {
        let population = population(10_000);
        let person = population.person(7);
        let web = person.web_anonymous_id(0);
        assert_eq!(web.len(), 36);
        assert_eq!(&web[14..15], "4");
        assert_ne!(web, person.web_anonymous_id(1));
        assert_ne!(web, person.app_anonymous_id());
        assert_eq!(person.user_id(), "user-8");
        assert!(person.email().contains(".8@"));
        assert!(person.home_ip().parse::<std::net::Ipv4Addr>().is_ok());
        assert!(person.mobile_ip().parse::<std::net::Ipv4Addr>().is_ok());
    }
}
