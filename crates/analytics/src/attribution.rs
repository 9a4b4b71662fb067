//! Multi-touch attribution: how much of each conversion and its revenue every marketing channel or
//! campaign earned, counted per person.
//!
//! The caller reads a person's touches (events carrying a channel or campaign key such as
//! `utm_source`) and conversions, and hands them to an [`Attributor`] one person at a time. One pass
//! accumulates every model, so the caller can then ask for any of them with
//! [`Attributor::attribution`].
//!
//! Each conversion is attributed on its own, using the touches in its lookback window: touches at
//! or before the conversion and at most `lookback_micros` earlier, both ends inclusive. A
//! conversion without a touch in its window is unattributed (the "direct / none" bucket) in every
//! model. An attributed conversion hands out exactly one conversion and its value over the touches
//! of its window; a key touched twice gets both shares.
//!
//! The data-driven model is the first-order Markov chain removal effect (Anderl et al. 2016, the R
//! package ChannelAttribution). Its paths are:
//! - one converting path per attributed conversion: the touches of its lookback window, in time order;
//! - one non-converting path per person: the touches after their last conversion (all touches if
//!   they never converted) that fall in the lookback period ending at their last touch.
//!
//! Touches before a person's last conversion that are in no conversion's window are left out: they
//! neither converted nor are known to have failed to.

use std::collections::HashMap;
use std::iter;

use serde::{Deserialize, Serialize};

/// Most channel or campaign keys one attribution may distinguish.
pub const MAX_KEYS: usize = 10_000;

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// A marketing touch: an event that carries a channel or campaign key, at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Touch {
    pub at_micros: i64,
    /// Index into the caller's list of key names.
    pub key: u32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Conversion {
    pub at_micros: i64,
    /// Revenue; finite and not negative.
    pub value: f64,
}

/// One person's touches and conversions, each sorted by time.
#[derive(Debug, Clone, Copy)]
pub struct Journey<'a> {
    pub touches: &'a [Touch],
    pub conversions: &'a [Conversion],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    /// All credit to the earliest touch in the window.
    FirstTouch,
    /// All credit to the latest touch in the window.
    LastTouch,
    /// Equal shares for every touch in the window.
    Linear,
    /// Weight `2^(-(conversion time - touch time) / half-life)`, normalised.
    TimeDecay,
    /// `position_based_ends` each for the first and the last touch, the rest split evenly over the
    /// touches between; a lone touch gets everything, two touches get half each.
    PositionBased,
    /// Markov chain removal effects, see the module documentation. Its cost grows with the cube of
    /// the number of distinct keys on the paths: milliseconds for a few hundred keys.
    DataDriven,
}

impl Model {
    pub const ALL: [Model; 6] = [
        Model::FirstTouch,
        Model::LastTouch,
        Model::Linear,
        Model::TimeDecay,
        Model::PositionBased,
        Model::DataDriven,
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Options {
    /// A touch counts for a conversion if it is at or before the conversion and at most this much
    /// earlier; both ends are inclusive. Defaults to 30 days, the usual ad-platform window.
    pub lookback_micros: i64,
    /// Time after which a touch weighs half as much in the time-decay model. Defaults to 7 days.
    pub time_decay_half_life_micros: i64,
    /// Share of the first and, again, of the last touch in the position-based model, between 0
    /// and 0.5. Defaults to 0.4.
    pub position_based_ends: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            lookback_micros: 30 * MICROS_PER_DAY,
            time_decay_half_life_micros: 7 * MICROS_PER_DAY,
            position_based_ends: 0.4,
        }
    }
}

/// What one key earned.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Credit {
    pub key: u32,
    pub conversions: f64,
    pub revenue: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attribution {
    pub model: Model,
    /// Sorted by key; keys that earned nothing are left out.
    pub credits: Vec<Credit>,
    pub unattributed_conversions: u64,
    pub unattributed_revenue: f64,
    pub total_conversions: u64,
    pub total_revenue: f64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AttributionError {
    #[error("at most {MAX_KEYS} channel or campaign keys can be attributed, not {0}")]
    TooManyKeys(usize),
    #[error("lookback must not be negative, not {0} microseconds")]
    NegativeLookback(i64),
    #[error("time-decay half-life must be positive, not {0} microseconds")]
    NonPositiveHalfLife(i64),
    #[error("position-based share of each end must be between 0 and 0.5, not {0}")]
    BadPositionBasedEnds(f64),
    #[error("touch key {key} is out of range: only {keys} keys were declared")]
    UnknownKey { key: u32, keys: usize },
    #[error("conversion value must be a finite, non-negative number, not {0}")]
    BadConversionValue(f64),
}

/// Accumulates every model person by person; see the module documentation.
#[derive(Debug, Clone)]
pub struct Attributor {
    keys: usize,
    options: Options,
    first_touch: KeyCredits,
    last_touch: KeyCredits,
    linear: KeyCredits,
    time_decay: KeyCredits,
    position_based: KeyCredits,
    transitions: TransitionCounts,
    attributed_conversions: u64,
    attributed_revenue: f64,
    unattributed_conversions: u64,
    unattributed_revenue: f64,
}

impl Attributor {
    /// `keys` is the number of distinct keys: every touch key must be below it.
    pub fn new(keys: usize, options: Options) -> Result<Self, AttributionError> {
        if keys > MAX_KEYS {
            return Err(AttributionError::TooManyKeys(keys));
        }
        if options.lookback_micros < 0 {
            return Err(AttributionError::NegativeLookback(options.lookback_micros));
        }
        if options.time_decay_half_life_micros <= 0 {
            return Err(AttributionError::NonPositiveHalfLife(
                options.time_decay_half_life_micros,
            ));
        }
        if !(0.0..=0.5).contains(&options.position_based_ends) {
            return Err(AttributionError::BadPositionBasedEnds(
                options.position_based_ends,
            ));
        }
        Ok(Attributor {
            keys,
            options,
            first_touch: KeyCredits::new(keys),
            last_touch: KeyCredits::new(keys),
            linear: KeyCredits::new(keys),
            time_decay: KeyCredits::new(keys),
            position_based: KeyCredits::new(keys),
            transitions: TransitionCounts::default(),
            attributed_conversions: 0,
            attributed_revenue: 0.0,
            unattributed_conversions: 0,
            unattributed_revenue: 0.0,
        })
    }

    /// Adds one person. On error nothing of the journey is counted.
    pub fn add(&mut self, journey: Journey<'_>) -> Result<(), AttributionError> {
        let Journey {
            touches,
            conversions,
        } = journey;
        debug_assert!(
            touches.is_sorted_by_key(|touch| touch.at_micros),
            "touches must be sorted by time"
        );
        debug_assert!(
            conversions.is_sorted_by_key(|conversion| conversion.at_micros),
            "conversions must be sorted by time"
        );
        if let Some(touch) = touches.iter().find(|touch| touch.key as usize >= self.keys) {
            return Err(AttributionError::UnknownKey {
                key: touch.key,
                keys: self.keys,
            });
        }
        if let Some(conversion) = conversions
            .iter()
            .find(|conversion| !(conversion.value.is_finite() && conversion.value >= 0.0))
        {
            return Err(AttributionError::BadConversionValue(conversion.value));
        }

        for conversion in conversions {
            let window = self.lookback_window(touches, conversion.at_micros);
            if window.is_empty() {
                self.unattributed_conversions += 1;
                self.unattributed_revenue += conversion.value;
                continue;
            }
            self.credit_rule_based(window, conversion);
            self.transitions.add_path(window, State::Conversion);
            self.attributed_conversions += 1;
            self.attributed_revenue += conversion.value;
        }

        let touches_after_last_conversion = match conversions.last() {
            Some(last_conversion) => {
                let after =
                    touches.partition_point(|touch| touch.at_micros <= last_conversion.at_micros);
                &touches[after..]
            }
            None => touches,
        };
        if let Some(last_touch) = touches_after_last_conversion.last() {
            let non_converting_path =
                self.lookback_window(touches_after_last_conversion, last_touch.at_micros);
            self.transitions.add_path(non_converting_path, State::Null);
        }
        Ok(())
    }

    /// The credits of one model over all journeys added so far.
    pub fn attribution(&self, model: Model) -> Attribution {
        let credits = match model {
            Model::FirstTouch => self.first_touch.credits(),
            Model::LastTouch => self.last_touch.credits(),
            Model::Linear => self.linear.credits(),
            Model::TimeDecay => self.time_decay.credits(),
            Model::PositionBased => self.position_based.credits(),
            Model::DataDriven => self.data_driven_credits(),
        };
        Attribution {
            model,
            credits,
            unattributed_conversions: self.unattributed_conversions,
            unattributed_revenue: self.unattributed_revenue,
            total_conversions: self.attributed_conversions + self.unattributed_conversions,
            total_revenue: self.attributed_revenue + self.unattributed_revenue,
        }
    }

    /// The touches in `[end_micros - lookback, end_micros]`.
    fn lookback_window<'a>(&self, touches: &'a [Touch], end_micros: i64) -> &'a [Touch] {
        let start_micros = end_micros.saturating_sub(self.options.lookback_micros);
        let begin = touches.partition_point(|touch| touch.at_micros < start_micros);
        let end = touches.partition_point(|touch| touch.at_micros <= end_micros);
        &touches[begin..end]
    }

    fn credit_rule_based(&mut self, window: &[Touch], conversion: &Conversion) {
        let (Some(first), Some(last)) = (window.first(), window.last()) else {
            return;
        };
        let value = conversion.value;
        let touch_count = window.len();
        self.first_touch.add(first.key, 1.0, value);
        self.last_touch.add(last.key, 1.0, value);
        for (position, touch) in window.iter().enumerate() {
            let share =
                position_based_share(position, touch_count, self.options.position_based_ends);
            self.position_based.add(touch.key, share, value);
            self.linear.add(touch.key, 1.0 / touch_count as f64, value);
        }

        // Measured from the latest touch rather than from the conversion: the ratios, and so the
        // normalised shares, are the same, but the latest touch weighs 1, so a window much longer
        // than the half-life cannot underflow every weight to zero.
        let half_life = self.options.time_decay_half_life_micros as f64;
        let decay_weight =
            |touch: &Touch| (-((last.at_micros - touch.at_micros) as f64) / half_life).exp2();
        let total_weight: f64 = window.iter().map(decay_weight).sum();
        for touch in window {
            self.time_decay
                .add(touch.key, decay_weight(touch) / total_weight, value);
        }
    }

    fn data_driven_credits(&self) -> Vec<Credit> {
        let removal_effects = self.transitions.removal_effects(self.keys);
        let removal_effect_sum: f64 = removal_effects.iter().sum();
        // Every key on a converting path has a positive removal effect, so a zero sum means there
        // were no attributed conversions (the linear credits are empty too) or rounding lost them;
        // linear credits are the documented fallback.
        if removal_effect_sum <= 0.0 {
            return self.linear.credits();
        }
        removal_effects
            .iter()
            .enumerate()
            .filter(|(_, removal_effect)| **removal_effect > 0.0)
            .map(|(key, removal_effect)| {
                let share = removal_effect / removal_effect_sum;
                Credit {
                    key: key as u32,
                    conversions: self.attributed_conversions as f64 * share,
                    revenue: self.attributed_revenue * share,
                }
            })
            .collect()
    }
}

fn position_based_share(position: usize, touch_count: usize, end_share: f64) -> f64 {
    match touch_count {
        1 => 1.0,
        2 => 0.5,
        _ if position == 0 || position == touch_count - 1 => end_share,
        _ => (1.0 - 2.0 * end_share) / (touch_count - 2) as f64,
    }
}

/// Conversions and revenue earned per key, indexed by key.
#[derive(Debug, Clone)]
struct KeyCredits {
    conversions: Vec<f64>,
    revenue: Vec<f64>,
}

impl KeyCredits {
    fn new(keys: usize) -> Self {
        KeyCredits {
            conversions: vec![0.0; keys],
            revenue: vec![0.0; keys],
        }
    }

    /// Credits `key` with `share` of one conversion worth `value`.
    fn add(&mut self, key: u32, share: f64, value: f64) {
        self.conversions[key as usize] += share;
        self.revenue[key as usize] += share * value;
    }

    fn credits(&self) -> Vec<Credit> {
        self.conversions
            .iter()
            .zip(&self.revenue)
            .enumerate()
            .filter(|(_, (conversions, _))| **conversions > 0.0)
            .map(|(key, (conversions, revenue))| Credit {
                key: key as u32,
                conversions: *conversions,
                revenue: *revenue,
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum State {
    Start,
    Key(u32),
    Conversion,
    Null,
}

/// How often each transition between states was seen on the data-driven paths.
#[derive(Debug, Clone, Default)]
struct TransitionCounts {
    counts: HashMap<(State, State), u64>,
}

impl TransitionCounts {
    fn add_path(&mut self, touches: &[Touch], end: State) {
        let mut previous = State::Start;
        for state in touches
            .iter()
            .map(|touch| State::Key(touch.key))
            .chain(iter::once(end))
        {
            *self.counts.entry((previous, state)).or_default() += 1;
            previous = state;
        }
    }

    /// Removal effect of every key, indexed by key: `1 - P(conversion | key removed) / P(conversion)`,
    /// where removing a key sends every transition into it to null. All zeros without a converting
    /// path.
    ///
    /// Removing `k` only changes the walks that reach `k`, so
    /// `P(conversion | k removed) = P(conversion) - P(reach k) * P(conversion from k)` and the
    /// removal effect is `P(reach k) * P(conversion from k) / P(conversion)`. With the fundamental
    /// matrix `N = (I - Q)^-1` (expected visits between transient states), `P(reach k) =
    /// N[start][k] / N[k][k]`, so one exact inversion serves every key instead of one solve per
    /// removed key.
    fn removal_effects(&self, keys: usize) -> Vec<f64> {
        let mut removal_effects = vec![0.0; keys];

        // Transient states: start at index 0, then every key with an outgoing transition, in key
        // order. Every key on a path has one, so keys without are never reached.
        let mut transient_keys: Vec<u32> = self
            .counts
            .keys()
            .filter_map(|(from, _)| match from {
                State::Key(key) => Some(*key),
                _ => None,
            })
            .collect();
        transient_keys.sort_unstable();
        transient_keys.dedup();
        let transient_index = |state: State| match state {
            State::Start => Some(0),
            State::Key(key) => transient_keys
                .binary_search(&key)
                .ok()
                .map(|position| position + 1),
            State::Conversion | State::Null => None,
        };
        let state_count = transient_keys.len() + 1;

        let mut outgoing_counts = vec![0u64; state_count];
        for ((from, _), count) in &self.counts {
            if let Some(from_index) = transient_index(*from) {
                outgoing_counts[from_index] += count;
            }
        }
        // Row-major `I - Q`, and the one-step probability of converting from each transient state.
        let mut matrix = vec![0.0; state_count * state_count];
        for index in 0..state_count {
            matrix[index * state_count + index] = 1.0;
        }
        let mut conversion_step = vec![0.0; state_count];
        for ((from, to), count) in &self.counts {
            let Some(from_index) = transient_index(*from) else {
                continue;
            };
            let probability = *count as f64 / outgoing_counts[from_index] as f64;
            if *to == State::Conversion {
                conversion_step[from_index] += probability;
            } else if let Some(to_index) = transient_index(*to) {
                matrix[from_index * state_count + to_index] -= probability;
            }
        }

        let Some(fundamental) = invert_diagonally_dominant(matrix, state_count) else {
            return removal_effects;
        };
        let conversion_probability: Vec<f64> = fundamental
            .chunks_exact(state_count)
            .map(|row| {
                row.iter()
                    .zip(&conversion_step)
                    .map(|(visits, step)| visits * step)
                    .sum()
            })
            .collect();
        let conversion_probability_from_start = conversion_probability[0];
        if conversion_probability_from_start <= 0.0 {
            return removal_effects;
        }
        for (position, key) in transient_keys.iter().enumerate() {
            let index = position + 1;
            let reach_probability = fundamental[index] / fundamental[index * state_count + index];
            let removal_effect = reach_probability * conversion_probability[index]
                / conversion_probability_from_start;
            removal_effects[*key as usize] = removal_effect.clamp(0.0, 1.0);
        }
        removal_effects
    }
}

/// Inverts a row-major `size` x `size` matrix in place by Gauss-Jordan elimination.
///
/// `I - Q` of an absorbing chain whose every state can reach absorption is a non-singular M-matrix
/// and diagonally dominant by rows: its pivots are positive and elimination without pivoting is
/// stable (growth factor at most 2). `None` if a pivot is not positive, which such a matrix only
/// reaches through rounding.
fn invert_diagonally_dominant(mut matrix: Vec<f64>, size: usize) -> Option<Vec<f64>> {
    for pivot_index in 0..size {
        let pivot = matrix[pivot_index * size + pivot_index];
        if pivot.is_nan() || pivot <= 0.0 {
            return None;
        }
        matrix[pivot_index * size + pivot_index] = 1.0;
        let (rows_before, rest) = matrix.split_at_mut(pivot_index * size);
        let (pivot_row, rows_after) = rest.split_at_mut(size);
        for entry in pivot_row.iter_mut() {
            *entry /= pivot;
        }
        for row in rows_before
            .chunks_exact_mut(size)
            .chain(rows_after.chunks_exact_mut(size))
        {
            let factor = row[pivot_index];
            if factor == 0.0 {
                continue;
            }
            row[pivot_index] = 0.0;
            for (entry, pivot_entry) in row.iter_mut().zip(pivot_row.iter()) {
                *entry -= factor * pivot_entry;
            }
        }
    }
    Some(matrix)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const DAY: i64 = MICROS_PER_DAY;

    fn touch(at_micros: i64, key: u32) -> Touch {
        Touch { at_micros, key }
    }

    fn conversion(at_micros: i64, value: f64) -> Conversion {
        Conversion { at_micros, value }
    }

    /// Journeys as owned touches and conversions.
    type People = Vec<(Vec<Touch>, Vec<Conversion>)>;

    fn attributor(people: &People, keys: usize, options: Options) -> Attributor {
        let mut attributor = Attributor::new(keys, options).expect("valid options");
        for (touches, conversions) in people {
            attributor
                .add(Journey {
                    touches,
                    conversions,
                })
                .expect("valid journey");
        }
        attributor
    }

    /// `(key, conversions, revenue)` of every credit.
    fn credits(attributor: &Attributor, model: Model) -> Vec<(u32, f64, f64)> {
        attributor
            .attribution(model)
            .credits
            .iter()
            .map(|credit| (credit.key, credit.conversions, credit.revenue))
            .collect()
    }

    fn assert_credits(actual: &[(u32, f64, f64)], expected: &[(u32, f64, f64)]) {
        assert_eq!(actual.len(), expected.len(), "{actual:?} != {expected:?}");
        for (actual_credit, expected_credit) in actual.iter().zip(expected) {
            assert_eq!(
                actual_credit.0, expected_credit.0,
                "{actual:?} != {expected:?}"
            );
            assert!(
                (actual_credit.1 - expected_credit.1).abs() < 1e-9
                    && (actual_credit.2 - expected_credit.2).abs() < 1e-9,
                "{actual:?} != {expected:?}"
            );
        }
    }

    #[test]
    fn first_and_last_touch_take_the_ends_of_the_window() {
        let people = vec![(
            vec![
                touch(DAY, 0),
                touch(2 * DAY, 1),
                touch(3 * DAY, 2),
                touch(5 * DAY, 3),
            ],
            vec![conversion(4 * DAY, 100.0)],
        )];
        let attributor = attributor(&people, 4, Options::default());
        // The touch after the conversion (key 3) counts for nothing.
        assert_credits(&credits(&attributor, Model::FirstTouch), &[(0, 1.0, 100.0)]);
        assert_credits(&credits(&attributor, Model::LastTouch), &[(2, 1.0, 100.0)]);
    }

    #[test]
    fn linear_splits_evenly_and_a_key_touched_twice_gets_both_shares() {
        let people = vec![(
            vec![
                touch(DAY, 1),
                touch(2 * DAY, 0),
                touch(3 * DAY, 1),
                touch(4 * DAY, 2),
            ],
            vec![conversion(5 * DAY, 40.0)],
        )];
        let attributor = attributor(&people, 3, Options::default());
        assert_credits(
            &credits(&attributor, Model::Linear),
            &[(0, 0.25, 10.0), (1, 0.5, 20.0), (2, 0.25, 10.0)],
        );
    }

    #[test]
    fn time_decay_halves_the_weight_per_half_life() {
        // Weights 1/4, 1/2 and 1 sum to 7/4: shares 1/7, 2/7 and 4/7 of 70.
        let people = vec![(
            vec![touch(DAY, 0), touch(8 * DAY, 1), touch(15 * DAY, 2)],
            vec![conversion(15 * DAY, 70.0)],
        )];
        let attributor = attributor(&people, 3, Options::default());
        assert_credits(
            &credits(&attributor, Model::TimeDecay),
            &[
                (0, 1.0 / 7.0, 10.0),
                (1, 2.0 / 7.0, 20.0),
                (2, 4.0 / 7.0, 40.0),
            ],
        );
    }

    #[test]
    fn position_based_gives_the_ends_their_share_and_splits_the_rest() {
        let people = vec![
            // Four touches: 0.4, 0.1, 0.1, 0.4; key 0 is both first and second.
            (
                vec![
                    touch(DAY, 0),
                    touch(2 * DAY, 0),
                    touch(3 * DAY, 1),
                    touch(4 * DAY, 2),
                ],
                vec![conversion(4 * DAY, 10.0)],
            ),
            // Two touches: half each.
            (
                vec![touch(DAY, 3), touch(2 * DAY, 2)],
                vec![conversion(3 * DAY, 20.0)],
            ),
            // One touch: everything.
            (vec![touch(DAY, 3)], vec![conversion(DAY, 30.0)]),
        ];
        let attributor = attributor(&people, 4, Options::default());
        assert_credits(
            &credits(&attributor, Model::PositionBased),
            &[
                (0, 0.5, 5.0),
                (1, 0.1, 1.0),
                (2, 0.9, 4.0 + 10.0),
                (3, 1.5, 10.0 + 30.0),
            ],
        );
    }

    #[test]
    fn lookback_is_inclusive_at_both_ends() {
        let options = Options {
            lookback_micros: 10 * DAY,
            ..Options::default()
        };
        let conversion_at = 20 * DAY;
        let people = vec![(
            vec![
                touch(conversion_at - 10 * DAY - 1, 0),
                touch(conversion_at - 10 * DAY, 1),
                touch(conversion_at, 2),
                touch(conversion_at + 1, 3),
            ],
            vec![conversion(conversion_at, 8.0)],
        )];
        let attributor = attributor(&people, 4, options);
        assert_credits(
            &credits(&attributor, Model::Linear),
            &[(1, 0.5, 4.0), (2, 0.5, 4.0)],
        );
    }

    #[test]
    fn conversions_without_a_touch_in_the_window_are_unattributed_in_every_model() {
        let options = Options {
            lookback_micros: DAY,
            ..Options::default()
        };
        let people = vec![
            // The touch is after the first conversion, in time for the second and more than the
            // lookback before the third.
            (
                vec![touch(5 * DAY, 0)],
                vec![
                    conversion(DAY, 3.0),
                    conversion(5 * DAY, 7.0),
                    conversion(10 * DAY, 5.0),
                ],
            ),
            // No touches at all.
            (vec![], vec![conversion(2 * DAY, 11.0)]),
        ];
        let attributor = attributor(&people, 1, options);
        for model in Model::ALL {
            let attribution = attributor.attribution(model);
            assert_eq!(attribution.total_conversions, 4, "{model:?}");
            assert_eq!(attribution.unattributed_conversions, 3, "{model:?}");
            assert_eq!(attribution.total_revenue, 26.0, "{model:?}");
            assert_eq!(attribution.unattributed_revenue, 19.0, "{model:?}");
            assert_credits(&credits(&attributor, model), &[(0, 1.0, 7.0)]);
        }
    }

    #[test]
    fn each_of_two_conversions_is_attributed_with_its_own_window() {
        let options = Options {
            lookback_micros: 5 * DAY,
            ..Options::default()
        };
        // The first conversion sees keys 0 and 1; the second sees 1 (again) and 2.
        let people = vec![(
            vec![touch(DAY, 0), touch(4 * DAY, 1), touch(8 * DAY, 2)],
            vec![conversion(5 * DAY, 10.0), conversion(9 * DAY, 20.0)],
        )];
        let attributor = attributor(&people, 3, options);
        assert_credits(
            &credits(&attributor, Model::Linear),
            &[(0, 0.5, 5.0), (1, 1.0, 15.0), (2, 0.5, 10.0)],
        );
        assert_credits(
            &credits(&attributor, Model::FirstTouch),
            &[(0, 1.0, 10.0), (1, 1.0, 20.0)],
        );
        assert_credits(
            &credits(&attributor, Model::LastTouch),
            &[(1, 1.0, 10.0), (2, 1.0, 20.0)],
        );
    }

    #[test]
    fn no_journeys_attribute_nothing() {
        let empty = attributor(&vec![], 5, Options::default());
        for model in Model::ALL {
            let attribution = empty.attribution(model);
            assert!(attribution.credits.is_empty(), "{model:?}");
            assert_eq!(attribution.total_conversions, 0);
            assert_eq!(attribution.unattributed_conversions, 0);
            assert_eq!(attribution.total_revenue, 0.0);
            assert_eq!(attribution.unattributed_revenue, 0.0);
        }

        let without_keys = attributor(
            &vec![(vec![], vec![conversion(0, 1.0)])],
            0,
            Options::default(),
        );
        for model in Model::ALL {
            let attribution = without_keys.attribution(model);
            assert!(attribution.credits.is_empty(), "{model:?}");
            assert_eq!(attribution.unattributed_conversions, 1, "{model:?}");
        }
    }

    #[test]
    fn bad_limits_options_and_journeys_are_rejected() {
        assert_eq!(
            Attributor::new(MAX_KEYS + 1, Options::default()).err(),
            Some(AttributionError::TooManyKeys(MAX_KEYS + 1))
        );
        assert!(Attributor::new(MAX_KEYS, Options::default()).is_ok());
        let bad_options = [
            Options {
                lookback_micros: -1,
                ..Options::default()
            },
            Options {
                time_decay_half_life_micros: 0,
                ..Options::default()
            },
            Options {
                position_based_ends: 0.6,
                ..Options::default()
            },
            Options {
                position_based_ends: f64::NAN,
                ..Options::default()
            },
        ];
        for options in bad_options {
            assert!(Attributor::new(1, options).is_err(), "{options:?}");
        }

        let mut attributor = Attributor::new(2, Options::default()).expect("valid options");
        let unknown_key = attributor.add(Journey {
            touches: &[touch(0, 2)],
            conversions: &[conversion(0, 1.0)],
        });
        assert_eq!(
            unknown_key,
            Err(AttributionError::UnknownKey { key: 2, keys: 2 })
        );
        for value in [-1.0, f64::NAN, f64::INFINITY] {
            let bad_value = attributor.add(Journey {
                touches: &[touch(0, 1)],
                conversions: &[conversion(0, value)],
            });
            assert!(
                matches!(bad_value, Err(AttributionError::BadConversionValue(_))),
                "{value}"
            );
        }
        // Rejected journeys count for nothing.
        assert_eq!(attributor.attribution(Model::Linear).total_conversions, 0);
        assert!(attributor.transitions.counts.is_empty());
    }

    #[test]
    fn models_are_snake_case_in_json() {
        let names: Vec<String> = Model::ALL
            .iter()
            .map(|model| serde_json::to_string(model).expect("serializable"))
            .collect();
        assert_eq!(
            names,
            [
                "\"first_touch\"",
                "\"last_touch\"",
                "\"linear\"",
                "\"time_decay\"",
                "\"position_based\"",
                "\"data_driven\""
            ]
        );
        let parsed: Model = serde_json::from_str("\"position_based\"").expect("known model");
        assert_eq!(parsed, Model::PositionBased);
    }

    #[test]
    fn data_driven_matches_the_textbook_example() {
        // Paths C1 -> C2 -> C3 -> conversion, C1 -> null, C2 -> C3 -> null (keys 0, 1, 2):
        // start -> C1 2/3, start -> C2 1/3; C1 -> C2 1/2, C1 -> null 1/2; C2 -> C3 1;
        // C3 -> conversion 1/2, C3 -> null 1/2.
        // P(conversion) = 2/3 * 1/2 * 1 * 1/2 + 1/3 * 1 * 1/2 = 1/6 + 1/6 = 1/3.
        // Without C1 only start -> C2 converts: 1/6, removal effect 1 - (1/6) / (1/3) = 1/2.
        // Without C2 or without C3 nothing converts: removal effect 1.
        // Shares 0.5 / 2.5, 1 / 2.5, 1 / 2.5 of the one conversion worth 100.
        let people = vec![
            (
                vec![touch(DAY, 0), touch(2 * DAY, 1), touch(3 * DAY, 2)],
                vec![conversion(4 * DAY, 100.0)],
            ),
            (vec![touch(DAY, 0)], vec![]),
            (vec![touch(DAY, 1), touch(2 * DAY, 2)], vec![]),
        ];
        let attributor = attributor(&people, 3, Options::default());
        let removal_effects = attributor.transitions.removal_effects(3);
        for (actual, expected) in removal_effects.iter().zip([0.5, 1.0, 1.0]) {
            assert!((actual - expected).abs() < 1e-9, "{removal_effects:?}");
        }
        assert_credits(
            &credits(&attributor, Model::DataDriven),
            &[(0, 0.2, 20.0), (1, 0.4, 40.0), (2, 0.4, 40.0)],
        );
    }

    #[test]
    fn non_converting_path_is_the_last_lookback_after_the_last_conversion() {
        let options = Options {
            lookback_micros: 3 * DAY,
            ..Options::default()
        };
        // Key 0 converts; key 1 is after the conversion but more than the lookback before the
        // last touch (key 2), so only key 2 makes the non-converting path.
        let people = vec![(
            vec![touch(DAY, 0), touch(3 * DAY, 1), touch(10 * DAY, 2)],
            vec![conversion(2 * DAY, 1.0)],
        )];
        let attributor = attributor(&people, 3, options);
        let expected: HashMap<(State, State), u64> = [
            ((State::Start, State::Key(0)), 1),
            ((State::Key(0), State::Conversion), 1),
            ((State::Start, State::Key(2)), 1),
            ((State::Key(2), State::Null), 1),
        ]
        .into_iter()
        .collect();
        assert_eq!(attributor.transitions.counts, expected);
    }

    /// P(conversion from start) by value iteration on the chain of `paths` (keys and whether the
    /// path converted), with every transition into `removed` sent to null.
    fn reference_conversion_probability(
        paths: &[(Vec<u32>, bool)],
        keys: usize,
        removed: Option<usize>,
    ) -> f64 {
        // From: 0 = start, 1 + k = key k. To: 1 + k = key k, keys + 1 = conversion, keys + 2 = null.
        let conversion_state = keys + 1;
        let null_state = keys + 2;
        let mut counts = vec![vec![0.0; keys + 3]; keys + 1];
        for (path, converted) in paths {
            let mut previous = 0;
            for key in path {
                counts[previous][1 + *key as usize] += 1.0;
                previous = 1 + *key as usize;
            }
            counts[previous][if *converted {
                conversion_state
            } else {
                null_state
            }] += 1.0;
        }
        let mut probability = vec![0.0; keys + 1];
        for _ in 0..1_000_000 {
            let next: Vec<f64> = counts
                .iter()
                .map(|row| {
                    let total: f64 = row.iter().sum();
                    if total == 0.0 {
                        return 0.0;
                    }
                    (1..keys + 3)
                        .map(|to| {
                            let to_probability = if to == conversion_state {
                                1.0
                            } else if to == null_state || Some(to - 1) == removed {
                                0.0
                            } else {
                                probability[to]
                            };
                            row[to] / total * to_probability
                        })
                        .sum()
                })
                .collect();
            let change = next
                .iter()
                .zip(&probability)
                .map(|(new, old)| (new - old).abs())
                .fold(0.0, f64::max);
            probability = next;
            if change < 1e-15 {
                break;
            }
        }
        probability[0]
    }

    fn paths_strategy() -> impl Strategy<Value = (usize, Vec<(Vec<u32>, bool)>)> {
        (1usize..6).prop_flat_map(|keys| {
            let path = (prop::collection::vec(0..keys as u32, 1..6), any::<bool>());
            (Just(keys), prop::collection::vec(path, 1..12))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn data_driven_agrees_with_value_iteration((keys, paths) in paths_strategy()) {
            // One person per path, one hour between touches and a conversion after the last one.
            let hour = DAY / 24;
            let people: People = paths
                .iter()
                .map(|(path, converted)| {
                    let touches: Vec<Touch> = path
                        .iter()
                        .enumerate()
                        .map(|(position, key)| touch(position as i64 * hour, *key))
                        .collect();
                    let conversions = if *converted {
                        vec![conversion(path.len() as i64 * hour, 10.0)]
                    } else {
                        vec![]
                    };
                    (touches, conversions)
                })
                .collect();
            let attributor = attributor(&people, keys, Options::default());
            let removal_effects = attributor.transitions.removal_effects(keys);

            let conversion_probability = reference_conversion_probability(&paths, keys, None);
            if conversion_probability == 0.0 {
                prop_assert!(removal_effects.iter().all(|effect| *effect == 0.0));
                prop_assert!(attributor.attribution(Model::DataDriven).credits.is_empty());
                return Ok(());
            }
            let expected_effects: Vec<f64> = (0..keys)
                .map(|key| {
                    1.0 - reference_conversion_probability(&paths, keys, Some(key))
                        / conversion_probability
                })
                .collect();
            for (actual, expected) in removal_effects.iter().zip(&expected_effects) {
                prop_assert!((actual - expected).abs() < 1e-6, "{removal_effects:?} != {expected_effects:?}");
            }

            let conversions = paths.iter().filter(|(_, converted)| *converted).count() as f64;
            let effect_sum: f64 = expected_effects.iter().sum();
            let expected_credits: Vec<(u32, f64, f64)> = expected_effects
                .iter()
                .enumerate()
                .filter(|(_, effect)| **effect > 1e-9)
                .map(|(key, effect)| {
                    let share = effect / effect_sum;
                    (key as u32, conversions * share, 10.0 * conversions * share)
                })
                .collect();
            let actual_credits = credits(&attributor, Model::DataDriven);
            prop_assert_eq!(actual_credits.len(), expected_credits.len());
            for (actual, expected) in actual_credits.iter().zip(&expected_credits) {
                prop_assert_eq!(actual.0, expected.0);
                prop_assert!((actual.1 - expected.1).abs() < 1e-6, "{actual_credits:?} != {expected_credits:?}");
                prop_assert!((actual.2 - expected.2).abs() < 1e-5, "{actual_credits:?} != {expected_credits:?}");
            }
        }
    }

    fn people_strategy() -> impl Strategy<Value = People> {
        let touches = prop::collection::vec((0i64..60, 0u32..6), 0..8);
        let conversions = prop::collection::vec((0i64..60, 0.0f64..1000.0), 0..4);
        prop::collection::vec((touches, conversions), 0..10).prop_map(|people| {
            people
                .into_iter()
                .map(|(touches, conversions)| {
                    let mut touches: Vec<Touch> = touches
                        .into_iter()
                        .map(|(at, key)| touch(at * DAY, key))
                        .collect();
                    touches.sort_by_key(|touch| touch.at_micros);
                    let mut conversions: Vec<Conversion> = conversions
                        .into_iter()
                        .map(|(at, value)| conversion(at * DAY, value))
                        .collect();
                    conversions.sort_by_key(|conversion| conversion.at_micros);
                    (touches, conversions)
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn every_model_credits_exactly_the_attributed_conversions(
            people in people_strategy(),
            lookback_days in 0i64..30,
            half_life_days in 1i64..20,
            position_based_ends in 0.0f64..=0.5,
        ) {
            let options = Options {
                lookback_micros: lookback_days * DAY,
                time_decay_half_life_micros: half_life_days * DAY,
                position_based_ends,
            };
            let attributor = attributor(&people, 6, options);

            // Counted here by brute force, independently of the windows the attributor slices.
            let mut attributed_conversions = 0u64;
            let mut attributed_revenue = 0.0;
            let mut total_conversions = 0u64;
            for (touches, conversions) in &people {
                for conversion in conversions {
                    total_conversions += 1;
                    let in_window = touches.iter().any(|touch| {
                        touch.at_micros <= conversion.at_micros
                            && conversion.at_micros - touch.at_micros <= options.lookback_micros
                    });
                    if in_window {
                        attributed_conversions += 1;
                        attributed_revenue += conversion.value;
                    }
                }
            }

            for model in Model::ALL {
                let attribution = attributor.attribution(model);
                prop_assert_eq!(attribution.total_conversions, total_conversions);
                prop_assert_eq!(
                    attribution.unattributed_conversions,
                    total_conversions - attributed_conversions
                );
                prop_assert!(attribution.credits.is_sorted_by_key(|credit| credit.key));
                prop_assert!(attribution.credits.iter().all(|credit| credit.conversions > 0.0 && credit.revenue >= 0.0));
                let credited_conversions: f64 = attribution.credits.iter().map(|credit| credit.conversions).sum();
                let credited_revenue: f64 = attribution.credits.iter().map(|credit| credit.revenue).sum();
                let conversion_tolerance = 1e-9 * (attributed_conversions as f64).max(1.0);
                let revenue_tolerance = 1e-9 * attributed_revenue.max(1.0);
                prop_assert!(
                    (credited_conversions - attributed_conversions as f64).abs() <= conversion_tolerance,
                    "{model:?}: {credited_conversions} != {attributed_conversions}"
                );
                prop_assert!(
                    (credited_revenue - attributed_revenue).abs() <= revenue_tolerance,
                    "{model:?}: {credited_revenue} != {attributed_revenue}"
                );
            }
        }
    }
}
