//! `smallconv`: a small convolutional backbone (conv → batch norm → ReLU blocks with stride 2,
//! global average pooling). Small enough to train on two CPU cores in minutes; the demo
//! experiment compares its variants.

use rateme_sdk::burn::nn::conv::{Conv2d, Conv2dConfig};
use rateme_sdk::burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig};
use rateme_sdk::burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use rateme_sdk::burn::tensor::activation::relu;
use rateme_sdk::prelude::*;
use rateme_sdk::serde::{Deserialize, Serialize};

/// Options of `[runs.backbone.options]` for `smallconv`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "rateme_sdk::serde", deny_unknown_fields)]
pub struct SmallConvOptions {
    /// Channels of each conv block; overrides the variant's widths.
    #[serde(default)]
    pub widths: Option<Vec<usize>>,
    /// Square input size in pixels.
    #[serde(default = "default_input_size")]
    pub input_size: u32,
    /// Batch normalisation after each convolution.
    #[serde(default = "default_true")]
    pub batch_norm: bool,
}

fn default_input_size() -> u32 {
    64
}
fn default_true() -> bool {
    true
}

/// Channel widths per variant.
pub const VARIANTS: &[(&str, &[usize])] = &[
    ("tiny", &[8, 16, 32]),
    ("small", &[16, 32, 64, 64]),
    ("medium", &[32, 64, 128, 128]),
];

#[derive(Module, Debug)]
struct Block {
    conv: Conv2d,
    norm: Option<BatchNorm>,
}

impl Block {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = autocast::conv2d(&self.conv, x);
        let x = match &self.norm {
            Some(norm) => norm.forward(x),
            None => x,
        };
        relu(x)
    }
}

/// The backbone module.
#[derive(Module, Debug)]
pub struct SmallConv {
    blocks: Vec<Block>,
    pool: AdaptiveAvgPool2d,
}

impl BackboneModel for SmallConv {
    fn forward_features(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = images;
        for block in &self.blocks {
            x = block.forward(x);
        }
        self.pool.forward(x).flatten(1, 3)
    }
}

fn build(ctx: &BuildContext, options: SmallConvOptions) -> Result<Backbone, PluginError> {
    let widths: Vec<usize> = match &options.widths {
        Some(w) => w.clone(),
        None => VARIANTS
            .iter()
            .find(|(name, _)| *name == ctx.variant)
            .map(|(_, w)| w.to_vec())
            .ok_or_else(|| PluginError::Build(format!("unknown variant `{}`", ctx.variant)))?,
    };
    if widths.is_empty() || widths.contains(&0) {
        return Err(PluginError::options(
            "`widths` must list at least one non-zero width",
        ));
    }
    if options.input_size < 8 {
        return Err(PluginError::options("`input_size` must be at least 8"));
    }
    let mut blocks = Vec::with_capacity(widths.len());
    let mut in_ch = 3;
    for &out_ch in &widths {
        blocks.push(Block {
            conv: Conv2dConfig::new([in_ch, out_ch], [3, 3])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_bias(!options.batch_norm)
                .init(&ctx.device),
            norm: options
                .batch_norm
                .then(|| BatchNormConfig::new(out_ch).init(&ctx.device)),
        });
        in_ch = out_ch;
    }
    let model = SmallConv {
        blocks,
        pool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
    };
    Ok(Backbone::new(
        "smallconv",
        ctx.variant.clone(),
        in_ch,
        InputSpec::square_imagenet(options.input_size),
        model,
    ))
}

export_plugin!(|registry| {
    let variants: Vec<&str> = VARIANTS.iter().map(|(name, _)| *name).collect();
    registry.backbone(
        "smallconv",
        "small conv/BN/ReLU stack with stride-2 blocks and global average pooling (CPU demos)",
        &variants,
        build,
    );
});
