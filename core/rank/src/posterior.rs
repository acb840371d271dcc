//! TrueSkill fitted to all comparisons at once: expectation propagation over every comparison
//! until the beliefs stop moving, instead of one update per comparison in arrival order.
//!
//! Same model as 1 vs 1 TrueSkill without dynamics (tau = 0): skill `s_i ~ N(mu0, sigma0^2)`,
//! performance `s_i + N(0, beta^2)`, a win means the winner's performance exceeded the
//! loser's by more than the draw margin. Online TrueSkill makes one pass over the comparisons
//! (assumed-density filtering), so early results are judged against beliefs that later results
//! revise, and the outcome depends on the order. Here every comparison keeps its message (a
//! Gaussian "site" on each of its two items); a sweep recomputes each message against the
//! current beliefs of everything else. The fixed point does not depend on the order, an undo
//! removes exactly one message, and a new comparison is cheap: one update (the online step),
//! then sweeps when wanted.

use crate::gaussian::Gaussian;
use crate::normal::{v_w_draw, v_w_win};
use crate::trueskill::{Rating, TrueSkill};

/// The message one comparison sends to its two items.
#[derive(Debug, Clone, Copy)]
struct Site {
    /// Winner (or first item of a draw).
    a: u32,
    /// Loser (or second item of a draw).
    b: u32,
    draw: bool,
    to_a: Gaussian,
    to_b: Gaussian,
}

/// Gaussian beliefs about every item's skill from all comparisons (see the module docs).
#[derive(Debug, Clone)]
pub struct Posterior {
    /// Each item's belief before any comparison.
    priors: Vec<Gaussian>,
    beta2: f64,
    margin: f64,
    beliefs: Vec<Gaussian>,
    sites: Vec<Site>,
}

impl Posterior {
    /// Beliefs about `items` items before any comparison, with `env`'s prior, beta and draw
    /// margin (its tau is not used: skills are static).
    pub fn new(env: &TrueSkill, items: usize) -> Self {
        Self::with_priors(env, &vec![env.rating(); items])
    }

    /// Beliefs starting from one prior per item (e.g. a model's calibrated scores, see
    /// [`crate::prior`]), with `env`'s beta and draw margin.
    pub fn with_priors(env: &TrueSkill, priors: &[Rating]) -> Self {
        let priors: Vec<Gaussian> = priors
            .iter()
            .map(|r| Gaussian::from_mu_sigma(r.mu, r.sigma))
            .collect();
        Posterior {
            beta2: env.beta * env.beta,
            margin: env.draw_margin(2),
            beliefs: priors.clone(),
            priors,
            sites: Vec::new(),
        }
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.beliefs.len()
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.beliefs.is_empty()
    }

    /// Number of comparisons held.
    pub fn comparisons(&self) -> usize {
        self.sites.len()
    }

    /// The belief about item `i`.
    pub fn rating(&self, i: usize) -> Rating {
        let g = self.beliefs[i];
        Rating {
            mu: g.mu(),
            sigma: g.sigma(),
        }
    }

    /// Mean skill of item `i`.
    pub fn mean(&self, i: usize) -> f64 {
        self.beliefs[i].mu()
    }

    /// Skill variance of item `i`.
    pub fn variance(&self, i: usize) -> f64 {
        1.0 / self.beliefs[i].pi
    }

    /// Mean skill of every item.
    pub fn means(&self) -> Vec<f64> {
        self.beliefs.iter().map(|g| g.mu()).collect()
    }

    /// The performance noise variance `beta^2`.
    pub fn beta2(&self) -> f64 {
        self.beta2
    }

    /// Adds comparison: `a` beat `b` (or drew with it), with one online update.
    pub fn add(&mut self, a: usize, b: usize, draw: bool) {
        assert!(
            a != b && a < self.len() && b < self.len(),
            "bad comparison {a} vs {b}"
        );
        let z = Gaussian::default();
        self.sites.push(Site {
            a: a as u32,
            b: b as u32,
            draw,
            to_a: z,
            to_b: z,
        });
        let last = self.sites.len() - 1;
        self.update(last);
    }

    /// Removes the most recent comparison (undo); sweeps are needed to re-converge.
    pub fn pop(&mut self) {
        if let Some(s) = self.sites.pop() {
            self.beliefs[s.a as usize] = self.beliefs[s.a as usize] / s.to_a;
            self.beliefs[s.b as usize] = self.beliefs[s.b as usize] / s.to_b;
        }
    }

    /// One pass over all comparisons; returns the largest change of any mean.
    pub fn sweep(&mut self) -> f64 {
        let mut moved = 0.0f64;
        for k in 0..self.sites.len() {
            moved = moved.max(self.update(k));
        }
        moved
    }

    /// Sweeps until no mean moves by more than `tolerance` or `max_sweeps` passes are done;
    /// returns the number of sweeps.
    pub fn converge(&mut self, tolerance: f64, max_sweeps: usize) -> usize {
        for n in 1..=max_sweeps {
            if self.sweep() <= tolerance {
                return n;
            }
        }
        max_sweeps
    }

    /// Recomputes comparison `k`'s message from the other messages; returns how far the
    /// larger of its two means moved.
    fn update(&mut self, k: usize) -> f64 {
        let s = self.sites[k];
        let (a, b) = (s.a as usize, s.b as usize);
        let cav_a = self.beliefs[a] / s.to_a;
        let cav_b = self.beliefs[b] / s.to_b;
        if cav_a.pi <= 0.0 || cav_b.pi <= 0.0 {
            return 0.0;
        }
        let (ma, va) = (cav_a.tau / cav_a.pi, 1.0 / cav_a.pi);
        let (mb, vb) = (cav_b.tau / cav_b.pi, 1.0 / cav_b.pi);
        let c2 = 2.0 * self.beta2 + va + vb;
        let c = c2.sqrt();
        let t = (ma - mb) / c;
        let eps = self.margin / c;
        let (v, w) = if s.draw {
            match v_w_draw(t, eps) {
                Some(vw) => vw,
                None => return 0.0,
            }
        } else {
            v_w_win(t, eps)
        };
        let new_a = Gaussian::from_mu_sigma(ma + va / c * v, (va * (1.0 - va / c2 * w)).sqrt());
        let new_b = Gaussian::from_mu_sigma(mb - vb / c * v, (vb * (1.0 - vb / c2 * w)).sqrt());
        let moved = (new_a.mu() - self.beliefs[a].mu())
            .abs()
            .max((new_b.mu() - self.beliefs[b].mu()).abs());
        self.beliefs[a] = new_a;
        self.beliefs[b] = new_b;
        self.sites[k].to_a = new_a / cav_a;
        self.sites[k].to_b = new_b / cav_b;
        moved
    }

    /// Forgets every comparison (beliefs back to the prior).
    pub fn clear(&mut self) {
        self.sites.clear();
        self.beliefs.clone_from(&self.priors);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_comparison_is_the_online_update_without_dynamics() {
        let env = TrueSkill {
            tau: 0.0,
            ..TrueSkill::image_ranker()
        };
        let mut p = Posterior::new(&env, 3);
        p.add(2, 0, false);
        let (w, l) = env.rate_1vs1(env.rating(), env.rating());
        for (x, y) in [(p.rating(2), w), (p.rating(0), l)] {
            assert!(
                (x.mu - y.mu).abs() < 1e-9 && (x.sigma - y.sigma).abs() < 1e-9,
                "{x:?} {y:?}"
            );
        }
        assert_eq!(p.rating(1), env.rating());
    }

    #[test]
    fn converged_beliefs_do_not_depend_on_the_order() {
        let env = TrueSkill::image_ranker();
        let games = [(0, 1), (1, 2), (2, 0), (0, 3), (3, 1), (2, 3), (0, 2)];
        let mut p = Posterior::new(&env, 4);
        let mut q = Posterior::new(&env, 4);
        for &(a, b) in &games {
            p.add(a, b, false);
        }
        for &(a, b) in games.iter().rev() {
            q.add(a, b, false);
        }
        p.converge(1e-10, 200);
        q.converge(1e-10, 200);
        for i in 0..4 {
            assert!(
                (p.mean(i) - q.mean(i)).abs() < 1e-6,
                "{i}: {} {}",
                p.mean(i),
                q.mean(i)
            );
            assert!((p.variance(i) - q.variance(i)).abs() < 1e-6);
        }
    }

    #[test]
    fn pop_undoes_the_last_comparison() {
        let env = TrueSkill::image_ranker();
        let mut p = Posterior::new(&env, 3);
        p.add(0, 1, false);
        p.converge(1e-12, 50);
        let before = p.means();
        p.add(1, 2, true);
        p.pop();
        p.converge(1e-12, 50);
        for (x, y) in before.iter().zip(p.means()) {
            assert!((x - y).abs() < 1e-9);
        }
    }
}
