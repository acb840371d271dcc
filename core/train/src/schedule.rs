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

    // PyTorch parity of the plateau rule: tests/plateau_vectors.rs (vectors made by PyTorch).

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
