//! torchvision's and timm's names onto the plugin's (`patch_embed`, `class_token`,
//! `pos_embedding`, `blocks.N.{ln_1,attn.qkv,attn.out,ln_2,mlp.fc1,mlp.fc2}`, `norm`). Both
//! fuse q, k and v in one `[3·dim, dim]` projection, as the plugin does; both resize position
//! embeddings of another grid (weights trained at another input size).

use rateme_sdk::weights::NamingScheme;

/// torchvision: `conv_proj`, `class_token`, `encoder.pos_embedding`,
/// `encoder.layers.encoder_layer_N.{ln_1, self_attention.in_proj_*, self_attention.out_proj,
/// ln_2, mlp.0, mlp.3}` (files before torchvision 0.13: `mlp.linear_1`/`linear_2`),
/// `encoder.ln`, `heads.head`.
fn torchvision() -> NamingScheme {
    NamingScheme::new(
        "torchvision",
        "torchvision.models.vit_* (`conv_proj`, `encoder.layers.encoder_layer_N`, `heads`)",
    )
    .rename(r"^conv_proj\.", "patch_embed.")
    .rename(r"^encoder\.pos_embedding$", "pos_embedding")
    .rename(r"^encoder\.ln\.", "norm.")
    .rename(r"^encoder\.layers\.encoder_layer_(\d+)\.", "blocks.$1.")
    .rename(
        r"^(blocks\.\d+)\.self_attention\.in_proj_(weight|bias)$",
        "$1.attn.qkv.$2",
    )
    .rename(
        r"^(blocks\.\d+)\.self_attention\.out_proj\.",
        "$1.attn.out.",
    )
    .rename(r"^(blocks\.\d+)\.mlp\.(?:0|linear_1)\.", "$1.mlp.fc1.")
    .rename(r"^(blocks\.\d+)\.mlp\.(?:3|linear_2)\.", "$1.mlp.fc2.")
    .resize_grid(r"^pos_embedding$", 1)
}

/// timm: `patch_embed.proj`, `cls_token`, `pos_embed`, `blocks.N.{norm1, attn.qkv,
/// attn.proj, norm2, mlp.fc1, mlp.fc2}`, `norm`, `head`.
fn timm() -> NamingScheme {
    NamingScheme::new(
        "timm",
        "timm vit_* (`patch_embed.proj`, `cls_token`, `pos_embed`, `blocks.N.attn.qkv`)",
    )
    .rename(r"^patch_embed\.proj\.", "patch_embed.")
    .rename(r"^cls_token$", "class_token")
    .rename(r"^pos_embed$", "pos_embedding")
    .rename(r"^(blocks\.\d+)\.norm1\.", "$1.ln_1.")
    .rename(r"^(blocks\.\d+)\.norm2\.", "$1.ln_2.")
    .rename(r"^(blocks\.\d+)\.attn\.proj\.", "$1.attn.out.")
    .resize_grid(r"^pos_embedding$", 1)
}

/// Every scheme, most common first.
pub fn all() -> Vec<NamingScheme> {
    vec![torchvision(), timm()]
}
