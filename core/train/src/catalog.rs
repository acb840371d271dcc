//! What the loaded backbone plugins offer, variant by variant: each built with its default
//! options (parameters are allocated lazily, so even ViT-L costs little) and measured, for
//! `runner plugins`.

use rateme_sdk::BuildContext;
use rateme_sdk::burn::tensor::Device;

use crate::plugins::PluginHost;

/// One variant of a backbone plugin, as built with default options.
#[derive(Debug, Clone)]
pub struct VariantInfo {
    /// The variant (empty for a plugin without variants).
    pub variant: String,
    /// Parameters (PyTorch's count: no batch-norm running statistics), or why it did not
    /// build.
    pub params: Result<usize, String>,
    /// Declared input height and width.
    pub input: (u32, u32),
    /// Width of the pooled features.
    pub features: usize,
    /// The stage names for partial freezing, input to output.
    pub stages: Vec<String>,
}

/// Every variant of the backbone plugin registered as `name`, in registration order.
pub fn backbone_variants(host: &PluginHost, name: &str) -> Vec<VariantInfo> {
    let Some(entry) = host.registry.backbones().find(|e| e.name == name) else {
        return Vec::new();
    };
    let variants = if entry.variants.is_empty() {
        vec![String::new()]
    } else {
        entry.variants.clone()
    };
    let empty = toml::Value::Table(toml::Table::new());
    variants
        .into_iter()
        .map(|variant| {
            let ctx = BuildContext {
                device: Device::default(),
                seed: 0,
                variant: variant.clone(),
            };
            match (entry.ctor)(&ctx, &empty) {
                Ok(bb) => VariantInfo {
                    variant,
                    params: Ok(bb.part_ref().num_params()),
                    input: (bb.input_spec().height, bb.input_spec().width),
                    features: bb.num_features(),
                    stages: bb.stages().iter().map(|s| s.name.clone()).collect(),
                },
                Err(e) => VariantInfo {
                    variant,
                    params: Err(e.to_string()),
                    input: (0, 0),
                    features: 0,
                    stages: Vec::new(),
                },
            }
        })
        .collect()
}
