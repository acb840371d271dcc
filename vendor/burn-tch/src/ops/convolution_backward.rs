//! rateme's addition (see PATCHES.md): the gradients of a convolution from LibTorch's fused
//! `at::convolution_backward`, the kernel PyTorch's autograd uses. burn's generic backward builds
//! them from other ops instead: the input gradient as a transposed convolution (LibTorch runs a
//! grouped one through `slow_conv_transpose2d`) and, for grouped convolutions, the weight
//! gradient one group at a time.

use crate::TchTensor;
use burn_backend::ops::ConvOptions;
use super::shim::outputs;
use std::ffi::{c_char, c_int};
use torch_sys::C_tensor;

unsafe extern "C" {
    fn rateme_convolution_backward(
        grad_output: *const C_tensor,
        input: *const C_tensor,
        weight: *const C_tensor,
        stride: *const i64,
        padding: *const i64,
        dilation: *const i64,
        spatial_dims: i64,
        groups: i64,
        want_input: c_int,
        want_weight: c_int,
        grad_input: *mut *mut C_tensor,
        grad_weight: *mut *mut C_tensor,
    ) -> *mut c_char;
}

/// Which gradient of the convolution to compute.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wrt {
    Input,
    Weight,
}

/// The gradient of `conv(x, weight)` with respect to `wrt`, given the output's gradient.
/// Asymmetric padding is applied to `x` explicitly (as the forward pass does) and the input
/// gradient cropped back to `x`'s shape.
pub(crate) fn convolution_backward<const N: usize>(
    x: TchTensor,
    weight: TchTensor,
    output_grad: TchTensor,
    options: ConvOptions<N>,
    wrt: Wrt,
) -> TchTensor {
    let asymmetric = options.is_asymmetric().then_some(options.padding);
    let (x, padding) = match asymmetric {
        Some(padding) => {
            let pad: Vec<i64> = padding
                .iter()
                .rev()
                .flat_map(|&(begin, end)| [begin as i64, end as i64])
                .collect();
            (x.tensor.constant_pad_nd(pad), [0i64; N])
        }
        None => (x.tensor, options.padding_begin().map(|p| p as i64)),
    };
    let stride = options.stride.map(|s| s as i64);
    let dilation = options.dilation.map(|d| d as i64);
    // SAFETY: the tensors outlive the call; see `outputs`.
    let [grad_input, grad_weight] = unsafe {
        outputs("convolution backward", |[grad_input, grad_weight]| {
            rateme_convolution_backward(
                output_grad.tensor.as_ptr(),
                x.as_ptr(),
                weight.tensor.as_ptr(),
                stride.as_ptr(),
                padding.as_ptr(),
                dilation.as_ptr(),
                N as i64,
                options.groups as i64,
                c_int::from(wrt == Wrt::Input),
                c_int::from(wrt == Wrt::Weight),
                grad_input,
                grad_weight,
            )
        })
    };
    let grad = match wrt {
        Wrt::Input => grad_input,
        Wrt::Weight => grad_weight,
    }
    .expect("the requested gradient");
    let grad = match (wrt, asymmetric) {
        (Wrt::Input, Some(padding)) => {
            padding
                .iter()
                .enumerate()
                .fold(grad, |grad, (axis, &(begin, end))| {
                    let size = grad.size()[axis + 2] - (begin + end) as i64;
                    grad.narrow((axis + 2) as i64, begin as i64, size)
                })
        }
        _ => grad,
    };
    TchTensor::new(grad)
}

/// The gradient of a convolution's bias: the output's gradient summed over all but the channels.
pub(crate) fn bias_backward(output_grad: TchTensor) -> TchTensor {
    let dims: Vec<i64> = (0..output_grad.tensor.dim() as i64)
        .filter(|&d| d != 1)
        .collect();
    TchTensor::new(
        output_grad
            .tensor
            .sum_dim_intlist(dims, false, output_grad.tensor.kind()),
    )
}
