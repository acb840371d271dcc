//! Pair-selection modes: which two items (or, for "best of four", which group) to show next.
//!
//! A mode reads the [`Session`] (ratings, counts, history, which items are active) and keeps
//! whatever state of its own it needs (a seeded RNG, a pair list, an elimination round). It is
//! deterministic for a seed and the sequence of calls. Modes never return removed or excluded
//! items, nor the same item twice in one pair or group.
//!
//! - [`RandomPairs`]: a uniformly random pair.
//! - [`Original`]: the original image-ranker's list (a ring so every image is seen, then all
//!   other pairs), with its "smart shuffle" every 3 comparisons.
//! - [`Elimination`]: sequential elimination (the loser leaves the round).
//! - [`Active`]: rateme's mode: the pair expected to fix most of the ranking under the
//!   converged posterior, with a coverage rule so no item is starved.
//! - [`NoisySort`]: repeated noisy quicksort ("Just sort it!"), measured against the active
//!   mode and not picked (see the crate README).

mod active;
mod elimination;
mod original;
mod random;
mod sort;

pub use active::{Active, ActiveConfig, Objective, expected_information};
pub use elimination::Elimination;
pub use original::Original;
pub use random::RandomPairs;
pub use sort::{NoisySort, Pivot};

use crate::session::{Outcome, Session};

/// A pair-selection mode (see the module docs).
pub trait PairingMode: Send {
    /// A short name for tables and logs.
    fn name(&self) -> String;

    /// The next pair to show, or `None` where fewer than two items are active.
    fn next_pair(&mut self, session: &Session) -> Option<(usize, usize)>;

    /// The next group of `size` items for a best-of-`size` view, or `None` where fewer than
    /// `size` items are active.
    fn next_group(&mut self, session: &Session, size: usize) -> Option<Vec<usize>>;

    /// Tells the mode about a result the session has just recorded (after
    /// [`Session::record`]). A pair that was shown and skipped is simply never observed.
    fn observe(&mut self, _session: &Session, _outcome: &Outcome) {}

    /// Tells the mode that `items` were shown and skipped (no result), so it may avoid showing
    /// them again soon. Only the active mode uses it.
    fn skipped(&mut self, _session: &Session, _items: &[usize]) {}

    /// Whether the mode reads [`Session::posterior`], so the caller should
    /// [`Session::refresh_posterior`] before asking it.
    fn reads_posterior(&self) -> bool {
        false
    }
}

/// Index of the unordered pair `{a, b}` (`a != b`) in a triangular enumeration.
pub(crate) fn pair_index(a: usize, b: usize) -> usize {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    hi * (hi - 1) / 2 + lo
}

/// The pair in a canonical order (smaller index first).
pub(crate) fn ordered(a: usize, b: usize) -> (usize, usize) {
    if a < b { (a, b) } else { (b, a) }
}
