//! torchvision's and timm's names onto the plugin's (`stem.{conv,norm}`,
//! `stages.I.{downsample.{norm,conv},blocks.J.{dwconv,norm,fc1,fc2,gamma}}`, `head_norm`).

use rateme_sdk::weights::NamingScheme;

/// torchvision: `features.0` stem, `features.1/3/5/7.J.block.{0,2,3,5}` + `layer_scale`
/// `[C, 1, 1]`, `features.2/4/6.{0,1}` downsampling, `classifier.{0,2}`.
fn torchvision() -> NamingScheme {
    NamingScheme::new(
        "torchvision",
        "torchvision.models.convnext_* (`features.S.J.block.K`, `layer_scale`, `classifier`)",
    )
    .rename(r"^features\.0\.0\.", "stem.conv.")
    .rename(r"^features\.0\.1\.", "stem.norm.")
    .rename(r"^features\.2\.", "stages.1.downsample.")
    .rename(r"^features\.4\.", "stages.2.downsample.")
    .rename(r"^features\.6\.", "stages.3.downsample.")
    .rename(r"^(stages\.\d\.downsample)\.0\.", "$1.norm.")
    .rename(r"^(stages\.\d\.downsample)\.1\.", "$1.conv.")
    .rename(r"^features\.1\.(\d+)\.", "stages.0.blocks.$1.")
    .rename(r"^features\.3\.(\d+)\.", "stages.1.blocks.$1.")
    .rename(r"^features\.5\.(\d+)\.", "stages.2.blocks.$1.")
    .rename(r"^features\.7\.(\d+)\.", "stages.3.blocks.$1.")
    .rename(r"\.block\.0\.", ".dwconv.")
    .rename(r"\.block\.2\.", ".norm.")
    .rename(r"\.block\.3\.", ".fc1.")
    .rename(r"\.block\.5\.", ".fc2.")
    .rename(r"\.layer_scale$", ".gamma")
    .rename(r"^classifier\.0\.", "head_norm.")
    .flatten(r"\.gamma$")
}

/// timm: `stem.{0,1}`, `stages.I.downsample.{0,1}`, `stages.I.blocks.J.{conv_dw, norm,
/// mlp.fc1, mlp.fc2, gamma}`, `head.{norm,fc}`.
fn timm() -> NamingScheme {
    NamingScheme::new(
        "timm",
        "timm convnext_* (`stages.I.blocks.J.conv_dw`, `mlp.fc1`, `gamma`, `head.norm`)",
    )
    .rename(r"^stem\.0\.", "stem.conv.")
    .rename(r"^stem\.1\.", "stem.norm.")
    .rename(r"^(stages\.\d\.downsample)\.0\.", "$1.norm.")
    .rename(r"^(stages\.\d\.downsample)\.1\.", "$1.conv.")
    .rename(r"\.conv_dw\.", ".dwconv.")
    .rename(r"\.mlp\.fc", ".fc")
    .rename(r"^head\.norm\.", "head_norm.")
}

/// Every scheme, most common first.
pub fn all() -> Vec<NamingScheme> {
    vec![torchvision(), timm()]
}
