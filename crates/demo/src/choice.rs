//! Weighted random choice, shared by everything that draws from a fixed mix.

use rand::Rng;

/// One of `choices`, with probability proportional to its weight.
pub(crate) fn weighted_choice<T: Copy>(rng: &mut impl Rng, choices: &[(T, f64)]) -> T {
    debug_assert!(!choices.is_empty() && choices.iter().all(|(_, weight)| *weight >= 0.0));
    let total: f64 = choices.iter().map(|(_, weight)| weight).sum();
    let mut remaining = rng.random::<f64>() * total;
    for &(choice, weight) in choices {
        remaining -= weight;
        if remaining < 0.0 {
            return choice;
        }
    }
    choices[choices.len() - 1].0
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn choices_come_in_proportion_to_their_weights() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let draws = 100_000;
        let heavy = (0..draws)
            .filter(|_| {
                weighted_choice(&mut rng, &[("light", 1.0), ("heavy", 3.0), ("never", 0.0)])
                    == "heavy"
            })
            .count();
        let share = heavy as f64 / f64::from(draws);
        assert!((share - 0.75).abs() < 0.01, "{share}");
    }
}
