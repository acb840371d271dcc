//! The references' names onto the plugin's (`stem`, `blocks.N.{expand,depthwise,se,project}`,
//! `head`).

use rateme_sdk::weights::NamingScheme;

/// EfficientNet-PyTorch (lukemelas; also the EfficientNet-Lite ports built on it): flat
/// `_blocks.N`, one name per layer.
fn efficientnet_pytorch() -> NamingScheme {
    NamingScheme::new(
        "efficientnet-pytorch",
        "lukemelas/EfficientNet-PyTorch (`_conv_stem`, `_blocks.N._depthwise_conv`, `_fc`)",
    )
    .rename(r"^_conv_stem\.", "stem.conv.")
    .rename(r"^_bn0\.", "stem.bn.")
    .rename(r"^_conv_head\.", "head.conv.")
    .rename(r"^_bn1\.", "head.bn.")
    .rename(r"^_blocks\.(\d+)\._expand_conv\.", "blocks.$1.expand.conv.")
    .rename(r"^_blocks\.(\d+)\._bn0\.", "blocks.$1.expand.bn.")
    .rename(
        r"^_blocks\.(\d+)\._depthwise_conv\.",
        "blocks.$1.depthwise.conv.",
    )
    .rename(r"^_blocks\.(\d+)\._bn1\.", "blocks.$1.depthwise.bn.")
    .rename(r"^_blocks\.(\d+)\._se_reduce\.", "blocks.$1.se.reduce.")
    .rename(r"^_blocks\.(\d+)\._se_expand\.", "blocks.$1.se.expand.")
    .rename(
        r"^_blocks\.(\d+)\._project_conv\.",
        "blocks.$1.project.conv.",
    )
    .rename(r"^_blocks\.(\d+)\._bn2\.", "blocks.$1.project.bn.")
}

/// torchvision: `features.0` stem, `features.1-7.J` the stages' blocks (`block.K` numbered
/// without a gap for the missing expansion of stage 1), `features.8` the head conv.
fn torchvision() -> NamingScheme {
    NamingScheme::new(
        "torchvision",
        "torchvision.models.efficientnet_b0..b7 (`features.S.J.block.K`, `classifier`)",
    )
    .rename(r"^features\.0\.0\.", "stem.conv.")
    .rename(r"^features\.0\.1\.", "stem.bn.")
    .rename(r"^features\.8\.0\.", "head.conv.")
    .rename(r"^features\.8\.1\.", "head.bn.")
    // Stage 1 has no expansion: block.0 is the depthwise conv.
    .rename(r"^(features\.1\.\d+)\.block\.0\.0\.", "$1.depthwise.conv.")
    .rename(r"^(features\.1\.\d+)\.block\.0\.1\.", "$1.depthwise.bn.")
    .rename(r"^(features\.1\.\d+)\.block\.1\.fc1\.", "$1.se.reduce.")
    .rename(r"^(features\.1\.\d+)\.block\.1\.fc2\.", "$1.se.expand.")
    .rename(r"^(features\.1\.\d+)\.block\.2\.0\.", "$1.project.conv.")
    .rename(r"^(features\.1\.\d+)\.block\.2\.1\.", "$1.project.bn.")
    .rename(r"^(features\.[2-7]\.\d+)\.block\.0\.0\.", "$1.expand.conv.")
    .rename(r"^(features\.[2-7]\.\d+)\.block\.0\.1\.", "$1.expand.bn.")
    .rename(
        r"^(features\.[2-7]\.\d+)\.block\.1\.0\.",
        "$1.depthwise.conv.",
    )
    .rename(
        r"^(features\.[2-7]\.\d+)\.block\.1\.1\.",
        "$1.depthwise.bn.",
    )
    .rename(r"^(features\.[2-7]\.\d+)\.block\.2\.fc1\.", "$1.se.reduce.")
    .rename(r"^(features\.[2-7]\.\d+)\.block\.2\.fc2\.", "$1.se.expand.")
    .rename(
        r"^(features\.[2-7]\.\d+)\.block\.3\.0\.",
        "$1.project.conv.",
    )
    .rename(r"^(features\.[2-7]\.\d+)\.block\.3\.1\.", "$1.project.bn.")
    // Stage-and-index pairs in order become the flat block numbers.
    .number(r"^features\.([1-7])\.(\d+)\.", "blocks.{n}.")
}

/// Every scheme, most common first.
pub fn all() -> Vec<NamingScheme> {
    vec![efficientnet_pytorch(), torchvision()]
}
