use serde::{Deserialize, Serialize};

use crate::burn::optim::{
    AdamConfig, AdamWConfig, ModuleOptimizer, SgdConfig, decay::WeightDecayConfig,
    momentum::MomentumConfig,
};

/// Optimizer settings chosen by the runner (from the experiment file) and applied by every part.
/// The learning rate is not here: the runner's schedule passes it to each step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "lowercase", deny_unknown_fields)]
pub enum OptimizerSettings {
    /// AdamW with decoupled weight decay (PyTorch's defaults for betas and eps).
    #[serde(rename = "adamw")]
    AdamW {
        #[serde(default = "default_beta1")]
        beta1: f32,
        #[serde(default = "default_beta2")]
        beta2: f32,
        #[serde(default = "default_eps")]
        eps: f32,
        #[serde(default = "default_adamw_decay")]
        weight_decay: f32,
    },
    /// Adam with L2 weight decay added to the gradient.
    Adam {
        #[serde(default = "default_beta1")]
        beta1: f32,
        #[serde(default = "default_beta2")]
        beta2: f32,
        #[serde(default = "default_eps")]
        eps: f32,
        #[serde(default)]
        weight_decay: f32,
    },
    /// Stochastic gradient descent with optional momentum (dampening 0) and L2 weight decay.
    Sgd {
        #[serde(default)]
        momentum: f64,
        #[serde(default)]
        nesterov: bool,
        #[serde(default)]
        weight_decay: f32,
    },
}

fn default_beta1() -> f32 {
    0.9
}
fn default_beta2() -> f32 {
    0.999
}
fn default_eps() -> f32 {
    1e-8
}
fn default_adamw_decay() -> f32 {
    1e-2
}

impl Default for OptimizerSettings {
    fn default() -> Self {
        OptimizerSettings::AdamW {
            beta1: default_beta1(),
            beta2: default_beta2(),
            eps: default_eps(),
            weight_decay: default_adamw_decay(),
        }
    }
}

impl OptimizerSettings {
    /// Builds the burn optimizer for one part. Gradient clipping is not configured here: the
    /// runner clips the global norm over all parts before stepping.
    pub(crate) fn build(&self) -> ModuleOptimizer {
        match *self {
            OptimizerSettings::AdamW {
                beta1,
                beta2,
                eps,
                weight_decay,
            } => AdamWConfig::new()
                .with_beta_1(beta1)
                .with_beta_2(beta2)
                .with_epsilon(eps)
                .with_weight_decay(weight_decay)
                .init(),
            OptimizerSettings::Adam {
                beta1,
                beta2,
                eps,
                weight_decay,
            } => AdamConfig::new()
                .with_beta_1(beta1)
                .with_beta_2(beta2)
                .with_epsilon(eps)
                .with_weight_decay(
                    (weight_decay > 0.0).then(|| WeightDecayConfig::new(weight_decay)),
                )
                .init(),
            OptimizerSettings::Sgd {
                momentum,
                nesterov,
                weight_decay,
            } => SgdConfig::new()
                .with_momentum((momentum > 0.0).then(|| {
                    MomentumConfig::new()
                        .with_momentum(momentum)
                        .with_dampening(0.0)
                        .with_nesterov(nesterov)
                }))
                .with_weight_decay(
                    (weight_decay > 0.0).then(|| WeightDecayConfig::new(weight_decay)),
                )
                .init(),
        }
    }
}
