//! How long the active mode takes per step in a large session.

use std::time::Instant;

use super::{probit_vote, truth};
use crate::pairing::{Active, PairingMode, RandomPairs};
use crate::rng::Rng;
use crate::session::{Outcome, Session};
use crate::trueskill::TrueSkill;

/// Time the active mode takes per step in a large session, in milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Latency {
    /// Items in the session.
    pub items: usize,
    /// Comparisons per item made before timing (random pairs, σ = 0.85 rater).
    pub k: u32,
    /// Steps timed.
    pub steps: usize,
    /// `refresh_posterior` + `next_pair`: mean, median, max.
    pub pair_ms: (f64, f64, f64),
    /// `refresh_posterior` + `next_group(4)`: mean, median, max.
    pub group_ms: (f64, f64, f64),
    /// One sweep of the posterior over all comparisons (`refresh_posterior` runs two once the
    /// results added since the last reach 1/16 of all).
    pub sweep_ms: f64,
}

/// Measures the active mode's time per step (posterior refresh plus choice) with `items` items
/// after `k` comparisons per item, over `steps` steps of pairs and then of groups of four.
pub fn latency(items: usize, k: u32, steps: usize, seed: u64) -> Latency {
    let truth = truth(items, seed);
    let mut rater = Rng::new(seed, &[0x6c61_7465]);
    let mut warmup = RandomPairs::new(seed);
    let mut session = Session::new(TrueSkill::image_ranker(), items);
    let judge = |a: usize, b: usize, rater: &mut Rng| probit_vote(&truth, a, b, 0.85, rater);
    for _ in 0..k as usize * items / 2 {
        let (a, b) = warmup.next_pair(&session).expect("two items");
        session.record(judge(a, b, &mut rater));
    }
    session.converge_posterior();
    let mut posterior = session.posterior().clone();
    let start = Instant::now();
    posterior.sweep();
    let sweep_ms = start.elapsed().as_secs_f64() * 1e3;
    let mut mode = Active::new(seed);
    let stats = |mut t: Vec<f64>| {
        t.sort_by(f64::total_cmp);
        (
            t.iter().sum::<f64>() / t.len() as f64,
            t[t.len() / 2],
            t[t.len() - 1],
        )
    };
    let mut pair_ms = Vec::new();
    for _ in 0..steps {
        let start = Instant::now();
        session.refresh_posterior();
        let (a, b) = mode.next_pair(&session).expect("two items");
        pair_ms.push(start.elapsed().as_secs_f64() * 1e3);
        session.record(judge(a, b, &mut rater));
    }
    let mut group_ms = Vec::new();
    for _ in 0..steps {
        let start = Instant::now();
        session.refresh_posterior();
        let g = mode.next_group(&session, 4).expect("four items");
        group_ms.push(start.elapsed().as_secs_f64() * 1e3);
        let best = *g
            .iter()
            .max_by(|&&x, &&y| truth[x].total_cmp(&truth[y]))
            .expect("non-empty");
        session.record(Outcome::BestOf {
            winner: best,
            others: g.into_iter().filter(|&i| i != best).collect(),
        });
    }
    Latency {
        items,
        k,
        steps,
        pair_ms: stats(pair_ms),
        group_ms: stats(group_ms),
        sweep_ms,
    }
}
