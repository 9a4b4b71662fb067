//! Summary statistics shared by the tests, and the tolerance they hold gbstats' answers to.

use crate::{Component, Statistic};

/// Agreement to a relative 1e-6 (an absolute 1e-12 for numbers below 1e-6).
pub fn assert_close(actual: f64, expected: f64) {
    let tolerance = 1e-6 * expected.abs().max(1e-6);
    assert!(
        (actual - expected).abs() <= tolerance,
        "{actual} is not within {tolerance} of {expected}"
    );
}

pub fn mean(sum: f64, sum_squares: f64) -> Component {
    Component::Mean { sum, sum_squares }
}

/// Revenue per session: control, then treatment.
pub fn ratios() -> (Statistic, Statistic) {
    (
        Statistic::Ratio {
            n: 1_000,
            numerator: mean(9_054.0, 108_180.0),
            denominator: mean(3_024.0, 11_110.0),
            sum_of_products: 33_188.0,
        },
        Statistic::Ratio {
            n: 1_050,
            numerator: mean(10_504.0, 138_038.0),
            denominator: mean(3_173.0, 11_643.0),
            sum_of_products: 38_441.0,
        },
    )
}

/// A count after exposure adjusted with the same count before: control, then treatment.
pub fn adjusted() -> (Statistic, Statistic) {
    (
        Statistic::RegressionAdjusted {
            n: 800,
            post: mean(9_559.0, 129_589.0),
            pre: mean(8_064.0, 89_762.0),
            post_pre_sum_of_products: 103_897.0,
        },
        Statistic::RegressionAdjusted {
            n: 820,
            post: mean(10_464.0, 153_438.0),
            pre: mean(8_265.0, 91_999.0),
            post_pre_sum_of_products: 114_703.0,
        },
    )
}

/// The same counts after exposure, unadjusted.
pub fn unadjusted() -> (Statistic, Statistic) {
    (
        Statistic::Mean {
            n: 800,
            sum: 9_559.0,
            sum_squares: 129_589.0,
        },
        Statistic::Mean {
            n: 820,
            sum: 10_464.0,
            sum_squares: 153_438.0,
        },
    )
}

/// A conversion adjusted with conversion before exposure: control, then treatment.
pub fn adjusted_conversions() -> (Statistic, Statistic) {
    let binary = |post, pre, products| Statistic::RegressionAdjusted {
        n: 2_000,
        post: Component::Proportion { sum: post },
        pre: Component::Proportion { sum: pre },
        post_pre_sum_of_products: products,
    };
    (binary(509.0, 591.0, 352.0), binary(550.0, 556.0, 358.0))
}

/// The same conversions, unadjusted.
pub fn conversions() -> (Statistic, Statistic) {
    (
        Statistic::Proportion {
            n: 2_000,
            sum: 509.0,
        },
        Statistic::Proportion {
            n: 2_000,
            sum: 550.0,
        },
    )
}
