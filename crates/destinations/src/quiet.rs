//! Quiet hours: a daily window in a time zone in which a destination sends nothing.

use std::time::Duration;

use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::config::QuietHours;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuietWindow {
    start: NaiveTime,
    end: NaiveTime,
    zone: Tz,
}

impl QuietWindow {
    pub fn parse(hours: &QuietHours) -> Result<QuietWindow, String> {
        let time = |text: &str, field: &str| {
            NaiveTime::parse_from_str(text, "%H:%M")
                .map_err(|_| format!("quiet_hours.{field} must be a time such as 21:30"))
        };
        let start = time(&hours.start, "start")?;
        let end = time(&hours.end, "end")?;
        if start == end {
            return Err("quiet_hours.start and end must differ".to_string());
        }
        let zone: Tz = hours.timezone.parse().map_err(|_| {
            format!(
                "quiet_hours.timezone `{}` is no IANA time zone (such as Europe/Helsinki)",
                hours.timezone
            )
        })?;
        Ok(QuietWindow { start, end, zone })
    }

    /// How long until the window ends, if `now` is inside it.
    pub fn remaining(&self, now: DateTime<Utc>) -> Option<Duration> {
        let local = now.with_timezone(&self.zone);
        let time = local.time();
        let inside = if self.start < self.end {
            self.start <= time && time < self.end
        } else {
            time >= self.start || time < self.end
        };
        if !inside {
            return None;
        }
        let mut day = local.date_naive();
        if time >= self.end {
            day = day.succ_opt()?;
        }
        let ends = day.and_time(self.end);
        // A clock change can skip the local end time: the window then ends an hour later.
        let ends = self
            .zone
            .from_local_datetime(&ends)
            .earliest()
            .or_else(|| {
                self.zone
                    .from_local_datetime(&(ends + chrono::Duration::hours(1)))
                    .earliest()
            })?;
        (ends.with_timezone(&Utc) - now).to_std().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(start: &str, end: &str, timezone: &str) -> QuietWindow {
        QuietWindow::parse(&QuietHours {
            start: start.into(),
            end: end.into(),
            timezone: timezone.into(),
        })
        .expect("valid")
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn a_window_over_midnight_holds_until_its_local_end() {
        let night = window("21:00", "08:00", "Europe/Helsinki");
        // 20:30 UTC is 22:30 in Helsinki (UTC+2 in winter): quiet until 08:00 local = 06:00 UTC.
        assert_eq!(
            night.remaining(at("2026-01-10T20:30:00Z")),
            Some(Duration::from_secs(9 * 3600 + 30 * 60))
        );
        // 01:00 local, after midnight.
        assert_eq!(
            night.remaining(at("2026-01-10T23:00:00Z")),
            Some(Duration::from_secs(7 * 3600))
        );
        // 12:00 local: not quiet.
        assert_eq!(night.remaining(at("2026-01-10T10:00:00Z")), None);
    }

    #[test]
    fn a_window_within_a_day_and_mistakes() {
        let lunch = window("12:00", "13:00", "UTC");
        assert_eq!(
            lunch.remaining(at("2026-06-01T12:15:00Z")),
            Some(Duration::from_secs(45 * 60))
        );
        assert_eq!(lunch.remaining(at("2026-06-01T13:00:00Z")), None);
        let refused = |start: &str, end: &str, zone: &str| {
            QuietWindow::parse(&QuietHours {
                start: start.into(),
                end: end.into(),
                timezone: zone.into(),
            })
            .expect_err("invalid")
        };
        assert!(refused("25:00", "08:00", "UTC").contains("quiet_hours.start"));
        assert!(refused("08:00", "08:00", "UTC").contains("differ"));
        assert!(refused("21:00", "08:00", "Mars/Olympus").contains("IANA"));
    }
}
