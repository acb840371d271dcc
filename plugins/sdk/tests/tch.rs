//! Outputs and gradients on LibTorch (`tch-cpu`) equal burn's generic ones on flex.
//!
//! This build's burn-tch computes convolution gradients with LibTorch's fused
//! `convolution_backward`, ReLU's and sigmoid's with LibTorch's backward kernels, and batch norm
//! with LibTorch's kernels both ways (vendor/burn-tch/PATCHES.md); the SDK's activations, layer
//! norm and attention run LibTorch's kernels as one autodiff node each. flex builds all of them
//! from transposed and per-group convolutions, reductions and element-wise ops, an independent
//! implementation. Every kind of convolution the plugins use is covered: dense, grouped,
//! depthwise, strided, dilated, with bias and without, with symmetric and with asymmetric
//! (TF "SAME") padding, in 1-D and 2-D.
//! (`bash scripts/tch-test.sh` runs this; the default build compiles it empty.)
#![cfg(feature = "tch")]
// burn marks its LibTorch devices deprecated (see core/spec/src/device.rs for why rateme keeps them).
#![allow(deprecated)]

use rateme_sdk::burn::module::{Module, Param};
use rateme_sdk::burn::nn::{BatchNormConfig, DropoutConfig};
use rateme_sdk::burn::tensor::activation::{relu, sigmoid, silu};
use rateme_sdk::burn::tensor::module::{conv1d, conv2d};
use rateme_sdk::burn::tensor::ops::ConvOptions;
use rateme_sdk::burn::tensor::{Device, Tensor, TensorData};
use rateme_sdk::layers::{LayerNormConfig, attention};

/// Deterministic values in about [-1, 1] (no random generator: the same on both devices).
fn values(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919 + seed * 104_729) as f32 * 0.618_034).sin())
        .collect()
}

fn constant<const D: usize>(shape: [usize; D], seed: usize, device: &Device) -> Tensor<D> {
    let n = shape.iter().product();
    Tensor::from_data(TensorData::new(values(n, seed), shape), device)
}

fn tensor<const D: usize>(shape: [usize; D], seed: usize, device: &Device) -> Tensor<D> {
    constant(shape, seed, device).require_grad()
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

/// One training step's view of a batch norm layer: the output, the gradients of
/// `sum(bn(x) * r)` for x, gamma and beta, and the running statistics after the step; then the
/// output of the same layer in evaluation (running statistics) on a fresh input.
struct BatchNormStep {
    output: Vec<f32>,
    x: Vec<f32>,
    gamma: Vec<f32>,
    beta: Vec<f32>,
    running_mean: Vec<f32>,
    running_var: Vec<f32>,
    eval_output: Vec<f32>,
}

fn batch_norm_step<const D: usize>(
    x_shape: [usize; D],
    config: &BatchNormConfig,
    device: &Device,
) -> BatchNormStep {
    let train = device.clone().autodiff();
    let channels = x_shape[1];
    let mut bn = config.init(&train);
    bn.gamma = Param::from_tensor(constant([channels], 11, &train).add_scalar(1.5));
    bn.beta = Param::from_tensor(constant([channels], 12, &train));
    // Inputs with a per-channel offset and scale, as real activations have.
    let shift = |seed| {
        let mut shape = [1; D];
        shape[1] = channels;
        constant([channels], seed, device).reshape(shape)
    };
    let x = constant(x_shape, 13, device)
        .mul(shift(14).mul_scalar(3.0).exp())
        .add(shift(15).mul_scalar(5.0));
    let x = Tensor::<D>::from_data(x.into_data(), &train).require_grad();
    let y = bn.forward(x.clone());
    let r = Tensor::<D>::from_data(
        TensorData::new(values(y.shape().num_elements(), 16), y.shape()),
        &train,
    );
    let grads = (y.clone() * r).sum().backward();
    let running = |state: &rateme_sdk::burn::module::RunningState<Tensor<1>>| flat(state.value());
    let eval = bn.valid().to_device(device);
    BatchNormStep {
        output: flat(y.detach()),
        x: flat(x.grad(&grads).expect("x's gradient")),
        gamma: flat(bn.gamma.val().grad(&grads).expect("gamma's gradient")),
        beta: flat(bn.beta.val().grad(&grads).expect("beta's gradient")),
        running_mean: running(&bn.running_mean),
        running_var: running(&bn.running_var),
        eval_output: flat(eval.forward(constant(x_shape, 17, device).mul_scalar(4.0))),
    }
}

/// burn's `BatchNorm` in training and evaluation: this build's burn-tch runs LibTorch's fused
/// batch norm forward and backward, flex burn's composition. Covers an image layer (4-D) and a
/// head's (2-D), with EfficientNet-PyTorch's eps and momentum and burn's defaults.
#[test]
fn batch_norm_on_libtorch_equals_flex() {
    let configs = [
        (
            "eps 1e-3, momentum 0.01",
            BatchNormConfig::new(6)
                .with_epsilon(1e-3)
                .with_momentum(0.01),
        ),
        ("burn's defaults", BatchNormConfig::new(6)),
    ];
    for (config_name, config) in &configs {
        for (shape_name, tch, flex) in [
            (
                "4-D",
                batch_norm_step([4, 6, 5, 7], config, &Device::libtorch()),
                batch_norm_step([4, 6, 5, 7], config, &Device::flex()),
            ),
            (
                "2-D",
                batch_norm_step([8, 6], config, &Device::libtorch()),
                batch_norm_step([8, 6], config, &Device::flex()),
            ),
        ] {
            let case = format!("batch norm {shape_name}, {config_name}");
            assert_close(&case, "output", &tch.output, &flex.output);
            assert_close(&case, "input gradient", &tch.x, &flex.x);
            assert_close(&case, "gamma gradient", &tch.gamma, &flex.gamma);
            assert_close(&case, "beta gradient", &tch.beta, &flex.beta);
            assert_close(&case, "running mean", &tch.running_mean, &flex.running_mean);
            assert_close(
                &case,
                "running variance",
                &tch.running_var,
                &flex.running_var,
            );
            assert_close(
                &case,
                "evaluation output",
                &tch.eval_output,
                &flex.eval_output,
            );
        }
    }
}

/// Output and the gradients of q, k and v of `sum(attention(q, k, v) * r)` on `device`.
fn attention_grads(device: &Device) -> [Vec<f32>; 4] {
    let device = device.clone().autodiff();
    let shape = [2, 3, 7, 8];
    // Scaled so that the softmax is far from uniform.
    let [q, k, v] = [21, 22, 23].map(|seed| {
        Tensor::<4>::from_data(
            constant(shape, seed, &device).mul_scalar(3.0).into_data(),
            &device,
        )
        .require_grad()
    });
    let y = attention(
        q.clone(),
        k.clone(),
        v.clone(),
        &DropoutConfig::new(0.0).init(),
    );
    let r = constant(shape, 24, &device);
    let grads = (y.clone() * r).sum().backward();
    let grad = |t: &Tensor<4>| flat(t.grad(&grads).expect("a gradient"));
    [flat(y.detach()), grad(&q), grad(&k), grad(&v)]
}

/// The SDK's attention: LibTorch's flash attention kernels on `tch` (one graph node), burn's
/// composition on flex.
#[test]
fn attention_on_libtorch_equals_flex() {
    let tch = attention_grads(&Device::libtorch());
    let flex = attention_grads(&Device::flex());
    for (what, (t, f)) in ["output", "q gradient", "k gradient", "v gradient"]
        .iter()
        .zip(tch.iter().zip(&flex))
    {
        assert_close("attention", what, t, f);
    }
}

/// Output and the gradients of x, gamma and (if any) beta of `sum(norm(x) * r)` for the SDK's
/// layer norm over `[2, 5, 12]` on `device`.
fn layer_norm_grads(bias: bool, device: &Device) -> Vec<Vec<f32>> {
    let device = device.clone().autodiff();
    let mut norm = LayerNormConfig::new(12)
        .with_epsilon(1e-6)
        .with_bias(bias)
        .init(&device);
    norm.gamma = Param::from_tensor(constant([12], 31, &device).add_scalar(1.5));
    if bias {
        norm.beta = Some(Param::from_tensor(constant([12], 32, &device)));
    }
    // Rows with their own offsets and scales.
    let x = constant([2, 5, 12], 33, &device)
        .mul(constant([2, 5, 1], 34, &device).mul_scalar(2.0).exp())
        .add(constant([2, 5, 1], 35, &device).mul_scalar(4.0));
    let x = Tensor::<3>::from_data(x.into_data(), &device).require_grad();
    let y = norm.forward(x.clone());
    let r = constant([2, 5, 12], 36, &device);
    let grads = (y.clone() * r).sum().backward();
    let mut out = vec![
        flat(y.detach()),
        flat(x.grad(&grads).expect("x's gradient")),
        flat(norm.gamma.val().grad(&grads).expect("gamma's gradient")),
    ];
    if let Some(beta) = &norm.beta {
        out.push(flat(beta.val().grad(&grads).expect("beta's gradient")));
    }
    out
}

/// The SDK's layer norm: LibTorch's `native_layer_norm` and its backward on `tch` (one graph
/// node), burn's composition on flex; with and without a bias.
#[test]
fn layer_norm_on_libtorch_equals_flex() {
    for bias in [true, false] {
        let tch = layer_norm_grads(bias, &Device::libtorch());
        let flex = layer_norm_grads(bias, &Device::flex());
        assert_eq!(tch.len(), flex.len());
        let case = format!("layer norm, bias {bias}");
        for (what, (t, f)) in ["output", "x gradient", "gamma gradient", "beta gradient"]
            .iter()
            .zip(tch.iter().zip(&flex))
        {
            assert_close(&case, what, t, f);
        }
    }
}

#[test]
fn a_filled_tensor_on_libtorch_equals_flex() {
    // LibTorch's own fill (the patched burn-tch's `float_full`), in float32 and half precision.
    for dtype in [
        rateme_sdk::burn::tensor::DType::F32,
        rateme_sdk::burn::tensor::DType::F16,
    ] {
        let filled = |device: &Device| {
            Tensor::<3>::full([2, 3, 4], -2.75, (device, dtype))
                .into_data()
                .convert::<f32>()
        };
        let tch = filled(&Device::libtorch());
        assert_eq!(tch, filled(&Device::flex()), "{dtype:?}");
        assert_eq!(tch.as_slice::<f32>().unwrap()[23], -2.75);
    }
}
