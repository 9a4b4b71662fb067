//! Days of the demo period, the shape of a day (when people shop) and timestamp text.

use chrono::{Datelike, NaiveDate};
use rand::Rng;

pub(crate) const MILLIS_PER_HOUR: u32 = 3_600_000;
pub(crate) const MILLIS_PER_DAY: u32 = 24 * MILLIS_PER_HOUR;

/// Relative online-shopping activity per UTC hour: quiet at night, a lunch bump, an evening peak.
const HOURLY_ACTIVITY: [f64; 24] = [
    0.9, 0.5, 0.3, 0.25, 0.3, 0.6, 1.4, 2.6, 3.6, 4.1, 4.4, 4.8, 5.4, 5.2, 4.7, 4.6, 4.9, 5.4, 6.2,
    6.9, 7.0, 6.1, 4.2, 2.2,
];

/// The demo period: `days` days ending on `end_date`, both inclusive.
#[derive(Debug, Clone)]
pub(crate) struct Calendar {
    first_date: NaiveDate,
    days: u32,
    /// Share of a day's activity before each hour; `[0]` is 0 and `[24]` exactly 1.
    cumulative_hour_share: [f64; 25],
}

impl Calendar {
    pub(crate) fn new(end_date: NaiveDate, days: u32) -> Self {
        let days = days.max(1);
        let first_date = end_date - chrono::Duration::days(i64::from(days) - 1);
        let total: f64 = HOURLY_ACTIVITY.iter().sum();
        let mut cumulative_hour_share = [0.0; 25];
        for hour in 0..24 {
            cumulative_hour_share[hour + 1] =
                cumulative_hour_share[hour] + HOURLY_ACTIVITY[hour] / total;
        }
        // Exactly 1 so that "end of day d" and "start of day d + 1" are the same number.
        cumulative_hour_share[24] = 1.0;
        Calendar {
            first_date,
            days,
            cumulative_hour_share,
        }
    }

    pub(crate) fn days(&self) -> u32 {
        self.days
    }

    pub(crate) fn date(&self, day: u32) -> NaiveDate {
        self.first_date + chrono::Duration::days(i64::from(day))
    }

    /// Monday = 0 … Sunday = 6.
    pub(crate) fn weekday(&self, day: u32) -> usize {
        self.date(day).weekday().num_days_from_monday() as usize
    }

    pub(crate) fn hour_share(&self, hour: usize) -> f64 {
        self.cumulative_hour_share[hour + 1] - self.cumulative_hour_share[hour]
    }

    /// Share of a day's activity before `hour` (0..=24).
    pub(crate) fn share_before_hour(&self, hour: usize) -> f64 {
        self.cumulative_hour_share[hour]
    }

    /// The hour in which a uniform `fraction` of a day's activity falls.
    pub(crate) fn hour_of_share(&self, fraction: f64) -> usize {
        (0..24)
            .find(|&hour| fraction < self.cumulative_hour_share[hour + 1])
            .unwrap_or(23)
    }

    pub(crate) fn random_hour(&self, rng: &mut impl Rng) -> usize {
        self.hour_of_share(rng.random::<f64>())
    }

    /// `YYYY-MM-DDT`, the part of every timestamp that is shared by a day.
    pub(crate) fn timestamp_prefix(&self, day: u32) -> String {
        self.date(day).format("%Y-%m-%dT").to_string()
    }
}

/// A random moment within `hour`, in milliseconds since midnight.
pub(crate) fn random_millis_in_hour(rng: &mut impl Rng, hour: usize) -> u32 {
    debug_assert!(hour < 24);
    hour as u32 * MILLIS_PER_HOUR + rng.random_range(0..MILLIS_PER_HOUR)
}

/// Later moments of a session stay on the same day: a timestamp past midnight would leave the
/// period on its last day.
pub(crate) fn later(millis: u32, delay_millis: u32) -> u32 {
    millis.saturating_add(delay_millis).min(MILLIS_PER_DAY - 1)
}

/// A random moment `delay` after `millis`. Near midnight the delay shrinks instead of events
/// piling up on the day's last millisecond.
pub(crate) fn random_later(rng: &mut impl Rng, millis: u32, delay: std::ops::Range<u32>) -> u32 {
    let remaining = (MILLIS_PER_DAY - 1).saturating_sub(millis);
    let longest = delay.end.min(remaining);
    let shortest = delay.start.min(longest);
    let chosen_delay = if shortest < longest {
        rng.random_range(shortest..longest)
    } else {
        longest
    };
    millis + chosen_delay
}

/// Appends `HH:MM:SS.mmmZ` for `millis` since midnight.
pub(crate) fn write_time_of_day(buffer: &mut Vec<u8>, millis: u32) {
    debug_assert!(millis < MILLIS_PER_DAY);
    let hours = millis / MILLIS_PER_HOUR;
    let minutes = millis / 60_000 % 60;
    let seconds = millis / 1_000 % 60;
    let milliseconds = millis % 1_000;
    let two_digits = |buffer: &mut Vec<u8>, value: u32| {
        buffer.push(b'0' + (value / 10) as u8);
        buffer.push(b'0' + (value % 10) as u8);
    };
    two_digits(buffer, hours);
    buffer.push(b':');
    two_digits(buffer, minutes);
    buffer.push(b':');
    two_digits(buffer, seconds);
    buffer.push(b'.');
    buffer.push(b'0' + (milliseconds / 100) as u8);
    two_digits(buffer, milliseconds % 100);
    buffer.push(b'Z');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_ends_on_the_end_date_inclusive() {
        let end_date = NaiveDate::from_ymd_opt(2025, 3, 31).expect("date");
        let calendar = Calendar::new(end_date, 90);
        assert_eq!(calendar.date(89), end_date);
        assert_eq!(
            calendar.date(0),
            NaiveDate::from_ymd_opt(2025, 1, 1).expect("date")
        );
        assert_eq!(calendar.weekday(0), 2, "2025-01-01 is a Wednesday");
        assert_eq!(calendar.hour_of_share(0.0), 0);
        assert_eq!(calendar.hour_of_share(0.999_999_999), 23);
    }

    #[test]
    fn time_of_day_is_rfc3339() {
        let mut text = b"2025-03-31T".to_vec();
        write_time_of_day(&mut text, MILLIS_PER_DAY - 1);
        let parsed =
            chrono::DateTime::parse_from_rfc3339(std::str::from_utf8(&text).expect("utf-8"))
                .expect("rfc 3339");
        assert_eq!(parsed.to_rfc3339(), "2025-03-31T23:59:59.999+00:00");
        assert_eq!(later(MILLIS_PER_DAY - 10, 60_000), MILLIS_PER_DAY - 1);
    }
}
