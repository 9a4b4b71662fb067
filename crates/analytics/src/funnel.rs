//! Funnels: how many people went through ordered steps within a conversion window, where they
//! dropped off, and how long they took.
//!
//! A chain starts at an event matching the first step; each later step must follow the previous
//! one (at the same time or later) before the first step's time plus the window (inclusive). A
//! person counts once per step, for the furthest step any of their chains reached. This is
//! ClickHouse's `windowFunnel`: keeping, per step, the newest chain start that reached it is
//! enough, because a newer start leaves more of the window for the steps still to come.

use serde::{Deserialize, Serialize};

use crate::Filter;

pub const MAX_STEPS: usize = 16;
const MAX_WINDOW_HOURS: u32 = 24 * 366;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub event: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepOrder {
    /// Other events may happen between the steps.
    #[default]
    Loose,
    /// Each step must be the person's very next event after the previous step.
    Strict,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FunnelError {
    #[error("a funnel needs 2 to {MAX_STEPS} steps, not {0}")]
    StepCount(usize),
    #[error("step {0}: the event name must not be empty")]
    EmptyStep(usize),
    #[error("window_hours must be between 1 and {MAX_WINDOW_HOURS}, not {0}")]
    Window(u32),
    #[error("step {step}: {error}")]
    Filter {
        step: usize,
        error: crate::FilterError,
    },
}

/// One event of a person, as the funnel sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepEvent {
    pub at_micros: i64,
    /// Bit `i` is set when the event matches step `i`; zero for events that match no step
    /// (read only in strict order, where they break chains).
    pub steps: u32,
    /// The breakdown value of the event (an index into the caller's values), if any.
    pub breakdown: Option<u32>,
}

/// People per step, and the time each took from the first step.
#[derive(Debug, Clone, Default, PartialEq)]
struct StepTally {
    people: u64,
    micros_to_step: Vec<i64>,
}

/// Counts people through one funnel, person by person.
#[derive(Debug, Clone)]
pub struct FunnelCounter {
    steps: usize,
    window_micros: i64,
    order: StepOrder,
    overall: Vec<StepTally>,
    by_value: Vec<Vec<StepTally>>,
}

/// One step's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepFigures {
    pub people: u64,
    /// Share of the people who entered the funnel.
    pub conversion: f64,
    /// Share of the people who reached the previous step.
    pub conversion_from_previous: f64,
    /// People who reached the previous step but not this one.
    pub dropped: u64,
    /// Median time from the first step to this one, in seconds.
    pub median_seconds: Option<f64>,
}

impl FunnelCounter {
    /// `values` is how many breakdown values the caller has interned.
    pub fn new(
        steps: &[Step],
        window_hours: u32,
        order: StepOrder,
        values: usize,
    ) -> Result<FunnelCounter, FunnelError> {
        validate(steps, window_hours)?;
        let tallies = vec![StepTally::default(); steps.len()];
        Ok(FunnelCounter {
            steps: steps.len(),
            window_micros: i64::from(window_hours) * 3_600_000_000,
            order,
            overall: tallies.clone(),
            by_value: vec![tallies; values],
        })
    }

    /// Adds one person's events, sorted by time.
    pub fn add_person(&mut self, events: &[StepEvent]) {
        debug_assert!(
            events
                .windows(2)
                .all(|pair| pair[0].at_micros <= pair[1].at_micros)
        );
        let reached = self.chains(events, None);
        record(&mut self.overall, &reached);
        let mut values: Vec<u32> = events
            .iter()
            .filter(|event| event.steps & 1 == 1)
            .filter_map(|event| event.breakdown)
            .collect();
        values.sort_unstable();
        values.dedup();
        for value in values {
            let reached = self.chains(events, Some(value));
            if let Some(tallies) = self.by_value.get_mut(value as usize) {
                record(tallies, &reached);
            }
        }
    }

    /// For each step, the time from the chain's start to the first time the step was reached.
    /// With `value`, only chains whose first step carries that breakdown value count.
    fn chains(&self, events: &[StepEvent], value: Option<u32>) -> [Option<i64>; MAX_STEPS] {
        let mut starts = [None; MAX_STEPS];
        let mut reached = [None; MAX_STEPS];
        for event in events {
            let mut next = match self.order {
                StepOrder::Loose => starts,
                StepOrder::Strict => [None; MAX_STEPS],
            };
            // From the last step down, so that one event never serves two steps of one chain.
            for step in (0..self.steps).rev() {
                if event.steps & (1 << step) == 0 {
                    continue;
                }
                let start = if step == 0 {
                    let counts = value.is_none() || event.breakdown == value;
                    counts.then_some(event.at_micros)
                } else {
                    starts[step - 1].filter(|start| event.at_micros - start <= self.window_micros)
                };
                let Some(start) = start else { continue };
                next[step] = Some(start);
                if reached[step].is_none() {
                    reached[step] = Some(event.at_micros - start);
                }
            }
            starts = next;
        }
        reached
    }

    /// Figures for everyone, and per breakdown value (in the caller's value order).
    pub fn finish(self) -> (Vec<StepFigures>, Vec<Vec<StepFigures>>) {
        let by_value = self.by_value.into_iter().map(figures).collect();
        (figures(self.overall), by_value)
    }
}

fn record(tallies: &mut [StepTally], reached: &[Option<i64>]) {
    for (tally, micros) in tallies.iter_mut().zip(reached) {
        let Some(micros) = micros else { break };
        tally.people += 1;
        tally.micros_to_step.push(*micros);
    }
}

fn figures(tallies: Vec<StepTally>) -> Vec<StepFigures> {
    let entered = tallies.first().map_or(0, |tally| tally.people);
    let mut previous = entered;
    tallies
        .into_iter()
        .map(|mut tally| {
            let share = |part: u64, whole: u64| {
                if whole == 0 {
                    0.0
                } else {
                    part as f64 / whole as f64
                }
            };
            let step = StepFigures {
                people: tally.people,
                conversion: share(tally.people, entered),
                conversion_from_previous: share(tally.people, previous),
                dropped: previous - tally.people,
                median_seconds: median(&mut tally.micros_to_step).map(|micros| micros / 1e6),
            };
            previous = tally.people;
            step
        })
        .collect()
}

/// The median, averaging the two middle values of an even count.
pub(crate) fn median(values: &mut [i64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let middle = values.len() / 2;
    let (_, upper, _) = values.select_nth_unstable(middle);
    let upper = *upper as f64;
    if values.len() % 2 == 1 {
        return Some(upper);
    }
    let lower = values[..middle].iter().max().copied().unwrap_or_default() as f64;
    Some((lower + upper) / 2.0)
}

fn validate(steps: &[Step], window_hours: u32) -> Result<(), FunnelError> {
    if !(2..=MAX_STEPS).contains(&steps.len()) {
        return Err(FunnelError::StepCount(steps.len()));
    }
    if !(1..=MAX_WINDOW_HOURS).contains(&window_hours) {
        return Err(FunnelError::Window(window_hours));
    }
    for (index, step) in steps.iter().enumerate() {
        if step.event.trim().is_empty() {
            return Err(FunnelError::EmptyStep(index + 1));
        }
        for filter in &step.filters {
            filter.validate().map_err(|error| FunnelError::Filter {
                step: index + 1,
                error,
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000_000;

    fn steps(count: usize) -> Vec<Step> {
        (0..count)
            .map(|index| Step {
                event: format!("step {index}"),
                filters: Vec::new(),
            })
            .collect()
    }

    fn event(hours: i64, steps: u32) -> StepEvent {
        StepEvent {
            at_micros: hours * HOUR,
            steps,
            breakdown: None,
        }
    }

    fn people_per_step(figures: &[StepFigures]) -> Vec<u64> {
        figures.iter().map(|step| step.people).collect()
    }

    #[test]
    fn window_is_inclusive_and_counted_from_the_first_step() {
        let mut counter = FunnelCounter::new(&steps(3), 2, StepOrder::Loose, 0).expect("valid");
        counter.add_person(&[event(0, 1), event(1, 2), event(2, 4)]);
        counter.add_person(&[event(0, 1), event(1, 2), event(3, 4)]);
        let (overall, _) = counter.finish();
        assert_eq!(people_per_step(&overall), vec![2, 2, 1]);
        assert_eq!(overall[2].median_seconds, Some(7_200.0));
        assert_eq!(overall[2].dropped, 1);
    }

    #[test]
    fn a_later_start_rescues_a_chain_that_ran_out_of_time() {
        let mut counter = FunnelCounter::new(&steps(2), 1, StepOrder::Loose, 0).expect("valid");
        counter.add_person(&[event(0, 1), event(5, 1), event(6, 2)]);
        let (overall, _) = counter.finish();
        assert_eq!(people_per_step(&overall), vec![1, 1]);
        assert_eq!(overall[1].median_seconds, Some(3_600.0));
    }

    #[test]
    fn one_event_does_not_serve_two_steps() {
        let mut counter = FunnelCounter::new(&steps(2), 1, StepOrder::Loose, 0).expect("valid");
        counter.add_person(&[event(0, 0b11)]);
        let (overall, _) = counter.finish();
        assert_eq!(people_per_step(&overall), vec![1, 0]);
    }

    #[test]
    fn strict_order_breaks_on_any_other_event() {
        let person = [event(0, 1), event(0, 0), event(1, 2)];
        let mut loose = FunnelCounter::new(&steps(2), 5, StepOrder::Loose, 0).expect("valid");
        let mut strict = FunnelCounter::new(&steps(2), 5, StepOrder::Strict, 0).expect("valid");
        loose.add_person(&person);
        strict.add_person(&person);
        assert_eq!(people_per_step(&loose.finish().0), vec![1, 1]);
        assert_eq!(people_per_step(&strict.finish().0), vec![1, 0]);
    }

    #[test]
    fn breakdown_follows_the_first_step() {
        let mut counter = FunnelCounter::new(&steps(2), 5, StepOrder::Loose, 2).expect("valid");
        let first = |hours, value| StepEvent {
            at_micros: hours * HOUR,
            steps: 1,
            breakdown: Some(value),
        };
        counter.add_person(&[first(0, 0), first(1, 1), event(2, 2)]);
        counter.add_person(&[first(0, 1)]);
        let (overall, by_value) = counter.finish();
        assert_eq!(people_per_step(&overall), vec![2, 1]);
        assert_eq!(people_per_step(&by_value[0]), vec![1, 1]);
        assert_eq!(people_per_step(&by_value[1]), vec![2, 1]);
    }

    #[test]
    fn definitions_are_checked() {
        assert_eq!(
            FunnelCounter::new(&steps(1), 1, StepOrder::Loose, 0).err(),
            Some(FunnelError::StepCount(1))
        );
        assert_eq!(
            FunnelCounter::new(&steps(2), 0, StepOrder::Loose, 0).err(),
            Some(FunnelError::Window(0))
        );
    }

    /// The furthest step over every chain start, found greedily one start at a time.
    fn brute_force(events: &[StepEvent], steps: usize, window: i64) -> Option<usize> {
        let mut best = None;
        for (start_index, start) in events.iter().enumerate() {
            if start.steps & 1 == 0 {
                continue;
            }
            let mut reached = 0;
            for later in &events[start_index + 1..] {
                if reached + 1 < steps
                    && later.at_micros - start.at_micros <= window
                    && later.steps & (1 << (reached + 1)) != 0
                {
                    reached += 1;
                }
            }
            best = best.max(Some(reached));
        }
        best
    }

    proptest::proptest! {
        #[test]
        fn loose_funnels_match_brute_force(
            people in proptest::collection::vec(
                proptest::collection::vec((0_i64..48, 0_u32..16), 0..12),
                1..20,
            ),
            window_hours in 1_u32..12,
        ) {
            let steps = 4;
            let mut counter =
                FunnelCounter::new(&self::steps(steps), window_hours, StepOrder::Loose, 0)
                    .expect("valid");
            let mut expected = vec![0_u64; steps];
            for person in &people {
                let mut events: Vec<StepEvent> = person
                    .iter()
                    .map(|&(hours, mask)| event(hours, mask))
                    .collect();
                events.sort_by_key(|event| event.at_micros);
                counter.add_person(&events);
                if let Some(furthest) = brute_force(&events, steps, i64::from(window_hours) * HOUR) {
                    for count in expected.iter_mut().take(furthest + 1) {
                        *count += 1;
                    }
                }
            }
            proptest::prop_assert_eq!(people_per_step(&counter.finish().0), expected);
        }
    }

    #[test]
    fn median_of_even_and_odd_counts() {
        assert_eq!(median(&mut [3, 1, 2]), Some(2.0));
        assert_eq!(median(&mut [4, 1, 3, 2]), Some(2.5));
        assert_eq!(median(&mut []), None);
    }
}
