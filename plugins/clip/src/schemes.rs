//! OpenAI's (and open_clip's) and Hugging Face's names onto the plugin's (`patch_embed`,
//! `class_embedding`, `pos_embedding`, `ln_pre`,
//! `blocks.N.{ln_1,attn.qkv,attn.out,ln_2,mlp.fc1,mlp.fc2}`, `ln_post`, `proj`). Both resize
//! position embeddings of another grid.

use rateme_sdk::weights::NamingScheme;

/// OpenAI CLIP and open_clip: the image tower under `visual.` (`conv1`, `class_embedding`,
/// `positional_embedding`, `ln_pre`, `transformer.resblocks.N.{ln_1, attn.in_proj_*,
/// attn.out_proj, ln_2, mlp.c_fc, mlp.c_proj}`, `ln_post`, `proj`); the text tower's names
/// (no `visual.`) are left unmatched.
fn openai() -> NamingScheme {
    NamingScheme::new(
        "openai",
        "OpenAI CLIP / open_clip (`visual.conv1`, `visual.transformer.resblocks.N`, `visual.proj`)",
    )
    .rename(r"^visual\.conv1\.", "patch_embed.")
    .rename(r"^visual\.positional_embedding$", "pos_embedding")
    .rename(
        r"^visual\.(class_embedding|ln_pre\.\w+|ln_post\.\w+|proj)$",
        "$1",
    )
    .rename(r"^visual\.transformer\.resblocks\.(\d+)\.", "blocks.$1.")
    .rename(
        r"^(blocks\.\d+)\.attn\.in_proj_(weight|bias)$",
        "$1.attn.qkv.$2",
    )
    .rename(r"^(blocks\.\d+)\.attn\.out_proj\.", "$1.attn.out.")
    .rename(r"^(blocks\.\d+)\.mlp\.c_fc\.", "$1.mlp.fc1.")
    .rename(r"^(blocks\.\d+)\.mlp\.c_proj\.", "$1.mlp.fc2.")
    .resize_grid(r"^pos_embedding$", 1)
}

/// Hugging Face transformers (`CLIPVisionModel`, `CLIPModel`): `[vision_model.]{embeddings.
/// {patch_embedding, class_embedding, position_embedding}, pre_layrnorm (sic),
/// encoder.layers.N.{layer_norm1, self_attn.{q,k,v,out}_proj, layer_norm2, mlp.fc1, mlp.fc2},
/// post_layernorm}` (hub files and `CLIPModel` have the `vision_model.` prefix, a
/// `CLIPVisionModel` saved by transformers 5 has none) and `visual_projection` (`[output,
/// width]`, a linear layer without bias); separate q, k and v are joined into the plugin's
/// fused projection. A `CLIPModel`'s `text_model.*` stays unmatched.
fn huggingface() -> NamingScheme {
    NamingScheme::new(
        "huggingface",
        "Hugging Face CLIPVisionModel / CLIPModel (`vision_model.encoder.layers.N.self_attn`)",
    )
    .rename(r"^vision_model\.", "")
    .rename(r"^embeddings\.patch_embedding\.", "patch_embed.")
    .rename(r"^embeddings\.class_embedding$", "class_embedding")
    .rename(r"^embeddings\.position_embedding\.weight$", "pos_embedding")
    .rename(r"^pre_layrnorm\.", "ln_pre.")
    .rename(r"^post_layernorm\.", "ln_post.")
    .rename(r"^visual_projection\.weight$", "proj")
    .rename(r"^encoder\.layers\.(\d+)\.", "blocks.$1.")
    .rename(r"^(blocks\.\d+)\.layer_norm1\.", "$1.ln_1.")
    .rename(r"^(blocks\.\d+)\.layer_norm2\.", "$1.ln_2.")
    .rename(r"^(blocks\.\d+)\.self_attn\.out_proj\.", "$1.attn.out.")
    .rename(r"^(blocks\.\d+)\.self_attn\.([qkv])_proj\.", "$1.attn.$2.")
    .join(
        r"^(blocks\.\d+)\.attn\.q\.(weight|bias)$",
        &["$1.attn.q.$2", "$1.attn.k.$2", "$1.attn.v.$2"],
        "$1.attn.qkv.$2",
    )
    .transpose(r"^proj$")
    .resize_grid(r"^pos_embedding$", 1)
}

/// Every scheme, most common first.
pub fn all() -> Vec<NamingScheme> {
    vec![openai(), huggingface()]
}
