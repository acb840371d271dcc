//! Activations for plugins: burn's, except while training on LibTorch, where each runs as one
//! operation with LibTorch's own forward and backward kernels (the ones PyTorch runs).
//!
//! burn builds ReLU6 from comparisons and masked fills, forward and backward; LibTorch's masked
//! fill is a serial scalar kernel, about 15× slower than a clamp on the same tensor, and it took
//! a fifth of EfficientNet-Lite0's training step on `tch`. burn builds SiLU as `x · sigmoid(x)`,
//! two operations forward and five backward. Here, on an autodiff LibTorch tensor, ReLU6 is
//! `clamp` + `hardtanh_backward` and SiLU is `silu` + `silu_backward`. On every other tensor
//! (flex, LibTorch without autodiff) these are burn's functions.

use burn::tensor::{Tensor, activation};

/// `min(max(x, 0), 6)`.
pub fn relu6<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    #[cfg(feature = "tch")]
    return libtorch::apply(libtorch::Relu6, x, activation::relu6);
    #[cfg(not(feature = "tch"))]
    activation::relu6(x)
}

/// `x · sigmoid(x)` (also called swish).
pub fn silu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    #[cfg(feature = "tch")]
    return libtorch::apply(libtorch::Silu, x, activation::silu);
    #[cfg(not(feature = "tch"))]
    activation::silu(x)
}

#[cfg(feature = "tch")]
#[allow(deprecated)] // burn marks its LibTorch backend deprecated (see core/spec's device.rs)
mod libtorch {
    use std::fmt::Debug;

    use burn::backend::autodiff::NodeId;
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
    use burn::backend::libtorch::TchTensor;
    use burn::backend::{AutodiffBackend, LibTorch};
    use burn::tensor::Tensor;

    use crate::libtorch::{Primitive, Tracked, graph, primitive, with_strategy};

    /// An element-wise function whose gradient needs only its input.
    pub(super) trait Pointwise: Copy + Send + Debug + 'static {
        fn forward(self, x: &tch::Tensor) -> tch::Tensor;
        fn backward(self, x: &tch::Tensor, grad: &tch::Tensor) -> tch::Tensor;
    }

    #[derive(Clone, Copy, Debug)]
    pub(super) struct Relu6;

    impl Pointwise for Relu6 {
        fn forward(self, x: &tch::Tensor) -> tch::Tensor {
            x.clamp(0.0, 6.0)
        }
        fn backward(self, x: &tch::Tensor, grad: &tch::Tensor) -> tch::Tensor {
            // ReLU6 is hardtanh on [0, 6] (what torch.nn.ReLU6 computes).
            x.hardtanh_backward(grad, 0.0, 6.0)
        }
    }

    #[derive(Clone, Copy, Debug)]
    pub(super) struct Silu;

    impl Pointwise for Silu {
        fn forward(self, x: &tch::Tensor) -> tch::Tensor {
            x.silu()
        }
        fn backward(self, x: &tch::Tensor, grad: &tch::Tensor) -> tch::Tensor {
            x.silu_backward(grad)
        }
    }

    /// The autodiff graph's node for one [`Pointwise`] function.
    #[derive(Debug)]
    struct PointwiseOp<P>(P);

    impl<P: Pointwise> Backward<LibTorch, 1> for PointwiseOp<P> {
        type State = NodeId;

        fn backward(
            self,
            ops: Ops<NodeId, 1>,
            grads: &mut Gradients,
            checkpointer: &mut Checkpointer,
        ) {
            let input: TchTensor = checkpointer.retrieve_node_output(ops.state);
            unary::<LibTorch, _>(ops.parents, ops.node, grads, |grad| {
                TchTensor::new(self.0.backward(&input.tensor, &grad.tensor))
            });
        }
    }

    /// `f(x)` as one graph node when `x` is an autodiff LibTorch tensor, else `otherwise(x)`.
    pub(super) fn apply<P: Pointwise, const D: usize>(
        f: P,
        x: Tensor<D>,
        otherwise: fn(Tensor<D>) -> Tensor<D>,
    ) -> Tensor<D> {
        match graph(&x) {
            Some(strategy) => with_strategy!(strategy, C => {
                Tensor::from_primitive::<Tracked<C>>(node::<C, P>(f, primitive!(C, x)))
            }),
            None => otherwise(x),
        }
    }

    /// `f(x)` as one node of `x`'s autodiff LibTorch graph.
    fn node<C: CheckpointStrategy, P: Pointwise>(f: P, x: Primitive) -> Primitive {
        let forward = |x| TchTensor::new(f.forward(&Tracked::<C>::inner(x).tensor));
        match PointwiseOp(f)
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let state = prep.checkpoint(&x);
                prep.finish(state, forward(x))
            }
            OpsKind::UnTracked(prep) => prep.finish(forward(x)),
        }
    }
}

#[cfg(all(test, feature = "tch"))]
#[allow(deprecated)] // burn's LibTorch devices
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn tensor(values: &[f32], device: &Device) -> Tensor<1> {
        Tensor::from_data(TensorData::new(values.to_vec(), [values.len()]), device)
    }

    #[test]
    fn the_fused_path_runs_for_autodiff_libtorch_tensors_only() {
        let fused = |x: Tensor<1>| crate::libtorch::graph(&x).is_some();
        assert!(fused(
            tensor(&[1.0], &Device::libtorch().autodiff()).require_grad()
        ));
        // Untracked tensors of an autodiff graph too (one node, no backward).
        assert!(fused(tensor(&[1.0], &Device::libtorch().autodiff())));
        assert!(!fused(tensor(&[1.0], &Device::libtorch())));
        assert!(!fused(
            tensor(&[1.0], &Device::flex().autodiff()).require_grad()
        ));
        assert!(!fused(tensor(&[1.0], &Device::flex())));
    }

    /// At exactly 0 and 6 the fused ReLU6's gradient is 0, as PyTorch's `nn.ReLU6` (burn's
    /// composition passes the gradient there); elsewhere it is 1 inside (0, 6) and 0 outside.
    #[test]
    fn fused_relu6_has_pytorchs_gradient_at_its_kinks() {
        let x = tensor(&[-1.0, 0.0, 3.0, 6.0, 7.0], &Device::libtorch().autodiff()).require_grad();
        let y = relu6(x.clone());
        let grads = y.clone().sum().backward();
        let grad = x.grad(&grads).expect("x's gradient").into_data();
        assert_eq!(grad.try_to_vec::<f32>().unwrap(), [0.0, 0.0, 1.0, 0.0, 0.0]);
        assert_eq!(
            y.into_data().try_to_vec::<f32>().unwrap(),
            [0.0, 0.0, 3.0, 6.0, 6.0]
        );
    }
}
