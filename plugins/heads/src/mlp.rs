//! `mlp`: LAION's aesthetic predictor shape (improved-aesthetic-predictor's `MLP`):
//! in → 1024 → Dropout(0.2) → 128 → Dropout(0.2) → 64 → Dropout(0.1) → 16 → 1, linear layers
//! without activations between them, as the original.

use rateme_sdk::burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use rateme_sdk::prelude::*;
use rateme_sdk::serde::{Deserialize, Serialize};

/// Options of `head.options` for `mlp`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "rateme_sdk::serde", deny_unknown_fields)]
pub struct MlpOptions {
    /// Hidden widths. Default LAION's [1024, 128, 64, 16].
    #[serde(default = "default_hidden")]
    pub hidden: Vec<usize>,
    /// Dropout after each hidden layer (one per width; LAION's [0.2, 0.2, 0.1, 0]).
    #[serde(default = "default_dropouts")]
    pub dropouts: Vec<f64>,
}

fn default_hidden() -> Vec<usize> {
    vec![1024, 128, 64, 16]
}
fn default_dropouts() -> Vec<f64> {
    vec![0.2, 0.2, 0.1, 0.0]
}

/// One hidden layer.
#[derive(Module, Debug)]
pub struct Layer {
    pub linear: Linear,
    pub dropout: Dropout,
}

/// The head module.
#[derive(Module, Debug)]
pub struct Mlp {
    pub layers: Vec<Layer>,
    pub output: Linear,
}

impl HeadModel for Mlp {
    fn forward(&self, features: Tensor<2>) -> Tensor<2> {
        let mut x = features;
        for layer in &self.layers {
            x = layer.dropout.forward(autocast::linear(&layer.linear, x));
        }
        autocast::linear(&self.output, x)
    }
}

/// Builds the head for `in_features`.
pub fn build(
    ctx: &BuildContext,
    in_features: usize,
    options: MlpOptions,
) -> Result<Head, PluginError> {
    Ok(Head::new(
        "mlp",
        in_features,
        build_model(in_features, &options, &ctx.device)?,
    ))
}

/// The module itself.
pub fn build_model(
    in_features: usize,
    options: &MlpOptions,
    device: &Device,
) -> Result<Mlp, PluginError> {
    if options.hidden.len() != options.dropouts.len() {
        return Err(PluginError::options(
            "`dropouts` needs one value per `hidden` width",
        ));
    }
    if options.hidden.contains(&0) || options.dropouts.iter().any(|p| !(0.0..1.0).contains(p)) {
        return Err(PluginError::options(
            "`hidden` widths must be positive and `dropouts` in 0..1",
        ));
    }
    let mut layers = Vec::new();
    let mut width = in_features;
    for (&h, &p) in options.hidden.iter().zip(&options.dropouts) {
        layers.push(Layer {
            linear: LinearConfig::new(width, h).init(device),
            dropout: DropoutConfig::new(p).init(),
        });
        width = h;
    }
    Ok(Mlp {
        layers,
        output: LinearConfig::new(width, 1).init(device),
    })
}

/// LAION's checkpoints (`layers.0`, `layers.2`, `layers.4`, `layers.6` hidden, `layers.7`
/// output: a `nn.Sequential` with the dropouts in between).
pub fn schemes() -> Vec<NamingScheme> {
    vec![
        NamingScheme::new(
            "laion",
            "LAION improved-aesthetic-predictor `MLP` (`layers.0` ... `layers.7`)",
        )
        .rename(r"^layers\.0\.", "layers.0.linear.")
        .rename(r"^layers\.2\.", "layers.1.linear.")
        .rename(r"^layers\.4\.", "layers.2.linear.")
        .rename(r"^layers\.6\.", "layers.3.linear.")
        .rename(r"^layers\.7\.", "output."),
    ]
}
