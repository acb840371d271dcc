//! The modules. Names are the plugin's own (`stem`, `blocks.N.{expand,depthwise,se,project}`,
//! `head`); the naming schemes map the references' names onto them.

use rateme_sdk::activation::{relu6, silu};
use rateme_sdk::burn::nn::conv::{Conv2d, Conv2dConfig};
use rateme_sdk::burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig};
use rateme_sdk::burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, PaddingConfig2d};
use rateme_sdk::burn::tensor::activation::sigmoid;
use rateme_sdk::layers::DropPath;
use rateme_sdk::prelude::*;

/// Convolution (no bias) then batch norm.
#[derive(Module, Debug)]
pub struct ConvBn {
    pub conv: Conv2d,
    pub bn: BatchNorm,
}

/// How a block's or the stem's convolutions are built.
#[derive(Debug, Clone, Copy)]
pub struct Norm {
    pub eps: f64,
    pub momentum: f64,
}

/// Where a convolution pads: symmetric `(k-1)/2` (torchvision), or TensorFlow "SAME" computed
/// for a fixed input size (EfficientNet-PyTorch's static padding: the odd pixel bottom/right).
#[derive(Debug, Clone, Copy)]
pub enum Padding {
    Symmetric,
    SameFor(usize),
}

impl Padding {
    fn config(self, kernel: usize, stride: usize) -> PaddingConfig2d {
        match self {
            Padding::Symmetric => {
                let p = (kernel - 1) / 2;
                PaddingConfig2d::Explicit(p, p, p, p)
            }
            Padding::SameFor(size) => {
                let (before, after) = crate::config::same_padding(size, kernel, stride);
                PaddingConfig2d::Explicit(before, before, after, after)
            }
        }
    }
}

impl ConvBn {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        in_ch: usize,
        out_ch: usize,
        kernel: usize,
        stride: usize,
        groups: usize,
        padding: Padding,
        norm: Norm,
        device: &Device,
    ) -> Self {
        Self {
            conv: Conv2dConfig::new([in_ch, out_ch], [kernel, kernel])
                .with_stride([stride, stride])
                .with_groups(groups)
                .with_padding(padding.config(kernel, stride))
                .with_bias(false)
                .init(device),
            bn: BatchNormConfig::new(out_ch)
                .with_epsilon(norm.eps)
                .with_momentum(norm.momentum)
                .init(device),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.bn.forward(autocast::conv2d(&self.conv, x))
    }
}

/// Squeeze-and-excitation: global average → 1×1 reduce → activation → 1×1 expand → sigmoid
/// gate on the channels.
#[derive(Module, Debug)]
pub struct SqueezeExcite {
    pub reduce: Conv2d,
    pub expand: Conv2d,
    pool: AdaptiveAvgPool2d,
}

impl SqueezeExcite {
    pub fn new(channels: usize, squeezed: usize, device: &Device) -> Self {
        Self {
            reduce: Conv2dConfig::new([channels, squeezed], [1, 1]).init(device),
            expand: Conv2dConfig::new([squeezed, channels], [1, 1]).init(device),
            pool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
        }
    }
}

/// The activation of a network: Swish/SiLU (B0-B7) or ReLU6 (Lite).
fn activate<const D: usize>(relu6_act: bool, x: Tensor<D>) -> Tensor<D> {
    if relu6_act { relu6(x) } else { silu(x) }
}

/// Mobile inverted bottleneck: [1×1 expand] → depthwise k×k → [squeeze-excitation] → 1×1
/// project, plus the input when shapes allow (after stochastic depth).
#[derive(Module, Debug)]
pub struct MbConv {
    pub expand: Option<ConvBn>,
    pub depthwise: ConvBn,
    pub se: Option<SqueezeExcite>,
    pub project: ConvBn,
    pub drop_path: DropPath,
    pub residual: bool,
    /// ReLU6 (Lite) instead of SiLU.
    pub relu6: bool,
}

impl MbConv {
    pub fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        let mut x = input.clone();
        if let Some(expand) = &self.expand {
            x = activate(self.relu6, expand.forward(x));
        }
        x = activate(self.relu6, self.depthwise.forward(x));
        if let Some(se) = &self.se {
            let s = se.pool.forward(x.clone());
            let s = autocast::conv2d(
                &se.expand,
                activate(self.relu6, autocast::conv2d(&se.reduce, s)),
            );
            x = x * sigmoid(s);
        }
        x = self.project.forward(x);
        if self.residual {
            x = self.drop_path.forward(x) + input;
        }
        x
    }
}

/// The backbone: stem → blocks → 1×1 head conv → global average pool (→ dropout while
/// training).
#[derive(Module, Debug)]
pub struct EfficientNet {
    pub stem: ConvBn,
    pub blocks: Vec<MbConv>,
    pub head: ConvBn,
    pub pool: AdaptiveAvgPool2d,
    pub dropout: Dropout,
    /// ReLU6 (Lite) instead of SiLU.
    pub relu6: bool,
}

impl BackboneModel for EfficientNet {
    fn forward_features(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = activate(self.relu6, self.stem.forward(images));
        for block in &self.blocks {
            x = block.forward(x);
        }
        x = activate(self.relu6, self.head.forward(x));
        self.dropout.forward(self.pool.forward(x).flatten(1, 3))
    }
}

pub fn dropout(prob: f64) -> Dropout {
    DropoutConfig::new(prob).init()
}
