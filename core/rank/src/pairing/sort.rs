//! Noisy sorting (Maystre & Grossglauser 2017, "Just sort it!"): repeated randomised quicksort
//! with the rater as the comparison, partitions processed level by level (breadth first), so
//! every item takes part once per level. When a pass ends, a new one starts over all active
//! items. The ranking is read from the posterior fitted to all comparisons.

use std::collections::VecDeque;

use super::PairingMode;
use crate::rng::Rng;
use crate::session::{Outcome, Session};

/// How a partition's pivot is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pivot {
    /// Uniformly at random (the paper).
    Random,
    /// The item whose posterior mean is closest to the partition's median mean (random while
    /// nothing is known).
    PosteriorMedian,
}

/// A partition being split: items still to compare with the pivot, and those found below and
/// above it.
#[derive(Debug, Clone)]
struct Partition {
    pivot: usize,
    todo: VecDeque<usize>,
    below: Vec<usize>,
    above: Vec<usize>,
}

/// Noisy quicksort (see the module docs).
#[derive(Debug, Clone)]
pub struct NoisySort {
    rng: Rng,
    pivot: Pivot,
    /// Partitions waiting, breadth first; the front one is being compared.
    queue: VecDeque<Partition>,
    /// The (pivot, item) pair last shown and not yet answered.
    pending: Option<(usize, usize)>,
    passes: u32,
}

impl NoisySort {
    /// Noisy sort with a pivot rule.
    pub fn new(seed: u64, pivot: Pivot) -> Self {
        NoisySort {
            rng: Rng::new(seed, &[0x736f_7274]),
            pivot,
            queue: VecDeque::new(),
            pending: None,
            passes: 0,
        }
    }

    /// Passes started so far.
    pub fn passes(&self) -> u32 {
        self.passes
    }

    fn partition(&mut self, session: &Session, mut items: Vec<usize>) -> Partition {
        self.rng.shuffle(&mut items);
        let p = session.posterior();
        let at = match self.pivot {
            Pivot::Random => 0,
            Pivot::PosteriorMedian => {
                let mut means: Vec<f64> = items.iter().map(|&i| p.mean(i)).collect();
                means.sort_by(f64::total_cmp);
                let median = means[means.len() / 2];
                (0..items.len())
                    .min_by(|&x, &y| {
                        let dx = (p.mean(items[x]) - median).abs();
                        let dy = (p.mean(items[y]) - median).abs();
                        dx.total_cmp(&dy)
                            .then(p.variance(items[x]).total_cmp(&p.variance(items[y])))
                    })
                    .unwrap_or(0)
            }
        };
        let pivot = items.swap_remove(at);
        Partition {
            pivot,
            todo: items.into(),
            below: Vec::new(),
            above: Vec::new(),
        }
    }

    /// Moves on from finished partitions; starts a new pass when all are done.
    fn settle(&mut self, session: &Session) -> bool {
        for _ in 0..2 {
            while let Some(front) = self.queue.front_mut() {
                front.todo.retain(|&i| session.is_active(i));
                if session.is_active(front.pivot) && !front.todo.is_empty() {
                    return true;
                }
                let done = self.queue.pop_front().expect("front exists");
                let mut rest = done.todo;
                if !session.is_active(done.pivot) {
                    // Pivot gone: its partition starts again without it.
                    let items: Vec<usize> = done
                        .below
                        .into_iter()
                        .chain(done.above)
                        .chain(rest.drain(..))
                        .filter(|&i| session.is_active(i))
                        .collect();
                    if items.len() >= 2 {
                        let p = self.partition(session, items);
                        self.queue.push_back(p);
                    }
                    continue;
                }
                for side in [done.below, done.above] {
                    let side: Vec<usize> =
                        side.into_iter().filter(|&i| session.is_active(i)).collect();
                    if side.len() >= 2 {
                        let p = self.partition(session, side);
                        self.queue.push_back(p);
                    }
                }
            }
            let active = session.active_items();
            if active.len() < 2 {
                return false;
            }
            self.passes += 1;
            let p = self.partition(session, active);
            self.queue.push_back(p);
        }
        !self.queue.is_empty()
    }
}

impl PairingMode for NoisySort {
    fn name(&self) -> String {
        match self.pivot {
            Pivot::Random => "noisy sort".into(),
            Pivot::PosteriorMedian => "noisy sort (median pivots)".into(),
        }
    }

    fn next_pair(&mut self, session: &Session) -> Option<(usize, usize)> {
        if let Some((pivot, item)) = self.pending.take() {
            // Shown but skipped: compare it again at the end of its partition.
            if let Some(front) = self.queue.front_mut().filter(|f| f.pivot == pivot) {
                front.todo.push_back(item);
            }
        }
        if !self.settle(session) {
            return None;
        }
        let front = self.queue.front_mut()?;
        let item = front.todo.pop_front()?;
        self.pending = Some((front.pivot, item));
        Some((front.pivot, item))
    }

    fn next_group(&mut self, session: &Session, size: usize) -> Option<Vec<usize>> {
        // A best-of result does not split a partition; show the pivot with the next items.
        let (pivot, first) = self.next_pair(session)?;
        let mut group = vec![pivot, first];
        if let Some(front) = self.queue.front() {
            group.extend(front.todo.iter().copied().take(size.saturating_sub(2)));
        }
        if group.len() < size {
            let extra: Vec<usize> = session
                .active_items()
                .into_iter()
                .filter(|i| !group.contains(i))
                .take(size - group.len())
                .collect();
            group.extend(extra);
        }
        (group.len() == size).then_some(group)
    }

    fn observe(&mut self, _session: &Session, outcome: &Outcome) {
        let Some((pivot, item)) = self.pending.take() else {
            return;
        };
        let Some(front) = self.queue.front_mut().filter(|f| f.pivot == pivot) else {
            return;
        };
        match *outcome {
            Outcome::Win { winner, loser } if winner == pivot && loser == item => {
                front.below.push(item)
            }
            Outcome::Win { winner, loser } if winner == item && loser == pivot => {
                front.above.push(item)
            }
            Outcome::Draw { a, b } if (a, b) == (pivot, item) || (a, b) == (item, pivot) => {
                if self.rng.below(2) == 0 {
                    front.below.push(item)
                } else {
                    front.above.push(item)
                }
            }
            _ => front.todo.push_back(item),
        }
    }

    fn reads_posterior(&self) -> bool {
        self.pivot == Pivot::PosteriorMedian
    }
}
