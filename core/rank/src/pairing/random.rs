//! Uniformly random pairs (and groups) of active items.

use super::PairingMode;
use crate::rng::Rng;
use crate::session::Session;

/// A uniformly random pair of active items each time.
#[derive(Debug, Clone)]
pub struct RandomPairs {
    rng: Rng,
}

impl RandomPairs {
    /// A mode drawing from seed `seed`.
    pub fn new(seed: u64) -> Self {
        RandomPairs {
            rng: Rng::new(seed, &[0x7261_6e64]),
        }
    }
}

impl PairingMode for RandomPairs {
    fn name(&self) -> String {
        "random".into()
    }

    fn next_pair(&mut self, session: &Session) -> Option<(usize, usize)> {
        let g = self.next_group(session, 2)?;
        Some((g[0], g[1]))
    }

    fn next_group(&mut self, session: &Session, size: usize) -> Option<Vec<usize>> {
        let mut active = session.active_items();
        if active.len() < size.max(2) {
            return None;
        }
        // Partial Fisher–Yates: the first `size` places.
        for k in 0..size {
            let j = k + self.rng.below(active.len() - k);
            active.swap(k, j);
        }
        active.truncate(size);
        Some(active)
    }
}
