//! TrueSkill (Herbrich, Minka, Graepel 2006) for 1 vs 1, free-for-all and team matches with
//! ties, partial play, and match quality. Results agree with Python `trueskill` 0.4.5 (default
//! backend) to about 1e-11: the same approximations of the normal cdf and quantile, the same
//! message schedule and stopping rule (see `tests/trueskill_vectors.rs` and
//! `scripts/trueskill-vectors.sh`).
//!
//! Unlike the Python package, a very unexpected result never fails: where its default backend
//! raises `FloatingPointError`, this module uses tail formulas (see [`crate::normal`]) and
//! agrees with its `mpmath` backend instead.

mod graph;
mod quality;

use serde::{Deserialize, Serialize};

use crate::normal::{cdf, ppf, v_w_draw, v_w_win};

/// A skill belief: `N(mu, sigma^2)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rating {
    /// Mean skill.
    pub mu: f64,
    /// Standard deviation of the skill.
    pub sigma: f64,
}

impl Rating {
    /// A rating from mean and standard deviation.
    pub fn new(mu: f64, sigma: f64) -> Self {
        Rating { mu, sigma }
    }

    /// `mu - 3 sigma`: a conservative score (the skill is above it with 99.9% belief).
    pub fn conservative(&self) -> f64 {
        self.mu - 3.0 * self.sigma
    }
}

/// Why a match could not be rated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RateError {
    /// Fewer than two teams.
    #[error("a match needs at least two teams")]
    TooFewTeams,
    /// A team without players.
    #[error("team {0} has no players")]
    EmptyTeam(usize),
    /// `ranks` does not have one entry per team.
    #[error("{got} ranks given for {teams} teams")]
    RankCount {
        /// Number of teams.
        teams: usize,
        /// Number of ranks given.
        got: usize,
    },
    /// `weights` does not have one entry per player.
    #[error("weights do not have one entry per player")]
    WeightShape,
    /// A rating with a non-finite mean or a sigma that is not positive and finite.
    #[error("invalid rating (mu {mu}, sigma {sigma})")]
    InvalidRating {
        /// The mean.
        mu: f64,
        /// The standard deviation.
        sigma: f64,
    },
    /// A tie where the environment's draw probability is 0 (Python `trueskill` returns a
    /// meaningless update there: its draw margin is not exactly 0).
    #[error("a tie is impossible with draw probability 0")]
    DrawImpossible,
}

/// Convergence threshold of the message schedule (Python `trueskill`'s `DELTA`).
pub const MIN_DELTA: f64 = 1e-4;

/// A TrueSkill environment: the prior of new players and the game's constants.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrueSkill {
    /// Mean skill of a new player.
    pub mu: f64,
    /// Skill standard deviation of a new player.
    pub sigma: f64,
    /// Performance noise: a skill lead of `beta` wins about 76% of games.
    pub beta: f64,
    /// Dynamics: `tau^2` is added to each player's variance before every match.
    pub tau: f64,
    /// Probability of a draw between two evenly matched teams.
    pub draw_probability: f64,
}

impl Default for TrueSkill {
    /// Python `trueskill`'s defaults: mu 25, sigma 25/3, beta 25/6, tau 25/300, draws 10%.
    fn default() -> Self {
        TrueSkill {
            mu: 25.0,
            sigma: 25.0 / 3.0,
            beta: 25.0 / 6.0,
            tau: 25.0 / 300.0,
            draw_probability: 0.10,
        }
    }
}

impl TrueSkill {
    /// The environment of the original image-ranker app: new images at mu 0, sigma 8.33, the
    /// other constants at Python `trueskill`'s defaults (beta 25/6, tau 25/300, draws 10%).
    pub fn image_ranker() -> Self {
        TrueSkill {
            mu: 0.0,
            sigma: 8.33,
            ..TrueSkill::default()
        }
    }

    /// The rating of a new player.
    pub fn rating(&self) -> Rating {
        Rating {
            mu: self.mu,
            sigma: self.sigma,
        }
    }

    /// The draw margin for a comparison of two teams with `players` players in all.
    pub fn draw_margin(&self, players: usize) -> f64 {
        ppf((self.draw_probability + 1.0) / 2.0) * (players as f64).sqrt() * self.beta
    }

    /// Python `trueskill`'s `expose`: `mu - (mu0/sigma0) sigma`, a leaderboard key that starts at
    /// 0 and converges to the mean (equal to `mu` where the prior mean is 0).
    pub fn expose(&self, rating: Rating) -> f64 {
        rating.mu - self.mu / self.sigma * rating.sigma
    }

    /// Probability that `a`'s performance beats `b`'s by more than the draw margin.
    pub fn win_probability(&self, a: Rating, b: Rating) -> f64 {
        let c = (2.0 * self.beta * self.beta + a.sigma * a.sigma + b.sigma * b.sigma).sqrt();
        cdf((a.mu - b.mu - self.draw_margin(2)) / c)
    }

    /// 1 vs 1: `winner` beat `loser`. Never fails (see the module docs).
    pub fn rate_1vs1(&self, winner: Rating, loser: Rating) -> (Rating, Rating) {
        self.update_1vs1(winner, loser, false)
            .expect("a win always has an update")
    }

    /// 1 vs 1 that ended in a draw. Fails only where draws are impossible (probability 0).
    pub fn draw_1vs1(&self, a: Rating, b: Rating) -> Result<(Rating, Rating), RateError> {
        self.update_1vs1(a, b, true)
    }

    /// The closed form of the two-player graph (the same fixed point, one step).
    fn update_1vs1(
        &self,
        a: Rating,
        b: Rating,
        drawn: bool,
    ) -> Result<(Rating, Rating), RateError> {
        check(&a)?;
        check(&b)?;
        if drawn && self.draw_probability <= 0.0 {
            return Err(RateError::DrawImpossible);
        }
        let va = a.sigma * a.sigma + self.tau * self.tau;
        let vb = b.sigma * b.sigma + self.tau * self.tau;
        let c2 = 2.0 * self.beta * self.beta + va + vb;
        let c = c2.sqrt();
        let t = (a.mu - b.mu) / c;
        let eps = self.draw_margin(2) / c;
        let (v, w) = if drawn {
            v_w_draw(t, eps).ok_or(RateError::DrawImpossible)?
        } else {
            v_w_win(t, eps)
        };
        let a_new = Rating {
            mu: a.mu + va / c * v,
            sigma: (va * (1.0 - va / c2 * w)).sqrt(),
        };
        let b_new = Rating {
            mu: b.mu - vb / c * v,
            sigma: (vb * (1.0 - vb / c2 * w)).sqrt(),
        };
        Ok((a_new, b_new))
    }

    /// Free-for-all: one player per team, `ranks[i]` the place of player `i` (lower is better,
    /// equal ranks tie). For "best of four" pass ranks `[0, 1, 1, 1]` with the winner first.
    pub fn rate_players(
        &self,
        players: &[Rating],
        ranks: &[u32],
    ) -> Result<Vec<Rating>, RateError> {
        let teams: Vec<[Rating; 1]> = players.iter().map(|&r| [r]).collect();
        Ok(self
            .rate(&teams, ranks)?
            .into_iter()
            .map(|t| t[0])
            .collect())
    }

    /// A match between teams: `ranks[t]` is team `t`'s place (lower is better, equal ranks
    /// tie). Returns the new ratings in the shape of `teams`.
    pub fn rate<T: AsRef<[Rating]>>(
        &self,
        teams: &[T],
        ranks: &[u32],
    ) -> Result<Vec<Vec<Rating>>, RateError> {
        let weights: Vec<Vec<f64>> = teams.iter().map(|t| vec![1.0; t.as_ref().len()]).collect();
        self.rate_weighted(teams, ranks, &weights)
    }

    /// [`TrueSkill::rate`] with partial play: `weights[t][p]` is the share of the match that
    /// player `p` of team `t` played (0 to 1; values below [`MIN_DELTA`] count as `MIN_DELTA`).
    pub fn rate_weighted<T: AsRef<[Rating]>, W: AsRef<[f64]>>(
        &self,
        teams: &[T],
        ranks: &[u32],
        weights: &[W],
    ) -> Result<Vec<Vec<Rating>>, RateError> {
        let teams: Vec<&[Rating]> = teams.iter().map(|t| t.as_ref()).collect();
        validate(&teams)?;
        if ranks.len() != teams.len() {
            return Err(RateError::RankCount {
                teams: teams.len(),
                got: ranks.len(),
            });
        }
        if weights.len() != teams.len()
            || weights
                .iter()
                .zip(&teams)
                .any(|(w, t)| w.as_ref().len() != t.len())
        {
            return Err(RateError::WeightShape);
        }
        // Teams in rank order (stable), players flattened.
        let mut order: Vec<usize> = (0..teams.len()).collect();
        order.sort_by_key(|&t| ranks[t]);
        let mut ratings = Vec::new();
        let mut flat_weights = Vec::new();
        let mut team_ends = Vec::new();
        for &t in &order {
            ratings.extend_from_slice(teams[t]);
            flat_weights.extend(weights[t].as_ref().iter().map(|&w| w.max(MIN_DELTA)));
            team_ends.push(ratings.len());
        }
        let ties: Vec<bool> = order
            .windows(2)
            .map(|p| ranks[p[0]] == ranks[p[1]])
            .collect();
        if self.draw_probability <= 0.0 && ties.contains(&true) {
            return Err(RateError::DrawImpossible);
        }
        let margins: Vec<f64> = order
            .windows(2)
            .map(|p| self.draw_margin(teams[p[0]].len() + teams[p[1]].len()))
            .collect();
        let m = graph::Match {
            ratings: &ratings,
            weights: &flat_weights,
            team_ends: &team_ends,
            ties: &ties,
            margins: &margins,
        };
        let rated = graph::run(&m, self.beta, self.tau, MIN_DELTA)?;
        // Back to the callers' team order.
        let mut out: Vec<Vec<Rating>> = vec![Vec::new(); teams.len()];
        let mut start = 0;
        for (&t, &end) in order.iter().zip(&team_ends) {
            out[t] = rated[start..end].to_vec();
            start = end;
        }
        Ok(out)
    }

    /// Match quality of two players: the draw probability relative to the most even match.
    pub fn quality_1vs1(&self, a: Rating, b: Rating) -> f64 {
        let b2 = 2.0 * self.beta * self.beta;
        let c2 = b2 + a.sigma * a.sigma + b.sigma * b.sigma;
        let d = a.mu - b.mu;
        (b2 / c2).sqrt() * (-(d * d) / (2.0 * c2)).exp()
    }

    /// Match quality of teams (in the order given; ranks do not matter).
    pub fn quality<T: AsRef<[Rating]>>(&self, teams: &[T]) -> Result<f64, RateError> {
        let weights: Vec<Vec<f64>> = teams.iter().map(|t| vec![1.0; t.as_ref().len()]).collect();
        self.quality_weighted(teams, &weights)
    }

    /// [`TrueSkill::quality`] with partial play weights (used as given).
    pub fn quality_weighted<T: AsRef<[Rating]>, W: AsRef<[f64]>>(
        &self,
        teams: &[T],
        weights: &[W],
    ) -> Result<f64, RateError> {
        let teams: Vec<&[Rating]> = teams.iter().map(|t| t.as_ref()).collect();
        validate(&teams)?;
        if weights.len() != teams.len()
            || weights
                .iter()
                .zip(&teams)
                .any(|(w, t)| w.as_ref().len() != t.len())
        {
            return Err(RateError::WeightShape);
        }
        let teams: Vec<Vec<Rating>> = teams.iter().map(|t| t.to_vec()).collect();
        let weights: Vec<Vec<f64>> = weights.iter().map(|w| w.as_ref().to_vec()).collect();
        Ok(quality::quality(self.beta, &teams, &weights))
    }
}

fn check(r: &Rating) -> Result<(), RateError> {
    if r.mu.is_finite() && r.sigma.is_finite() && r.sigma > 0.0 {
        Ok(())
    } else {
        Err(RateError::InvalidRating {
            mu: r.mu,
            sigma: r.sigma,
        })
    }
}

fn validate(teams: &[&[Rating]]) -> Result<(), RateError> {
    if teams.len() < 2 {
        return Err(RateError::TooFewTeams);
    }
    for (t, team) in teams.iter().enumerate() {
        if team.is_empty() {
            return Err(RateError::EmptyTeam(t));
        }
        team.iter().try_for_each(check)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Rating, mu: f64, sigma: f64) -> bool {
        (a.mu - mu).abs() < 1e-3 && (a.sigma - sigma).abs() < 1e-3
    }

    #[test]
    fn one_vs_one_matches_the_reference() {
        let env = TrueSkill::default();
        let (w, l) = env.rate_1vs1(env.rating(), env.rating());
        assert!(
            close(w, 29.396, 7.171) && close(l, 20.604, 7.171),
            "{w:?} {l:?}"
        );
        let (a, b) = env.draw_1vs1(env.rating(), env.rating()).unwrap();
        assert!(
            close(a, 25.0, 6.458) && close(b, 25.0, 6.458),
            "{a:?} {b:?}"
        );
    }

    #[test]
    fn closed_form_equals_the_graph() {
        let env = TrueSkill::image_ranker();
        let cases = [
            (Rating::new(3.0, 2.0), Rating::new(-1.0, 5.0)),
            (Rating::new(-9.0, 1.0), Rating::new(12.0, 7.0)),
        ];
        for (a, b) in cases {
            for drawn in [false, true] {
                let fast = env.update_1vs1(a, b, drawn).unwrap();
                let ranks = if drawn { [0, 0] } else { [0, 1] };
                let slow = env.rate(&[[a], [b]], &ranks).unwrap();
                for (x, y) in [(fast.0, slow[0][0]), (fast.1, slow[1][0])] {
                    assert!(
                        (x.mu - y.mu).abs() < 1e-9 && (x.sigma - y.sigma).abs() < 1e-9,
                        "{x:?} {y:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn best_of_four_moves_the_winner_up_and_keeps_losers_together() {
        let env = TrueSkill::image_ranker();
        let r = env.rating();
        let out = env.rate_players(&[r, r, r, r], &[0, 1, 1, 1]).unwrap();
        assert!(out[0].mu > 0.0);
        // Python's schedule stops before the three tied losers agree exactly (0.01 apart).
        for x in &out[1..] {
            assert!(x.mu < 0.0 && (x.mu - out[1].mu).abs() < 0.05, "{out:?}");
        }
    }

    #[test]
    fn invalid_input_is_an_error() {
        let env = TrueSkill::default();
        let r = env.rating();
        assert_eq!(env.rate(&[[r]], &[0]), Err(RateError::TooFewTeams));
        assert_eq!(
            env.rate(&[vec![r], vec![]], &[0, 1]),
            Err(RateError::EmptyTeam(1))
        );
        assert_eq!(
            env.rate(&[[r], [r]], &[0]),
            Err(RateError::RankCount { teams: 2, got: 1 })
        );
        let no_draws = TrueSkill {
            draw_probability: 0.0,
            ..env
        };
        assert_eq!(no_draws.draw_1vs1(r, r), Err(RateError::DrawImpossible));
    }
}
