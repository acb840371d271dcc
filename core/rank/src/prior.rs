//! Starting ratings from a model's scores ("pre-rank by a model's predicted quality").
//!
//! TrueSkill's model assumes skills `s ~ N(mu0, sigma0²)`. A model's score `x`, standardised
//! over the items to `z`, correlates with the skill by `r` (measured on the model's validation
//! set). Under a bivariate normal, `s | z ~ N(mu0 + r·sigma0·z, sigma0²·(1 − r²))`: the prior
//! mean moves toward the model's opinion as far as the model is trustworthy, and the width
//! shrinks by as much. With `r = 0` this is the environment's prior; votes always dominate a
//! prior once there are enough of them, because its width stays positive (at least
//! `MIN_WIDTH · sigma0`).

use crate::trueskill::{Rating, TrueSkill};

/// The narrowest prior, as a fraction of sigma0, whatever the claimed correlation.
pub const MIN_WIDTH: f64 = 0.1;

/// Pearson's correlation of a bivariate normal with Spearman's `rho`:
/// `2·sin(π·rho/6)` (validation reports Spearman; the prior needs Pearson).
pub fn pearson_from_spearman(rho: f64) -> f64 {
    2.0 * (std::f64::consts::PI * rho / 6.0).sin()
}

/// One starting rating per score (`None`: no score, the environment's rating), calibrated to
/// the correlation `r` between scores and skills (clamped to [0, 1]).
pub fn calibrated(env: &TrueSkill, scores: &[Option<f64>], r: f64) -> Vec<Rating> {
    let r = if r.is_finite() {
        r.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let known: Vec<f64> = scores
        .iter()
        .flatten()
        .copied()
        .filter(|x| x.is_finite())
        .collect();
    let n = known.len() as f64;
    let mean = known.iter().sum::<f64>() / n.max(1.0);
    let sd =
        (known.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt();
    let width = env.sigma * (1.0 - r * r).sqrt().max(MIN_WIDTH);
    scores
        .iter()
        .map(|x| match x {
            Some(x) if x.is_finite() && sd > 0.0 => Rating {
                mu: env.mu + r * env.sigma * (x - mean) / sd,
                sigma: width,
            },
            _ => env.rating(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibration_follows_the_correlation() {
        let env = TrueSkill::image_ranker();
        let scores = [Some(1.0), Some(2.0), Some(3.0), None];
        let none = calibrated(&env, &scores, 0.0);
        assert!(
            none[..3]
                .iter()
                .all(|p| p.mu == env.mu && (p.sigma - env.sigma).abs() < 1e-12)
        );
        let p = calibrated(&env, &scores, 0.8);
        assert!(
            (p[2].mu - 0.8 * env.sigma).abs() < 1e-9 && (p[0].mu + 0.8 * env.sigma).abs() < 1e-9
        );
        assert!((p[1].sigma - 0.6 * env.sigma).abs() < 1e-9);
        assert_eq!(p[3], env.rating());
        assert!((calibrated(&env, &scores, 1.0)[0].sigma - MIN_WIDTH * env.sigma).abs() < 1e-12);
        assert!((pearson_from_spearman(1.0) - 1.0).abs() < 1e-12);
        assert!((pearson_from_spearman(0.0)).abs() < 1e-12);
    }
}
