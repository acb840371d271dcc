//! `convnext`: ConvNeXt Tiny, Small, Base and Large (Liu et al. 2022, "A ConvNet for the
//! 2020s"): a 4×4 patchify stem, four stages of depthwise 7×7 blocks with channels-last layer
//! norm, an inverted MLP (exact GELU) and a per-channel layer scale, stochastic depth, and
//! downsampling layers between stages.
//!
//! Exactly as torchvision and timm compute it (parity-tested against fixtures from both,
//! `scripts/backbone-fixtures.sh`), loading either's weights. Features: the global average of
//! the last stage, then the classifier's layer norm (`head_norm = true`, the default: timm's
//! pre-logits) or without it (`head_norm = false`: what RateMeAI fed its head, which replaced
//! torchvision's whole classifier, norm included, with its own).

mod model;
pub mod schemes;

use rateme_sdk::prelude::*;
use rateme_sdk::serde::{Deserialize, Serialize};

pub use model::ConvNext;
use model::{Block, ConvNextStage, Downsample, Stem};

/// One ConvNeXt size.
#[derive(Debug, Clone, Copy)]
pub struct Variant {
    /// What runs call it.
    pub name: &'static str,
    /// Blocks per stage.
    pub depths: [usize; 4],
    /// Channels per stage.
    pub dims: [usize; 4],
    /// torchvision's default stochastic-depth rate for it (the last block's).
    pub drop_path: f64,
}

/// The four sizes of the paper (torchvision's and timm's configurations).
pub const VARIANTS: [Variant; 4] = [
    Variant {
        name: "tiny",
        depths: [3, 3, 9, 3],
        dims: [96, 192, 384, 768],
        drop_path: 0.1,
    },
    Variant {
        name: "small",
        depths: [3, 3, 27, 3],
        dims: [96, 192, 384, 768],
        drop_path: 0.4,
    },
    Variant {
        name: "base",
        depths: [3, 3, 27, 3],
        dims: [128, 256, 512, 1024],
        drop_path: 0.5,
    },
    Variant {
        name: "large",
        depths: [3, 3, 27, 3],
        dims: [192, 384, 768, 1536],
        drop_path: 0.5,
    },
];

/// The variant by name.
pub fn variant(name: &str) -> Option<&'static Variant> {
    VARIANTS.iter().find(|v| v.name == name)
}

/// Options of `backbone.options` for `convnext`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(crate = "rateme_sdk::serde", deny_unknown_fields)]
pub struct ConvNextOptions {
    /// Square input size; default 224 (a multiple of 32 keeps every pixel; other sizes drop
    /// the remainder at each stride, as the references do).
    #[serde(default)]
    pub input_size: Option<u32>,
    /// Blocks per stage instead of the variant's (e.g. a small test model).
    #[serde(default)]
    pub depths: Option<[usize; 4]>,
    /// Channels per stage instead of the variant's.
    #[serde(default)]
    pub dims: Option<[usize; 4]>,
    /// Stochastic-depth rate of the last block (earlier blocks get proportionally less);
    /// default torchvision's for the variant (Tiny 0.1, Small 0.4, Base and Large 0.5).
    #[serde(default)]
    pub drop_path: Option<f64>,
    /// Whether the features pass through the classifier's layer norm (default true).
    #[serde(default)]
    pub head_norm: Option<bool>,
    /// Initial layer scale (default 1e-6, as both references).
    #[serde(default)]
    pub layer_scale: Option<f64>,
}

/// Builds the model on `device`; returns it with its feature width and its stages.
pub fn build_model(
    variant: &Variant,
    options: &ConvNextOptions,
    device: &Device,
) -> Result<(ConvNext, usize, Vec<Stage>), PluginError> {
    let depths = options.depths.unwrap_or(variant.depths);
    let dims = options.dims.unwrap_or(variant.dims);
    let drop_path = options.drop_path.unwrap_or(variant.drop_path);
    let layer_scale = options.layer_scale.unwrap_or(1e-6);
    if dims.contains(&0) || depths.contains(&0) {
        return Err(PluginError::options(
            "`depths` and `dims` must be 4 positive numbers",
        ));
    }
    if !(0.0..1.0).contains(&drop_path) {
        return Err(PluginError::options("`drop_path` must be in 0..1"));
    }
    if !(layer_scale.is_finite() && layer_scale > 0.0) {
        return Err(PluginError::options("`layer_scale` must be positive"));
    }
    if options.input_size.is_some_and(|s| s < 32) {
        return Err(PluginError::options("`input_size` must be at least 32"));
    }
    let total: usize = depths.iter().sum();
    let mut index = 0usize;
    let mut stages = Vec::with_capacity(4);
    let mut names = vec![Stage::new("stem", &["stem"])];
    for (i, (&depth, &dim)) in depths.iter().zip(&dims).enumerate() {
        let downsample = (i > 0).then(|| Downsample::new(dims[i - 1], dim, device));
        let blocks = (0..depth)
            .map(|_| {
                // Linear in the block's index over the whole network, 0 for the first and
                // `drop_path` for the last (torchvision and timm alike).
                let p = if total > 1 {
                    drop_path * index as f64 / (total - 1) as f64
                } else {
                    0.0
                };
                index += 1;
                Block::new(dim, layer_scale, p, device)
            })
            .collect();
        stages.push(ConvNextStage { downsample, blocks });
        names.push(Stage::new(
            format!("stage:{}", i + 1),
            &[&format!("stages.{i}")],
        ));
    }
    let head_norm = options
        .head_norm
        .unwrap_or(true)
        .then(|| model::norm(dims[3], device));
    if head_norm.is_some() {
        names.push(Stage::new("head", &["head_norm"]));
    }
    let model = ConvNext {
        stem: Stem::new(dims[0], device),
        stages,
        pool: ConvNext::pool(),
        head_norm,
    };
    Ok((model, dims[3], names))
}

/// The registered constructor: the variant named in `ctx`, with `options`.
pub fn build(ctx: &BuildContext, options: ConvNextOptions) -> Result<Backbone, PluginError> {
    let variant = variant(&ctx.variant)
        .ok_or_else(|| PluginError::Build(format!("unknown variant `{}`", ctx.variant)))?;
    let (model, features, stages) = build_model(variant, &options, &ctx.device)?;
    let input = InputSpec::square_imagenet(options.input_size.unwrap_or(224));
    Ok(Backbone::new("convnext", variant.name, features, input, model).with_stages(stages))
}

export_plugin!(|registry| {
    let variants: Vec<&str> = VARIANTS.iter().map(|v| v.name).collect();
    registry
        .backbone(
            "convnext",
            "ConvNeXt Tiny/Small/Base/Large (torchvision and timm weights)",
            &variants,
            build,
        )
        .naming_schemes(schemes::all());
});
