//! `linear`: a linear regression head, `features → dropout → Linear(in, 1)`.

use rateme_sdk::burn::module::Param;
use rateme_sdk::burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use rateme_sdk::prelude::*;
use rateme_sdk::serde::{Deserialize, Serialize};

/// Options of `[runs.head.options]` for `linear`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "rateme_sdk::serde", deny_unknown_fields)]
pub struct LinearHeadOptions {
    /// Dropout probability applied to the features while training.
    #[serde(default)]
    pub dropout: f64,
    /// Initial bias: start predictions near the label mean (e.g. 5.5 on a 0..10 scale).
    #[serde(default)]
    pub init_bias: f32,
}

/// The head module.
#[derive(Module, Debug)]
pub struct LinearHead {
    dropout: Dropout,
    linear: Linear,
}

impl HeadModel for LinearHead {
    fn forward(&self, features: Tensor<2>) -> Tensor<2> {
        autocast::linear(&self.linear, self.dropout.forward(features))
    }
}

fn build(
    ctx: &BuildContext,
    in_features: usize,
    options: LinearHeadOptions,
) -> Result<Head, PluginError> {
    if !(0.0..1.0).contains(&options.dropout) {
        return Err(PluginError::options("`dropout` must be in 0..1"));
    }
    let mut linear = LinearConfig::new(in_features, 1).init(&ctx.device);
    if options.init_bias != 0.0 {
        linear.bias = Some(Param::from_tensor(Tensor::full(
            [1],
            options.init_bias,
            &ctx.device,
        )));
    }
    let model = LinearHead {
        dropout: DropoutConfig::new(options.dropout).init(),
        linear,
    };
    Ok(Head::new("linear", in_features, model))
}

export_plugin!(|registry| {
    registry.head(
        "linear",
        "dropout then one linear layer to a single score",
        build,
    );
});
