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
//! 4. the pair with the largest value is shown (ties broken by the seeded RNG), with a rule
//!    against repeats: never the pair (or group) shown last, and a pair already compared or
//!    skipped only where it is worth `repeat_factor` times the best new candidate (anchors
//!    try all `window` neighbours for a new partner before a repeat is considered).
//!
//! With 2000 items this takes a few milliseconds (the simulator's `--latency` measures it).
//! [`Objective::Information`] values a pair by the expected information about the two skills
//! instead (the greedy information-gain rule); the simulator compares both.

use std::collections::HashSet;
use std::f64::consts::{LN_2, PI};

use super::{PairingMode, ordered};
use crate::normal::{cdf, pdf, v_w_win};
use crate::rng::{Rng, mix};
use crate::session::{Outcome, Session};

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
    /// Expected drop of the Spearman loss: the summed rank variance of the items (see
    /// [`Active`]'s `spearman_gain`). Anchors are the items with the largest rank variance.
    Spearman,
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
    /// A pair already compared (or shown and skipped) is shown again only where its value is
    /// at least this many times the best pair not yet seen (`f64::INFINITY`: only when no new
    /// pair is left among the candidates); the pair shown last never is.
    pub repeat_factor: f64,
    /// Also try, for each anchor, the items one posterior sd above and below it in the ranking
    /// (the partners that split its rank distribution), besides the nearest ones.
    pub spread_partners: bool,
    /// Posterior sampling proposes the anchors: one draw of every item's score per step, and
    /// the eligible items whose rank in the draw is furthest from their rank by mean are tried,
    /// each also with the item at its drawn place (the objective still picks the pair).
    pub sampled_anchors: bool,
}

impl Default for ActiveConfig {
    fn default() -> Self {
        ActiveConfig {
            objective: Objective::Ranking,
            coverage_slack: 2,
            anchors: 16,
            partners: 4,
            window: 30,
            repeat_factor: 2.0,
            spread_partners: false,
            sampled_anchors: false,
        }
    }
}

impl ActiveConfig {
    /// The Spearman-loss objective with the partners that split an anchor's rank distribution.
    pub fn spearman() -> Self {
        ActiveConfig {
            objective: Objective::Spearman,
            spread_partners: true,
            ..ActiveConfig::default()
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

    /// The active items within `w` places of `a` or of `b`, neither of them, once each.
    fn pair_neighbours(&self, a: usize, b: usize, w: usize) -> Vec<usize> {
        let mut others: Vec<usize> = self
            .neighbours(a, w)
            .chain(self.neighbours(b, w))
            .filter(|&j| j != a && j != b)
            .collect();
        others.sort_unstable();
        others.dedup();
        others
    }

    /// Expected drop of `total` (a loss of the beliefs about `a` and `b`) over the two results
    /// of comparing them.
    fn expected_drop(
        &self,
        a: usize,
        b: usize,
        total: impl Fn((f64, f64), (f64, f64)) -> f64,
    ) -> f64 {
        let before = total(self.belief(a), self.belief(b));
        let p = self.win_probability(a, b);
        let (a_won, b_lost) = self.after_win(a, b);
        let (b_won, a_lost) = self.after_win(b, a);
        before - p * total(a_won, b_lost) - (1.0 - p) * total(a_lost, b_won)
    }

    /// Expected drop of the summed misorder probability of `a` and `b` with their neighbours
    /// and each other.
    fn ranking_gain(&self, a: usize, b: usize, w: usize) -> f64 {
        let others = self.pair_neighbours(a, b, w);
        let total = |ba: (f64, f64), bb: (f64, f64)| -> f64 {
            let mut u = Self::misorder(ba, bb);
            for &j in &others {
                u += Self::misorder(ba, self.belief(j)) + Self::misorder(bb, self.belief(j));
            }
            u
        };
        self.expected_drop(a, b, total)
    }

    /// Posterior-smoothed number of items per unit of score at `m` among the neighbours
    /// `others`: how many ranks an error in an item's score at `m` costs.
    fn density(&self, m: f64, others: &[usize]) -> f64 {
        others
            .iter()
            .map(|&j| {
                let s = self.var[j].sqrt();
                pdf((self.mean[j] - m) / s) / s
            })
            .sum()
    }

    /// Variance of a rank difference term: `q (1 - q)` with `q` the probability that `j` is
    /// above an item with belief `(m, v)`.
    fn swap_variance((m, v): (f64, f64), j: (f64, f64)) -> f64 {
        let q = cdf((j.0 - m) / (v + j.1).sqrt());
        q * (1.0 - q)
    }

    /// Rank variance of `i` among its neighbours (law of total variance, conditioning on its
    /// score): `v_i G_i²` from its own uncertainty plus the neighbours' swap variances.
    fn rank_variance(&self, i: usize, w: usize) -> f64 {
        let others: Vec<usize> = self.neighbours(i, w).collect();
        let (m, v) = self.belief(i);
        let g = self.density(m, &others);
        let cap = (others.len() as f64 + 1.0).powi(2) / 12.0;
        (v * g * g).min(cap)
            + others
                .iter()
                .map(|&j| Self::swap_variance((m, v), self.belief(j)))
                .sum::<f64>()
    }

    /// Expected drop of the Spearman loss from comparing `a` and `b`: the rank variances of `a`
    /// and `b` (own-uncertainty terms with the density at their new means), and twice the swap
    /// variances they form with their neighbours and each other (each such term is in both
    /// items' rank variances).
    fn spearman_gain(&self, a: usize, b: usize, w: usize) -> f64 {
        let others = self.pair_neighbours(a, b, w);
        let cap = (others.len() as f64 + 2.0).powi(2) / 12.0;
        let total = |ba: (f64, f64), bb: (f64, f64)| -> f64 {
            let (ga, gb) = (self.density(ba.0, &others), self.density(bb.0, &others));
            let mut u = (ba.1 * ga * ga).min(cap) + (bb.1 * gb * gb).min(cap);
            u += 2.0 * Self::swap_variance(ba, bb);
            for &j in &others {
                let bj = self.belief(j);
                u += 2.0 * (Self::swap_variance(ba, bj) + Self::swap_variance(bb, bj));
            }
            u
        };
        self.expected_drop(a, b, total)
    }

    /// The active items whose means lie one posterior sd of `a` above and below it.
    fn spread(&self, a: usize) -> [Option<usize>; 2] {
        let sd = self.var[a].sqrt();
        let at = |target: f64| {
            let k = self
                .order
                .partition_point(|&j| self.mean[j] < target)
                .min(self.order.len() - 1);
            Some(self.order[k]).filter(|&j| j != a)
        };
        [at(self.mean[a] - sd), at(self.mean[a] + sd)]
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
    /// Pairs compared or shown and skipped (canonical order).
    seen: HashSet<(usize, usize)>,
    /// The pair or group returned last (sorted), never returned again right away.
    last: Option<Vec<usize>>,
    /// Places in the last posterior draw ([`ActiveConfig::sampled_anchors`]).
    drawn: Vec<usize>,
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
            seen: HashSet::new(),
            last: None,
            drawn: Vec::new(),
        }
    }

    fn mark_seen(&mut self, items: &[usize]) {
        for (k, &a) in items.iter().enumerate() {
            for &b in &items[k + 1..] {
                self.seen.insert(ordered(a, b));
            }
        }
    }

    fn is_seen(&self, a: usize, b: usize) -> bool {
        self.seen.contains(&ordered(a, b))
    }

    /// Whether `items` (distinct) are the pair or group returned last, in any order. No
    /// allocation: it runs for every candidate pair.
    fn is_last(&self, items: &[usize]) -> bool {
        self.last
            .as_deref()
            .is_some_and(|last| last.len() == items.len() && items.iter().all(|i| last.contains(i)))
    }

    fn remember(&mut self, items: &[usize]) {
        let mut sorted = items.to_vec();
        sorted.sort_unstable();
        self.last = Some(sorted);
    }

    /// The pair to show among `pairs` with `values`: the best new pair, unless a seen one is
    /// worth `repeat_factor` times more; never the last pair while another exists.
    fn choose(&mut self, pairs: &[(usize, usize)], values: &[f64]) -> Option<usize> {
        let masked = |keep: &dyn Fn(usize) -> bool| -> Vec<f64> {
            values
                .iter()
                .enumerate()
                .map(|(k, &v)| if keep(k) { v } else { f64::NEG_INFINITY })
                .collect()
        };
        let fresh = masked(&|k| {
            !self.is_seen(pairs[k].0, pairs[k].1) && !self.is_last(&[pairs[k].0, pairs[k].1])
        });
        let not_last = masked(&|k| !self.is_last(&[pairs[k].0, pairs[k].1]));
        let best_new = self.argmax_finite(&fresh);
        let best_old = self.argmax_finite(&not_last);
        match (best_new, best_old) {
            (Some(n), Some(o)) if values[o] > self.config.repeat_factor * values[n].max(0.0) => {
                Some(o)
            }
            (Some(n), _) => Some(n),
            (None, Some(o)) => Some(o),
            (None, None) => self.argmax(values),
        }
    }

    /// Like [`Active::argmax`] over the finite values only.
    fn argmax_finite(&mut self, values: &[f64]) -> Option<usize> {
        let k = self.argmax(values)?;
        values[k].is_finite().then_some(k)
    }

    /// The settings.
    pub fn config(&self) -> &ActiveConfig {
        &self.config
    }

    fn value(&self, view: &View, a: usize, b: usize) -> f64 {
        match self.config.objective {
            Objective::Ranking => view.ranking_gain(a, b, self.config.window),
            Objective::Information => view.information(a, b),
            Objective::Spearman => view.spearman_gain(a, b, self.config.window),
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

    /// Each active item's place in the ranking of one draw from the posterior (factorised).
    fn drawn_places(&mut self, view: &View) -> Vec<usize> {
        let mut draw: Vec<(f64, usize)> = view
            .order
            .iter()
            .map(|&i| (view.mean[i] + view.var[i].sqrt() * self.rng.normal(), i))
            .collect();
        draw.sort_by(|x, y| x.0.total_cmp(&y.0));
        let mut places = vec![usize::MAX; view.mean.len()];
        for (k, &(_, i)) in draw.iter().enumerate() {
            places[i] = k;
        }
        places
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
        if self.config.sampled_anchors {
            let drawn = self.drawn_places(view);
            let mut pool: Vec<(usize, u64, usize)> = active
                .iter()
                .filter(|&&i| counts[i] <= min + self.config.coverage_slack)
                .map(|&i| (drawn[i].abs_diff(view.place[i]), self.rng.next_u64(), i))
                .collect();
            pool.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)));
            self.drawn = drawn;
            return pool.into_iter().take(count.max(1)).map(|x| x.2).collect();
        }
        let mut pool: Vec<(f64, u64, usize)> = active
            .iter()
            .filter(|&&i| counts[i] <= min + self.config.coverage_slack)
            .map(|&i| {
                let u = match self.config.objective {
                    Objective::Spearman => view.rank_variance(i, w),
                    _ => view.rank_uncertainty(i, w),
                };
                (u, self.rng.next_u64(), i)
            })
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
            Objective::Spearman => "active (spearman)".into(),
        }
    }

    fn next_pair(&mut self, session: &Session) -> Option<(usize, usize)> {
        let active = session.active_items();
        if active.len() < 2 {
            return None;
        }
        let view = View::new(session, &active, self.seed);
        let anchors = self.anchors(session, &view, &active, self.config.anchors);
        let partners = self.config.partners.max(1);
        let mut pairs: Vec<(usize, usize)> = Vec::new();
        for &a in &anchors {
            let near: Vec<usize> = view.neighbours(a, partners).collect();
            let seen_near = near.iter().filter(|&&b| self.is_seen(a, b)).count();
            pairs.extend(near.into_iter().map(|b| (a, b)));
            if seen_near > 0 {
                // As many new partners from further out (the nearest within the window) as
                // near ones were already seen, so a repeat competes with new pairs.
                let k = view.place[a];
                let mut far: Vec<usize> = view
                    .neighbours(a, self.config.window.max(partners))
                    .filter(|&b| view.place[b].abs_diff(k) > partners && !self.is_seen(a, b))
                    .collect();
                far.sort_by_key(|&b| view.place[b].abs_diff(k));
                pairs.extend(far.into_iter().take(seen_near).map(|b| (a, b)));
            }
            if self.config.sampled_anchors
                && let Some(&b) = self.drawn.get(a).and_then(|&k| view.order.get(k))
                && b != a
                && !pairs.contains(&(a, b))
            {
                // The item at `a`'s drawn place: the one it would swap with.
                pairs.push((a, b));
            }
            if self.config.spread_partners {
                for b in view.spread(a).into_iter().flatten() {
                    if !pairs.contains(&(a, b)) {
                        pairs.push((a, b));
                    }
                }
            }
        }
        let values: Vec<f64> = pairs
            .iter()
            .map(|&(a, b)| self.value(&view, a, b))
            .collect();
        let k = self.choose(&pairs, &values)?;
        let (a, b) = pairs[k];
        self.remember(&[a, b]);
        Some((a, b))
    }

    /// The most uncertain eligible item and the `size - 1` partners worth most with it.
    fn next_group(&mut self, session: &Session, size: usize) -> Option<Vec<usize>> {
        let active = session.active_items();
        if active.len() < size.max(2) {
            return None;
        }
        let view = View::new(session, &active, self.seed);
        let anchors = self.anchors(session, &view, &active, 2);
        let mut group = Vec::new();
        for &anchor in &anchors {
            let candidates: Vec<usize> = view
                .neighbours(anchor, self.config.partners.max(size))
                .collect();
            // New partners first (a seen one only where it is worth `repeat_factor` times
            // more), then by value.
            let mut scored: Vec<(f64, usize)> = candidates
                .iter()
                .map(|&b| {
                    let v = self.value(&view, anchor, b);
                    let v = if self.is_seen(anchor, b) {
                        v / self.config.repeat_factor
                    } else {
                        v
                    };
                    (v, b)
                })
                .collect();
            scored.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
            group = vec![anchor];
            group.extend(scored.into_iter().map(|x| x.1).take(size - 1));
            if !self.is_last(&group) {
                break;
            }
        }
        if group.len() < size {
            return None;
        }
        self.remember(&group);
        Some(group)
    }

    fn observe(&mut self, _session: &Session, outcome: &Outcome) {
        self.mark_seen(&outcome.items());
    }

    fn skipped(&mut self, _session: &Session, items: &[usize]) {
        self.mark_seen(items);
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
