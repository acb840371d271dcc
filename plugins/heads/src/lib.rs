//! Heads beyond `linear`: `attention-mlp` (RateMeAI's ComplexHead) and `mlp` (LAION's aesthetic
//! predictor shape). Both are parity-tested against fixtures from their Python references
//! (`scripts/head-fixtures.sh`).

pub mod attention_mlp;
pub mod mlp;

use rateme_sdk::prelude::*;

export_plugin!(|registry| {
    registry
        .head(
            "attention-mlp",
            "RateMeAI's ComplexHead: 4 Linear/BatchNorm/LeakyReLU blocks narrowing geometrically, 2 skips, a sigmoid gate",
            attention_mlp::build,
        )
        .naming_schemes(attention_mlp::schemes());
    registry
        .head(
            "mlp",
            "LAION aesthetic-predictor MLP: in-1024-128-64-16-1 with dropout",
            mlp::build,
        )
        .naming_schemes(mlp::schemes());
});
