//! Sequential elimination, as in the original app: the loser of each comparison leaves, so a
//! round over `n` items takes `n - 1` comparisons and ends with one item left. The original then
//! has nothing more to show; here a new round starts with every active item, so the mode can
//! run for any number of comparisons. Within a round the pair is uniformly random among the
//! survivors (the original rebuilt its ring on a fresh shuffle after each elimination and showed
//! its first pair). A skipped pair eliminates nobody; in a best-of group every non-winner leaves.

use super::PairingMode;
use crate::rng::Rng;
use crate::session::{Outcome, Session};

/// Sequential elimination (see the module docs).
#[derive(Debug, Clone)]
pub struct Elimination {
    rng: Rng,
    /// Survivors of the current round (`None`: no round started yet).
    survivors: Option<Vec<usize>>,
    /// Rounds started so far.
    rounds: u32,
}

impl Elimination {
    /// A mode drawing from seed `seed`.
    pub fn new(seed: u64) -> Self {
        Elimination {
            rng: Rng::new(seed, &[0x656c_696d]),
            survivors: None,
            rounds: 0,
        }
    }

    /// Rounds started so far.
    pub fn rounds(&self) -> u32 {
        self.rounds
    }

    /// Current survivors that are still active, starting a new round where fewer than `size`.
    fn pool(&mut self, session: &Session, size: usize) -> Option<Vec<usize>> {
        let mut pool: Vec<usize> = self
            .survivors
            .as_deref()
            .unwrap_or_default()
            .iter()
            .copied()
            .filter(|&i| session.is_active(i))
            .collect();
        if pool.len() < size {
            pool = session.active_items();
            if pool.len() < size {
                return None;
            }
            self.rounds += 1;
        }
        self.survivors = Some(pool.clone());
        Some(pool)
    }
}

impl PairingMode for Elimination {
    fn name(&self) -> String {
        "elimination".into()
    }

    fn next_pair(&mut self, session: &Session) -> Option<(usize, usize)> {
        let g = self.next_group(session, 2)?;
        Some((g[0], g[1]))
    }

    fn next_group(&mut self, session: &Session, size: usize) -> Option<Vec<usize>> {
        let size = size.max(2);
        let mut pool = self.pool(session, size)?;
        for k in 0..size {
            let j = k + self.rng.below(pool.len() - k);
            pool.swap(k, j);
        }
        pool.truncate(size);
        Some(pool)
    }

    fn observe(&mut self, _session: &Session, outcome: &Outcome) {
        let losers: Vec<usize> = match outcome {
            Outcome::Win { loser, .. } => vec![*loser],
            Outcome::Draw { .. } => Vec::new(),
            Outcome::BestOf { others, .. } => others.clone(),
        };
        if let Some(s) = &mut self.survivors {
            s.retain(|i| !losers.contains(i));
        }
    }
}
