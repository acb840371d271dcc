//! The modules. Names are the plugin's own (`stem.{conv,norm}`,
//! `stages.I.{downsample.{norm,conv},blocks.J.{dwconv,norm,fc1,fc2,gamma}}`, `head_norm`); the
//! naming schemes map torchvision's and timm's onto them.

use rateme_sdk::burn::module::{Initializer, Param};
use rateme_sdk::burn::nn::conv::{Conv2d, Conv2dConfig};
use rateme_sdk::burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig};
use rateme_sdk::burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use rateme_sdk::burn::tensor::activation::gelu;
use rateme_sdk::layers::{DropPath, LayerNorm, LayerNormConfig, layer_norm_2d};
use rateme_sdk::prelude::*;

/// ConvNeXt's layer-norm epsilon everywhere (torchvision and timm).
const EPS: f64 = 1e-6;

/// Both references start convolution and linear weights from a normal of std 0.02
/// (truncated at ±2 there; burn has no truncated normal, and 2 std cover 95% anyway) with zero
/// biases.
fn weight_init() -> Initializer {
    Initializer::Normal {
        mean: 0.0,
        std: 0.02,
    }
}

fn zero_bias<const D: usize>(bias: Option<Param<Tensor<D>>>) -> Option<Param<Tensor<D>>> {
    bias.map(|b| Param::from_tensor(b.val().zeros_like()))
}

/// A `kernel`×`kernel` convolution: patchifying (stride = kernel, no padding) or depthwise
/// (`groups` = channels, stride 1, padding `(kernel - 1) / 2`).
fn conv(in_ch: usize, out_ch: usize, kernel: usize, stride: usize, groups: usize) -> Conv2dConfig {
    let pad = if stride == 1 { (kernel - 1) / 2 } else { 0 };
    Conv2dConfig::new([in_ch, out_ch], [kernel, kernel])
        .with_stride([stride, stride])
        .with_groups(groups)
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .with_initializer(weight_init())
}

fn init_conv(config: Conv2dConfig, device: &Device) -> Conv2d {
    let mut c = config.init(device);
    c.bias = zero_bias(c.bias);
    c
}

fn init_linear(d_in: usize, d_out: usize, device: &Device) -> Linear {
    let mut l = LinearConfig::new(d_in, d_out)
        .with_initializer(weight_init())
        .init(device);
    l.bias = zero_bias(l.bias);
    l
}

pub fn norm(channels: usize, device: &Device) -> LayerNorm {
    LayerNormConfig::new(channels)
        .with_epsilon(EPS)
        .init(device)
}

/// Patchify stem: 4×4 convolution of stride 4, then layer norm over the channels.
#[derive(Module, Debug)]
pub struct Stem {
    pub conv: Conv2d,
    pub norm: LayerNorm,
}

impl Stem {
    pub fn new(channels: usize, device: &Device) -> Self {
        Self {
            conv: init_conv(conv(3, channels, 4, 4, 1), device),
            norm: norm(channels, device),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        layer_norm_2d(&self.norm, autocast::conv2d(&self.conv, x))
    }
}

/// Between stages: layer norm over the channels, then a 2×2 convolution of stride 2.
#[derive(Module, Debug)]
pub struct Downsample {
    pub norm: LayerNorm,
    pub conv: Conv2d,
}

impl Downsample {
    pub fn new(in_ch: usize, out_ch: usize, device: &Device) -> Self {
        Self {
            norm: norm(in_ch, device),
            conv: init_conv(conv(in_ch, out_ch, 2, 2, 1), device),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        autocast::conv2d(&self.conv, layer_norm_2d(&self.norm, x))
    }
}

/// The ConvNeXt block: depthwise 7×7 → (channels last) layer norm → linear 4× wider → exact
/// GELU → linear back → times the layer scale `gamma` → (channels first) stochastic depth →
/// plus the input.
#[derive(Module, Debug)]
pub struct Block {
    pub dwconv: Conv2d,
    pub norm: LayerNorm,
    pub fc1: Linear,
    pub fc2: Linear,
    /// Layer scale, one per channel (torchvision stores it `[C, 1, 1]`, timm `[C]`).
    pub gamma: Param<Tensor<1>>,
    pub drop_path: DropPath,
}

impl Block {
    pub fn new(channels: usize, layer_scale: f64, drop_path: f64, device: &Device) -> Self {
        Self {
            dwconv: init_conv(conv(channels, channels, 7, 1, channels), device),
            norm: norm(channels, device),
            fc1: init_linear(channels, 4 * channels, device),
            fc2: init_linear(4 * channels, channels, device),
            gamma: Param::from_tensor(Tensor::full([channels], layer_scale, device)),
            drop_path: DropPath::new(drop_path),
        }
    }

    pub fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        let channels = self.gamma.dims()[0];
        let x = autocast::conv2d(&self.dwconv, input.clone()).permute([0, 2, 3, 1]);
        let x = autocast::linear(
            &self.fc2,
            gelu(autocast::linear(&self.fc1, self.norm.forward(x))),
        );
        let x = x * self.gamma.val().reshape([1, 1, 1, channels]);
        input + self.drop_path.forward(x.permute([0, 3, 1, 2]))
    }
}

/// A stage: an optional downsampling layer (every stage but the first), then its blocks.
#[derive(Module, Debug)]
pub struct ConvNextStage {
    pub downsample: Option<Downsample>,
    pub blocks: Vec<Block>,
}

/// The backbone: stem → 4 stages → global average pool → (optionally) layer norm.
#[derive(Module, Debug)]
pub struct ConvNext {
    pub stem: Stem,
    pub stages: Vec<ConvNextStage>,
    pub pool: AdaptiveAvgPool2d,
    /// The classifier's layer norm (timm's `head.norm`, torchvision's `classifier.0`), kept
    /// when the features are the pre-logits; `None` for the bare pooled features.
    pub head_norm: Option<LayerNorm>,
}

impl ConvNext {
    pub fn pool() -> AdaptiveAvgPool2d {
        AdaptiveAvgPool2dConfig::new([1, 1]).init()
    }
}

impl BackboneModel for ConvNext {
    fn forward_features(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = self.stem.forward(images);
        for stage in &self.stages {
            if let Some(down) = &stage.downsample {
                x = down.forward(x);
            }
            for block in &stage.blocks {
                x = block.forward(x);
            }
        }
        let pooled = self.pool.forward(x).flatten::<2>(1, 3);
        match &self.head_norm {
            Some(norm) => norm.forward(pooled),
            None => pooled,
        }
    }
}
