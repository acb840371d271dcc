//! Stochastic depth.

use crate::burn::module::{Flag, Module, Param};
use crate::burn::tensor::{Distribution, Tensor};

/// Stochastic depth ("drop path", "drop connect"): while training, zeroes a whole sample's
/// residual branch with probability `prob` and scales the kept ones by `1 / (1 - prob)`
/// (timm's `drop_path`, torchvision's `StochasticDepth(mode="row")`). The identity when not
/// training, when `prob` is 0, and in a frozen stage.
#[derive(Module, Debug)]
pub struct DropPath {
    /// The probability of dropping a sample's branch.
    pub prob: f64,
    /// Whether it acts (cleared by freezing).
    pub training: Param<Flag>,
}

impl DropPath {
    /// Drops with probability `prob` (in `0..1`).
    pub fn new(prob: f64) -> Self {
        Self {
            prob,
            training: Param::from_bool(true),
        }
    }

    /// `x` (batch first) with whole samples dropped while training.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        if !self.training.is_enabled() || !x.device().is_autodiff() || self.prob == 0.0 {
            return x;
        }
        let keep = 1.0 - self.prob;
        let mut shape = [1usize; D];
        shape[0] = x.dims()[0];
        let mask = Tensor::<D>::random(shape, Distribution::Bernoulli(keep), &x.device());
        x * mask.div_scalar(keep)
    }
}
