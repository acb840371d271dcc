//! The modes and estimates the simulator compares.

use crate::pairing::{
    Active, ActiveConfig, Elimination, NoisySort, Objective, Original, PairingMode, Pivot,
    RandomPairs,
};

/// A pairing mode the simulator can build for a seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ModeKind {
    /// [`RandomPairs`].
    Random,
    /// [`Original`] with smart shuffle every 3 comparisons.
    SmartShuffle,
    /// [`Elimination`].
    Elimination,
    /// [`Active`] with its defaults.
    Active,
    /// Ablation: [`Active`] valuing pairs by expected information ([`Objective::Information`]).
    ActiveInformation,
    /// Ablation: [`NoisySort`] with random pivots (as in the paper).
    Sort,
    /// Ablation: [`NoisySort`] with pivots at the posterior median of their partition.
    SortMedian,
    /// Ablation: [`Active`] without the rule against repeated pairs (`repeat_factor` 1: a
    /// seen pair competes on value alone; still never the last pair again).
    ActiveRepeats,
    /// [`Active`] starting from a model's prior whose scores correlate 0.5 with the truth
    /// (calibrated with that correlation, [`crate::prior`]).
    ActivePrior50,
    /// The same with correlation 0.8.
    ActivePrior80,
    /// The same with correlation 0.95.
    ActivePrior95,
    /// A wrong prior: scores correlate −0.8 with the truth, and the calibration is told +0.8.
    ActiveWrongPrior,
    /// Study: [`Active`] valuing pairs by the expected drop of the Spearman loss
    /// ([`Objective::Spearman`], [`ActiveConfig::spearman`]).
    ActiveSpearman,
    /// Study: the same with the usual nearest partners only.
    ActiveSpearmanNear,
    /// Study: [`Active`] with posterior sampling proposing the anchors and a partner
    /// ([`ActiveConfig::sampled_anchors`]), valued as usual.
    ActiveSampled,
}

impl ModeKind {
    /// Every mode, in table order.
    pub const ALL: [ModeKind; 15] = [
        ModeKind::Random,
        ModeKind::SmartShuffle,
        ModeKind::Elimination,
        ModeKind::Active,
        ModeKind::ActiveInformation,
        ModeKind::Sort,
        ModeKind::SortMedian,
        ModeKind::ActiveRepeats,
        ModeKind::ActivePrior50,
        ModeKind::ActivePrior80,
        ModeKind::ActivePrior95,
        ModeKind::ActiveWrongPrior,
        ModeKind::ActiveSpearman,
        ModeKind::ActiveSpearmanNear,
        ModeKind::ActiveSampled,
    ];

    /// The modes the benchmark runs by default: the original app's three and the active one.
    pub const DEFAULT: [ModeKind; 4] = [
        ModeKind::Random,
        ModeKind::SmartShuffle,
        ModeKind::Elimination,
        ModeKind::Active,
    ];

    /// Name on the command line and in tables.
    pub fn label(self) -> &'static str {
        match self {
            ModeKind::Random => "random",
            ModeKind::SmartShuffle => "smart-shuffle",
            ModeKind::Elimination => "elimination",
            ModeKind::Active => "active",
            ModeKind::ActiveInformation => "active-information",
            ModeKind::Sort => "sort",
            ModeKind::SortMedian => "sort-median",
            ModeKind::ActiveRepeats => "active-repeats",
            ModeKind::ActivePrior50 => "active+prior0.5",
            ModeKind::ActivePrior80 => "active+prior0.8",
            ModeKind::ActivePrior95 => "active+prior0.95",
            ModeKind::ActiveWrongPrior => "active+wrong-prior",
            ModeKind::ActiveSpearman => "active-spearman",
            ModeKind::ActiveSpearmanNear => "active-spearman-near",
            ModeKind::ActiveSampled => "active-sampled",
        }
    }

    /// The model prior a run of this mode starts from: (true correlation of the model's
    /// scores with the hidden scores, correlation the calibration is told).
    pub fn prior(self) -> Option<(f64, f64)> {
        match self {
            ModeKind::ActivePrior50 => Some((0.5, 0.5)),
            ModeKind::ActivePrior80 => Some((0.8, 0.8)),
            ModeKind::ActivePrior95 => Some((0.95, 0.95)),
            ModeKind::ActiveWrongPrior => Some((-0.8, 0.8)),
            _ => None,
        }
    }

    /// Parses [`ModeKind::label`].
    pub fn parse(s: &str) -> Option<ModeKind> {
        ModeKind::ALL.into_iter().find(|m| m.label() == s)
    }

    /// The mode for a seed.
    pub fn build(self, seed: u64) -> Box<dyn PairingMode> {
        match self {
            ModeKind::Random => Box::new(RandomPairs::new(seed)),
            ModeKind::SmartShuffle => Box::new(Original::new(seed)),
            ModeKind::Elimination => Box::new(Elimination::new(seed)),
            ModeKind::Active => Box::new(Active::new(seed)),
            ModeKind::ActiveInformation => Box::new(Active::with_config(
                seed,
                ActiveConfig {
                    objective: Objective::Information,
                    ..ActiveConfig::default()
                },
            )),
            ModeKind::Sort => Box::new(NoisySort::new(seed, Pivot::Random)),
            ModeKind::SortMedian => Box::new(NoisySort::new(seed, Pivot::PosteriorMedian)),
            ModeKind::ActivePrior50
            | ModeKind::ActivePrior80
            | ModeKind::ActivePrior95
            | ModeKind::ActiveWrongPrior => Box::new(Active::new(seed)),
            ModeKind::ActiveSpearman => {
                Box::new(Active::with_config(seed, ActiveConfig::spearman()))
            }
            ModeKind::ActiveSpearmanNear => Box::new(Active::with_config(
                seed,
                ActiveConfig {
                    spread_partners: false,
                    ..ActiveConfig::spearman()
                },
            )),
            ModeKind::ActiveSampled => Box::new(Active::with_config(
                seed,
                ActiveConfig {
                    sampled_anchors: true,
                    ..ActiveConfig::default()
                },
            )),
            ModeKind::ActiveRepeats => Box::new(Active::with_config(
                seed,
                ActiveConfig {
                    repeat_factor: 1.0,
                    ..ActiveConfig::default()
                },
            )),
        }
    }

    /// The estimate this mode's ranking is read from: the converged posterior for every mode,
    /// as the ranker's page, exports and manifest rank (image-ranker's online TrueSkill mean
    /// is reported beside it).
    pub fn own_estimate(self) -> Estimate {
        Estimate::Posterior
    }
}

/// Which score estimate a ranking is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Estimate {
    /// Online TrueSkill mean.
    TrueSkill,
    /// Converged posterior mean.
    Posterior,
}

impl Estimate {
    /// Name in tables.
    pub fn label(self) -> &'static str {
        match self {
            Estimate::TrueSkill => "trueskill",
            Estimate::Posterior => "posterior",
        }
    }
}
