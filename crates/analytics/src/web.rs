//! Web analytics in the manner of Plausible and Matomo, counted in people: visitors, sessions
//! (split after a gap of inactivity), bounces, visit duration, pageviews, top, entry and exit
//! pages, and sessions by referrer, campaign, device and browser.
//!
//! A session takes its referrer, campaign, device and browser from its first pageview, as
//! Plausible does. Values are indices into the caller's interned strings.

use std::collections::HashMap;

use serde::Serialize;

/// How a pageview's session is classified, read from the session's first pageview.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Referrer,
    UtmSource,
    UtmMedium,
    UtmCampaign,
    Device,
    Browser,
}

impl Dimension {
    pub const ALL: [Dimension; 6] = [
        Dimension::Referrer,
        Dimension::UtmSource,
        Dimension::UtmMedium,
        Dimension::UtmCampaign,
        Dimension::Device,
        Dimension::Browser,
    ];
}

/// One pageview of a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageView {
    pub at_micros: i64,
    pub page: u32,
    /// The value of each [`Dimension`], in [`Dimension::ALL`] order.
    pub dimensions: [u32; 6],
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Summary {
    pub visitors: u64,
    pub sessions: u64,
    pub pageviews: u64,
    /// Share of sessions with a single pageview.
    pub bounce_rate: f64,
    /// Mean time from a session's first to its last pageview.
    pub average_session_seconds: f64,
    pub pageviews_per_session: f64,
}

/// A value of a breakdown: how many people and how many pageviews (pages) or sessions
/// (entry and exit pages, dimensions) it had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Row {
    pub value: u32,
    pub visitors: u64,
    pub count: u64,
}

/// One day of the period: people, sessions (by the day they began) and pageviews.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DayCount {
    pub visitors: u64,
    pub sessions: u64,
    pub pageviews: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebReport {
    pub summary: Summary,
    /// One entry per day given to [`WebCounter::with_days`], none otherwise.
    pub daily: Vec<DayCount>,
    pub pages: Vec<Row>,
    pub entry_pages: Vec<Row>,
    pub exit_pages: Vec<Row>,
    pub dimensions: Vec<(Dimension, Vec<Row>)>,
}

#[derive(Debug, Default, Clone)]
struct Tally {
    visitors: u64,
    count: u64,
}

/// Counts one period's pageviews, person by person.
#[derive(Debug, Clone)]
pub struct WebCounter {
    session_gap_micros: i64,
    visitors: u64,
    sessions: u64,
    pageviews: u64,
    bounces: u64,
    session_micros: i64,
    pages: HashMap<u32, Tally>,
    entry_pages: HashMap<u32, Tally>,
    exit_pages: HashMap<u32, Tally>,
    dimensions: [HashMap<u32, Tally>; 6],
    /// Where each day of the period starts (microseconds, ascending), and its counts.
    day_starts: Vec<i64>,
    daily: Vec<DayCount>,
}

/// What one person contributes to a breakdown: the values they had, each with its count.
type PersonTally = Vec<(u32, u64)>;

fn add(person: &mut PersonTally, value: u32) {
    match person.iter_mut().find(|(seen, _)| *seen == value) {
        Some((_, count)) => *count += 1,
        None => person.push((value, 1)),
    }
}

fn merge(into: &mut HashMap<u32, Tally>, person: PersonTally) {
    for (value, count) in person {
        let tally = into.entry(value).or_default();
        tally.visitors += 1;
        tally.count += count;
    }
}

impl WebCounter {
    pub fn new(session_gap_minutes: u32) -> WebCounter {
        WebCounter {
            session_gap_micros: i64::from(session_gap_minutes) * 60_000_000,
            visitors: 0,
            sessions: 0,
            pageviews: 0,
            bounces: 0,
            session_micros: 0,
            pages: HashMap::new(),
            entry_pages: HashMap::new(),
            exit_pages: HashMap::new(),
            dimensions: Default::default(),
            day_starts: Vec::new(),
            daily: Vec::new(),
        }
    }

    /// A counter that also counts per day; `day_starts` are the instants the period's days
    /// begin (local midnights), ascending.
    pub fn with_days(session_gap_minutes: u32, day_starts: Vec<i64>) -> WebCounter {
        debug_assert!(day_starts.windows(2).all(|pair| pair[0] < pair[1]));
        WebCounter {
            daily: vec![DayCount::default(); day_starts.len()],
            day_starts,
            ..WebCounter::new(session_gap_minutes)
        }
    }

    /// The day `at_micros` falls on, if the counter counts days and it is within them.
    fn day_of(&self, at_micros: i64) -> Option<usize> {
        self.day_starts
            .partition_point(|start| *start <= at_micros)
            .checked_sub(1)
    }

    fn count_days(&mut self, views: &[PageView], sessions: &[usize]) {
        if self.day_starts.is_empty() {
            return;
        }
        let mut last_day = None;
        for view in views {
            let Some(day) = self.day_of(view.at_micros) else {
                continue;
            };
            self.daily[day].pageviews += 1;
            // Views are sorted, so a person's days come in order: count each day once.
            if last_day != Some(day) {
                self.daily[day].visitors += 1;
                last_day = Some(day);
            }
        }
        for &first in sessions {
            if let Some(day) = self.day_of(views[first].at_micros) {
                self.daily[day].sessions += 1;
            }
        }
    }

    /// Adds one person's pageviews in the period, sorted by time.
    pub fn add_person(&mut self, views: &[PageView]) {
        debug_assert!(
            views
                .windows(2)
                .all(|pair| pair[0].at_micros <= pair[1].at_micros)
        );
        if views.is_empty() {
            return;
        }
        self.visitors += 1;
        self.pageviews += views.len() as u64;
        let mut pages = PersonTally::new();
        let mut entries = PersonTally::new();
        let mut exits = PersonTally::new();
        let mut dimensions: [PersonTally; 6] = Default::default();
        for view in views {
            add(&mut pages, view.page);
        }
        let mut session_starts = Vec::new();
        let mut session_start = 0;
        for session in views
            .chunk_by(|before, after| after.at_micros - before.at_micros <= self.session_gap_micros)
        {
            session_starts.push(session_start);
            session_start += session.len();
            let (first, last) = (session[0], session[session.len() - 1]);
            self.sessions += 1;
            self.bounces += u64::from(session.len() == 1);
            self.session_micros += last.at_micros - first.at_micros;
            add(&mut entries, first.page);
            add(&mut exits, last.page);
            for (person, value) in dimensions.iter_mut().zip(first.dimensions) {
                add(person, value);
            }
        }
        merge(&mut self.pages, pages);
        merge(&mut self.entry_pages, entries);
        merge(&mut self.exit_pages, exits);
        for (into, person) in self.dimensions.iter_mut().zip(dimensions) {
            merge(into, person);
        }
        self.count_days(views, &session_starts);
    }

    /// The report, each breakdown sorted by count (then visitors, then value) and cut at `top`.
    pub fn finish(self, top: usize) -> WebReport {
        let per_session = |value: f64| {
            if self.sessions == 0 {
                0.0
            } else {
                value / self.sessions as f64
            }
        };
        let summary = Summary {
            visitors: self.visitors,
            sessions: self.sessions,
            pageviews: self.pageviews,
            bounce_rate: per_session(self.bounces as f64),
            average_session_seconds: per_session(self.session_micros as f64 / 1e6),
            pageviews_per_session: per_session(self.pageviews as f64),
        };
        let rows = |tallies: HashMap<u32, Tally>| {
            let mut rows: Vec<Row> = tallies
                .into_iter()
                .map(|(value, tally)| Row {
                    value,
                    visitors: tally.visitors,
                    count: tally.count,
                })
                .collect();
            rows.sort_by(|a, b| {
                (b.count, b.visitors, a.value).cmp(&(a.count, a.visitors, b.value))
            });
            rows.truncate(top);
            rows
        };
        WebReport {
            summary,
            daily: self.daily,
            pages: rows(self.pages),
            entry_pages: rows(self.entry_pages),
            exit_pages: rows(self.exit_pages),
            dimensions: Dimension::ALL
                .into_iter()
                .zip(self.dimensions)
                .map(|(dimension, tallies)| (dimension, rows(tallies)))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000_000;

    fn view(minutes: i64, page: u32, referrer: u32) -> PageView {
        PageView {
            at_micros: minutes * MINUTE,
            page,
            dimensions: [referrer, 0, 0, 0, 0, 0],
        }
    }

    #[test]
    fn sessions_split_after_the_gap() {
        let mut counter = WebCounter::new(30);
        counter.add_person(&[view(0, 1, 7), view(30, 2, 8), view(61, 1, 9)]);
        counter.add_person(&[view(0, 2, 7)]);
        let report = counter.finish(10);
        assert_eq!(report.summary.visitors, 2);
        assert_eq!(report.summary.sessions, 3);
        assert_eq!(report.summary.pageviews, 4);
        assert!((report.summary.bounce_rate - 2.0 / 3.0).abs() < 1e-12);
        assert!((report.summary.average_session_seconds - 600.0).abs() < 1e-9);
        assert_eq!(
            report.pages,
            vec![
                Row {
                    value: 2,
                    visitors: 2,
                    count: 2
                },
                Row {
                    value: 1,
                    visitors: 1,
                    count: 2
                },
            ]
        );
        assert_eq!(
            report.entry_pages[0],
            Row {
                value: 1,
                visitors: 1,
                count: 2
            }
        );
        let referrers = &report.dimensions[0].1;
        assert_eq!(
            referrers[0],
            Row {
                value: 7,
                visitors: 2,
                count: 2
            }
        );
        assert_eq!(
            referrers[1],
            Row {
                value: 9,
                visitors: 1,
                count: 1
            }
        );
        assert_eq!(
            referrers.len(),
            2,
            "a session's later pageviews do not count"
        );
    }

    #[test]
    fn days_count_people_once_and_sessions_on_the_day_they_begin() {
        const DAY: i64 = 24 * 60;
        let mut counter = WebCounter::with_days(30, vec![0, DAY * MINUTE, 2 * DAY * MINUTE]);
        // A session from 23:50 on day 0 into day 1, then another on day 1 and one on day 2.
        counter.add_person(&[
            view(DAY - 10, 1, 0),
            view(DAY + 5, 2, 0),
            view(DAY + 300, 1, 0),
            view(2 * DAY + 1, 1, 0),
        ]);
        counter.add_person(&[view(DAY + 1, 1, 0)]);
        let daily = counter.finish(10).daily;
        let day = |visitors, sessions, pageviews| DayCount {
            visitors,
            sessions,
            pageviews,
        };
        assert_eq!(daily, vec![day(1, 1, 1), day(2, 2, 3), day(1, 1, 1)]);
    }

    #[test]
    fn empty_period_reports_zeros() {
        let report = WebCounter::new(30).finish(10);
        assert_eq!(report.summary, Summary::default());
        assert!(report.pages.is_empty());
    }
}
