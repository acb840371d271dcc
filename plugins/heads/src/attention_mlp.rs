//! `attention-mlp`: RateMeAI's ComplexHead.
//!
//! Widths: Python's `round` (half to even) of the geometric series from `in` down towards
//! `max(out, 64)` in 5 terms (the last term is not reached), then 1: 2048 → 1024 → 512 → 256 →
//! 128 → 1. Each block is Linear → BatchNorm1d → LeakyReLU(0.2) → Dropout (0.1, 0.1, 0.1, 0.05);
//! block 1's output is added to block 3's through Linear+BatchNorm, block 2's to block 4's;
//! then an element-wise sigmoid gate (`x * sigmoid(Linear(x))`) and the output Linear.
//! Linear weights start Kaiming-normal (fan out, gain √2) with zero biases.
//!
//! Fronts, as RateMeAI put them before the head:
//! - `layernorm` (its CLIP model): LayerNorm over the features (eps 1e-5);
//! - `convnext` (its ConvNeXt model): `AdaptiveAvgPool2d((2,2))` of torchvision's already pooled
//!   features copies each value 4 times, `LayerNorm2d` (eps 1e-6) then normalises the same
//!   values at each position, i.e. LayerNorm of the features with each value repeated 4 times in
//!   a row into a 4×-wide head; and a final `Linear(1, 1)` scale layer.

use rateme_sdk::burn::module::{Initializer, Param};
use rateme_sdk::burn::nn::{
    BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig,
};
use rateme_sdk::burn::tensor::activation::{leaky_relu, sigmoid};
use rateme_sdk::layers::{LayerNorm, LayerNormConfig};
use rateme_sdk::prelude::*;
use rateme_sdk::serde::{Deserialize, Serialize};

/// What comes before the blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(crate = "rateme_sdk::serde", rename_all = "kebab-case")]
pub enum Front {
    /// The features as they are (RateMeAI's EfficientNet model).
    None,
    /// LayerNorm over the features (RateMeAI's CLIP model).
    Layernorm,
    /// LayerNorm, each value 4 times, and a scale layer after (RateMeAI's ConvNeXt model).
    Convnext,
}

/// Options of `head.options` for `attention-mlp`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "rateme_sdk::serde", deny_unknown_fields)]
pub struct AttentionMlpOptions {
    /// `none` (default), `layernorm` or `convnext`.
    #[serde(default = "default_front")]
    pub front: Front,
    /// Dropout of the four blocks. Default RateMeAI's last: [0.1, 0.1, 0.1, 0.05].
    #[serde(default = "default_dropouts")]
    pub dropouts: [f64; 4],
    /// Initial bias of the output layer; 0 (default) as RateMeAI, or the label mean to start
    /// predictions there.
    #[serde(default)]
    pub init_bias: f32,
    /// Initial weights of the output layer: `kaiming` (default, RateMeAI's: on a fan out of 1
    /// their std is √2, so first predictions scatter by several points and AdamW needs on the
    /// order of a thousand steps to shrink them) or `zero` (predictions start at `init_bias`;
    /// for short runs).
    #[serde(default)]
    pub output_init: OutputInit,
}

/// How the output layer's weights start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(crate = "rateme_sdk::serde", rename_all = "kebab-case")]
pub enum OutputInit {
    /// RateMeAI's Kaiming-normal.
    #[default]
    Kaiming,
    /// Zeros.
    Zero,
}

fn default_front() -> Front {
    Front::None
}
fn default_dropouts() -> [f64; 4] {
    [0.1, 0.1, 0.1, 0.05]
}

/// The block widths for `in_features` (one output).
pub fn widths(in_features: usize) -> [usize; 6] {
    let end = 64.0f64;
    let start = in_features as f64;
    let factor = (end / start).powf(1.0 / 5.0);
    let mut dims = [0usize; 6];
    for (i, d) in dims.iter_mut().take(5).enumerate() {
        *d = round_half_even(start * factor.powi(i as i32));
    }
    dims[5] = 1;
    dims
}

/// Python's `round` of a float to an integer (ties to even).
fn round_half_even(x: f64) -> usize {
    let r = x.round();
    let r = if (x - x.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
        r - x.signum()
    } else {
        r
    };
    r as usize
}

/// Linear → BatchNorm1d → LeakyReLU(0.2) → Dropout.
#[derive(Module, Debug)]
pub struct Block {
    pub linear: Linear,
    pub norm: BatchNorm,
    pub dropout: Dropout,
}

impl Block {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.dropout.forward(leaky_relu(
            self.norm.forward(autocast::linear(&self.linear, x)),
            0.2,
        ))
    }
}

/// Linear → BatchNorm1d.
#[derive(Module, Debug)]
pub struct Skip {
    pub linear: Linear,
    pub norm: BatchNorm,
}

impl Skip {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.norm.forward(autocast::linear(&self.linear, x))
    }
}

/// The head module.
#[derive(Module, Debug)]
pub struct AttentionMlp {
    pub front_norm: Option<LayerNorm>,
    /// How many times each feature is repeated after the front (1, or 4 for `convnext`).
    pub repeat: usize,
    pub block1: Block,
    pub block2: Block,
    pub block3: Block,
    pub block4: Block,
    pub skip1_3: Skip,
    pub skip2_4: Skip,
    pub attention: Linear,
    pub output: Linear,
    pub scale: Option<Linear>,
}

impl HeadModel for AttentionMlp {
    fn forward(&self, features: Tensor<2>) -> Tensor<2> {
        let mut x = features;
        if let Some(norm) = &self.front_norm {
            x = norm.forward(x);
        }
        if self.repeat > 1 {
            let [batch, width] = x.dims();
            x = x
                .reshape([batch, width, 1])
                .repeat_dim(2, self.repeat)
                .reshape([batch, width * self.repeat]);
        }
        let b1 = self.block1.forward(x);
        let b2 = self.block2.forward(b1.clone());
        let b3 = self.block3.forward(b2.clone()) + self.skip1_3.forward(b1);
        let b4 = self.block4.forward(b3) + self.skip2_4.forward(b2);
        let gated = b4.clone() * sigmoid(autocast::linear(&self.attention, b4));
        let out = autocast::linear(&self.output, gated);
        match &self.scale {
            Some(scale) => autocast::linear(scale, out),
            None => out,
        }
    }
}

/// RateMeAI's init: Kaiming-normal on the fan out with gain √2 (`nonlinearity='leaky_relu'`,
/// slope 0), zero bias.
fn linear(input: usize, output: usize, device: &Device) -> Linear {
    let mut l = LinearConfig::new(input, output)
        .with_initializer(Initializer::KaimingNormal {
            gain: std::f64::consts::SQRT_2,
            fan_out_only: true,
        })
        .init(device);
    l.bias = Some(Param::from_tensor(Tensor::zeros([output], device)));
    l
}

fn norm(width: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(width).init(device)
}

/// Builds the head for `in_features`.
pub fn build(
    ctx: &BuildContext,
    in_features: usize,
    options: AttentionMlpOptions,
) -> Result<Head, PluginError> {
    Ok(Head::new(
        "attention-mlp",
        in_features,
        build_model(in_features, &options, &ctx.device)?,
    ))
}

/// The module itself (for tests and tools).
pub fn build_model(
    in_features: usize,
    options: &AttentionMlpOptions,
    device: &Device,
) -> Result<AttentionMlp, PluginError> {
    if options.dropouts.iter().any(|p| !(0.0..1.0).contains(p)) {
        return Err(PluginError::options("`dropouts` must each be in 0..1"));
    }
    let repeat = if options.front == Front::Convnext {
        4
    } else {
        1
    };
    let d = widths(in_features * repeat);
    if d[..5].windows(2).any(|w| w[1] == 0) {
        return Err(PluginError::Build(format!(
            "{in_features} features are too few for attention-mlp"
        )));
    }
    let block = |i: usize, p: f64| Block {
        linear: linear(d[i], d[i + 1], device),
        norm: norm(d[i + 1], device),
        dropout: DropoutConfig::new(p).init(),
    };
    let mut output = linear(d[4], 1, device);
    if options.output_init == OutputInit::Zero {
        output.weight = Param::from_tensor(Tensor::zeros(output.weight.val().shape(), device));
    }
    if options.init_bias != 0.0 {
        output.bias = Some(Param::from_tensor(Tensor::full(
            [1],
            options.init_bias,
            device,
        )));
    }
    Ok(AttentionMlp {
        front_norm: match options.front {
            Front::None => None,
            Front::Layernorm => Some(LayerNormConfig::new(in_features).init(device)),
            Front::Convnext => Some(
                LayerNormConfig::new(in_features)
                    .with_epsilon(1e-6)
                    .init(device),
            ),
        },
        repeat,
        block1: block(0, options.dropouts[0]),
        block2: block(1, options.dropouts[1]),
        block3: block(2, options.dropouts[2]),
        block4: block(3, options.dropouts[3]),
        skip1_3: Skip {
            linear: linear(d[1], d[3], device),
            norm: norm(d[3], device),
        },
        skip2_4: Skip {
            linear: linear(d[2], d[4], device),
            norm: norm(d[4], device),
        },
        attention: linear(d[4], d[4], device),
        output,
        // torch's default Linear init (burn's default is the same distribution).
        scale: (options.front == Front::Convnext).then(|| LinearConfig::new(1, 1).init(device)),
    })
}

/// RateMeAI's checkpoints: the head under `_fc.` (EfficientNet), `2.` after the LayerNorm `1.`
/// (CLIP), or `classifier.3.` between LayerNorm2d `classifier.1.` and the scale layer
/// `classifier.4.` (ConvNeXt); `block1.0` is the Linear and `block1.1` the BatchNorm.
pub fn schemes() -> Vec<NamingScheme> {
    vec![
        NamingScheme::new(
            "ratemeai",
            "RateMeAI's ComplexHead, alone or inside its EfficientNet, CLIP or ConvNeXt model",
        )
        .rename(r"^_fc\.", "")
        .rename(r"^(?:classifier\.)?1\.(weight|bias)$", "front_norm.$1")
        .rename(
            r"^(?:classifier\.)?[23]\.(block|skip|attention|output)",
            "$1",
        )
        .rename(r"^classifier\.4\.", "scale.")
        .rename(r"^(block\d)\.0\.", "$1.linear.")
        .rename(r"^(block\d)\.1\.", "$1.norm.")
        .rename(r"^(skip\d_\d)\.0\.", "$1.linear.")
        .rename(r"^(skip\d_\d)\.1\.", "$1.norm.")
        .rename(r"^attention\.0\.", "attention."),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_round_ties_to_even() {
        assert_eq!(round_half_even(2.5), 2);
        assert_eq!(round_half_even(3.5), 4);
        assert_eq!(round_half_even(172.92), 173);
        assert_eq!(round_half_even(4.4999), 4);
    }
}
