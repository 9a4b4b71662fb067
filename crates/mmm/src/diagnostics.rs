//! Convergence diagnostics as Stan computes them: split R-hat and the effective sample size from
//! Geyer's initial monotone sequence of autocorrelations across chains.

use crate::data::mean;

fn variance(values: &[f64]) -> f64 {
    crate::data::standard_deviation(values).powi(2)
}

/// Each chain cut in two halves, so that a chain drifting within itself shows up too.
fn split(chains: &[Vec<f64>]) -> Vec<&[f64]> {
    chains
        .iter()
        .flat_map(|chain| {
            let half = chain.len() / 2;
            [&chain[..half], &chain[chain.len() - half..]]
        })
        .collect()
}

/// `(within-chain variance, pooled variance estimate)` of the split chains.
fn variances(halves: &[&[f64]]) -> (f64, f64) {
    let length = halves[0].len() as f64;
    let within = mean(&halves.iter().map(|half| variance(half)).collect::<Vec<_>>());
    let means: Vec<f64> = halves.iter().map(|half| mean(half)).collect();
    let between_over_length = variance(&means);
    (
        within,
        (length - 1.0) / length * within + between_over_length,
    )
}

/// Split R-hat; 1.0 for a constant quantity. Above 1.01 the chains have not mixed.
pub fn split_r_hat(chains: &[Vec<f64>]) -> f64 {
    let halves = split(chains);
    if halves.len() < 2 || halves[0].len() < 2 {
        return f64::NAN;
    }
    let (within, pooled) = variances(&halves);
    if within <= 0.0 {
        return 1.0;
    }
    (pooled / within).sqrt()
}

fn autocovariance(values: &[f64], average: f64, lag: usize) -> f64 {
    let length = values.len();
    values[..length - lag]
        .iter()
        .zip(&values[lag..])
        .map(|(first, second)| (first - average) * (second - average))
        .sum::<f64>()
        / length as f64
}

/// Bulk effective sample size over all chains.
pub fn effective_sample_size(chains: &[Vec<f64>]) -> f64 {
    let halves = split(chains);
    if halves.len() < 2 || halves[0].len() < 4 {
        return f64::NAN;
    }
    let (within, pooled) = variances(&halves);
    let total = (halves.len() * halves[0].len()) as f64;
    if within <= 0.0 || pooled <= 0.0 {
        return total;
    }
    let means: Vec<f64> = halves.iter().map(|half| mean(half)).collect();
    let length = halves[0].len();
    let correlation = |lag: usize| {
        let covariance = mean(
            &halves
                .iter()
                .zip(&means)
                .map(|(half, average)| autocovariance(half, *average, lag))
                .collect::<Vec<_>>(),
        );
        1.0 - (within - covariance) / pooled
    };
    let mut sum_of_pairs = 0.0;
    let mut previous_pair = f64::INFINITY;
    let mut lag = 0;
    while lag + 1 < length {
        let pair = correlation(lag) + correlation(lag + 1);
        if pair <= 0.0 {
            break;
        }
        // Geyer's monotone sequence: a pair may not exceed the one before.
        let pair = pair.min(previous_pair);
        sum_of_pairs += pair;
        previous_pair = pair;
        lag += 2;
    }
    let autocorrelation_time = (2.0 * sum_of_pairs - 1.0).max(1.0 / total.log10());
    total / autocorrelation_time
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random sequence, uniform in [-0.5, 0.5).
    fn noise(seed: u64, count: usize) -> Vec<f64> {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        (0..count)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
            })
            .collect()
    }

    #[test]
    fn independent_chains_have_r_hat_near_one_and_full_sample_size() {
        let chains: Vec<Vec<f64>> = (0..4).map(|chain| noise(chain, 1000)).collect();
        let r_hat = split_r_hat(&chains);
        assert!((r_hat - 1.0).abs() < 0.01, "{r_hat}");
        let ess = effective_sample_size(&chains);
        assert!((3000.0..5000.0).contains(&ess), "{ess}");
    }

    #[test]
    fn sticky_and_disagreeing_chains_are_flagged() {
        // An AR(1) chain with coefficient 0.9 keeps about 1/19 of its draws.
        let sticky: Vec<Vec<f64>> = (0..4)
            .map(|chain| {
                let mut level = 0.0;
                noise(chain + 10, 2000)
                    .into_iter()
                    .map(|step| {
                        level = 0.9 * level + step;
                        level
                    })
                    .collect()
            })
            .collect();
        let ess = effective_sample_size(&sticky);
        assert!((200.0..800.0).contains(&ess), "{ess}");
        let mut apart = sticky.clone();
        for value in &mut apart[0] {
            *value += 5.0;
        }
        assert!(split_r_hat(&apart) > 1.1);
    }
}
