//! The state of one ranking session: items, their online TrueSkill ratings (what the original
//! app shows), comparison counts and votes, the history of results, removed and excluded items,
//! and the converged [`Posterior`]. Pairing modes read it; the app records results into it.

use serde::{Deserialize, Serialize};

use crate::posterior::Posterior;
use crate::trueskill::{Rating, TrueSkill};

/// One result the rater gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// `winner` was preferred to `loser`.
    Win {
        /// The preferred item.
        winner: usize,
        /// The other item.
        loser: usize,
    },
    /// Neither was preferred. Where the environment's draw probability is 0 it changes only
    /// the counts.
    Draw {
        /// One item.
        a: usize,
        /// The other item.
        b: usize,
    },
    /// Best of a group: `winner` was preferred to each of `others`, which stay unordered.
    BestOf {
        /// The preferred item.
        winner: usize,
        /// The other items of the group.
        others: Vec<usize>,
    },
}

impl Outcome {
    /// Every item the result involves.
    pub fn items(&self) -> Vec<usize> {
        match self {
            Outcome::Win { winner, loser } => vec![*winner, *loser],
            Outcome::Draw { a, b } => vec![*a, *b],
            Outcome::BestOf { winner, others } => std::iter::once(*winner)
                .chain(others.iter().copied())
                .collect(),
        }
    }
}

/// Whether an item takes part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// Shown and ranked.
    Active,
    /// Not shown any more (sequential elimination, or the user excluded it); its results stay.
    Excluded,
    /// Gone: its results were dropped and ratings recomputed without them.
    Removed,
}

/// A ranking session (see the module docs).
#[derive(Debug, Clone)]
pub struct Session {
    env: TrueSkill,
    /// Each item's rating before any result (the environment's, or a model's prior).
    priors: Vec<Rating>,
    ratings: Vec<Rating>,
    counts: Vec<u32>,
    upvotes: Vec<u32>,
    downvotes: Vec<u32>,
    status: Vec<Status>,
    history: Vec<Outcome>,
    posterior: Posterior,
    /// Comparisons in the posterior when it was last swept.
    swept_at: usize,
}

impl Session {
    /// A session over `items` items, all new, with TrueSkill environment `env`.
    pub fn new(env: TrueSkill, items: usize) -> Self {
        Self::with_priors(env, vec![env.rating(); items])
    }

    /// A session whose items start from `priors` (one per item) instead of the environment's
    /// rating: the online ratings and the posterior both start there.
    pub fn with_priors(env: TrueSkill, priors: Vec<Rating>) -> Self {
        let items = priors.len();
        Session {
            env,
            ratings: priors.clone(),
            counts: vec![0; items],
            upvotes: vec![0; items],
            downvotes: vec![0; items],
            status: vec![Status::Active; items],
            history: Vec::new(),
            posterior: Posterior::with_priors(&env, &priors),
            priors,
            swept_at: 0,
        }
    }

    /// Each item's rating before any result.
    pub fn priors(&self) -> &[Rating] {
        &self.priors
    }

    /// Number of items (whatever their status).
    pub fn len(&self) -> usize {
        self.ratings.len()
    }

    /// Whether the session has no items.
    pub fn is_empty(&self) -> bool {
        self.ratings.is_empty()
    }

    /// The TrueSkill environment.
    pub fn env(&self) -> &TrueSkill {
        &self.env
    }

    /// Online TrueSkill ratings, as the original app computes them (one update per result, in
    /// order).
    pub fn ratings(&self) -> &[Rating] {
        &self.ratings
    }

    /// How many results each item took part in.
    pub fn counts(&self) -> &[u32] {
        &self.counts
    }

    /// How often each item was preferred.
    pub fn upvotes(&self) -> &[u32] {
        &self.upvotes
    }

    /// How often each item was not preferred.
    pub fn downvotes(&self) -> &[u32] {
        &self.downvotes
    }

    /// Each item's status.
    pub fn status(&self) -> &[Status] {
        &self.status
    }

    /// Whether item `i` may be shown.
    pub fn is_active(&self, i: usize) -> bool {
        self.status[i] == Status::Active
    }

    /// Indices of the items that may be shown.
    pub fn active_items(&self) -> Vec<usize> {
        (0..self.len()).filter(|&i| self.is_active(i)).collect()
    }

    /// Results so far, oldest first.
    pub fn history(&self) -> &[Outcome] {
        &self.history
    }

    /// The converged beliefs (as of the last [`Session::refresh_posterior`]).
    pub fn posterior(&self) -> &Posterior {
        &self.posterior
    }

    /// Records a result: online TrueSkill update, counts and votes, history, and one online
    /// step of the posterior.
    ///
    /// # Panics
    /// If the result names an item twice, fewer than two items, or an item out of range.
    pub fn record(&mut self, outcome: Outcome) {
        let items = outcome.items();
        let mut seen = items.clone();
        seen.sort_unstable();
        seen.dedup();
        assert!(
            seen.len() == items.len() && items.len() >= 2 && items.iter().all(|&i| i < self.len()),
            "invalid result {outcome:?}"
        );
        self.apply(&outcome);
        self.history.push(outcome);
    }

    fn apply(&mut self, outcome: &Outcome) {
        match *outcome {
            Outcome::Win { winner, loser } => {
                (self.ratings[winner], self.ratings[loser]) = self
                    .env
                    .rate_1vs1(self.ratings[winner], self.ratings[loser]);
                self.upvotes[winner] += 1;
                self.downvotes[loser] += 1;
                self.posterior.add(winner, loser, false);
            }
            Outcome::Draw { a, b } => {
                if let Ok(r) = self.env.draw_1vs1(self.ratings[a], self.ratings[b]) {
                    (self.ratings[a], self.ratings[b]) = r;
                    self.posterior.add(a, b, true);
                }
            }
            Outcome::BestOf { winner, ref others } => {
                let items = outcome.items();
                let group: Vec<Rating> = items.iter().map(|&i| self.ratings[i]).collect();
                let ranks: Vec<u32> = (0..items.len()).map(|k| u32::from(k > 0)).collect();
                let rated = self
                    .env
                    .rate_players(&group, &ranks)
                    .expect("a best-of result always rates");
                for (&i, r) in items.iter().zip(rated) {
                    self.ratings[i] = r;
                }
                self.upvotes[winner] += 1;
                for &o in others {
                    self.downvotes[o] += 1;
                    // The posterior takes the group as the winner beating each other item.
                    self.posterior.add(winner, o, false);
                }
            }
        }
        for i in outcome.items() {
            self.counts[i] += 1;
        }
    }

    /// Undoes the last result; returns it.
    pub fn undo(&mut self) -> Option<Outcome> {
        let last = self.history.pop()?;
        self.replay();
        Some(last)
    }

    /// Stops showing item `i`; its results stay (sequential elimination's "exclude").
    pub fn exclude(&mut self, i: usize) {
        if self.status[i] == Status::Active {
            self.status[i] = Status::Excluded;
        }
    }

    /// Shows an excluded item again.
    pub fn include(&mut self, i: usize) {
        if self.status[i] == Status::Excluded {
            self.status[i] = Status::Active;
        }
    }

    /// Removes item `i`: drops every result it took part in and recomputes all ratings.
    pub fn remove(&mut self, i: usize) {
        self.status[i] = Status::Removed;
        self.history.retain(|o| !o.items().contains(&i));
        self.replay();
    }

    /// Recomputes ratings, counts and the posterior from the history.
    fn replay(&mut self) {
        let n = self.len();
        self.ratings.clone_from(&self.priors);
        self.counts = vec![0; n];
        self.upvotes = vec![0; n];
        self.downvotes = vec![0; n];
        self.posterior.clear();
        for o in std::mem::take(&mut self.history) {
            self.apply(&o);
            self.history.push(o);
        }
        self.swept_at = 0;
        self.refresh_posterior();
    }

    /// Brings the posterior close to its fixed point, at a cost that stays proportional to the
    /// number of results over a session: a sweep over all comparisons once the comparisons
    /// added since the last sweep reach 1/16 of them (always after the first few). Call it
    /// before asking a mode that reads the posterior.
    pub fn refresh_posterior(&mut self) {
        let m = self.posterior.comparisons();
        if m > self.swept_at && m - self.swept_at >= (m / 16).max(1) {
            self.posterior.sweep();
            self.posterior.sweep();
            self.swept_at = m;
        }
    }

    /// Sweeps the posterior to convergence (for final rankings).
    pub fn converge_posterior(&mut self) {
        self.posterior.converge(1e-6, 100);
        self.swept_at = self.posterior.comparisons();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undo_restores_the_previous_state() {
        let mut s = Session::new(TrueSkill::image_ranker(), 4);
        s.record(Outcome::Win {
            winner: 0,
            loser: 1,
        });
        s.record(Outcome::BestOf {
            winner: 2,
            others: vec![0, 1, 3],
        });
        let before = (s.ratings().to_vec(), s.counts().to_vec());
        s.record(Outcome::Win {
            winner: 3,
            loser: 2,
        });
        assert_eq!(
            s.undo(),
            Some(Outcome::Win {
                winner: 3,
                loser: 2
            })
        );
        assert_eq!((s.ratings().to_vec(), s.counts().to_vec()), before);
        assert_eq!(s.history().len(), 2);
    }

    #[test]
    fn remove_drops_the_items_results() {
        let mut s = Session::new(TrueSkill::image_ranker(), 3);
        s.record(Outcome::Win {
            winner: 0,
            loser: 1,
        });
        s.record(Outcome::Win {
            winner: 1,
            loser: 2,
        });
        s.remove(0);
        assert_eq!(
            s.history(),
            &[Outcome::Win {
                winner: 1,
                loser: 2
            }]
        );
        assert_eq!(s.counts(), &[0, 1, 1]);
        assert_eq!(s.ratings()[0], s.env().rating());
        assert_eq!(s.active_items(), vec![1, 2]);
    }
}
