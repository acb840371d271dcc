use serde::{Deserialize, Serialize};

use crate::burn::module::ParamGroup;
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
        /// See [`OptimizerSettings::decays_norm_and_bias`].
        #[serde(default = "yes")]
        decay_norm_and_bias: bool,
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
        /// See [`OptimizerSettings::decays_norm_and_bias`].
        #[serde(default = "yes")]
        decay_norm_and_bias: bool,
    },
    /// Stochastic gradient descent with optional momentum (dampening 0) and L2 weight decay.
    Sgd {
        #[serde(default)]
        momentum: f64,
        #[serde(default)]
        nesterov: bool,
        #[serde(default)]
        weight_decay: f32,
        /// See [`OptimizerSettings::decays_norm_and_bias`].
        #[serde(default = "yes")]
        decay_norm_and_bias: bool,
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
fn yes() -> bool {
    true
}

impl Default for OptimizerSettings {
    fn default() -> Self {
        OptimizerSettings::AdamW {
            beta1: default_beta1(),
            beta2: default_beta2(),
            eps: default_eps(),
            weight_decay: default_adamw_decay(),
            decay_norm_and_bias: true,
        }
    }
}

impl OptimizerSettings {
    /// Whether weight decay applies to every parameter (PyTorch's default, and RateMeAI's) or
    /// spares the one-dimensional ones (biases, norm scales and shifts, layer scales, a class
    /// embedding) and those a plugin names (timm's `no_weight_decay`, e.g. ViT's position
    /// embedding): timm's default for fine-tuning. With no decay configured it makes no
    /// difference.
    pub fn decays_norm_and_bias(&self) -> bool {
        match *self {
            OptimizerSettings::AdamW {
                weight_decay,
                decay_norm_and_bias,
                ..
            }
            | OptimizerSettings::Adam {
                weight_decay,
                decay_norm_and_bias,
                ..
            }
            | OptimizerSettings::Sgd {
                weight_decay,
                decay_norm_and_bias,
                ..
            } => decay_norm_and_bias || weight_decay == 0.0,
        }
    }

    /// Builds the burn optimizer for one part. Gradient clipping is not configured here: the
    /// runner clips the global norm over all parts before stepping. `exempt`, when given, is the
    /// group of parameters stepped by the same rule without weight decay (a second group of
    /// burn's [`ModuleOptimizer`]: one state record, keyed by parameter, for both).
    pub(crate) fn build(&self, exempt: Option<ParamGroup>) -> ModuleOptimizer {
        match *self {
            OptimizerSettings::AdamW {
                beta1,
                beta2,
                eps,
                weight_decay,
                ..
            } => {
                let config = AdamWConfig::new()
                    .with_beta_1(beta1)
                    .with_beta_2(beta2)
                    .with_epsilon(eps);
                grouped(exempt, |decays| {
                    let decay = if decays { weight_decay } else { 0.0 };
                    config.clone().with_weight_decay(decay).build()
                })
            }
            OptimizerSettings::Adam {
                beta1,
                beta2,
                eps,
                weight_decay,
                ..
            } => {
                let config = AdamConfig::new()
                    .with_beta_1(beta1)
                    .with_beta_2(beta2)
                    .with_epsilon(eps);
                grouped(exempt, |decays| {
                    config
                        .clone()
                        .with_weight_decay(l2(decays, weight_decay))
                        .build()
                })
            }
            OptimizerSettings::Sgd {
                momentum,
                nesterov,
                weight_decay,
                ..
            } => {
                let config = SgdConfig::new().with_momentum((momentum > 0.0).then(|| {
                    MomentumConfig::new()
                        .with_momentum(momentum)
                        .with_dampening(0.0)
                        .with_nesterov(nesterov)
                }));
                grouped(exempt, |decays| {
                    config
                        .clone()
                        .with_weight_decay(l2(decays, weight_decay))
                        .build()
                })
            }
        }
    }
}

/// L2 weight decay as burn configures it: none when it does not apply or is zero.
fn l2(decays: bool, weight_decay: f32) -> Option<WeightDecayConfig> {
    (decays && weight_decay > 0.0).then(|| WeightDecayConfig::new(weight_decay))
}

/// The optimizer of `rule(true)` (with weight decay) for every parameter, and of `rule(false)`
/// for the `exempt` group when there is one.
fn grouped<O: crate::burn::optim::Optimizer>(
    exempt: Option<ParamGroup>,
    rule: impl Fn(bool) -> O,
) -> ModuleOptimizer {
    let optimizer = ModuleOptimizer::from(rule(true));
    match exempt {
        Some(group) => optimizer.with_group(group, rule(false), None),
        None => optimizer,
    }
}
