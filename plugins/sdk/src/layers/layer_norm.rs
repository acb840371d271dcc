//! Layer norm over the last axis: burn's `nn::LayerNorm` (same parameters, names and result),
//! with LibTorch's fused kernels while training on LibTorch.
//!
//! burn's autodiff records layer norm as about ten tensor operations (means, a variance,
//! element-wise arithmetic) and differentiates each; PyTorch runs `native_layer_norm` and its
//! backward, one kernel each. On an autodiff LibTorch tensor in float32 this layer does the
//! same, as one node of burn's autodiff graph (the backward through the patched burn-tch's
//! entry point, vendor/burn-tch/PATCHES.md). Everywhere else it computes burn's `layer_norm`.
//! (burn's own layer keeps its epsilon private, so a function taking it could not read it.)

use crate::burn::module::{Module, Param};
use crate::burn::nn::Initializer;
use crate::burn::tensor::{DType, Device, FloatDType, Tensor};

/// Configuration of a [`LayerNorm`] (burn's `LayerNormConfig`'s defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerNormConfig {
    /// The size of the normalised (last) axis.
    pub d_model: usize,
    /// Added to the variance before the square root. Default 1e-5 (PyTorch's).
    pub epsilon: f64,
    /// Whether there is a learnable shift `beta`. Default true.
    pub bias: bool,
}

impl LayerNormConfig {
    /// Over `d_model` features, epsilon 1e-5, with a bias.
    pub fn new(d_model: usize) -> Self {
        Self {
            d_model,
            epsilon: 1e-5,
            bias: true,
        }
    }

    /// With this epsilon.
    pub fn with_epsilon(self, epsilon: f64) -> Self {
        Self { epsilon, ..self }
    }

    /// With or without the shift `beta`.
    pub fn with_bias(self, bias: bool) -> Self {
        Self { bias, ..self }
    }

    /// A layer with `gamma` = 1 and `beta` = 0.
    pub fn init(&self, device: &Device) -> LayerNorm {
        LayerNorm {
            gamma: Initializer::Ones.init([self.d_model], device),
            beta: self
                .bias
                .then(|| Initializer::Zeros.init([self.d_model], device)),
            epsilon: self.epsilon,
        }
    }
}

/// `(x - mean) / sqrt(var + epsilon) * gamma + beta` over the last axis (biased variance).
#[derive(Module, Debug)]
pub struct LayerNorm {
    /// The scale, `[d_model]`.
    pub gamma: Param<Tensor<1>>,
    /// The shift, `[d_model]`, if any.
    pub beta: Option<Param<Tensor<1>>>,
    /// Added to the variance before the square root.
    pub epsilon: f64,
}

impl LayerNorm {
    /// `[..., d_model]` → `[..., d_model]`.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let gamma = self.gamma.val();
        let beta = self.beta.as_ref().map(|beta| beta.val());
        #[cfg(feature = "tch")]
        if x.dtype() == DType::F32
            && let Some(strategy) = crate::libtorch::graph(&x)
        {
            return libtorch::layer_norm(strategy, x, gamma, beta, self.epsilon);
        }
        // Half precision accumulates in float32, as burn's layer does.
        match x.dtype() {
            DType::F16 => crate::burn::tensor::module::layer_norm(
                x.cast(FloatDType::F32),
                gamma.cast(FloatDType::F32),
                beta.map(|beta| beta.cast(FloatDType::F32)),
                self.epsilon,
            )
            .cast(FloatDType::F16),
            _ => crate::burn::tensor::module::layer_norm(x, gamma, beta, self.epsilon),
        }
    }
}

#[cfg(feature = "tch")]
#[allow(deprecated)] // burn marks its LibTorch backend deprecated (see core/spec's device.rs)
mod libtorch {
    use burn::backend::autodiff::NodeId;
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
    use burn::backend::libtorch::{TchTensor, rateme};
    use burn::backend::{AutodiffBackend, GradientCheckpointingStrategy, LibTorch};
    use burn::tensor::Tensor;

    use crate::libtorch::{Primitive, Tracked, primitive, with_strategy};

    /// The graph node: LibTorch's `native_layer_norm` and its backward. Parents: the input,
    /// `gamma` and, when `N` is 3, `beta`.
    #[derive(Debug)]
    struct FusedLayerNorm;

    /// What the backward needs: the input and `gamma` (checkpointed), `beta` (only whether it
    /// exists and its shape matter), the per-row mean and reciprocal standard deviation the
    /// forward kernel returned, and the size of the normalised axis.
    #[derive(Debug, Clone)]
    struct State {
        x: NodeId,
        gamma: NodeId,
        beta: Option<TchTensor>,
        mean: TchTensor,
        rstd: TchTensor,
        d_model: i64,
    }

    impl<const N: usize> Backward<LibTorch, N> for FusedLayerNorm {
        type State = State;

        fn backward(
            self,
            ops: Ops<State, N>,
            grads: &mut Gradients,
            checkpointer: &mut Checkpointer,
        ) {
            let grad = grads.consume::<LibTorch>(&ops.node);
            let state = ops.state;
            let x: TchTensor = checkpointer.retrieve_node_output(state.x);
            let gamma: TchTensor = checkpointer.retrieve_node_output(state.gamma);
            let wanted = |i: usize| ops.parents.get(i).is_some_and(Option::is_some);
            let gradients = rateme::layer_norm_backward(
                &grad.tensor,
                &x.tensor,
                &[state.d_model],
                &state.mean.tensor,
                &state.rstd.tensor,
                Some(&gamma.tensor),
                state.beta.as_ref().map(|beta| &beta.tensor),
                [wanted(0), wanted(1), wanted(2)],
            );
            for (parent, gradient) in ops.parents.into_iter().zip(gradients) {
                if let (Some(parent), Some(gradient)) = (parent, gradient) {
                    grads.register::<LibTorch>(parent.id, TchTensor::new(gradient));
                }
            }
        }
    }

    /// Layer norm of an autodiff LibTorch tensor as one node of its graph.
    pub(super) fn layer_norm<const D: usize>(
        strategy: GradientCheckpointingStrategy,
        x: Tensor<D>,
        gamma: Tensor<1>,
        beta: Option<Tensor<1>>,
        epsilon: f64,
    ) -> Tensor<D> {
        with_strategy!(strategy, C => Tensor::from_primitive::<Tracked<C>>(node::<C>(
            primitive!(C, x),
            primitive!(C, gamma),
            beta.map(|beta| primitive!(C, beta)),
            epsilon,
        )))
    }

    fn node<C: CheckpointStrategy>(
        x: Primitive,
        gamma: Primitive,
        beta: Option<Primitive>,
        epsilon: f64,
    ) -> Primitive {
        let inner = |t: &Primitive| Tracked::<C>::inner(t.clone());
        let (x_inner, gamma_inner) = (inner(&x), inner(&gamma));
        let beta_inner = beta.as_ref().map(inner);
        let d_model = *x_inner.tensor.size().last().expect("a tensor with axes");
        let (output, mean, rstd) = rateme::layer_norm(
            &x_inner.tensor,
            &[d_model],
            Some(&gamma_inner.tensor),
            beta_inner.as_ref().map(|beta| &beta.tensor),
            epsilon,
        );
        // One node type for both arities: with `beta` as a third parent or without.
        macro_rules! finish {
            ($parents:expr) => {
                match FusedLayerNorm
                    .prepare::<C>($parents)
                    .compute_bound()
                    .stateful()
                {
                    OpsKind::Tracked(mut prep) => {
                        let state = State {
                            x: prep.checkpoint(&x),
                            gamma: prep.checkpoint(&gamma),
                            beta: beta_inner,
                            mean: TchTensor::new(mean),
                            rstd: TchTensor::new(rstd),
                            d_model,
                        };
                        prep.finish(state, TchTensor::new(output))
                    }
                    OpsKind::UnTracked(prep) => prep.finish(TchTensor::new(output)),
                }
            };
        }
        match &beta {
            Some(beta) => finish!([x.node(), gamma.node(), beta.node()]),
            None => finish!([x.node(), gamma.node()]),
        }
    }
}
