//! The data a media-mix model is fitted on: spend per channel, the KPI and optional controls,
//! one value per period, and the checks that stop a fit from running on data it cannot use.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};

/// Problems listed in one error, at most; the rest are counted.
const MAX_LISTED: usize = 10;
/// A channel whose per-period spend varies by less than this (coefficient of variation) cannot
/// be told apart from the baseline.
const MIN_VARIATION: f64 = 0.05;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    Day,
    #[default]
    Week,
}

impl Granularity {
    pub fn days(self) -> i64 {
        match self {
            Granularity::Day => 1,
            Granularity::Week => 7,
        }
    }

    /// The first day of the period `date` falls in (weeks start on Monday).
    pub fn period_start(self, date: NaiveDate) -> NaiveDate {
        match self {
            Granularity::Day => date,
            Granularity::Week => {
                date - Duration::days(i64::from(date.weekday().num_days_from_monday()))
            }
        }
    }

    /// Periods per year, for the yearly seasonality terms.
    pub fn periods_per_year(self) -> f64 {
        365.25 / self.days() as f64
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub name: String,
    pub values: Vec<f64>,
}

/// Aligned per-period data; every series has one value per period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaData {
    pub granularity: Granularity,
    /// First day of each period, consecutive.
    pub periods: Vec<NaiveDate>,
    pub channels: Vec<Series>,
    pub kpi: Vec<f64>,
    pub controls: Vec<Series>,
}

/// One dated value, as read from the spend table, the event store or a CSV file.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub date: NaiveDate,
    /// The channel or control name; empty for the KPI.
    pub name: String,
    pub value: f64,
}

impl Observation {
    pub fn new(date: NaiveDate, name: impl Into<String>, value: f64) -> Self {
        Observation {
            date,
            name: name.into(),
            value,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the media data cannot be fitted: {}", problems.join("; "))]
pub struct DataError {
    pub problems: Vec<String>,
}

/// The data and what was noticed while building it that does not stop a fit.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub data: MediaData,
    pub warnings: Vec<String>,
}

fn listed(items: &[String]) -> String {
    let mut text = items
        .iter()
        .take(MAX_LISTED)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > MAX_LISTED {
        text.push_str(&format!(" and {} more", items.len() - MAX_LISTED));
    }
    text
}

/// Sums observations into periods: `name -> period start -> sum`.
fn by_period(
    observations: &[Observation],
    granularity: Granularity,
) -> BTreeMap<String, BTreeMap<NaiveDate, f64>> {
    let mut sums: BTreeMap<String, BTreeMap<NaiveDate, f64>> = BTreeMap::new();
    for observation in observations {
        *sums
            .entry(observation.name.clone())
            .or_default()
            .entry(granularity.period_start(observation.date))
            .or_default() += observation.value;
    }
    sums
}

/// Controls are levels (a price, an index), so a period holds their mean, not their sum.
fn control_means(
    observations: &[Observation],
    granularity: Granularity,
) -> BTreeMap<String, BTreeMap<NaiveDate, f64>> {
    let mut sums: BTreeMap<String, BTreeMap<NaiveDate, (f64, f64)>> = BTreeMap::new();
    for observation in observations {
        let cell = sums
            .entry(observation.name.clone())
            .or_default()
            .entry(granularity.period_start(observation.date))
            .or_default();
        cell.0 += observation.value;
        cell.1 += 1.0;
    }
    sums.into_iter()
        .map(|(name, periods)| {
            let means = periods
                .into_iter()
                .map(|(period, (sum, count))| (period, sum / count))
                .collect();
            (name, means)
        })
        .collect()
}

impl MediaData {
    /// Aligns daily (or coarser) observations into periods. The periods run over the days the
    /// KPI covers; a week the KPI covers only partly is left out at either end, and a period
    /// inside the range without KPI, without any spend row or without a control value is an
    /// error. A channel without a row in a period that has other spend rows spent nothing.
    pub fn from_observations(
        granularity: Granularity,
        spend: &[Observation],
        kpi: &[Observation],
        controls: &[Observation],
    ) -> Result<Prepared, DataError> {
        let mut problems = Vec::new();
        let mut warnings = Vec::new();
        let invalid: Vec<String> = spend
            .iter()
            .filter(|row| !row.value.is_finite() || row.value < 0.0)
            .map(|row| format!("{} on {} ({})", row.name, row.date, row.value))
            .collect();
        if !invalid.is_empty() {
            problems.push(format!(
                "spend must be a non-negative number: {}",
                listed(&invalid)
            ));
        }
        let invalid_kpi: Vec<String> = kpi
            .iter()
            .chain(controls)
            .filter(|row| !row.value.is_finite())
            .map(|row| format!("{} {}", row.date, row.name).trim().to_string())
            .collect();
        if !invalid_kpi.is_empty() {
            problems.push(format!(
                "KPI and control values must be numbers: {}",
                listed(&invalid_kpi)
            ));
        }
        let Some(first_day) = kpi.iter().map(|row| row.date).min() else {
            problems.push("there is no KPI data".to_string());
            return Err(DataError { problems });
        };
        let last_day = kpi.iter().map(|row| row.date).max().unwrap_or(first_day);

        let mut first_period = granularity.period_start(first_day);
        if first_period < first_day {
            first_period += Duration::days(granularity.days());
        }
        let step = Duration::days(granularity.days());
        let mut periods = Vec::new();
        let mut period = first_period;
        while period + step - Duration::days(1) <= last_day {
            periods.push(period);
            period += step;
        }
        if granularity == Granularity::Week && (first_period != first_day || period <= last_day) {
            warnings.push("partial weeks at the start or end of the KPI were left out".into());
        }

        let kpi_sums = by_period(kpi, granularity);
        let kpi_by_period = kpi_sums.values().next().cloned().unwrap_or_default();
        let spend_sums = by_period(spend, granularity);
        let spend_periods: BTreeSet<NaiveDate> = spend_sums
            .values()
            .flat_map(|periods| periods.keys().copied())
            .collect();
        let missing_kpi: Vec<String> = periods
            .iter()
            .filter(|period| !kpi_by_period.contains_key(period))
            .map(ToString::to_string)
            .collect();
        if !missing_kpi.is_empty() {
            problems.push(format!("periods without KPI: {}", listed(&missing_kpi)));
        }
        let missing_spend: Vec<String> = periods
            .iter()
            .filter(|period| !spend_periods.contains(period))
            .map(ToString::to_string)
            .collect();
        if !missing_spend.is_empty() {
            problems.push(format!("periods without spend: {}", listed(&missing_spend)));
        }

        let channels: Vec<Series> = spend_sums
            .iter()
            .map(|(name, sums)| Series {
                name: name.clone(),
                values: periods
                    .iter()
                    .map(|period| sums.get(period).copied().unwrap_or(0.0))
                    .collect(),
            })
            .collect();
        let mut control_series = Vec::new();
        for (name, means) in control_means(controls, granularity) {
            let missing: Vec<String> = periods
                .iter()
                .filter(|period| !means.contains_key(period))
                .map(ToString::to_string)
                .collect();
            if !missing.is_empty() {
                problems.push(format!(
                    "control \"{name}\" has no value for: {}",
                    listed(&missing)
                ));
            }
            control_series.push(Series {
                values: periods
                    .iter()
                    .map(|period| means.get(period).copied().unwrap_or(0.0))
                    .collect(),
                name,
            });
        }
        if !problems.is_empty() {
            return Err(DataError { problems });
        }
        let data = MediaData {
            granularity,
            kpi: periods
                .iter()
                .map(|period| kpi_by_period.get(period).copied().unwrap_or(0.0))
                .collect(),
            periods,
            channels,
            controls: control_series,
        };
        Ok(Prepared { data, warnings })
    }

    pub fn len(&self) -> usize {
        self.periods.len()
    }

    pub fn is_empty(&self) -> bool {
        self.periods.is_empty()
    }

    /// Checks the aligned data against a model with `parameters` parameters fitted on the first
    /// `fit_periods` periods. Channels that never spent, or whose spend hardly varies, are
    /// warned about: the model keeps them, but their ROI is mostly the prior.
    pub fn check(&self, parameters: usize, fit_periods: usize) -> Result<Vec<String>, DataError> {
        let mut problems = Vec::new();
        let mut warnings = Vec::new();
        let lengths_agree = self.kpi.len() == self.periods.len()
            && self
                .channels
                .iter()
                .chain(&self.controls)
                .all(|series| series.values.len() == self.periods.len());
        if !lengths_agree {
            problems.push("every series needs one value per period".to_string());
        }
        if self.channels.is_empty() {
            problems.push("there is no spend data".to_string());
        }
        if fit_periods < parameters {
            problems.push(format!(
                "{fit_periods} periods to fit are fewer than the model's {parameters} parameters: use a finer granularity, a longer history or fewer channels"
            ));
        }
        for channel in &self.channels {
            let fitted = &channel.values[..fit_periods.min(channel.values.len())];
            if fitted
                .iter()
                .any(|value| !value.is_finite() || *value < 0.0)
            {
                problems.push(format!(
                    "channel \"{}\" has negative or invalid spend",
                    channel.name
                ));
                continue;
            }
            let total: f64 = fitted.iter().sum();
            if total <= 0.0 {
                problems.push(format!(
                    "channel \"{}\" spent nothing in the fitted periods: leave it out",
                    channel.name
                ));
                continue;
            }
            let variation = coefficient_of_variation(fitted);
            if variation < MIN_VARIATION {
                warnings.push(format!(
                    "channel \"{}\" spends almost the same every period (variation {:.1} %): its effect is not identifiable from the data and its ROI follows the prior",
                    channel.name,
                    variation * 100.0
                ));
            }
        }
        if self.kpi.iter().any(|value| !value.is_finite()) {
            problems.push("the KPI has invalid values".to_string());
        } else if self.kpi.iter().sum::<f64>() <= 0.0 {
            problems.push("the KPI is zero in every period".to_string());
        }
        if problems.is_empty() {
            Ok(warnings)
        } else {
            Err(DataError { problems })
        }
    }
}

pub(crate) fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.iter().sum::<f64>() / values.len() as f64
}

pub(crate) fn standard_deviation(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let average = mean(values);
    let squares: f64 = values.iter().map(|value| (value - average).powi(2)).sum();
    (squares / (values.len() - 1) as f64).sqrt()
}

fn coefficient_of_variation(values: &[f64]) -> f64 {
    let average = mean(values);
    if average <= 0.0 {
        return 0.0;
    }
    standard_deviation(values) / average
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(offset: i64) -> NaiveDate {
        // 2024-01-01 is a Monday.
        NaiveDate::from_ymd_opt(2024, 1, 1).expect("date") + Duration::days(offset)
    }

    #[test]
    fn daily_rows_become_weeks_and_partial_weeks_are_left_out() {
        let kpi: Vec<Observation> = (2..30)
            .map(|d| Observation::new(day(d), "", 10.0))
            .collect();
        let spend: Vec<Observation> = (0..30)
            .map(|d| Observation::new(day(d), "tv", d as f64))
            .collect();
        let prepared =
            MediaData::from_observations(Granularity::Week, &spend, &kpi, &[]).expect("valid");
        // KPI from Wednesday of week 1 to Tuesday of week 5: weeks 2-4 are whole.
        assert_eq!(prepared.data.periods, vec![day(7), day(14), day(21)]);
        assert_eq!(prepared.data.kpi, vec![70.0; 3]);
        assert_eq!(
            prepared.data.channels[0].values[0],
            (7..14).sum::<i64>() as f64
        );
        assert_eq!(prepared.warnings.len(), 1);
    }

    #[test]
    fn missing_periods_and_negative_spend_are_errors() {
        let kpi: Vec<Observation> = (0..21)
            .filter(|d| !(7..14).contains(d))
            .map(|d| Observation::new(day(d), "", 1.0))
            .collect();
        let spend = vec![
            Observation::new(day(0), "tv", -5.0),
            Observation::new(day(20), "tv", 5.0),
        ];
        let error =
            MediaData::from_observations(Granularity::Week, &spend, &kpi, &[]).expect_err("bad");
        let text = error.to_string();
        assert!(text.contains("non-negative"), "{text}");
        assert!(text.contains("periods without KPI: 2024-01-08"), "{text}");
        assert!(text.contains("periods without spend: 2024-01-08"), "{text}");
    }

    #[test]
    fn flat_channels_are_warned_and_short_histories_refused() {
        let data = MediaData {
            granularity: Granularity::Week,
            periods: (0..10).map(|week| day(week * 7)).collect(),
            channels: vec![
                Series {
                    name: "flat".into(),
                    values: vec![100.0; 10],
                },
                Series {
                    name: "varied".into(),
                    values: (0..10).map(|week| 50.0 + 10.0 * week as f64).collect(),
                },
            ],
            kpi: vec![1000.0; 10],
            controls: vec![],
        };
        let warnings = data.check(8, 10).expect("enough periods");
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("\"flat\""), "{warnings:?}");
        let error = data.check(12, 10).expect_err("too few periods");
        assert!(
            error
                .to_string()
                .contains("fewer than the model's 12 parameters")
        );
    }
}
