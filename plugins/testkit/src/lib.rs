//! Plugins that misbehave on purpose, for the runner's tests: `panicky` is a working backbone
//! that panics in its forward pass after a given number of calls (or in its constructor).

use rateme_sdk::burn::nn::{Linear, LinearConfig};
use rateme_sdk::prelude::*;
use rateme_sdk::serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Options of the `panicky` backbone.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "rateme_sdk::serde", deny_unknown_fields)]
pub struct PanickyOptions {
    /// Panic in the forward pass once this many forward calls have been made (0 = in the
    /// constructor).
    pub panic_after: usize,
}

static CALLS: AtomicUsize = AtomicUsize::new(0);

/// Mean colour → linear features; panics on the configured call.
#[derive(Module, Debug)]
pub struct Panicky {
    proj: Linear,
    #[module(skip)]
    panic_after: usize,
}

impl BackboneModel for Panicky {
    fn forward_features(&self, images: Tensor<4>) -> Tensor<2> {
        let n = CALLS.fetch_add(1, Ordering::SeqCst) + 1;
        if n >= self.panic_after {
            panic!("panicky backbone: deliberate panic in forward call {n}");
        }
        let [b, c, _, _] = images.dims();
        let mean = images.mean_dim(2).mean_dim(3).reshape([b, c]);
        self.proj.forward(mean)
    }
}

fn build(ctx: &BuildContext, options: PanickyOptions) -> Result<Backbone, PluginError> {
    if options.panic_after == 0 {
        panic!("panicky backbone: deliberate panic in the constructor");
    }
    let model = Panicky {
        proj: LinearConfig::new(3, 4).init(&ctx.device),
        panic_after: options.panic_after,
    };
    Ok(Backbone::new(
        "panicky",
        "",
        4,
        InputSpec::square_imagenet(16),
        model,
    ))
}

export_plugin!(|registry| {
    registry.backbone("panicky", "test plugin that panics on purpose", &[], build);
});
