//! rateme's active mode: the pair whose result is expected to fix the most of the ranking,
//! under the converged posterior ([`crate::posterior`]), with a coverage rule so no item is
//! starved.
//!
//! For items `i`, `j` with posterior `N(m, v)`, the probability that the ranking (by posterior
//! mean) orders them wrongly is `Φ(-|m_i - m_j| / sqrt(v_i + v_j))`; summed over all pairs it is
//! the expected Kendall distance between the ranking and the truth. A comparison of `a` and `b`
//! changes their beliefs (one online update per possible result); its value is the expected
//! drop of that sum over the pairs `a` and `b` form with their neighbours in the ranking
//! ([`Objective::Ranking`]). Evaluating every pair costs O(n²), so each step:
//!
//! 1. coverage: only items with at most `coverage_slack` comparisons more than the least
//!    compared active item may anchor a pair;
//! 2. of those, the `anchors` items whose rank is most uncertain (largest summed misorder
//!    probability with their neighbours) are tried;
//! 3. each with its `partners` nearest neighbours on either side in the ranking;
//! 4. the pair with the largest value is shown (ties broken by the seeded RNG).
//!
//! With 2000 items this takes a few milliseconds (the simulator's `--latency` measures it).
//! [`Objective::Information`] values a pair by the expected information about the two skills
//! instead (the greedy information-gain rule); the simulator compares both.

use std::f64::consts::{LN_2, PI};

use super::PairingMode;
use crate::normal::{cdf, v_w_win};
use crate::rng::{Rng, mix};
use crate::session::Session;

/// Expected information (bits) that the result of `i` vs `j` gives about their skills, where
/// their difference has posterior mean `mean_diff` and variance `var_diff` and each performance
/// adds noise of variance `beta2` (mutual information between result and skills, probit model;
/// the expected entropy of the result given the skills uses Houlsby et al.'s approximation
/// `h(Φ(x)) ≈ exp(-x²/(π ln 2))`).
pub fn expected_information(mean_diff: f64, var_diff: f64, beta2: f64) -> f64 {
    let noise = 2.0 * beta2;
    let p = cdf(mean_diff / (noise + var_diff).sqrt());
    let c2 = PI * LN_2 / 2.0;
    let (m, v) = (mean_diff * mean_diff / noise, var_diff / noise);
    let conditional = (c2 / (v + c2)).sqrt() * (-m / (2.0 * (v + c2))).exp();
    (binary_entropy(p) - conditional).max(0.0)
}

fn binary_entropy(p: f64) -> f64 {
    if p <= 0.0 || p >= 1.0 {
        return 0.0;
    }
    -(p * p.log2() + (1.0 - p) * (1.0 - p).log2())
}

/// What a pair is worth to the active mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    /// Expected drop of the probability that the ranking misorders pairs, over the pairs the two
    /// items form with their neighbours and with each other (see the module docs).
    Ranking,
    /// Expected information about the two skills ([`expected_information`]).
    Information,
}

/// The active mode's settings (see the module docs; the defaults were picked with `rank-sim`).
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveConfig {
    /// What a pair is worth.
    pub objective: Objective,
    /// Anchors have at most this many comparisons more than the least compared active item.
    pub coverage_slack: u32,
    /// How many of the most rank-uncertain eligible items are tried as anchors.
    pub anchors: usize,
    /// Partner candidates: this many neighbours on each side of the anchor in the ranking.
    pub partners: usize,
    /// Neighbours on each side whose misordering counts ([`Objective::Ranking`] and the rank
    /// uncertainty of anchors).
    pub window: usize,
}

impl Default for ActiveConfig {
    fn default() -> Self {
        ActiveConfig {
            objective: Objective::Ranking,
            coverage_slack: 2,
            anchors: 16,
            partners: 4,
            window: 30,
        }
    }
}

/// Posterior means and variances of the items and the active ones in ranking order.
struct View {
    mean: Vec<f64>,
    var: Vec<f64>,
    /// Active items by ascending mean (equal means in a seeded random order).
    order: Vec<usize>,
    /// Place of each item in `order` (`usize::MAX` if not active).
    place: Vec<usize>,
    beta2: f64,
    margin: f64,
}

impl View {
    fn new(session: &Session, active: &[usize], seed: u64) -> Self {
        let p = session.posterior();
        let n = session.len();
        let mean: Vec<f64> = (0..n).map(|i| p.mean(i)).collect();
        let var: Vec<f64> = (0..n).map(|i| p.variance(i)).collect();
        let mut order = active.to_vec();
        order.sort_by(|&a, &b| {
            mean[a]
                .total_cmp(&mean[b])
                .then(mix(seed ^ a as u64).cmp(&mix(seed ^ b as u64)))
        });
        let mut place = vec![usize::MAX; n];
        for (k, &i) in order.iter().enumerate() {
            place[i] = k;
        }
        View {
            mean,
            var,
            order,
            place,
            beta2: p.beta2(),
            margin: session.env().draw_margin(2),
        }
    }

    /// Active items within `w` places of `i` in the ranking (not `i`).
    fn neighbours(&self, i: usize, w: usize) -> impl Iterator<Item = usize> + '_ {
        let k = self.place[i];
        let lo = k.saturating_sub(w);
        let hi = k.saturating_add(w).saturating_add(1).min(self.order.len());
        self.order[lo..hi].iter().copied().filter(move |&j| j != i)
    }

    /// Probability that the ranking orders two items wrongly.
    fn misorder((m_i, v_i): (f64, f64), (m_j, v_j): (f64, f64)) -> f64 {
        cdf(-(m_i - m_j).abs() / (v_i + v_j).sqrt())
    }

    fn belief(&self, i: usize) -> (f64, f64) {
        (self.mean[i], self.var[i])
    }

    /// Summed misorder probability of `i` with its neighbours.
    fn rank_uncertainty(&self, i: usize, w: usize) -> f64 {
        self.neighbours(i, w)
            .map(|j| Self::misorder(self.belief(i), self.belief(j)))
            .sum()
    }

    /// Beliefs about `a` and `b` after `a` beats `b` (one online update).
    fn after_win(&self, a: usize, b: usize) -> ((f64, f64), (f64, f64)) {
        let ((ma, va), (mb, vb)) = (self.belief(a), self.belief(b));
        let c2 = 2.0 * self.beta2 + va + vb;
        let c = c2.sqrt();
        let (v, w) = v_w_win((ma - mb) / c, self.margin / c);
        (
            (ma + va / c * v, va * (1.0 - va / c2 * w)),
            (mb - vb / c * v, vb * (1.0 - vb / c2 * w)),
        )
    }

    /// Probability that `a` wins, given that one of them does.
    fn win_probability(&self, a: usize, b: usize) -> f64 {
        let c = (2.0 * self.beta2 + self.var[a] + self.var[b]).sqrt();
        let pa = cdf((self.mean[a] - self.mean[b] - self.margin) / c);
        let pb = cdf((self.mean[b] - self.mean[a] - self.margin) / c);
        pa / (pa + pb)
    }

    /// Expected drop of the summed misorder probability of `a` and `b` with their neighbours
    /// and each other.
    fn ranking_gain(&self, a: usize, b: usize, w: usize) -> f64 {
        let mut others: Vec<usize> = self
            .neighbours(a, w)
            .chain(self.neighbours(b, w))
            .filter(|&j| j != a && j != b)
            .collect();
        others.sort_unstable();
        others.dedup();
        let total = |ba: (f64, f64), bb: (f64, f64)| -> f64 {
            let mut u = Self::misorder(ba, bb);
            for &j in &others {
                u += Self::misorder(ba, self.belief(j)) + Self::misorder(bb, self.belief(j));
            }
            u
        };
        let before = total(self.belief(a), self.belief(b));
        let p = self.win_probability(a, b);
        let (a_won, b_lost) = self.after_win(a, b);
        let (b_won, a_lost) = self.after_win(b, a);
        before - p * total(a_won, b_lost) - (1.0 - p) * total(a_lost, b_won)
    }

    fn information(&self, a: usize, b: usize) -> f64 {
        expected_information(
            self.mean[a] - self.mean[b],
            self.var[a] + self.var[b],
            self.beta2,
        )
    }
}

/// The active mode (see the module docs).
#[derive(Debug, Clone)]
pub struct Active {
    config: ActiveConfig,
    seed: u64,
    rng: Rng,
}

impl Active {
    /// The active mode with the default settings.
    pub fn new(seed: u64) -> Self {
        Self::with_config(seed, ActiveConfig::default())
    }

    /// The active mode with given settings.
    pub fn with_config(seed: u64, config: ActiveConfig) -> Self {
        Active {
            config,
            seed,
            rng: Rng::new(seed, &[0x6163_7476]),
        }
    }

    /// The settings.
    pub fn config(&self) -> &ActiveConfig {
        &self.config
    }

    fn value(&self, view: &View, a: usize, b: usize) -> f64 {
        match self.config.objective {
            Objective::Ranking => view.ranking_gain(a, b, self.config.window),
            Objective::Information => view.information(a, b),
        }
    }

    /// Index of the largest value, ties broken at random.
    fn argmax(&mut self, values: &[f64]) -> Option<usize> {
        let mut best: Option<(f64, u64, usize)> = None;
        for (k, &v) in values.iter().enumerate() {
            let tie = self.rng.next_u64();
            if best.is_none_or(|(bv, bt, _)| v > bv || (v == bv && tie > bt)) {
                best = Some((v, tie, k));
            }
        }
        best.map(|b| b.2)
    }

    /// The eligible items (coverage rule) with the most uncertain ranks, at most `count`.
    fn anchors(
        &mut self,
        session: &Session,
        view: &View,
        active: &[usize],
        count: usize,
    ) -> Vec<usize> {
        let counts = session.counts();
        let Some(min) = active.iter().map(|&i| counts[i]).min() else {
            return Vec::new();
        };
        let w = self.config.window;
        let mut pool: Vec<(f64, u64, usize)> = active
            .iter()
            .filter(|&&i| counts[i] <= min + self.config.coverage_slack)
            .map(|&i| (view.rank_uncertainty(i, w), self.rng.next_u64(), i))
            .collect();
        pool.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
        pool.into_iter().take(count.max(1)).map(|x| x.2).collect()
    }
}

impl PairingMode for Active {
    fn name(&self) -> String {
        match self.config.objective {
            Objective::Ranking => "active".into(),
            Objective::Information => "active (information)".into(),
        }
    }

    fn next_pair(&mut self, session: &Session) -> Option<(usize, usize)> {
        let active = session.active_items();
        if active.len() < 2 {
            return None;
        }
        let view = View::new(session, &active, self.seed);
        let anchors = self.anchors(session, &view, &active, self.config.anchors);
        let pairs: Vec<(usize, usize)> = anchors
            .iter()
            .flat_map(|&a| {
                view.neighbours(a, self.config.partners.max(1))
                    .map(move |b| (a, b))
            })
            .collect();
        let values: Vec<f64> = pairs
            .iter()
            .map(|&(a, b)| self.value(&view, a, b))
            .collect();
        let k = self.argmax(&values)?;
        Some(pairs[k])
    }

    /// The most uncertain eligible item and the `size - 1` partners worth most with it.
    fn next_group(&mut self, session: &Session, size: usize) -> Option<Vec<usize>> {
        let active = session.active_items();
        if active.len() < size.max(2) {
            return None;
        }
        let view = View::new(session, &active, self.seed);
        let anchor = *self.anchors(session, &view, &active, 1).first()?;
        let candidates: Vec<usize> = view
            .neighbours(anchor, self.config.partners.max(size))
            .collect();
        let mut scored: Vec<(f64, usize)> = candidates
            .iter()
            .map(|&b| (self.value(&view, anchor, b), b))
            .collect();
        scored.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
        let mut group = vec![anchor];
        group.extend(scored.into_iter().map(|x| x.1).take(size - 1));
        Some(group)
    }

    fn reads_posterior(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn information_is_largest_for_an_even_uncertain_pair() {
        let even = expected_information(0.0, 50.0, 17.0);
        assert!(even > expected_information(10.0, 50.0, 17.0));
        assert!(even > expected_information(0.0, 5.0, 17.0));
        assert!(even > 0.0 && even < 1.0);
    }
}
