//! Building blocks that several backbone families share, each computing exactly what its
//! PyTorch counterpart computes (the families' parity tests prove it): stochastic depth, the
//! pre-norm transformer encoder block with fused q/k/v attention (ViT, CLIP), and a layer norm
//! over the channels of an image-shaped tensor (ConvNeXt).
//!
//! Names follow PyTorch conventions so naming schemes map onto them plainly:
//! `ln_1`, `attn.qkv`, `attn.out`, `ln_2`, `mlp.fc1`, `mlp.fc2`.

mod attention;
mod drop_path;
mod layer_norm;
mod transformer;

pub use attention::attention;
pub use drop_path::DropPath;
pub use layer_norm::{LayerNorm, LayerNormConfig};
pub use transformer::{Activation, EncoderBlock, EncoderBlockConfig, Mlp, SelfAttention};

use crate::burn::tensor::Tensor;

/// Layer norm over the channels of `[batch, channels, height, width]` (PyTorch's
/// "LayerNorm2d": channels last, normalise, channels first again).
pub fn layer_norm_2d(norm: &LayerNorm, x: Tensor<4>) -> Tensor<4> {
    norm.forward(x.permute([0, 2, 3, 1])).permute([0, 3, 1, 2])
}
