//! Each channel's response to steady spend, one curve per posterior draw: what the optimiser and
//! scenario comparisons evaluate. Spending `x` per period for long enough gives
//! `coefficient * steady(x / mean_spend)` KPI per period.

use serde::{Deserialize, Serialize};

use crate::curve::Hill;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChannelCurve {
    /// KPI per period at full saturation.
    pub coefficient: f64,
    pub saturation: Hill,
}

/// Posterior draws of every channel's curve: `draws[draw][channel]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseModel {
    pub channels: Vec<String>,
    /// Mean spend per period over the fitted history, per channel.
    pub mean_spend: Vec<f64>,
    pub draws: Vec<Vec<ChannelCurve>>,
}

impl ResponseModel {
    /// KPI per period from `spend` per period on `channel`, under one draw.
    pub fn response(&self, draw: usize, channel: usize, spend: f64) -> f64 {
        let curve = &self.draws[draw][channel];
        curve.coefficient * curve.saturation.steady(spend / self.mean_spend[channel])
    }

    /// Extra KPI per extra unit of spend at `spend` per period, under one draw.
    pub fn marginal(&self, draw: usize, channel: usize, spend: f64) -> f64 {
        let curve = &self.draws[draw][channel];
        let mean_spend = self.mean_spend[channel];
        curve.coefficient * curve.saturation.steady_slope(spend / mean_spend) / mean_spend
    }

    /// Posterior mean of [`Self::response`].
    pub fn expected_response(&self, channel: usize, spend: f64) -> f64 {
        self.average(|draw| self.response(draw, channel, spend))
    }

    /// Posterior mean of [`Self::marginal`]: the slope of [`Self::expected_response`].
    pub fn expected_marginal(&self, channel: usize, spend: f64) -> f64 {
        self.average(|draw| self.marginal(draw, channel, spend))
    }

    /// Both posterior means at once, for tabulating: one pass over the draws.
    pub fn expected_response_and_marginal(&self, channel: usize, spend: f64) -> (f64, f64) {
        if self.draws.is_empty() {
            return (0.0, 0.0);
        }
        let mean_spend = self.mean_spend[channel];
        let relative = spend / mean_spend;
        let (mut response, mut marginal) = (0.0, 0.0);
        for draw in &self.draws {
            let curve = &draw[channel];
            let hill = curve.saturation;
            let value = hill.steady(relative);
            response += curve.coefficient * value;
            marginal += curve.coefficient * hill.slope_at(relative, value) / mean_spend;
        }
        let draws = self.draws.len() as f64;
        (response / draws, marginal / draws)
    }

    /// KPI per period of a whole allocation under one draw.
    pub fn total(&self, draw: usize, allocation: &[f64]) -> f64 {
        allocation
            .iter()
            .enumerate()
            .map(|(channel, spend)| self.response(draw, channel, *spend))
            .sum()
    }

    pub fn draw_count(&self) -> usize {
        self.draws.len()
    }

    fn average(&self, value: impl Fn(usize) -> f64) -> f64 {
        if self.draws.is_empty() {
            return 0.0;
        }
        (0..self.draws.len()).map(value).sum::<f64>() / self.draws.len() as f64
    }
}
