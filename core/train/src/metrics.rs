//! Evaluation metrics: MSE, MAE, Spearman's rank correlation.

/// Mean squared error.
pub fn mse(pred: &[f32], target: &[f32]) -> f64 {
    pred.iter()
        .zip(target)
        .map(|(p, t)| f64::from(p - t).powi(2))
        .sum::<f64>()
        / pred.len().max(1) as f64
}

/// Mean absolute error.
pub fn mae(pred: &[f32], target: &[f32]) -> f64 {
    pred.iter()
        .zip(target)
        .map(|(p, t)| f64::from(p - t).abs())
        .sum::<f64>()
        / pred.len().max(1) as f64
}

/// MAE of always predicting `constant` (the predict-the-training-mean baseline).
pub fn constant_mae(constant: f64, target: &[f32]) -> f64 {
    target
        .iter()
        .map(|t| (f64::from(*t) - constant).abs())
        .sum::<f64>()
        / target.len().max(1) as f64
}

/// Ranks with ties averaged (1-based).
fn ranks(values: &[f32]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    idx.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut out = vec![0.0; values.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && values[idx[j + 1]] == values[idx[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for k in i..=j {
            out[idx[k]] = rank;
        }
        i = j + 1;
    }
    out
}

/// Spearman's ρ (Pearson correlation of tie-averaged ranks); NaN when either side is constant.
pub fn spearman(a: &[f32], b: &[f32]) -> f64 {
    let (ra, rb) = (ranks(a), ranks(b));
    let n = ra.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let cov: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = ra.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = rb.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_errors() {
        assert_eq!(mse(&[1.0, 3.0], &[2.0, 1.0]), 2.5);
        assert_eq!(mae(&[1.0, 3.0], &[2.0, 1.0]), 1.5);
        assert_eq!(constant_mae(2.0, &[1.0, 4.0]), 1.5);
    }

    #[test]
    fn spearman_matches_reference_values() {
        assert!((spearman(&[1.0, 2.0, 3.0, 4.0], &[10.0, 20.0, 30.0, 40.0]) - 1.0).abs() < 1e-12);
        assert!((spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        // Ranks [1, 2.5, 2.5, 4] vs [1, 3, 2, 4]: cov 4.5 / sqrt(4.5 · 5) (what scipy.stats.spearmanr gives).
        assert!(
            (spearman(&[1.0, 2.0, 2.0, 3.0], &[1.0, 3.0, 2.0, 4.0]) - 0.948_683_298_050_513_8)
                .abs()
                < 1e-12
        );
        assert!(spearman(&[1.0, 1.0], &[1.0, 2.0]).is_nan());
    }
}
