//! The ranking simulator: items with hidden true scores, a simulated rater, and how well each
//! pairing mode's ranking agrees with the truth after a given number of comparisons.
//!
//! - True scores `s_i ~ N(0, 1)`, i.i.d.
//! - The rater is probit: it prefers `i` to `j` with probability `Φ((s_i - s_j) / σ)`; σ is the
//!   rater's noise relative to the spread of the scores. It never skips or draws.
//! - **Comparisons per item** `k`: after `k·N/2` comparisons each item has taken part in `k`
//!   comparisons on average (each comparison involves two items).
//! - At each `k`, the ranking is scored against the truth with Spearman's rho and Kendall's tau,
//!   for two estimates: the online TrueSkill mean (what the original app ranks by) and the mean
//!   of the converged posterior (the same model fitted to all comparisons, [`crate::posterior`]).
//!
//! Everything is seeded: the truth by `(seed, N)`, the rater by `(seed, N, σ, mode)`, the mode by
//! `seed`. Runs are independent, so [`run_all`] spreads them over threads.

mod latency;
mod modes;
mod plot;
mod report;

pub use latency::{Latency, latency};
pub use modes::{Estimate, ModeKind};
pub use plot::svg;
pub use report::{Summary, csv, k_to_reach, markdown, summarise};

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::metrics::{kendall, spearman};
use crate::normal::cdf;
use crate::rng::Rng;
use crate::session::{Outcome, Session};
use crate::trueskill::{Rating, TrueSkill};

/// One simulated session.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSpec {
    /// Number of items.
    pub items: usize,
    /// Rater noise σ (relative to the true scores' standard deviation).
    pub noise: f64,
    /// The pairing mode.
    pub mode: ModeKind,
    /// Seed of truth, rater and mode.
    pub seed: u64,
    /// Comparisons per item at which to score the ranking, ascending.
    pub ks: Vec<u32>,
}

/// Agreement with the truth at one checkpoint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Checkpoint {
    /// Comparisons per item.
    pub k: u32,
    /// Comparisons made.
    pub comparisons: usize,
    /// The estimate scored.
    pub estimate: Estimate,
    /// Spearman's rho against the truth.
    pub spearman: f64,
    /// Kendall's tau-b against the truth.
    pub kendall: f64,
}

/// The simulated probit rater's verdict on the pair `(a, b)`: `a` wins with probability
/// Φ((truth[a] − truth[b]) / noise), one draw from `rater`.
pub fn probit_vote(truth: &[f64], a: usize, b: usize, noise: f64, rater: &mut Rng) -> Outcome {
    if rater.uniform() < cdf((truth[a] - truth[b]) / noise) {
        Outcome::Win {
            winner: a,
            loser: b,
        }
    } else {
        Outcome::Win {
            winner: b,
            loser: a,
        }
    }
}

/// The hidden true scores for a seed.
pub fn truth(items: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed, &[0x7472_7574, items as u64]);
    (0..items).map(|_| rng.normal()).collect()
}

/// Starting ratings from a simulated model whose scores correlate `correlation` with `truth`
/// (`correlation·t + sqrt(1 − correlation²)·e`, `e` standard normal, truth standardised),
/// calibrated as if the correlation were `told` ([`crate::prior::calibrated`]).
pub fn model_prior(
    env: &TrueSkill,
    truth: &[f64],
    correlation: f64,
    told: f64,
    seed: u64,
) -> Vec<Rating> {
    let n = truth.len() as f64;
    let mean = truth.iter().sum::<f64>() / n;
    let sd = (truth.iter().map(|t| (t - mean) * (t - mean)).sum::<f64>() / n).sqrt();
    let mut rng = Rng::new(seed, &[0x7072_696f, truth.len() as u64]);
    let noise = (1.0 - correlation * correlation).max(0.0).sqrt();
    let scores: Vec<Option<f64>> = truth
        .iter()
        .map(|t| Some(correlation * (t - mean) / sd + noise * rng.normal()))
        .collect();
    crate::prior::calibrated(env, &scores, told)
}

/// Runs one session; returns a checkpoint per `k` and estimate.
pub fn run(spec: &RunSpec) -> Vec<Checkpoint> {
    let env = TrueSkill::image_ranker();
    let truth = truth(spec.items, spec.seed);
    let mut rater = Rng::new(
        spec.seed,
        &[
            0x7261_7465,
            spec.items as u64,
            spec.noise.to_bits(),
            spec.mode as u64,
        ],
    );
    let mut mode = spec.mode.build(spec.seed);
    let mut session = match spec.mode.prior() {
        None => Session::new(env, spec.items),
        Some((correlation, told)) => {
            Session::with_priors(env, model_prior(&env, &truth, correlation, told, spec.seed))
        }
    };
    let mut out = Vec::new();
    let mut made = 0;
    for &k in &spec.ks {
        let target = k as usize * spec.items / 2;
        while made < target {
            if mode.reads_posterior() {
                session.refresh_posterior();
            }
            let Some((a, b)) = mode.next_pair(&session) else {
                break;
            };
            let outcome = probit_vote(&truth, a, b, spec.noise, &mut rater);
            session.record(outcome.clone());
            mode.observe(&session, &outcome);
            made += 1;
        }
        let online: Vec<f64> = session.ratings().iter().map(|r| r.mu).collect();
        let mut posterior = session.posterior().clone();
        posterior.converge(1e-4, 100);
        for (estimate, scores) in [
            (Estimate::TrueSkill, online),
            (Estimate::Posterior, posterior.means()),
        ] {
            out.push(Checkpoint {
                k,
                comparisons: made,
                estimate,
                spearman: spearman(&scores, &truth),
                kendall: kendall(&scores, &truth),
            });
        }
    }
    out
}

/// Runs every spec on `threads` threads; results in the order of `specs`. `progress` is called
/// after each finished run with (finished, total).
pub fn run_all(
    specs: &[RunSpec],
    threads: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Vec<Vec<Checkpoint>> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Vec<Checkpoint>>>> = Mutex::new(vec![None; specs.len()]);
    // Longest runs first, so the threads finish together.
    let mut order: Vec<usize> = (0..specs.len()).collect();
    order.sort_by_key(|&i| {
        std::cmp::Reverse(specs[i].items * specs[i].ks.last().copied().unwrap_or(0) as usize)
    });
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                loop {
                    let x = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&i) = order.get(x) else { break };
                    let r = run(&specs[i]);
                    results.lock().unwrap()[i] = Some(r);
                    progress(done.fetch_add(1, Ordering::Relaxed) + 1, specs.len());
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every run finished"))
        .collect()
}
