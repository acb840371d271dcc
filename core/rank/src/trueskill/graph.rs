//! The TrueSkill factor graph of one match and its message schedule (expectation propagation),
//! in the order Python `trueskill` 0.4.5 runs it, so multi-team results agree to rounding.
//!
//! Layers, top to bottom: a prior factor per player (skill), a likelihood factor per player
//! (performance = skill + N(0, beta^2)), a weighted sum per team (team performance), a
//! difference per pair of neighbouring teams in rank order, and a truncation factor per
//! difference (`> margin` for a win, `|.| <= margin` for a tie). Messages flow down once, then
//! back and forth along the chain of differences until no truncation moves its variable by
//! more than `min_delta` (at most 10 rounds), then back up to the skills.

use super::{RateError, Rating};
use crate::gaussian::Gaussian;
use crate::normal::{v_w_draw, v_w_win};

/// One match, players flattened in rank order of their teams.
pub(super) struct Match<'a> {
    /// Every player's rating, team after team.
    pub ratings: &'a [Rating],
    /// Every player's weight (partial play), already at least `min_delta`.
    pub weights: &'a [f64],
    /// End (exclusive) of each team in `ratings`.
    pub team_ends: &'a [usize],
    /// Per neighbouring pair of teams: whether they tied.
    pub ties: &'a [bool],
    /// Per neighbouring pair of teams: the draw margin.
    pub margins: &'a [f64],
}

/// Variables and the messages each factor last sent to them.
struct Graph {
    /// Variable values: skills `0..n`, performances `n..2n`, team performances, differences.
    values: Vec<Gaussian>,
    /// Prior factor -> skill.
    prior_msg: Vec<Gaussian>,
    /// Likelihood factor -> skill, and -> performance.
    lik_to_skill: Vec<Gaussian>,
    lik_to_perf: Vec<Gaussian>,
    /// Team sum factor -> team performance, and -> each player's performance.
    team_to_sum: Vec<Gaussian>,
    team_to_term: Vec<Gaussian>,
    /// Difference factor -> difference, -> left team, -> right team.
    diff_to_sum: Vec<Gaussian>,
    diff_to_left: Vec<Gaussian>,
    diff_to_right: Vec<Gaussian>,
    /// Truncation factor -> difference.
    trunc_msg: Vec<Gaussian>,
    players: usize,
    teams: usize,
}

/// Replaces the message in `slot` and the variable's value by the same ratio; returns the change.
fn update_message(value: &mut Gaussian, slot: &mut Gaussian, message: Gaussian) -> f64 {
    let old = *slot;
    *slot = message;
    let new_value = *value / old * message;
    let delta = value.delta(new_value);
    *value = new_value;
    delta
}

/// Sets the variable's value and makes `slot` the message that explains the change.
fn update_value(value: &mut Gaussian, slot: &mut Gaussian, new_value: Gaussian) -> f64 {
    let old = *slot;
    *slot = new_value * old / *value;
    let delta = value.delta(new_value);
    *value = new_value;
    delta
}

/// The message of a weighted sum factor to one of its variables, from the other variables'
/// values divided by this factor's messages to them, with their coefficients.
fn sum_message(terms: &[(Gaussian, Gaussian, f64)]) -> Gaussian {
    let mut mu = 0.0;
    let mut pi_inv = 0.0f64;
    for &(value, msg, coeff) in terms {
        let div = value / msg;
        mu += coeff * div.mu();
        if pi_inv.is_infinite() {
            continue;
        }
        if div.pi == 0.0 {
            pi_inv = f64::INFINITY;
        } else {
            pi_inv += coeff * coeff / div.pi;
        }
    }
    let pi = 1.0 / pi_inv;
    Gaussian::new(pi, pi * mu)
}

impl Graph {
    fn new(players: usize, teams: usize) -> Self {
        let z = Gaussian::default();
        Graph {
            values: vec![z; 2 * players + 2 * teams - 1],
            prior_msg: vec![z; players],
            lik_to_skill: vec![z; players],
            lik_to_perf: vec![z; players],
            team_to_sum: vec![z; teams],
            team_to_term: vec![z; players],
            diff_to_sum: vec![z; teams - 1],
            diff_to_left: vec![z; teams - 1],
            diff_to_right: vec![z; teams - 1],
            trunc_msg: vec![z; teams - 1],
            players,
            teams,
        }
    }

    fn perf(&self, i: usize) -> usize {
        self.players + i
    }
    fn team(&self, t: usize) -> usize {
        2 * self.players + t
    }
    fn diff(&self, d: usize) -> usize {
        2 * self.players + self.teams + d
    }

    fn prior_down(&mut self, i: usize, rating: Rating, dynamic: f64) {
        let sigma = (rating.sigma * rating.sigma + dynamic * dynamic).sqrt();
        let value = Gaussian::from_mu_sigma(rating.mu, sigma);
        update_value(&mut self.values[i], &mut self.prior_msg[i], value);
    }

    fn likelihood_down(&mut self, i: usize, variance: f64) {
        let msg = self.values[i] / self.lik_to_skill[i];
        let a = 1.0 / (1.0 + variance * msg.pi);
        let p = self.perf(i);
        update_message(
            &mut self.values[p],
            &mut self.lik_to_perf[i],
            Gaussian::new(a * msg.pi, a * msg.tau),
        );
    }

    fn likelihood_up(&mut self, i: usize, variance: f64) {
        let p = self.perf(i);
        let msg = self.values[p] / self.lik_to_perf[i];
        let a = 1.0 / (1.0 + variance * msg.pi);
        update_message(
            &mut self.values[i],
            &mut self.lik_to_skill[i],
            Gaussian::new(a * msg.pi, a * msg.tau),
        );
    }

    fn team_down(&mut self, t: usize, start: usize, end: usize, weights: &[f64]) {
        let terms: Vec<_> = (start..end)
            .map(|i| (self.values[self.perf(i)], self.team_to_term[i], weights[i]))
            .collect();
        let msg = sum_message(&terms);
        let v = self.team(t);
        update_message(&mut self.values[v], &mut self.team_to_sum[t], msg);
    }

    /// Message from team `t`'s sum factor up to its `k`-th player's performance.
    fn team_up(&mut self, t: usize, start: usize, end: usize, k: usize, weights: &[f64]) {
        let coeff = weights[start + k];
        let terms: Vec<_> = (start..end)
            .enumerate()
            .map(|(x, i)| {
                let c = if x == k {
                    1.0 / coeff
                } else {
                    -weights[i] / coeff
                };
                if x == k {
                    (self.values[self.team(t)], self.team_to_sum[t], c)
                } else {
                    (self.values[self.perf(i)], self.team_to_term[i], c)
                }
            })
            .collect();
        let msg = sum_message(&terms);
        let i = start + k;
        let p = self.perf(i);
        update_message(&mut self.values[p], &mut self.team_to_term[i], msg);
    }

    fn diff_down(&mut self, d: usize) {
        let (l, r) = (self.team(d), self.team(d + 1));
        let msg = sum_message(&[
            (self.values[l], self.diff_to_left[d], 1.0),
            (self.values[r], self.diff_to_right[d], -1.0),
        ]);
        let v = self.diff(d);
        update_message(&mut self.values[v], &mut self.diff_to_sum[d], msg);
    }

    /// Message from difference `d` up to its left (`side` 0) or right (`side` 1) team.
    fn diff_up(&mut self, d: usize, side: usize) {
        let (l, r, s) = (self.team(d), self.team(d + 1), self.diff(d));
        if side == 0 {
            let msg = sum_message(&[
                (self.values[s], self.diff_to_sum[d], 1.0),
                (self.values[r], self.diff_to_right[d], 1.0),
            ]);
            update_message(&mut self.values[l], &mut self.diff_to_left[d], msg);
        } else {
            let msg = sum_message(&[
                (self.values[l], self.diff_to_left[d], 1.0),
                (self.values[s], self.diff_to_sum[d], -1.0),
            ]);
            update_message(&mut self.values[r], &mut self.diff_to_right[d], msg);
        }
    }

    fn truncate_up(&mut self, d: usize, tie: bool, margin: f64) -> Result<f64, RateError> {
        let s = self.diff(d);
        let div = self.values[s] / self.trunc_msg[d];
        let sqrt_pi = div.pi.sqrt();
        let (t, eps) = (div.tau / sqrt_pi, margin * sqrt_pi);
        let (v, w) = if tie {
            v_w_draw(t, eps).ok_or(RateError::DrawImpossible)?
        } else {
            v_w_win(t, eps)
        };
        let denom = 1.0 - w.min(1.0 - 1e-12);
        let value = Gaussian::new(div.pi / denom, (div.tau + sqrt_pi * v) / denom);
        Ok(update_value(
            &mut self.values[s],
            &mut self.trunc_msg[d],
            value,
        ))
    }
}

/// Runs the schedule; returns every player's new rating in the order of `m.ratings`.
pub(super) fn run(
    m: &Match<'_>,
    beta: f64,
    dynamic: f64,
    min_delta: f64,
) -> Result<Vec<Rating>, RateError> {
    let players = m.ratings.len();
    let teams = m.team_ends.len();
    let variance = beta * beta;
    let starts: Vec<usize> = std::iter::once(0)
        .chain(m.team_ends[..teams - 1].iter().copied())
        .collect();
    let mut g = Graph::new(players, teams);

    for (i, &r) in m.ratings.iter().enumerate() {
        g.prior_down(i, r, dynamic);
    }
    for i in 0..players {
        g.likelihood_down(i, variance);
    }
    let spans: Vec<(usize, usize)> = starts
        .into_iter()
        .zip(m.team_ends.iter().copied())
        .collect();
    for (t, &(start, end)) in spans.iter().enumerate() {
        g.team_down(t, start, end, m.weights);
    }

    let diffs = teams - 1;
    for _ in 0..10 {
        let mut delta = 0.0f64;
        if diffs == 1 {
            g.diff_down(0);
            delta = g.truncate_up(0, m.ties[0], m.margins[0])?;
        } else {
            for d in 0..diffs - 1 {
                g.diff_down(d);
                delta = delta.max(g.truncate_up(d, m.ties[d], m.margins[d])?);
                g.diff_up(d, 1);
            }
            for d in (1..diffs).rev() {
                g.diff_down(d);
                delta = delta.max(g.truncate_up(d, m.ties[d], m.margins[d])?);
                g.diff_up(d, 0);
            }
        }
        if delta <= min_delta {
            break;
        }
    }
    g.diff_up(0, 0);
    g.diff_up(diffs - 1, 1);
    for (t, &(start, end)) in spans.iter().enumerate() {
        for k in 0..end - start {
            g.team_up(t, start, end, k, m.weights);
        }
    }
    for i in 0..players {
        g.likelihood_up(i, variance);
    }
    Ok((0..players)
        .map(|i| Rating {
            mu: g.values[i].mu(),
            sigma: g.values[i].sigma(),
        })
        .collect())
}
