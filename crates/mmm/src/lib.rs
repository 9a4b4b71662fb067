//! Media mix modelling and budget planning (pure computation): what each paid channel
//! contributed to a KPI, what the next unit of spend would earn, and how to split a budget.
//!
//! The model is Bayesian (geometric adstock, Hill saturation, ROI priors as in Meridian) and is
//! sampled with NUTS; the optimiser searches millions of budget splits and certifies its answer
//! with the equal-marginal-ROI conditions.

mod curve;
mod data;
mod diagnostics;
mod fit;
mod model;
mod optimise;
mod response;
mod sampling;
mod scenario;

pub use curve::{Adstock, CarryOver, Hill, Shape};
pub use data::{DataError, Granularity, MediaData, Observation, Prepared, Series};
pub use diagnostics::{effective_sample_size, split_r_hat};
pub use fit::{
    ChannelReport, Convergence, Fit, FitError, FitQuality, FitReport, Interval, ResponseCurve,
    check, fit,
};
pub use model::{Calibration, ModelSpec, RoiPrior, SpecError};
pub use optimise::{
    Bound, BudgetPlan, CERTIFICATE_TOLERANCE, Certificate, ChannelPlan, DEFAULT_SCENARIOS, Goal,
    MAX_SCENARIOS, PlanError, PlanRequest, Position, optimise,
};
pub use response::{ChannelCurve, ResponseModel};
pub use sampling::{MAX_CHAINS, MAX_DRAWS, SamplerSettings, SamplingError};
pub use scenario::{
    MAX_SCENARIO_PLANS, ScenarioComparison, ScenarioError, ScenarioRequest, ScenarioResult, compare,
};
