//! The pre-norm transformer encoder block of ViT and CLIP.

use crate::autocast;
use crate::burn::module::Module;
use crate::burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use crate::burn::tensor::activation::{gelu, sigmoid};
use crate::burn::tensor::{Device, Tensor};

use super::{DropPath, LayerNorm, LayerNormConfig, attention};

/// The MLP's activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// GELU with the exact error function (PyTorch's `nn.GELU()`; ViT).
    Gelu,
    /// `x · σ(1.702 x)` (OpenAI CLIP's QuickGELU).
    QuickGelu,
}

impl Activation {
    /// Applies it.
    pub fn forward<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Activation::Gelu => gelu(x),
            Activation::QuickGelu => x.clone() * sigmoid(x.mul_scalar(1.702)),
        }
    }
}

/// Multi-head self-attention with one fused q/k/v projection (rows q, then k, then v, as
/// PyTorch's `in_proj_weight` and timm's `attn.qkv`) and an output projection.
#[derive(Module, Debug)]
pub struct SelfAttention {
    /// `[3·dim, dim]` in PyTorch's layout: q, k, v stacked.
    pub qkv: Linear,
    /// Output projection.
    pub out: Linear,
    /// Number of heads.
    pub heads: usize,
    /// Dropout on the attention weights.
    pub dropout: Dropout,
}

impl SelfAttention {
    /// Tokens `[batch, tokens, dim]` → `[batch, tokens, dim]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [batch, tokens, dim] = x.dims();
        let head_dim = dim / self.heads;
        // [batch, tokens, 3, heads, head_dim] → [3, batch, heads, tokens, head_dim]
        let qkv = autocast::linear(&self.qkv, x)
            .reshape([batch, tokens, 3, self.heads, head_dim])
            .permute([2, 0, 3, 1, 4]);
        let mut parts = qkv.chunk(3, 0).into_iter().map(|t| t.squeeze_dim::<4>(0));
        let (q, k, v) = (
            parts.next().expect("q"),
            parts.next().expect("k"),
            parts.next().expect("v"),
        );
        let context = attention(q, k, v, &self.dropout)
            .swap_dims(1, 2)
            .reshape([batch, tokens, dim]);
        autocast::linear(&self.out, context)
    }
}

/// Linear → activation → dropout → linear → dropout.
#[derive(Module, Debug)]
pub struct Mlp {
    /// Widening layer.
    pub fc1: Linear,
    /// Narrowing layer.
    pub fc2: Linear,
    /// Dropout after the activation and after `fc2`.
    pub dropout: Dropout,
    /// Whether the activation is QuickGELU (else exact GELU).
    pub quick_gelu: bool,
}

impl Mlp {
    /// `[..., dim]` → `[..., dim]`.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let act = if self.quick_gelu {
            Activation::QuickGelu
        } else {
            Activation::Gelu
        };
        let x = self
            .dropout
            .forward(act.forward(autocast::linear(&self.fc1, x)));
        self.dropout.forward(autocast::linear(&self.fc2, x))
    }
}

/// A pre-norm encoder block: `x + attn(ln_1(x))`, then `x + mlp(ln_2(x))`, each branch
/// after dropout and stochastic depth.
#[derive(Module, Debug)]
pub struct EncoderBlock {
    /// Norm before attention.
    pub ln_1: LayerNorm,
    /// Self-attention.
    pub attn: SelfAttention,
    /// Norm before the MLP.
    pub ln_2: LayerNorm,
    /// The MLP.
    pub mlp: Mlp,
    /// Dropout on the attention branch's output.
    pub dropout: Dropout,
    /// Stochastic depth of both branches.
    pub drop_path: DropPath,
}

/// The shape of an [`EncoderBlock`].
#[derive(Debug, Clone)]
pub struct EncoderBlockConfig {
    /// Token width.
    pub dim: usize,
    /// Attention heads (`dim` must be divisible by it).
    pub heads: usize,
    /// MLP hidden width.
    pub mlp_dim: usize,
    /// The MLP's activation.
    pub activation: Activation,
    /// Layer-norm epsilon (ViT 1e-6, CLIP 1e-5).
    pub eps: f64,
    /// Dropout after the attention and in the MLP.
    pub dropout: f64,
    /// Dropout on the attention weights.
    pub attention_dropout: f64,
    /// Stochastic-depth probability.
    pub drop_path: f64,
}

impl EncoderBlockConfig {
    /// The block, freshly initialised (the families load or initialise weights themselves).
    pub fn init(&self, device: &Device) -> EncoderBlock {
        let norm = || {
            LayerNormConfig::new(self.dim)
                .with_epsilon(self.eps)
                .init(device)
        };
        EncoderBlock {
            ln_1: norm(),
            attn: SelfAttention {
                qkv: LinearConfig::new(self.dim, 3 * self.dim).init(device),
                out: LinearConfig::new(self.dim, self.dim).init(device),
                heads: self.heads,
                dropout: DropoutConfig::new(self.attention_dropout).init(),
            },
            ln_2: norm(),
            mlp: Mlp {
                fc1: LinearConfig::new(self.dim, self.mlp_dim).init(device),
                fc2: LinearConfig::new(self.mlp_dim, self.dim).init(device),
                dropout: DropoutConfig::new(self.dropout).init(),
                quick_gelu: self.activation == Activation::QuickGelu,
            },
            dropout: DropoutConfig::new(self.dropout).init(),
            drop_path: DropPath::new(self.drop_path),
        }
    }
}

impl EncoderBlock {
    /// Tokens `[batch, tokens, dim]` → `[batch, tokens, dim]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let attended = self
            .dropout
            .forward(self.attn.forward(self.ln_1.forward(x.clone())));
        let x = x + self.drop_path.forward(attended);
        let mlp = self.mlp.forward(self.ln_2.forward(x.clone()));
        x.clone() + self.drop_path.forward(mlp)
    }
}
