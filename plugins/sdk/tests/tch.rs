//! Gradients on LibTorch (`tch-cpu`) equal burn's generic ones on flex.
//!
//! This build's burn-tch computes convolution gradients with LibTorch's fused
//! `convolution_backward` and ReLU's and sigmoid's with LibTorch's backward kernels
//! (vendor/burn-tch/PATCHES.md); flex builds them from a transposed convolution, per-group
//! convolutions and element-wise ops, an independent implementation. Every kind of convolution
//! the plugins use is covered: dense, grouped, depthwise, strided, dilated, with bias and
//! without, with symmetric and with asymmetric (TF "SAME") padding, in 1-D and 2-D.
//! (`bash scripts/tch-test.sh` runs this; the default build compiles it empty.)
#![cfg(feature = "tch")]
// burn marks its LibTorch devices deprecated (see core/spec/src/device.rs for why rateme keeps them).
#![allow(deprecated)]

use rateme_sdk::burn::tensor::activation::{relu, sigmoid, silu};
use rateme_sdk::burn::tensor::module::{conv1d, conv2d};
use rateme_sdk::burn::tensor::ops::ConvOptions;
use rateme_sdk::burn::tensor::{Device, Tensor, TensorData};

/// Deterministic values in about [-1, 1] (no random generator: the same on both devices).
fn values(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919 + seed * 104_729) as f32 * 0.618_034).sin())
        .collect()
}

fn tensor<const D: usize>(shape: [usize; D], seed: usize, device: &Device) -> Tensor<D> {
    let n = shape.iter().product();
    Tensor::from_data(TensorData::new(values(n, seed), shape), device).require_grad()
}

fn flat<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().expect("f32 values")
}

/// Gradients of `sum(conv(x, w, b) * r)` for x, w and b, on `device`.
struct Grads {
    output: Vec<f32>,
    x: Vec<f32>,
    weight: Vec<f32>,
    bias: Option<Vec<f32>>,
}

/// Gradients of `sum(conv(x, w, b) * r)` on `device`, for x and w of the given shapes.
fn conv_grads<const D: usize>(
    x_shape: [usize; D],
    weight_shape: [usize; D],
    bias: bool,
    conv: impl Fn(Tensor<D>, Tensor<D>, Option<Tensor<1>>) -> Tensor<D>,
    device: &Device,
) -> Grads {
    let device = device.clone().autodiff();
    let x = tensor(x_shape, 1, &device);
    let w = tensor(weight_shape, 2, &device);
    let b = bias.then(|| tensor([weight_shape[0]], 3, &device));
    let y = conv(x.clone(), w.clone(), b.clone());
    let r = Tensor::<D>::from_data(
        TensorData::new(values(y.shape().num_elements(), 4), y.shape()),
        &device,
    );
    let grads = (y.clone() * r).sum().backward();
    Grads {
        output: flat(y.detach()),
        x: flat(x.grad(&grads).expect("x's gradient")),
        weight: flat(w.grad(&grads).expect("weight's gradient")),
        bias: b.map(|b| flat(b.grad(&grads).expect("bias's gradient"))),
    }
}

struct Case2d {
    name: &'static str,
    x: [usize; 4],
    weight: [usize; 4],
    bias: bool,
    options: ConvOptions<2>,
}

fn grads_2d(case: &Case2d, device: &Device) -> Grads {
    let conv = |x, w, b| conv2d(x, w, b, case.options.clone());
    conv_grads(case.x, case.weight, case.bias, conv, device)
}

fn assert_close(case: &str, what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{case}: {what}: length");
    let scale = want.iter().fold(1f32, |m, v| m.max(v.abs()));
    let worst = got
        .iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs())
        .fold(0f32, f32::max);
    assert!(
        worst <= 1e-4 * scale,
        "{case}: {what}: tch differs from flex by {worst} (largest value {scale})"
    );
}

fn compare(case: &str, tch: Grads, flex: Grads) {
    assert_close(case, "output", &tch.output, &flex.output);
    assert_close(case, "input gradient", &tch.x, &flex.x);
    assert_close(case, "weight gradient", &tch.weight, &flex.weight);
    match (tch.bias, flex.bias) {
        (Some(t), Some(f)) => assert_close(case, "bias gradient", &t, &f),
        (None, None) => {}
        _ => panic!("{case}: bias gradient on one device only"),
    }
}

#[test]
fn conv2d_gradients_on_libtorch_equal_flex() {
    let cases = [
        Case2d {
            name: "dense 3x3, stride 1, padding 1, bias",
            x: [2, 3, 9, 8],
            weight: [5, 3, 3, 3],
            bias: true,
            options: ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
        },
        Case2d {
            name: "dense 1x1 (pointwise), no bias",
            x: [2, 6, 5, 5],
            weight: [4, 6, 1, 1],
            bias: false,
            options: ConvOptions::new([1, 1], [0, 0], [1, 1], 1),
        },
        Case2d {
            name: "depthwise 5x5, stride 2, padding 2",
            x: [2, 6, 11, 10],
            weight: [6, 1, 5, 5],
            bias: false,
            options: ConvOptions::new([2, 2], [2, 2], [1, 1], 6),
        },
        Case2d {
            name: "depthwise 3x3, stride 2, TF SAME padding (0 before, 1 after)",
            x: [2, 4, 8, 8],
            weight: [4, 1, 3, 3],
            bias: false,
            options: ConvOptions::new_with_padding([2, 2], [(0, 1), (0, 1)], [1, 1], 4),
        },
        Case2d {
            name: "grouped (2 groups of 3 -> 2), stride (1, 2), dilation 2, bias",
            x: [1, 6, 10, 12],
            weight: [4, 3, 3, 3],
            bias: true,
            options: ConvOptions::new([1, 2], [2, 1], [2, 2], 2),
        },
        Case2d {
            name: "dense 4x4 patchify (ViT-style stem), stride 4, bias",
            x: [2, 3, 16, 16],
            weight: [8, 3, 4, 4],
            bias: true,
            options: ConvOptions::new([4, 4], [0, 0], [1, 1], 1),
        },
        Case2d {
            name: "depthwise 7x7 with channel multiplier 2, padding (3, 2) x (1, 4)",
            x: [1, 3, 9, 9],
            weight: [6, 1, 7, 7],
            bias: true,
            options: ConvOptions::new_with_padding([1, 1], [(3, 2), (1, 4)], [1, 1], 3),
        },
    ];
    for case in &cases {
        let tch = grads_2d(case, &Device::libtorch());
        let flex = grads_2d(case, &Device::flex());
        compare(case.name, tch, flex);
    }
}

fn grads_1d(options: ConvOptions<1>, device: &Device) -> Grads {
    let conv = |x, w, b| conv1d(x, w, b, options.clone());
    conv_grads([2, 4, 13], [4, 2, 3], true, conv, device)
}

#[test]
fn conv1d_gradients_on_libtorch_equal_flex() {
    for (name, options) in [
        ("grouped 1-D, stride 2", ConvOptions::new([2], [1], [1], 2)),
        (
            "grouped 1-D, asymmetric padding",
            ConvOptions::new_with_padding([1], [(2, 0)], [1], 2),
        ),
    ] {
        let tch = grads_1d(options.clone(), &Device::libtorch());
        let flex = grads_1d(options, &Device::flex());
        compare(name, tch, flex);
    }
}

/// An activation function under test.
type Activation = fn(Tensor<2>) -> Tensor<2>;

/// Output and input gradient of `sum(f(x) * r)` on `device`, for `x` from -8 to 8 with exact
/// zeros (ReLU's kink) when `zeros`.
fn activation_grads(f: Activation, zeros: bool, device: &Device) -> (Vec<f32>, Vec<f32>) {
    let device = device.clone().autodiff();
    let mut v = values(6 * 50, 9)
        .iter()
        .map(|v| v * 8.0)
        .collect::<Vec<_>>();
    if zeros {
        v[7] = 0.0;
        v[90] = 0.0;
    }
    let x = Tensor::<2>::from_data(TensorData::new(v, [6, 50]), &device).require_grad();
    let y = f(x.clone());
    let r = Tensor::<2>::from_data(TensorData::new(values(300, 10), [6, 50]), &device);
    let grads = (y.clone() * r).sum().backward();
    (
        flat(y.detach()),
        flat(x.grad(&grads).expect("x's gradient")),
    )
}

/// burn's ReLU and sigmoid (LibTorch's backward kernels in this build's burn-tch) and the SDK's
/// fused ReLU6 and SiLU (one LibTorch op each on `tch`, burn's composition on flex). ReLU6 is
/// not checked at exactly 0 and 6, where the conventions differ: LibTorch's gradient there is 0
/// (as PyTorch's ReLU6), burn's 1.
#[test]
fn activation_gradients_on_libtorch_equal_flex() {
    let cases: [(&str, Activation, bool); 5] = [
        ("relu", relu, true),
        ("sigmoid", sigmoid, true),
        ("silu (burn)", silu, true),
        ("relu6 (SDK)", rateme_sdk::activation::relu6, false),
        ("silu (SDK)", rateme_sdk::activation::silu, true),
    ];
    for (name, f, zeros) in cases {
        let (tch_y, tch_grad) = activation_grads(f, zeros, &Device::libtorch());
        let (flex_y, flex_grad) = activation_grads(f, zeros, &Device::flex());
        assert_close(name, "output", &tch_y, &flex_y);
        assert_close(name, "input gradient", &tch_grad, &flex_grad);
    }
}
