//! NUTS from `nuts-rs` (the sampler behind nutpie), one thread per chain. Each chain's random
//! numbers come from its own generator seeded from the fit's seed and the chain number, so a
//! fit is bit-for-bit the same for the same seed however the threads are scheduled.

use std::collections::HashMap;
use std::sync::Arc;

use nuts_rs::rand::rngs::ChaCha8Rng;
use nuts_rs::rand::{RngExt, SeedableRng};
use nuts_rs::{
    Chain, CpuLogpFunc, CpuMath, CpuMathError, DiagNutsSettings, HasDims, LogpError, Settings,
};
use serde::{Deserialize, Serialize};

use crate::model::{Density, Design};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SamplerSettings {
    pub chains: usize,
    /// Warm-up draws per chain (step size and mass matrix adaptation), discarded.
    pub tune: u64,
    /// Kept draws per chain.
    pub draws: u64,
    pub seed: u64,
    pub max_tree_depth: u64,
}

impl Default for SamplerSettings {
    fn default() -> Self {
        SamplerSettings {
            chains: 4,
            tune: 1000,
            draws: 1000,
            seed: 42,
            max_tree_depth: 10,
        }
    }
}

pub const MAX_CHAINS: usize = 16;
pub const MAX_DRAWS: u64 = 20_000;

impl SamplerSettings {
    pub fn check(&self) -> Result<(), SamplingError> {
        if !(2..=MAX_CHAINS).contains(&self.chains) {
            return Err(SamplingError::Settings(format!(
                "chains must be between 2 and {MAX_CHAINS} (convergence is judged across chains)"
            )));
        }
        if !(100..=MAX_DRAWS).contains(&self.draws) || !(100..=MAX_DRAWS).contains(&self.tune) {
            return Err(SamplingError::Settings(format!(
                "tune and draws must be between 100 and {MAX_DRAWS}"
            )));
        }
        if !(4..=12).contains(&self.max_tree_depth) {
            return Err(SamplingError::Settings(
                "max_tree_depth must be between 4 and 12".into(),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SamplingError {
    #[error("invalid sampler settings: {0}")]
    Settings(String),
    #[error("the sampler failed: {0}")]
    Sampler(String),
}

/// The kept draws of every chain, in unconstrained coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct Draws {
    /// `[chain][draw]` -> position.
    pub chains: Vec<Vec<Vec<f64>>>,
    /// Divergent transitions after warm-up, per chain.
    pub divergences: Vec<u64>,
    /// Kept draws whose tree reached the maximum depth, per chain.
    pub max_depth_hits: Vec<u64>,
    pub gradient_evaluations: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("the log density is not finite here")]
struct NotFinite;

impl LogpError for NotFinite {
    fn is_recoverable(&self) -> bool {
        true
    }
}

/// The posterior as `nuts-rs` sees it.
struct Posterior {
    density: Density,
}

impl HasDims for Posterior {
    fn dim_sizes(&self) -> HashMap<String, u64> {
        HashMap::from([(
            "unconstrained_parameter".to_string(),
            self.density.design().dimension() as u64,
        )])
    }
}

impl CpuLogpFunc for Posterior {
    type LogpError = NotFinite;
    type FlowParameters = ();
    type ExpandedVector = Vec<f64>;

    fn dim(&self) -> usize {
        self.density.design().dimension()
    }

    fn logp(&mut self, position: &[f64], gradient: &mut [f64]) -> Result<f64, NotFinite> {
        self.density
            .log_density(position, gradient)
            .ok_or(NotFinite)
    }

    fn expand_vector<R>(&mut self, _rng: &mut R, array: &[f64]) -> Result<Vec<f64>, CpuMathError>
    where
        R: nuts_rs::rand::Rng + ?Sized,
    {
        Ok(array.to_vec())
    }
}

struct ChainDraws {
    draws: Vec<Vec<f64>>,
    divergences: u64,
    max_depth_hits: u64,
    gradient_evaluations: u64,
}

fn run_chain(
    design: Arc<Design>,
    settings: &SamplerSettings,
    chain: u64,
) -> Result<ChainDraws, SamplingError> {
    let mut nuts = DiagNutsSettings {
        num_tune: settings.tune,
        num_draws: settings.draws,
        maxdepth: settings.max_tree_depth,
        num_chains: settings.chains,
        seed: settings.seed,
        ..DiagNutsSettings::default()
    };
    nuts.store_divergences = false;
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
    rng.set_stream(chain + 1);
    let initial: Vec<f64> = design
        .initial_position()
        .iter()
        .map(|value| value + (rng.random::<f64>() - 0.5) * 0.5)
        .collect();
    let math = CpuMath::new(Posterior {
        density: Density::new(Arc::clone(&design)),
    });
    let mut sampler = nuts.new_chain(chain, math, &mut rng).map_err(failed)?;
    sampler.set_position(&initial).map_err(failed)?;
    let mut kept = ChainDraws {
        draws: Vec::with_capacity(settings.draws as usize),
        divergences: 0,
        max_depth_hits: 0,
        gradient_evaluations: 0,
    };
    let max_steps = (1u64 << settings.max_tree_depth) - 1;
    for _ in 0..settings.tune + settings.draws {
        let (position, progress) = sampler.draw().map_err(failed)?;
        kept.gradient_evaluations += progress.num_steps;
        if progress.tuning {
            continue;
        }
        kept.divergences += u64::from(progress.diverging);
        kept.max_depth_hits += u64::from(progress.num_steps >= max_steps);
        kept.draws.push(position.into_vec());
    }
    Ok(kept)
}

fn failed(error: impl std::fmt::Display) -> SamplingError {
    SamplingError::Sampler(error.to_string())
}

pub fn sample(design: Arc<Design>, settings: &SamplerSettings) -> Result<Draws, SamplingError> {
    settings.check()?;
    let results: Vec<Result<ChainDraws, SamplingError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..settings.chains as u64)
            .map(|chain| {
                let design = Arc::clone(&design);
                scope.spawn(move || run_chain(design, settings, chain))
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|_| Err(SamplingError::Sampler("a chain panicked".into())))
            })
            .collect()
    });
    let mut draws = Draws {
        chains: Vec::with_capacity(settings.chains),
        divergences: Vec::with_capacity(settings.chains),
        max_depth_hits: Vec::with_capacity(settings.chains),
        gradient_evaluations: 0,
    };
    for result in results {
        let chain = result?;
        draws.chains.push(chain.draws);
        draws.divergences.push(chain.divergences);
        draws.max_depth_hits.push(chain.max_depth_hits);
        draws.gradient_evaluations += chain.gradient_evaluations;
    }
    Ok(draws)
}
