//! Mixed precision in the manner of PyTorch's autocast: with [`Precision::Bf16`] in force on
//! the current thread, convolutions and matrix products (the layers that hold nearly all of a
//! backbone's arithmetic) take their inputs and weights cast to bfloat16 and give back float32;
//! everything else (norms, activations, softmax, the loss) runs in float32, and the parameters,
//! their gradients and the optimizer state stay float32 (the "master weights": the cast is a
//! differentiable op, its backward casts the gradient back).
//!
//! Plugins call [`conv2d`], [`linear`] and [`matmul`] where they would call `Conv2d::forward`,
//! `Linear::forward` and `Tensor::matmul`; with [`Precision::F32`] (the default) those are
//! exactly the plain calls. The runner puts a run's precision in force on its training thread
//! with [`scoped`] (a thread-local setting, so runs or tests on other threads are unaffected).

use std::cell::Cell;

use crate::burn::module::{Param, ParamId};
use crate::burn::nn::Linear;
use crate::burn::nn::conv::Conv2d;
use crate::burn::tensor::{FloatDType, Tensor};

/// The arithmetic of convolutions and matrix products.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Precision {
    /// float32 everywhere (the default).
    #[default]
    F32,
    /// bfloat16 convolutions and matrix products, float32 for the rest.
    Bf16,
}

impl Precision {
    /// Parses `f32` or `bf16`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "f32" => Ok(Self::F32),
            "bf16" => Ok(Self::Bf16),
            other => Err(format!("unknown precision `{other}`; valid: f32, bf16")),
        }
    }

    /// The dtype convolutions and matrix products compute in, when not float32.
    pub(crate) fn low(self) -> Option<FloatDType> {
        match self {
            Self::F32 => None,
            Self::Bf16 => Some(FloatDType::BF16),
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::F32 => "f32",
            Self::Bf16 => "bf16",
        })
    }
}

thread_local! {
    static CURRENT: Cell<Precision> = const { Cell::new(Precision::F32) };
}

/// The precision in force on this thread.
pub fn current() -> Precision {
    CURRENT.with(Cell::get)
}

/// Puts `precision` in force on this thread until the guard is dropped (then the previous one
/// is back).
pub fn scoped(precision: Precision) -> Scope {
    let previous = CURRENT.with(|c| c.replace(precision));
    Scope { previous }
}

/// Restores the previous precision when dropped; see [`scoped`].
#[must_use = "the precision is in force only while the guard lives"]
pub struct Scope {
    previous: Precision,
}

impl Drop for Scope {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.previous));
    }
}

fn low_param<const D: usize>(param: &Param<Tensor<D>>, dtype: FloatDType) -> Param<Tensor<D>> {
    Param::initialized(ParamId::new(), param.val().cast(dtype))
}

/// `$layer.forward($x)` with the input and a copy of the layer whose weight and bias are cast
/// to `$dtype`, the result cast back to float32.
macro_rules! forward_in {
    ($dtype:expr, $layer:expr, $x:expr) => {{
        let dtype = $dtype;
        let mut low = $layer.clone();
        low.weight = low_param(&$layer.weight, dtype);
        low.bias = $layer.bias.as_ref().map(|b| low_param(b, dtype));
        low.forward($x.cast(dtype)).cast(FloatDType::F32)
    }};
}

/// `layer.forward(x)` in the precision in force.
pub fn conv2d(layer: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    match current().low() {
        None => layer.forward(x),
        Some(dtype) => forward_in!(dtype, layer, x),
    }
}

/// `layer.forward(x)` in the precision in force, as one matrix product over all of `x`'s
/// leading axes (as PyTorch's `nn.Linear`). burn keeps an input such as ConvNeXt's
/// `[batch, height, width, channels]` batched when merging would make the output less square,
/// and LibTorch then runs one small product per batch and row (224 products of 56 rows instead
/// of one of 12,544 in ConvNeXt-B's first stage).
pub fn linear<const D: usize>(layer: &Linear, x: Tensor<D>) -> Tensor<D> {
    if D > 2 {
        let dims = x.dims();
        let rows = dims[..D - 1].iter().product();
        let y = linear(layer, x.reshape([rows, dims[D - 1]]));
        let mut out = dims;
        out[D - 1] = y.dims()[1];
        return y.reshape(out);
    }
    match current().low() {
        None => layer.forward(x),
        Some(dtype) => forward_in!(dtype, layer, x),
    }
}

/// `a.matmul(b)` in the precision in force.
pub fn matmul<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<D> {
    match current().low() {
        None => a.matmul(b),
        Some(dtype) => a.cast(dtype).matmul(b.cast(dtype)).cast(FloatDType::F32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The product over all leading axes keeps each row's place.
    #[test]
    fn linear_over_leading_axes_equals_the_layers_own() {
        use crate::burn::nn::LinearConfig;
        use crate::burn::tensor::{Device, Distribution, Tolerance};
        let device = Device::flex();
        let layer = LinearConfig::new(5, 3).init(&device);
        let x = Tensor::<4>::random([2, 3, 32, 5], Distribution::Default, &device);
        linear(&layer, x.clone())
            .into_data()
            .assert_approx_eq::<f32>(&layer.forward(x).into_data(), Tolerance::default());
    }

    #[test]
    fn scopes_nest_and_restore() {
        assert_eq!(current(), Precision::F32);
        {
            let _outer = scoped(Precision::Bf16);
            assert_eq!(current(), Precision::Bf16);
            {
                let _inner = scoped(Precision::F32);
                assert_eq!(current(), Precision::F32);
            }
            assert_eq!(current(), Precision::Bf16);
            // Other threads keep their own setting.
            std::thread::spawn(|| assert_eq!(current(), Precision::F32))
                .join()
                .unwrap();
        }
        assert_eq!(current(), Precision::F32);
    }

    #[test]
    fn precisions_parse_and_print() {
        for p in [Precision::F32, Precision::Bf16] {
            assert_eq!(Precision::parse(&p.to_string()), Ok(p));
        }
        assert!(
            Precision::parse("fp16")
                .unwrap_err()
                .contains("valid: f32, bf16")
        );
    }
}
