//! The original image-ranker's pair list and its "smart shuffle".
//!
//! Its rules (app.py, index.html): shuffle the images; the list starts with the ring
//! `(p[i], p[i+1 mod n])` in shuffled order, so every image is seen, followed by all other
//! pairs, shuffled; pairs are shown from the head of the list and never again. "Smart shuffle"
//! sorts the pairs not yet shown by `|mu_a - mu_b| + 0.8 (count_a + count_b)` (TrueSkill mean,
//! comparisons so far), smallest first; "auto-shuffle" does so after every 3rd comparison.
//!
//! Here the list is never materialised: the head is the unshown pair with the smallest
//! (key at the last shuffle, position in the initial list), where the initial position puts the
//! ring first and orders the other pairs by a seeded hash (a shuffle). Python's sort is stable,
//! so tied keys keep their previous order; this keeps their initial order instead, which differs
//! only among pairs whose keys tie at one shuffle but did not at an earlier one. (The original's
//! `random.shuffle(image_pairs[n:])` shuffled a copy, so its non-ring pairs actually stayed in
//! `itertools.combinations` order; the documented rule, a shuffle, is what this follows.) Once
//! every pair has been shown, a new pass starts over all pairs.

use std::collections::HashMap;

use super::{PairingMode, ordered, pair_index};
use crate::rng::{Rng, mix};
use crate::session::{Outcome, Session};

/// Pairs kept from one scan; the head is served from them until the next shuffle.
const BUFFER: usize = 8;

/// Positions of the pairs after the ring start here (ring pairs are numbered from 0).
const RING_END: u64 = 1 << 63;

/// The original app's list with smart shuffle (see the module docs).
#[derive(Debug, Clone)]
pub struct Original {
    seed: u64,
    /// Smart-shuffle after this many comparisons (`None`: never, plain list order).
    auto_shuffle: Option<u32>,
    /// Ring pairs by their place at the head of the initial list.
    ring: HashMap<(usize, usize), u32>,
    /// Items the ring was built over.
    ring_items: usize,
    /// One bit per unordered pair: shown in this pass.
    shown: Vec<u64>,
    shown_count: usize,
    /// Keys as of the last shuffle: TrueSkill means and counts (`None`: never shuffled).
    snapshot: Option<(Vec<f64>, Vec<u32>)>,
    since_shuffle: u32,
    /// The next pairs in list order, from the last scan.
    buffer: Vec<(usize, usize)>,
}

impl Original {
    /// The original mode with auto-shuffle every 3 comparisons.
    pub fn new(seed: u64) -> Self {
        Self::with_auto_shuffle(seed, Some(3))
    }

    /// The original mode, auto-shuffling every `every` comparisons (`None`: only the ring and
    /// the shuffled list, no smart shuffle).
    pub fn with_auto_shuffle(seed: u64, every: Option<u32>) -> Self {
        Original {
            seed,
            auto_shuffle: every,
            ring: HashMap::new(),
            ring_items: 0,
            shown: Vec::new(),
            shown_count: 0,
            snapshot: None,
            since_shuffle: 0,
            buffer: Vec::new(),
        }
    }

    /// Smart shuffle now (the app's button): re-sorts the pairs not yet shown.
    pub fn smart_shuffle(&mut self, session: &Session) {
        let mu = session.ratings().iter().map(|r| r.mu).collect();
        self.snapshot = Some((mu, session.counts().to_vec()));
        self.since_shuffle = 0;
        self.buffer.clear();
    }

    fn start(&mut self, session: &Session) {
        let n = session.len();
        let mut items = session.active_items();
        Rng::new(self.seed, &[0x7269_6e67]).shuffle(&mut items);
        let mut ring: Vec<(usize, usize)> = if items.len() >= 2 {
            (0..items.len())
                .map(|i| ordered(items[i], items[(i + 1) % items.len()]))
                .collect()
        } else {
            Vec::new()
        };
        Rng::new(self.seed, &[0x7269_6e67, 1]).shuffle(&mut ring);
        self.ring.clear();
        for (k, p) in ring.into_iter().enumerate() {
            self.ring.entry(p).or_insert(k as u32);
        }
        self.ring_items = n;
        self.shown = vec![0; (n * n.saturating_sub(1) / 2).div_ceil(64)];
        self.shown_count = 0;
        self.buffer.clear();
    }

    fn is_shown(&self, a: usize, b: usize) -> bool {
        let k = pair_index(a, b);
        self.shown[k / 64] >> (k % 64) & 1 == 1
    }

    fn mark_shown(&mut self, a: usize, b: usize) {
        let k = pair_index(a, b);
        if self.shown[k / 64] >> (k % 64) & 1 == 0 {
            self.shown[k / 64] |= 1 << (k % 64);
            self.shown_count += 1;
        }
    }

    /// Initial list position: the ring first, then a seeded pseudo-random order.
    fn position(&self, a: usize, b: usize) -> u64 {
        match self.ring.get(&ordered(a, b)) {
            Some(&k) => k as u64,
            None => RING_END | (mix(self.seed ^ mix(pair_index(a, b) as u64)) >> 1),
        }
    }

    /// Refills the buffer with the first unshown pairs of active items in list order: the
    /// `BUFFER` smallest (key, position). Not a scan of all pairs: the ring pairs are taken
    /// first (positions below every other pair's), then the other pairs are walked in order of
    /// score, each item's partners outward from it, and a walk stops once a lower bound of the
    /// key (the score gap plus the counts' share with the smallest count) cannot beat the
    /// `BUFFER`-th pair any more. Exactly the order of a full scan (`tests` compare the two).
    fn scan(&mut self, session: &Session) {
        let active = session.active_items();
        let n = session.len();
        let (mu, count) = match &self.snapshot {
            Some((mu, count)) => (mu.clone(), count.clone()),
            None => (vec![0.0; n], vec![0; n]),
        };
        let key = |a: usize, b: usize| (mu[a] - mu[b]).abs() + 0.8 * (count[a] + count[b]) as f64;
        // The BUFFER smallest (key, position), kept sorted.
        let mut best: Vec<(f64, u64, usize, usize)> = Vec::with_capacity(BUFFER + 1);
        let offer = |best: &mut Vec<(f64, u64, usize, usize)>, entry: (f64, u64, usize, usize)| {
            if best.len() == BUFFER
                && (entry.0, entry.1) >= (best[BUFFER - 1].0, best[BUFFER - 1].1)
            {
                return;
            }
            let at = best.partition_point(|e| (e.0, e.1) < (entry.0, entry.1));
            best.insert(at, entry);
            best.truncate(BUFFER);
        };
        for (&(a, b), &k) in &self.ring {
            if session.is_active(a) && session.is_active(b) && !self.is_shown(a, b) {
                offer(&mut best, (key(a, b), k as u64, a, b));
            }
        }
        let mut by_score = active.clone();
        by_score.sort_by(|&a, &b| mu[a].total_cmp(&mu[b]).then(a.cmp(&b)));
        let least = active.iter().map(|&i| count[i]).min().unwrap_or(0);
        for (x, &a) in by_score.iter().enumerate() {
            for &b in &by_score[x + 1..] {
                // Every pair from here on has a key of at least `bound`.
                let bound = (mu[b] - mu[a]) + 0.8 * (count[a] + least) as f64;
                if best.len() == BUFFER {
                    let (k, pos) = (best[BUFFER - 1].0, best[BUFFER - 1].1);
                    // Past the bound; or level with it, where only a ring pair (all offered
                    // above) could come first.
                    if bound > k || (bound == k && pos < RING_END) {
                        break;
                    }
                }
                let (lo, hi) = ordered(a, b);
                if self.is_shown(lo, hi) || self.ring.contains_key(&(lo, hi)) {
                    continue;
                }
                offer(&mut best, (key(lo, hi), self.position(lo, hi), lo, hi));
            }
        }
        self.buffer = best.into_iter().rev().map(|e| (e.2, e.3)).collect();
    }

    /// The old full scan, kept as the reference the walk is tested against.
    #[cfg(test)]
    fn scan_all(&self, session: &Session) -> Vec<(usize, usize)> {
        let active = session.active_items();
        let key = |a: usize, b: usize| -> f64 {
            match &self.snapshot {
                None => 0.0,
                Some((mu, count)) => (mu[a] - mu[b]).abs() + 0.8 * (count[a] + count[b]) as f64,
            }
        };
        let mut all: Vec<(f64, u64, usize, usize)> = Vec::new();
        for (x, &a) in active.iter().enumerate() {
            for &b in &active[x + 1..] {
                if !self.is_shown(a, b) {
                    all.push((key(a, b), self.position(a, b), a, b));
                }
            }
        }
        all.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        all.into_iter()
            .take(BUFFER)
            .rev()
            .map(|e| (e.2, e.3))
            .collect()
    }

    fn take(&mut self, session: &Session) -> Option<(usize, usize)> {
        if self.ring_items != session.len() {
            self.start(session);
        }
        if session.active_items().len() < 2 {
            return None;
        }
        for pass in 0..2 {
            loop {
                while let Some((a, b)) = self.buffer.pop() {
                    if session.is_active(a) && session.is_active(b) && !self.is_shown(a, b) {
                        self.mark_shown(a, b);
                        return Some((a, b));
                    }
                }
                self.scan(session);
                if self.buffer.is_empty() {
                    break;
                }
            }
            if pass == 0 {
                // Every pair of active items shown: a new pass over all of them.
                self.shown.iter_mut().for_each(|w| *w = 0);
                self.shown_count = 0;
            }
        }
        None
    }
}

impl PairingMode for Original {
    fn name(&self) -> String {
        match self.auto_shuffle {
            Some(k) => format!("original (smart shuffle every {k})"),
            None => "original (ring + shuffled list)".into(),
        }
    }

    fn next_pair(&mut self, session: &Session) -> Option<(usize, usize)> {
        self.take(session)
    }

    /// The items of the next pairs of the list, in order, until `size` distinct ones.
    fn next_group(&mut self, session: &Session, size: usize) -> Option<Vec<usize>> {
        if session.active_items().len() < size {
            return None;
        }
        let mut group: Vec<usize> = Vec::with_capacity(size);
        let mut guard = 0;
        while group.len() < size && guard < 4 * size + 8 {
            guard += 1;
            let (a, b) = self.take(session)?;
            for i in [a, b] {
                if group.len() < size && !group.contains(&i) {
                    group.push(i);
                }
            }
        }
        if group.len() < size {
            // Pairs among the same few items only: fill with any other active items.
            let missing = size - group.len();
            let extra: Vec<usize> = session
                .active_items()
                .into_iter()
                .filter(|i| !group.contains(i))
                .take(missing)
                .collect();
            group.extend(extra);
        }
        Some(group)
    }

    fn observe(&mut self, session: &Session, _outcome: &Outcome) {
        if let Some(every) = self.auto_shuffle {
            self.since_shuffle += 1;
            if self.since_shuffle >= every {
                self.smart_shuffle(session);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trueskill::TrueSkill;

    #[test]
    fn the_walk_finds_what_a_full_scan_finds() {
        for seed in 0..12u64 {
            let n = [7, 30, 61][seed as usize % 3];
            let mut s = Session::new(TrueSkill::image_ranker(), n);
            let mut mode = Original::with_auto_shuffle(seed, Some(3));
            let mut rng = Rng::new(seed, &[5]);
            for step in 0..(n * 4) {
                if step == n {
                    s.exclude(seed as usize % n);
                }
                let Some((a, b)) = mode.next_pair(&s) else {
                    break;
                };
                let o = if rng.uniform() < 0.7 {
                    Outcome::Win {
                        winner: a.max(b),
                        loser: a.min(b),
                    }
                } else {
                    Outcome::Win {
                        winner: a.min(b),
                        loser: a.max(b),
                    }
                };
                s.record(o.clone());
                mode.observe(&s, &o);
                // Compare both ways of filling the buffer in the current state.
                let want = mode.scan_all(&s);
                mode.scan(&s);
                assert_eq!(mode.buffer, want, "seed {seed}, n {n}, step {step}");
            }
        }
    }
}
