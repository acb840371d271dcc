//! rateme's addition (see PATCHES.md): batch norm and layer norm through LibTorch's fused kernels,
//! forward and backward, as PyTorch runs them. burn composes both from means, variances and
//! element-wise operations, and differentiates batch norm with a dozen more.

use crate::{LibTorch, TchTensor};
use burn_backend::ops::{BatchNormTrain, BatchNormTrainBackward};
use super::shim::outputs;
use std::ffi::{c_char, c_int};
use torch_sys::C_tensor;

unsafe extern "C" {
    fn rateme_batch_norm_backward(
        grad_output: *const C_tensor,
        input: *const C_tensor,
        weight: *const C_tensor,
        mean: *const C_tensor,
        invstd: *const C_tensor,
        eps: f64,
        grad_input: *mut *mut C_tensor,
        grad_weight: *mut *mut C_tensor,
        grad_bias: *mut *mut C_tensor,
    ) -> *mut c_char;

    fn rateme_layer_norm_backward(
        grad_output: *const C_tensor,
        input: *const C_tensor,
        normalized_shape: *const i64,
        normalized_dims: i64,
        mean: *const C_tensor,
        rstd: *const C_tensor,
        weight: *const C_tensor,
        bias: *const C_tensor,
        want_input: c_int,
        want_weight: c_int,
        want_bias: c_int,
        grad_input: *mut *mut C_tensor,
        grad_weight: *mut *mut C_tensor,
        grad_bias: *mut *mut C_tensor,
    ) -> *mut c_char;
}

/// Which of an operation's three gradients (input, weight, bias) to compute.
pub type GradientMask = [bool; 3];

/// `(x - mean) / sqrt(variance + epsilon) * gamma + beta` with the given per-channel statistics.
pub(crate) fn batch_norm(
    x: TchTensor,
    gamma: TchTensor,
    beta: TchTensor,
    mean: TchTensor,
    variance: TchTensor,
    epsilon: f64,
) -> TchTensor {
    TchTensor::new(x.tensor.batch_norm(
        Some(&gamma.tensor),
        Some(&beta.tensor),
        Some(&mean.tensor),
        Some(&variance.tensor),
        false,
        0.0,
        epsilon,
        true,
    ))
}

/// Batch norm with the batch's own mean and biased variance, returned with the output.
pub(crate) fn batch_norm_train(
    x: TchTensor,
    gamma: TchTensor,
    beta: TchTensor,
    epsilon: f64,
) -> BatchNormTrain<LibTorch> {
    // LibTorch's batch-norm statistics kernel (mean and biased variance in one pass over
    // contiguous channels); a general `var_mean` over the same axes took three times as long.
    let (mean, variance) = x
        .tensor
        .batch_norm_update_stats(None::<&tch::Tensor>, None, 0.0);
    let (mean, variance) = (TchTensor::new(mean), TchTensor::new(variance));
    let output = batch_norm(x, gamma, beta, mean.clone(), variance.clone(), epsilon);
    BatchNormTrain::new(output, mean, variance)
}

/// The gradients of [`batch_norm_train`] with respect to its input, `gamma` and `beta`.
pub(crate) fn batch_norm_train_backward(
    x: TchTensor,
    gamma: TchTensor,
    mean: TchTensor,
    variance: TchTensor,
    epsilon: f64,
    output_grad: TchTensor,
) -> BatchNormTrainBackward<LibTorch> {
    let invstd = (variance.tensor + epsilon).rsqrt();
    // SAFETY: the tensors outlive the call; see `outputs`.
    let [x_grad, gamma_grad, beta_grad] = unsafe {
        outputs("batch norm backward", |[gi, gw, gb]| {
            rateme_batch_norm_backward(
                output_grad.tensor.as_ptr(),
                x.tensor.as_ptr(),
                gamma.tensor.as_ptr(),
                mean.tensor.as_ptr(),
                invstd.as_ptr(),
                epsilon,
                gi,
                gw,
                gb,
            )
        })
    };
    let grad = |g: Option<tch::Tensor>| TchTensor::new(g.expect("requested gradient"));
    BatchNormTrainBackward::new(grad(x_grad), grad(gamma_grad), grad(beta_grad))
}

/// Layer norm over the last `normalized_shape.len()` axes of `x`, as `at::native_layer_norm`
/// computes it: the output, and the per-row mean and reciprocal standard deviation that
/// [`layer_norm_backward`] needs.
pub fn layer_norm(
    x: &tch::Tensor,
    normalized_shape: &[i64],
    weight: Option<&tch::Tensor>,
    bias: Option<&tch::Tensor>,
    epsilon: f64,
) -> (tch::Tensor, tch::Tensor, tch::Tensor) {
    x.native_layer_norm(normalized_shape, weight, bias, epsilon)
}

/// The gradients of [`layer_norm`] with respect to its input, weight and bias, as asked for by
/// `mask` (`None` where not asked for, or where the forward had no weight or bias).
#[allow(clippy::too_many_arguments)]
pub fn layer_norm_backward(
    output_grad: &tch::Tensor,
    x: &tch::Tensor,
    normalized_shape: &[i64],
    mean: &tch::Tensor,
    rstd: &tch::Tensor,
    weight: Option<&tch::Tensor>,
    bias: Option<&tch::Tensor>,
    mask: GradientMask,
) -> [Option<tch::Tensor>; 3] {
    let pointer = |t: Option<&tch::Tensor>| t.map_or(std::ptr::null(), |t| t.as_ptr());
    // SAFETY: the tensors outlive the call; see `outputs`.
    unsafe {
        outputs("layer norm backward", |[gi, gw, gb]| {
            rateme_layer_norm_backward(
                output_grad.as_ptr(),
                x.as_ptr(),
                normalized_shape.as_ptr(),
                normalized_shape.len() as i64,
                mean.as_ptr(),
                rstd.as_ptr(),
                pointer(weight),
                pointer(bias),
                c_int::from(mask[0]),
                c_int::from(mask[1]),
                c_int::from(mask[2]),
                gi,
                gw,
                gb,
            )
        })
    }
}
