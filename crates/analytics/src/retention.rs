//! Retention: people grouped into cohorts by the day or week of their first cohort event, and
//! for each later period the share who did the return event in it: the classic triangle.
//!
//! Days and weeks are calendar periods in the analysis's time zone (weeks start on Monday), so
//! a cohort's boundaries follow local midnight, daylight saving time included.

use chrono::{DateTime, Datelike, Days, NaiveDate};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

pub const MAX_PERIODS: u32 = 400;
const MAX_COHORTS: i64 = 400;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Day,
    #[default]
    Week,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetentionError {
    #[error("periods must be between 1 and {MAX_PERIODS}, not {0}")]
    Periods(u32),
    #[error(
        "cohorts from {from} to {to}: 'from' must not be after 'to', and at most {MAX_COHORTS} cohorts"
    )]
    Range { from: NaiveDate, to: NaiveDate },
}

/// One event of a person, as retention sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionEvent {
    pub at_micros: i64,
    /// Matches the cohort (first occurrence) event.
    pub cohort: bool,
    /// Matches the return event.
    pub returned: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cohort {
    /// First local day of the cohort's period.
    pub start: NaiveDate,
    pub people: u64,
    /// People who returned in period 0, 1, 2, ... after their cohort period; period 0 is the
    /// cohort itself (everyone). Periods not yet over at evaluation time are left out.
    pub returned: Vec<u64>,
    pub rates: Vec<f64>,
}

/// Counts people into a retention triangle, person by person.
#[derive(Debug, Clone)]
pub struct RetentionCounter {
    period: Period,
    time_zone: Tz,
    first_cohort: i64,
    last_cohort: i64,
    /// The last period that has begun at evaluation time.
    current: i64,
    periods: usize,
    people: Vec<u64>,
    returned: Vec<Vec<u64>>,
}

impl RetentionCounter {
    /// Cohorts whose period starts between `from` and `to` (local dates); `periods` columns;
    /// `now_micros` decides which periods have begun.
    pub fn new(
        period: Period,
        time_zone: Tz,
        (from, to): (NaiveDate, NaiveDate),
        periods: u32,
        now_micros: i64,
    ) -> Result<RetentionCounter, RetentionError> {
        if !(1..=MAX_PERIODS).contains(&periods) {
            return Err(RetentionError::Periods(periods));
        }
        let first_cohort = period.index(from);
        let last_cohort = period.index(to);
        if last_cohort < first_cohort || last_cohort - first_cohort >= MAX_COHORTS {
            return Err(RetentionError::Range { from, to });
        }
        let cohorts = (last_cohort - first_cohort + 1) as usize;
        Ok(RetentionCounter {
            period,
            time_zone,
            first_cohort,
            last_cohort,
            current: period.index(local_date(now_micros, time_zone)),
            periods: periods as usize,
            people: vec![0; cohorts],
            returned: vec![vec![0; periods as usize]; cohorts],
        })
    }

    /// The period of a moment, in this counter's time zone.
    pub fn period_of(&self, at_micros: i64) -> i64 {
        self.period.index(local_date(at_micros, self.time_zone))
    }

    /// Adds one person's events, sorted by time.
    pub fn add_person(&mut self, events: &[RetentionEvent]) {
        debug_assert!(
            events
                .windows(2)
                .all(|pair| pair[0].at_micros <= pair[1].at_micros)
        );
        let Some(first) = events.iter().find(|event| event.cohort) else {
            return;
        };
        let cohort = self.period_of(first.at_micros);
        if cohort < self.first_cohort || cohort > self.last_cohort {
            return;
        }
        let row = (cohort - self.first_cohort) as usize;
        self.people[row] += 1;
        self.returned[row][0] += 1;
        let mut last_counted = 0;
        for event in events.iter().filter(|event| event.returned) {
            let offset = self.period_of(event.at_micros) - cohort;
            if offset <= last_counted || offset >= self.periods as i64 {
                continue;
            }
            self.returned[row][offset as usize] += 1;
            last_counted = offset;
        }
    }

    pub fn finish(self) -> Vec<Cohort> {
        let (period, current) = (self.period, self.current);
        (self.first_cohort..=self.last_cohort)
            .zip(self.people)
            .zip(self.returned)
            .map(|((index, people), returned)| {
                let begun = (current - index + 1).clamp(0, returned.len() as i64) as usize;
                let returned = returned[..begun].to_vec();
                let rates = returned
                    .iter()
                    .map(|count| {
                        if people == 0 {
                            0.0
                        } else {
                            *count as f64 / people as f64
                        }
                    })
                    .collect();
                Cohort {
                    start: period.start(index),
                    people,
                    returned,
                    rates,
                }
            })
            .collect()
    }
}

fn local_date(at_micros: i64, time_zone: Tz) -> NaiveDate {
    DateTime::from_timestamp_micros(at_micros)
        .unwrap_or_default()
        .with_timezone(&time_zone)
        .date_naive()
}

impl Period {
    /// Days since 1970-01-01, or Monday-weeks since the Monday 1969-12-29.
    fn index(self, date: NaiveDate) -> i64 {
        let days = i64::from(date.num_days_from_ce() - EPOCH_DAYS_FROM_CE);
        match self {
            Period::Day => days,
            Period::Week => (days + 3).div_euclid(7),
        }
    }

    fn start(self, index: i64) -> NaiveDate {
        let days = match self {
            Period::Day => index,
            Period::Week => index * 7 - 3,
        };
        let epoch = NaiveDate::from_num_days_from_ce_opt(EPOCH_DAYS_FROM_CE).unwrap_or_default();
        if days >= 0 {
            epoch.checked_add_days(Days::new(days as u64))
        } else {
            epoch.checked_sub_days(Days::new(days.unsigned_abs()))
        }
        .unwrap_or(epoch)
    }
}

const EPOCH_DAYS_FROM_CE: i32 = 719_163;

#[cfg(test)]
mod tests {
    use super::*;

    fn micros(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text)
            .expect("rfc3339")
            .timestamp_micros()
    }

    fn date(text: &str) -> NaiveDate {
        text.parse().expect("date")
    }

    fn event(text: &str, cohort: bool, returned: bool) -> RetentionEvent {
        RetentionEvent {
            at_micros: micros(text),
            cohort,
            returned,
        }
    }

    #[test]
    fn weeks_start_on_monday() {
        assert_eq!(
            Period::Week.start(Period::Week.index(date("2026-12-02"))),
            date("2026-11-30")
        );
        assert_eq!(
            Period::Week.start(Period::Week.index(date("1970-01-01"))),
            date("1969-12-29")
        );
        assert_eq!(
            Period::Day.start(Period::Day.index(date("2026-03-29"))),
            date("2026-03-29")
        );
    }

    #[test]
    fn triangle_counts_each_person_once_per_period() {
        let mut counter = RetentionCounter::new(
            Period::Day,
            Tz::UTC,
            (date("2026-01-01"), date("2026-01-02")),
            3,
            micros("2026-01-03T12:00:00Z"),
        )
        .expect("valid");
        counter.add_person(&[
            event("2026-01-01T10:00:00Z", true, true),
            event("2026-01-02T10:00:00Z", false, true),
            event("2026-01-02T11:00:00Z", false, true),
        ]);
        counter.add_person(&[
            event("2026-01-01T23:59:59Z", true, false),
            event("2026-01-03T00:00:00Z", false, true),
        ]);
        counter.add_person(&[event("2026-01-02T08:00:00Z", true, false)]);
        let cohorts = counter.finish();
        assert_eq!(cohorts[0].people, 2);
        assert_eq!(cohorts[0].returned, vec![2, 1, 1]);
        assert_eq!(cohorts[1].returned, vec![1, 0], "period 2 has not begun");
        assert_eq!(cohorts[0].rates, vec![1.0, 0.5, 0.5]);
    }

    #[test]
    fn local_midnight_decides_the_day() {
        let berlin: Tz = "Europe/Berlin".parse().expect("zone");
        let mut counter = RetentionCounter::new(
            Period::Day,
            berlin,
            (date("2026-03-28"), date("2026-03-29")),
            2,
            micros("2026-04-01T00:00:00Z"),
        )
        .expect("valid");
        // 23:30 UTC on the 28th is already the 29th in Berlin (UTC+1), and 22:30 UTC on the
        // 29th is the 30th there after the switch to summer time (UTC+2).
        counter.add_person(&[
            event("2026-03-28T23:30:00Z", true, false),
            event("2026-03-29T22:30:00Z", false, true),
        ]);
        let cohorts = counter.finish();
        assert_eq!(cohorts[0].people, 0);
        assert_eq!(cohorts[1].returned, vec![1, 1]);
    }

    #[test]
    fn ranges_are_checked() {
        let made = RetentionCounter::new(
            Period::Week,
            Tz::UTC,
            (date("2026-02-01"), date("2026-01-01")),
            4,
            0,
        );
        assert!(matches!(made, Err(RetentionError::Range { .. })));
        let made = RetentionCounter::new(
            Period::Week,
            Tz::UTC,
            (date("2026-01-01"), date("2026-02-01")),
            0,
            0,
        );
        assert_eq!(made.err(), Some(RetentionError::Periods(0)));
    }
}
