//! What the SDK's LibTorch fast paths share (`activation`, `layers::attention`,
//! `layers::LayerNorm`): recognising an autodiff LibTorch tensor, and moving tensors between
//! burn's dispatch type and that backend's primitives.
//!
//! burn's autodiff composes some operations from many smaller ones, each recorded and
//! differentiated on its own. Where PyTorch runs one kernel forward and one backward, these
//! paths add one node to burn's autodiff graph that calls those kernels. (Batch norm needs no
//! such node: the patched burn-tch fuses it below autodiff, vendor/burn-tch/PATCHES.md.)

use burn::backend::{
    Autodiff, AutodiffBackend, BackendTensor, DispatchAutodiffContext, DispatchTensorKind,
    GradientCheckpointingStrategy, LibTorch,
};
use burn::tensor::Tensor;

/// Autodiff on LibTorch with checkpointing strategy `C`.
pub(crate) type Tracked<C> = Autodiff<LibTorch, C>;

/// How `x`'s graph checkpoints when `x` is an autodiff LibTorch tensor (tracked or not), else
/// `None`.
pub(crate) fn graph<const D: usize>(x: &Tensor<D>) -> Option<GradientCheckpointingStrategy> {
    let dispatch = x.clone().into_dispatch();
    let DispatchAutodiffContext::Enabled(strategy) = dispatch.autodiff else {
        return None;
    };
    let DispatchTensorKind::Autodiff(inner) = &dispatch.kind else {
        return None;
    };
    matches!(
        &**inner,
        DispatchTensorKind::LibTorch(BackendTensor::Autodiff(_))
    )
    .then_some(strategy)
}

/// Whether an autodiff LibTorch tensor (see [`graph`]) lives on the CPU.
pub(crate) fn on_cpu<const D: usize>(x: &Tensor<D>) -> bool {
    let DispatchTensorKind::Autodiff(inner) = x.clone().into_dispatch().kind else {
        return false;
    };
    match *inner {
        DispatchTensorKind::LibTorch(BackendTensor::Autodiff(tensor)) => {
            <Autodiff<LibTorch> as AutodiffBackend>::inner(tensor)
                .tensor
                .device()
                == tch::Device::Cpu
        }
        _ => false,
    }
}

/// An autodiff LibTorch tensor's primitive (the same type for every checkpointing strategy).
pub(crate) type Primitive =
    <Autodiff<LibTorch> as burn::backend::BackendTypes>::FloatTensorPrimitive;

/// `$x`'s [`Primitive`] (`$x` is a `Tensor` on `Autodiff<LibTorch, $C>`, checked by the caller).
macro_rules! primitive {
    ($C:ty, $x:expr) => {
        $x.try_into_primitive::<burn::backend::Autodiff<burn::backend::LibTorch, $C>>()
            .expect("an autodiff LibTorch tensor (checked by the caller)")
    };
}
pub(crate) use primitive;

/// `$body` with the type `$C` naming the checkpointing strategy that `$strategy` names (the
/// strategy is part of the backend's type, so each needs its own instance of the code).
macro_rules! with_strategy {
    ($strategy:expr, $C:ident => $body:expr) => {
        match $strategy {
            burn::backend::GradientCheckpointingStrategy::Disabled => {
                type $C = burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
                $body
            }
            burn::backend::GradientCheckpointingStrategy::Balanced => {
                type $C = burn::backend::autodiff::checkpoint::strategy::BalancedCheckpointing;
                $body
            }
        }
    };
}
pub(crate) use with_strategy;
