//! ReduceLROnPlateau with PyTorch's documented semantics (mode `min`): burn 0.22 has none.

use serde::{Deserialize, Serialize};

use rateme_spec::ScheduleSpec;

/// The learning-rate schedule's state; serialised into checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plateau {
    /// Current learning rate.
    pub lr: f64,
    /// Best metric seen (∞ before the first step).
    pub best: f64,
    /// Steps since the last improvement.
    pub num_bad: u32,
    /// Steps of cooldown left.
    pub cooldown_left: u32,
    /// Reductions so far.
    pub reductions: u32,
    factor: f64,
    patience: u32,
    cooldown: u32,
    min_lr: f64,
    threshold: f64,
    relative: bool,
    eps: f64,
    constant: bool,
}

impl Plateau {
    /// A schedule starting at `lr`.
    pub fn new(spec: &ScheduleSpec, lr: f64) -> Self {
        Self {
            lr,
            best: f64::INFINITY,
            num_bad: 0,
            cooldown_left: 0,
            reductions: 0,
            factor: spec.factor,
            patience: spec.patience,
            cooldown: spec.cooldown,
            min_lr: spec.min_lr,
            threshold: spec.threshold,
            relative: spec.threshold_mode == "rel",
            eps: spec.eps,
            constant: spec.name == "constant",
        }
    }

    fn is_better(&self, metric: f64) -> bool {
        if self.relative {
            metric < self.best * (1.0 - self.threshold)
        } else {
            metric < self.best - self.threshold
        }
    }

    /// Feeds one evaluation's metric (lower is better); returns the learning rate to use next.
    /// NaN never counts as an improvement (as in PyTorch, where the comparison is false).
    pub fn step(&mut self, metric: f64) -> f64 {
        if self.constant {
            return self.lr;
        }
        if self.is_better(metric) {
            self.best = metric;
            self.num_bad = 0;
        } else {
            self.num_bad += 1;
        }
        if self.cooldown_left > 0 {
            self.cooldown_left -= 1;
            self.num_bad = 0;
        }
        if self.num_bad > self.patience {
            let new_lr = (self.lr * self.factor).max(self.min_lr);
            if self.lr - new_lr > self.eps {
                self.lr = new_lr;
                self.reductions += 1;
            }
            self.cooldown_left = self.cooldown;
            self.num_bad = 0;
        }
        self.lr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(patience: u32, cooldown: u32, factor: f64, min_lr: f64) -> ScheduleSpec {
        ScheduleSpec {
            patience,
            cooldown,
            factor,
            min_lr,
            ..ScheduleSpec::default()
        }
    }

    #[test]
    fn reduces_after_patience_plus_one_bad_steps() {
        // PyTorch: with patience 2, the LR drops on the 3rd consecutive non-improving step.
        let mut s = Plateau::new(&spec(2, 0, 0.5, 0.0), 1.0);
        assert_eq!(s.step(1.0), 1.0); // best = 1
        assert_eq!(s.step(1.0), 1.0); // bad 1
        assert_eq!(s.step(1.0), 1.0); // bad 2
        assert_eq!(s.step(1.0), 0.5); // bad 3 > 2 → reduce
        assert_eq!(s.num_bad, 0);
        assert_eq!(s.step(1.0), 0.5);
        assert_eq!(s.step(0.5), 0.5); // improvement resets
        assert_eq!(s.step(0.6), 0.5);
        assert_eq!(s.step(0.6), 0.5);
        assert_eq!(s.step(0.6), 0.25);
    }

    #[test]
    fn cooldown_suspends_counting() {
        // RateMeAI's settings: factor .7, patience 5, cooldown 3.
        let mut s = Plateau::new(&spec(5, 3, 0.7, 1e-6), 1e-3);
        let mut lrs = Vec::new();
        for _ in 0..20 {
            lrs.push(s.step(1.0));
        }
        // First step sets best; steps 2..7 are bad 1..6 → reduce at step 7 (index 6).
        // Then 3 cooldown steps where bad stays 0, then 6 more bad → reduce at index 6+3+6 = 15.
        let reduce_at: Vec<usize> = (1..lrs.len()).filter(|&i| lrs[i] < lrs[i - 1]).collect();
        assert_eq!(reduce_at, vec![6, 15]);
        assert!((lrs[19] - 1e-3 * 0.7 * 0.7).abs() < 1e-12);
    }

    #[test]
    fn threshold_modes_and_min_lr() {
        let mut rel = Plateau::new(
            &ScheduleSpec {
                patience: 0,
                threshold: 0.1,
                ..ScheduleSpec::default()
            },
            1.0,
        );
        rel.step(1.0);
        // 0.95 is not better than 1.0·(1−0.1) = 0.9 → bad → reduce (patience 0).
        assert!((rel.step(0.95) - 0.1).abs() < 1e-12);
        let mut abs = Plateau::new(
            &ScheduleSpec {
                patience: 0,
                threshold: 0.01,
                threshold_mode: "abs".into(),
                ..ScheduleSpec::default()
            },
            1.0,
        );
        abs.step(1.0);
        assert_eq!(abs.step(0.985), 1.0); // 0.985 < 1.0 − 0.01 → better
        let mut floor = Plateau::new(&spec(0, 0, 0.1, 0.05), 0.1);
        floor.step(1.0);
        assert!((floor.step(1.0) - 0.05).abs() < 1e-12);
        // At the floor, further "reductions" are below eps and skipped.
        assert!((floor.step(1.0) - 0.05).abs() < 1e-12);
        assert_eq!(floor.reductions, 1);
    }

    #[test]
    fn nan_is_never_an_improvement() {
        let mut s = Plateau::new(&spec(0, 0, 0.5, 0.0), 1.0);
        assert_eq!(s.step(f64::NAN), 0.5);
        assert!(s.best.is_infinite());
    }

    #[test]
    fn constant_never_changes() {
        let mut s = Plateau::new(
            &ScheduleSpec {
                name: "constant".into(),
                patience: 0,
                ..ScheduleSpec::default()
            },
            0.3,
        );
        for _ in 0..5 {
            assert_eq!(s.step(1.0), 0.3);
        }
    }
}
