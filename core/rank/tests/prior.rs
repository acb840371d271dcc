//! A model prior: a good one saves comparisons, a wrong one is outvoted.

use rateme_rank::sim::{Estimate, ModeKind, RunSpec, run};

/// Mean Spearman (posterior) over `seeds` at each `ks`, for `mode`.
fn mean_spearman(mode: ModeKind, items: usize, noise: f64, ks: &[u32], seeds: u64) -> Vec<f64> {
    let mut sums = vec![0.0; ks.len()];
    for seed in 1..=seeds {
        let checkpoints = run(&RunSpec {
            items,
            noise,
            mode,
            seed,
            ks: ks.to_vec(),
        });
        for (k, sum) in ks.iter().zip(&mut sums) {
            *sum += checkpoints
                .iter()
                .find(|c| c.k == *k && c.estimate == Estimate::Posterior)
                .unwrap()
                .spearman;
        }
    }
    sums.into_iter().map(|s| s / seeds as f64).collect()
}

#[test]
fn a_wrong_prior_is_outvoted_and_a_good_one_saves_comparisons() {
    let ks = [2, 80];
    let none = mean_spearman(ModeKind::Active, 40, 0.3, &ks, 5);
    // Scores anti-correlated (−0.8) with the truth, calibrated as if +0.8: at first the
    // ranking is upside down, after enough votes it is as good as without a prior.
    let wrong = mean_spearman(ModeKind::ActiveWrongPrior, 40, 0.3, &ks, 5);
    assert!(
        wrong[0] < 0.0,
        "the wrong prior did not mislead at first: {wrong:?}"
    );
    assert!(
        wrong[1] >= none[1] - 0.003,
        "after 80 comparisons per item: wrong prior {:.4}, none {:.4}",
        wrong[1],
        none[1]
    );
    let good = mean_spearman(ModeKind::ActivePrior80, 40, 0.3, &ks, 5);
    assert!(
        good[0] > none[0] + 0.05,
        "good prior {good:?}, none {none:?}"
    );
}
