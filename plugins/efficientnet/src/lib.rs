//! `efficientnet`: EfficientNet B0-B7 (Tan & Le 2019, compound scaling of width, depth and
//! resolution) and EfficientNet-Lite0-4 (no squeeze-excitation, ReLU6, fixed stem and head).
//!
//! Two flavours, each exactly as its reference computes it (parity-tested against fixtures from
//! the references, `scripts/efficientnet-fixtures.sh`):
//! - `efficientnet-pytorch` (default; lukemelas' EfficientNet-PyTorch, which RateMeAI used):
//!   TensorFlow "SAME" padding computed for the input size, batch norm eps 1e-3, momentum 0.01;
//! - `torchvision`: symmetric padding, batch norm eps 1e-5 and momentum 0.1 for B0-B4, eps
//!   1e-3 and momentum 0.01 for B5-B7.
//!
//! Either flavour loads either library's weight files (the padding belongs to the flavour, not
//! to the weights: torchvision's B5 weights were ported from EfficientNet-PyTorch's).

mod config;
mod model;
pub mod schemes;

use rateme_sdk::prelude::*;
use rateme_sdk::serde::{Deserialize, Serialize};

pub use config::{VARIANTS, Variant, round_channels, round_repeats, same_padding};
use model::{ConvBn, EfficientNet, MbConv, Norm, Padding, SqueezeExcite};
use rateme_sdk::layers::DropPath;

/// Options of `backbone.options` for `efficientnet`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "rateme_sdk::serde", deny_unknown_fields)]
pub struct EfficientNetOptions {
    /// `efficientnet-pytorch` (default) or `torchvision`: padding and batch-norm settings.
    #[serde(default = "default_flavour")]
    pub flavour: Flavour,
    /// Square input size; default: the variant's resolution (B5: 456). With the
    /// `efficientnet-pytorch` flavour the padding is computed for it.
    #[serde(default)]
    pub input_size: Option<u32>,
    /// Width multiplier instead of the variant's (e.g. for a small test model).
    #[serde(default)]
    pub width_mult: Option<f64>,
    /// Depth multiplier instead of the variant's.
    #[serde(default)]
    pub depth_mult: Option<f64>,
    /// Dropout on the pooled features while training; default: the variant's (B5: 0.4).
    #[serde(default)]
    pub dropout: Option<f64>,
    /// Stochastic-depth rate of the last block (earlier blocks get proportionally less).
    /// Default 0.2.
    #[serde(default = "default_drop_connect")]
    pub drop_connect: f64,
}

/// Whose computation to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(crate = "rateme_sdk::serde", rename_all = "kebab-case")]
pub enum Flavour {
    /// lukemelas' EfficientNet-PyTorch.
    EfficientnetPytorch,
    /// torchvision.models.efficientnet_*.
    Torchvision,
}

fn default_flavour() -> Flavour {
    Flavour::EfficientnetPytorch
}
fn default_drop_connect() -> f64 {
    0.2
}

/// The variant by name.
pub fn variant(name: &str) -> Option<&'static Variant> {
    VARIANTS.iter().find(|v| v.name == name)
}

fn norm(flavour: Flavour, variant: &Variant) -> Norm {
    match flavour {
        Flavour::EfficientnetPytorch => Norm {
            eps: 1e-3,
            momentum: 0.01,
        },
        // torchvision passes `partial(BatchNorm2d, eps=1e-3, momentum=0.01)` for B5-B7 only.
        Flavour::Torchvision if variant.width >= 1.6 => Norm {
            eps: 1e-3,
            momentum: 0.01,
        },
        Flavour::Torchvision => Norm {
            eps: 1e-5,
            momentum: 0.1,
        },
    }
}

/// Builds the model for a variant and options on `device`; returns it with its feature width and
/// its stages (for partial freezing).
pub fn build_model(
    variant: &Variant,
    options: &EfficientNetOptions,
    device: &Device,
) -> Result<(EfficientNet, usize, Vec<Stage>), PluginError> {
    let width = options.width_mult.unwrap_or(variant.width);
    let depth = options.depth_mult.unwrap_or(variant.depth);
    let size = options.input_size.unwrap_or(variant.resolution) as usize;
    let dropout = options.dropout.unwrap_or(variant.dropout);
    for (name, value) in [("width_mult", width), ("depth_mult", depth)] {
        if !(value.is_finite() && value > 0.0) {
            return Err(PluginError::options(format!(
                "`{name}` must be a positive number"
            )));
        }
    }
    for (name, value) in [("dropout", dropout), ("drop_connect", options.drop_connect)] {
        if !(0.0..1.0).contains(&value) {
            return Err(PluginError::options(format!("`{name}` must be in 0..1")));
        }
    }
    if size < 32 {
        return Err(PluginError::options("`input_size` must be at least 32"));
    }
    let norm = norm(options.flavour, variant);
    let pad = |size: usize| match options.flavour {
        Flavour::EfficientnetPytorch => Padding::SameFor(size),
        Flavour::Torchvision => Padding::Symmetric,
    };
    let stem_ch = if variant.lite {
        32
    } else {
        round_channels(32, width)
    };
    let stem = ConvBn::new(3, stem_ch, 3, 2, 1, pad(size), norm, device);
    let mut size = config::same_output(size, 2);

    let last = config::B0_STAGES.len() - 1;
    let repeats: Vec<usize> = config::B0_STAGES
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if variant.lite && (i == 0 || i == last) {
                s.repeats
            } else {
                round_repeats(s.repeats, depth)
            }
        })
        .collect();
    let total: usize = repeats.iter().sum();
    let mut blocks = Vec::with_capacity(total);
    let mut stages = vec![Stage::new("stem", &["stem"])];
    let mut in_ch = stem_ch;
    for (i, (args, &n)) in config::B0_STAGES.iter().zip(&repeats).enumerate() {
        let out_ch = round_channels(args.out_ch, width);
        let first = blocks.len();
        for j in 0..n {
            let stride = if j == 0 { args.stride } else { 1 };
            let mid = in_ch * args.expand;
            let expand = (args.expand != 1)
                .then(|| ConvBn::new(in_ch, mid, 1, 1, 1, pad(size), norm, device));
            let depthwise =
                ConvBn::new(mid, mid, args.kernel, stride, mid, pad(size), norm, device);
            size = config::same_output(size, stride);
            let se = (!variant.lite).then(|| SqueezeExcite::new(mid, (in_ch / 4).max(1), device));
            let project = ConvBn::new(mid, out_ch, 1, 1, 1, pad(size), norm, device);
            let drop = options.drop_connect * blocks.len() as f64 / total as f64;
            blocks.push(MbConv {
                expand,
                depthwise,
                se,
                project,
                drop_path: DropPath::new(drop),
                // EfficientNet-PyTorch compares a stage's first stride (a list there) with 1,
                // so a stage's first block never adds its input, even when shapes allow (never
                // at B0-B7's widths, often at reduced ones).
                residual: stride == 1
                    && in_ch == out_ch
                    && (j > 0 || options.flavour == Flavour::Torchvision),
                relu6: variant.lite,
            });
            in_ch = out_ch;
        }
        let paths: Vec<String> = (first..blocks.len())
            .map(|b| format!("blocks.{b}"))
            .collect();
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        stages.push(Stage::new(format!("stage:{}", i + 1), &paths));
    }
    let head_ch = match (variant.lite, options.flavour) {
        (true, _) => 1280,
        (false, Flavour::EfficientnetPytorch) => round_channels(1280, width),
        (false, Flavour::Torchvision) => 4 * in_ch,
    };
    let head = ConvBn::new(in_ch, head_ch, 1, 1, 1, pad(size), norm, device);
    stages.push(Stage::new("head", &["head"]));
    let model = EfficientNet {
        stem,
        blocks,
        head,
        pool: rateme_sdk::burn::nn::pool::AdaptiveAvgPool2dConfig::new([1, 1]).init(),
        dropout: model::dropout(dropout),
        relu6: variant.lite,
    };
    Ok((model, head_ch, stages))
}

/// The registered constructor: the variant named in `ctx`, with `options`.
pub fn build(ctx: &BuildContext, options: EfficientNetOptions) -> Result<Backbone, PluginError> {
    let variant = variant(&ctx.variant)
        .ok_or_else(|| PluginError::Build(format!("unknown variant `{}`", ctx.variant)))?;
    let (model, features, stages) = build_model(variant, &options, &ctx.device)?;
    let size = options.input_size.unwrap_or(variant.resolution);
    let input = if variant.lite {
        // The Lite weights were trained on (x - 127) / 128 of 0..255 pixels (TensorFlow's
        // Lite preprocessing; ImageNet statistics lower their accuracy).
        InputSpec {
            height: size,
            width: size,
            mean: [127.0 / 255.0; 3],
            std: [128.0 / 255.0; 3],
        }
    } else {
        InputSpec::square_imagenet(size)
    };
    Ok(Backbone::new("efficientnet", variant.name, features, input, model).with_stages(stages))
}

export_plugin!(|registry| {
    let variants: Vec<&str> = VARIANTS.iter().map(|v| v.name).collect();
    registry
        .backbone(
            "efficientnet",
            "EfficientNet B0-B7 and Lite0-4; EfficientNet-PyTorch (default) or torchvision flavour",
            &variants,
            build,
        )
        .naming_schemes(schemes::all());
});
