//! Corrections for testing many metrics and variations at once: adjusted p-values.

/// Holm-Bonferroni: controls the family-wise error rate.
pub fn holm_bonferroni(p_values: &[f64]) -> Vec<f64> {
    let count = p_values.len() as f64;
    let mut order: Vec<usize> = (0..p_values.len()).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let mut adjusted = vec![0.0; p_values.len()];
    let mut running = 0.0_f64;
    for (rank, &index) in order.iter().enumerate() {
        running = running.max((p_values[index] * (count - rank as f64)).min(1.0));
        adjusted[index] = running;
    }
    adjusted
}

/// Benjamini-Hochberg: controls the false discovery rate.
pub fn benjamini_hochberg(p_values: &[f64]) -> Vec<f64> {
    let count = p_values.len() as f64;
    let mut order: Vec<usize> = (0..p_values.len()).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let mut adjusted = vec![0.0; p_values.len()];
    let mut running = 1.0_f64;
    for (rank, &index) in order.iter().enumerate().rev() {
        running = running.min(p_values[index] * count / (rank as f64 + 1.0));
        adjusted[index] = running;
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(a, b)| (a - b).abs() < 1e-12)
    }

    #[test]
    fn holm_multiplies_by_the_remaining_count_and_stays_monotone() {
        let adjusted = holm_bonferroni(&[0.01, 0.04, 0.03, 0.005]);
        assert!(close(&adjusted, &[0.03, 0.06, 0.06, 0.02]), "{adjusted:?}");
        assert!(close(&holm_bonferroni(&[0.5, 0.9]), &[1.0, 1.0]));
        assert!(holm_bonferroni(&[]).is_empty());
    }

    #[test]
    fn benjamini_hochberg_scales_by_rank_from_the_top() {
        let adjusted = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.005]);
        assert!(close(&adjusted, &[0.02, 0.04, 0.04, 0.02]), "{adjusted:?}");
        assert!(close(&benjamini_hochberg(&[0.2]), &[0.2]));
    }
}
