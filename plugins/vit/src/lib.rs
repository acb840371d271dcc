//! `vit`: the Vision Transformer (Dosovitskiy et al. 2021) in sizes Ti, S, B and L with
//! 16- or 32-pixel patches: patch embedding, class token, learnt position embeddings, pre-norm
//! encoder blocks (fused q/k/v attention, exact-GELU MLP, layer-norm eps 1e-6), final layer
//! norm; the features are the class token's (torchvision's and timm's pre-logits).
//!
//! Exactly as torchvision and timm compute it (parity-tested against fixtures from both,
//! `scripts/backbone-fixtures.sh`). Any input size: the grid is `input_size / patch` (the
//! remainder is dropped, as a strided convolution does); weights trained on another grid get
//! their position embeddings resized bicubically on load, as PyTorch's
//! `F.interpolate(mode="bicubic", align_corners=False)` does (how RateMeAI ran ViT-B/16 at 456:
//! a 28×28 grid, 785 tokens).

mod model;
pub mod schemes;

use rateme_sdk::burn::module::{Initializer, Param};
use rateme_sdk::burn::nn::DropoutConfig;
use rateme_sdk::burn::nn::conv::Conv2dConfig;
use rateme_sdk::layers::{Activation, EncoderBlockConfig, LayerNormConfig};
use rateme_sdk::prelude::*;
use rateme_sdk::serde::{Deserialize, Serialize};

pub use model::VisionTransformer;

/// One ViT size and patch.
#[derive(Debug, Clone, Copy)]
pub struct Variant {
    /// What runs call it (`b16`: ViT-B/16).
    pub name: &'static str,
    /// Patch side in pixels.
    pub patch: usize,
    /// Token width.
    pub dim: usize,
    /// Encoder blocks.
    pub depth: usize,
    /// Attention heads.
    pub heads: usize,
    /// MLP hidden width.
    pub mlp_dim: usize,
}

/// Width, blocks, heads and MLP width of a size.
type Size = (usize, usize, usize, usize);

const fn v(name: &'static str, patch: usize, size: Size) -> Variant {
    Variant {
        name,
        patch,
        dim: size.0,
        depth: size.1,
        heads: size.2,
        mlp_dim: size.3,
    }
}

const TI: Size = (192, 12, 3, 768);
const S: Size = (384, 12, 6, 1536);
const B: Size = (768, 12, 12, 3072);
const L: Size = (1024, 24, 16, 4096);

/// Ti, S, B and L (the sizes of timm and of the ViT paper) with 16- and 32-pixel patches.
pub const VARIANTS: [Variant; 8] = [
    v("ti16", 16, TI),
    v("ti32", 32, TI),
    v("s16", 16, S),
    v("s32", 32, S),
    v("b16", 16, B),
    v("b32", 32, B),
    v("l16", 16, L),
    v("l32", 32, L),
];

/// The variant by name.
pub fn variant(name: &str) -> Option<&'static Variant> {
    VARIANTS.iter().find(|v| v.name == name)
}

/// Options of `backbone.options` for `vit`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(crate = "rateme_sdk::serde", deny_unknown_fields)]
pub struct VitOptions {
    /// Square input size; default 224. The grid is `input_size / patch`.
    #[serde(default)]
    pub input_size: Option<u32>,
    /// Token width instead of the variant's (e.g. a small test model).
    #[serde(default)]
    pub dim: Option<usize>,
    /// Encoder blocks instead of the variant's.
    #[serde(default)]
    pub depth: Option<usize>,
    /// Attention heads instead of the variant's.
    #[serde(default)]
    pub heads: Option<usize>,
    /// MLP hidden width instead of the variant's.
    #[serde(default)]
    pub mlp_dim: Option<usize>,
    /// Dropout after the embeddings, the attention and in the MLPs (default 0, as both
    /// references).
    #[serde(default)]
    pub dropout: f64,
    /// Dropout on the attention weights (default 0).
    #[serde(default)]
    pub attention_dropout: f64,
    /// Stochastic-depth rate of the last block, earlier ones proportionally less (default 0).
    #[serde(default)]
    pub drop_path: f64,
}

/// Builds the model on `device`; returns it with its feature width and its stages.
pub fn build_model(
    variant: &Variant,
    options: &VitOptions,
    device: &Device,
) -> Result<(VisionTransformer, usize, Vec<Stage>), PluginError> {
    let dim = options.dim.unwrap_or(variant.dim);
    let depth = options.depth.unwrap_or(variant.depth);
    let heads = options.heads.unwrap_or(variant.heads);
    let mlp_dim = options.mlp_dim.unwrap_or(variant.mlp_dim);
    let size = options.input_size.unwrap_or(224) as usize;
    if dim == 0 || depth == 0 || heads == 0 || mlp_dim == 0 || !dim.is_multiple_of(heads) {
        return Err(PluginError::options(
            "`dim`, `depth`, `heads` and `mlp_dim` must be positive, `dim` a multiple of `heads`",
        ));
    }
    for (name, p) in [
        ("dropout", options.dropout),
        ("attention_dropout", options.attention_dropout),
        ("drop_path", options.drop_path),
    ] {
        if !(0.0..1.0).contains(&p) {
            return Err(PluginError::options(format!("`{name}` must be in 0..1")));
        }
    }
    let patch = variant.patch;
    if size < patch {
        return Err(PluginError::options(format!(
            "`input_size` must be at least the patch size {patch}"
        )));
    }
    let grid = size / patch;
    let blocks = (0..depth)
        .map(|i| {
            EncoderBlockConfig {
                dim,
                heads,
                mlp_dim,
                activation: Activation::Gelu,
                eps: 1e-6,
                dropout: options.dropout,
                attention_dropout: options.attention_dropout,
                drop_path: options.drop_path * i as f64 / (depth - 1).max(1) as f64,
            }
            .init(device)
        })
        .collect();
    let model = VisionTransformer {
        patch_embed: Conv2dConfig::new([3, dim], [patch, patch])
            .with_stride([patch, patch])
            .init(device),
        // torchvision's initialisation: a zero class token, position embeddings N(0, 0.02²).
        class_token: Param::from_tensor(Tensor::zeros([1, 1, dim], device)),
        pos_embedding: Initializer::Normal {
            mean: 0.0,
            std: 0.02,
        }
        .init([1, 1 + grid * grid, dim], device),
        dropout: DropoutConfig::new(options.dropout).init(),
        blocks,
        norm: LayerNormConfig::new(dim).with_epsilon(1e-6).init(device),
    };
    let mut stages = vec![Stage::new(
        "embed",
        &["patch_embed", "class_token", "pos_embedding"],
    )];
    for i in 0..depth {
        stages.push(Stage::new(
            format!("block:{}", i + 1),
            &[&format!("blocks.{i}")],
        ));
    }
    stages.push(Stage::new("head", &["norm"]));
    Ok((model, dim, stages))
}

/// The registered constructor: the variant named in `ctx`, with `options`.
pub fn build(ctx: &BuildContext, options: VitOptions) -> Result<Backbone, PluginError> {
    let variant = variant(&ctx.variant)
        .ok_or_else(|| PluginError::Build(format!("unknown variant `{}`", ctx.variant)))?;
    let (model, features, stages) = build_model(variant, &options, &ctx.device)?;
    let input = InputSpec::square_imagenet(options.input_size.unwrap_or(224));
    // timm's `no_weight_decay()` for a ViT: its class token and position embedding.
    Ok(Backbone::new("vit", variant.name, features, input, model)
        .with_stages(stages)
        .with_no_weight_decay(&["class_token", "pos_embedding"]))
}

export_plugin!(|registry| {
    let variants: Vec<&str> = VARIANTS.iter().map(|v| v.name).collect();
    registry
        .backbone(
            "vit",
            "Vision Transformer Ti/S/B/L, patch 16 or 32, any input size (torchvision and timm weights)",
            &variants,
            build,
        )
        .naming_schemes(schemes::all());
});
