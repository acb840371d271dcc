//! `clip`: the image tower of CLIP (Radford et al. 2021), ViT-B/32 (RateMeAI's), ViT-B/16 and
//! ViT-L/14: patch embedding without bias, class embedding, position embeddings, `ln_pre`,
//! pre-norm blocks (fused q/k/v attention, QuickGELU MLP, layer-norm eps 1e-5), `ln_post` of the
//! class token (Hugging Face's `pooler_output`, what RateMeAI fed its head) and, with
//! `projection = true`, the projection into the joint image-text space (`encode_image`).
//! Declared input: CLIP's own mean and std.
//!
//! Exactly as OpenAI's code, open_clip's `-quickgelu` models and Hugging Face's
//! `CLIPVisionModel` compute it (parity-tested against fixtures from open_clip and transformers,
//! `scripts/backbone-fixtures.sh`), loading either naming.

mod model;
pub mod schemes;

use rateme_sdk::burn::module::Initializer;
use rateme_sdk::burn::nn::conv::Conv2dConfig;
use rateme_sdk::layers::{Activation, EncoderBlockConfig, LayerNormConfig};
use rateme_sdk::prelude::*;
use rateme_sdk::serde::{Deserialize, Serialize};

pub use model::ClipVision;

/// CLIP's normalisation (its training set's statistics), shared by every OpenAI CLIP model.
pub const CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
/// See [`CLIP_MEAN`].
pub const CLIP_STD: [f32; 3] = [0.268_629_54, 0.261_302_6, 0.275_777_1];

/// One CLIP image tower.
#[derive(Debug, Clone, Copy)]
pub struct Variant {
    /// What runs call it.
    pub name: &'static str,
    /// Patch side in pixels.
    pub patch: usize,
    /// Token width.
    pub width: usize,
    /// Encoder blocks.
    pub layers: usize,
    /// Attention heads.
    pub heads: usize,
    /// Width of the joint image-text space.
    pub output_dim: usize,
}

/// OpenAI's released towers (all at 224).
pub const VARIANTS: [Variant; 3] = [
    Variant {
        name: "vit-b32",
        patch: 32,
        width: 768,
        layers: 12,
        heads: 12,
        output_dim: 512,
    },
    Variant {
        name: "vit-b16",
        patch: 16,
        width: 768,
        layers: 12,
        heads: 12,
        output_dim: 512,
    },
    Variant {
        name: "vit-l14",
        patch: 14,
        width: 1024,
        layers: 24,
        heads: 16,
        output_dim: 768,
    },
];

/// The variant by name.
pub fn variant(name: &str) -> Option<&'static Variant> {
    VARIANTS.iter().find(|v| v.name == name)
}

/// Options of `backbone.options` for `clip`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(crate = "rateme_sdk::serde", deny_unknown_fields)]
pub struct ClipOptions {
    /// Square input size; default 224. The grid is `input_size / patch`.
    #[serde(default)]
    pub input_size: Option<u32>,
    /// Token width instead of the variant's (e.g. a small test model).
    #[serde(default)]
    pub width: Option<usize>,
    /// Encoder blocks instead of the variant's.
    #[serde(default)]
    pub layers: Option<usize>,
    /// Attention heads instead of the variant's.
    #[serde(default)]
    pub heads: Option<usize>,
    /// Whether the features are projected into the joint space (default false: the post-norm
    /// class token, `width` wide).
    #[serde(default)]
    pub projection: bool,
    /// Width of the joint space instead of the variant's.
    #[serde(default)]
    pub output_dim: Option<usize>,
    /// Stochastic-depth rate of the last block, earlier ones proportionally less (default 0).
    #[serde(default)]
    pub drop_path: f64,
}

/// Builds the model on `device`; returns it with its feature width and its stages.
pub fn build_model(
    variant: &Variant,
    options: &ClipOptions,
    device: &Device,
) -> Result<(ClipVision, usize, Vec<Stage>), PluginError> {
    let width = options.width.unwrap_or(variant.width);
    let layers = options.layers.unwrap_or(variant.layers);
    let heads = options.heads.unwrap_or(variant.heads);
    let output_dim = options.output_dim.unwrap_or(variant.output_dim);
    let size = options.input_size.unwrap_or(224) as usize;
    if width == 0 || layers == 0 || heads == 0 || output_dim == 0 || !width.is_multiple_of(heads) {
        return Err(PluginError::options(
            "`width`, `layers`, `heads` and `output_dim` must be positive, `width` a multiple of `heads`",
        ));
    }
    if !(0.0..1.0).contains(&options.drop_path) {
        return Err(PluginError::options("`drop_path` must be in 0..1"));
    }
    let patch = variant.patch;
    if size < patch {
        return Err(PluginError::options(format!(
            "`input_size` must be at least the patch size {patch}"
        )));
    }
    let grid = size / patch;
    // OpenAI's initialisation of the embeddings and the projection: normal, std width^-0.5.
    let normal = Initializer::Normal {
        mean: 0.0,
        std: (width as f64).powf(-0.5),
    };
    let blocks = (0..layers)
        .map(|i| {
            EncoderBlockConfig {
                dim: width,
                heads,
                mlp_dim: 4 * width,
                activation: Activation::QuickGelu,
                eps: 1e-5,
                dropout: 0.0,
                attention_dropout: 0.0,
                drop_path: options.drop_path * i as f64 / (layers - 1).max(1) as f64,
            }
            .init(device)
        })
        .collect();
    let norm = || LayerNormConfig::new(width).init(device);
    let model = ClipVision {
        patch_embed: Conv2dConfig::new([3, width], [patch, patch])
            .with_stride([patch, patch])
            .with_bias(false)
            .init(device),
        class_embedding: normal.init([width], device),
        pos_embedding: normal.init([1 + grid * grid, width], device),
        ln_pre: norm(),
        blocks,
        ln_post: norm(),
        proj: options
            .projection
            .then(|| normal.init([width, output_dim], device)),
    };
    let features = if options.projection {
        output_dim
    } else {
        width
    };
    let mut stages = vec![Stage::new(
        "embed",
        &["patch_embed", "class_embedding", "pos_embedding", "ln_pre"],
    )];
    for i in 0..layers {
        stages.push(Stage::new(
            format!("block:{}", i + 1),
            &[&format!("blocks.{i}")],
        ));
    }
    stages.push(Stage::new("head", &["ln_post", "proj"]));
    Ok((model, features, stages))
}

/// The registered constructor: the variant named in `ctx`, with `options`.
pub fn build(ctx: &BuildContext, options: ClipOptions) -> Result<Backbone, PluginError> {
    let variant = variant(&ctx.variant)
        .ok_or_else(|| PluginError::Build(format!("unknown variant `{}`", ctx.variant)))?;
    let (model, features, stages) = build_model(variant, &options, &ctx.device)?;
    let size = options.input_size.unwrap_or(224);
    let input = InputSpec {
        height: size,
        width: size,
        mean: CLIP_MEAN,
        std: CLIP_STD,
    };
    // timm's `no_weight_decay()` for its CLIP towers (ViTs): the class and position embeddings.
    Ok(Backbone::new("clip", variant.name, features, input, model)
        .with_stages(stages)
        .with_no_weight_decay(&["class_embedding", "pos_embedding"]))
}

export_plugin!(|registry| {
    let variants: Vec<&str> = VARIANTS.iter().map(|v| v.name).collect();
    registry
        .backbone(
            "clip",
            "CLIP ViT image tower B/32, B/16, L/14 (OpenAI/open_clip and Hugging Face weights)",
            &variants,
            build,
        )
        .naming_schemes(schemes::all());
});
