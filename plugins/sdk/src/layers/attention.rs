//! Scaled dot-product attention, `softmax(q·kᵀ / √d)·v`, as ViT's and CLIP's blocks compute it.
//!
//! burn's autodiff records it as a scaling, two batched matrix products and a softmax, and
//! materialises the `[batch, heads, tokens, tokens]` weights forward and backward. PyTorch's
//! `nn.MultiheadAttention` runs LibTorch's fused CPU kernel (`scaled_dot_product_attention`,
//! flash attention) both ways. While training on LibTorch on the CPU in float32 without
//! attention dropout, [`attention`] does too, as one node of burn's autodiff graph; everywhere
//! else it is burn's composition.

use crate::autocast;
use crate::burn::nn::Dropout;
use crate::burn::tensor::Tensor;
use crate::burn::tensor::activation::softmax;

/// `softmax(q·kᵀ / √d)·v` for `q`, `k`, `v` of shape `[batch, heads, tokens, d]`, with
/// `dropout` on the attention weights.
pub fn attention(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>, dropout: &Dropout) -> Tensor<4> {
    #[cfg(feature = "tch")]
    if dropout.prob == 0.0
        && autocast::current().low().is_none()
        && let Some(strategy) = crate::libtorch::graph(&q)
        && crate::libtorch::on_cpu(&q)
    {
        return libtorch::attention(strategy, q, k, v);
    }
    let head_dim = q.dims()[3];
    let scores = autocast::matmul(
        q.mul_scalar((head_dim as f64).powf(-0.5)),
        k.swap_dims(2, 3),
    );
    autocast::matmul(dropout.forward(softmax(scores, 3)), v)
}

#[cfg(feature = "tch")]
#[allow(deprecated)] // burn marks its LibTorch backend deprecated (see core/spec's device.rs)
mod libtorch {
    use burn::backend::autodiff::NodeId;
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
    use burn::backend::libtorch::TchTensor;
    use burn::backend::{AutodiffBackend, GradientCheckpointingStrategy, LibTorch};
    use burn::tensor::Tensor;

    use crate::libtorch::{Primitive, Tracked, primitive, with_strategy};

    /// The graph node: LibTorch's flash attention for the CPU, forward and backward.
    #[derive(Debug)]
    struct FlashAttention;

    /// q, k and v (checkpointed), and what the forward kernel returns for the backward one: the
    /// output and the log-sum-exp of each query's scores.
    type State = ([NodeId; 3], TchTensor, TchTensor);

    impl Backward<LibTorch, 3> for FlashAttention {
        type State = State;

        fn backward(
            self,
            ops: Ops<State, 3>,
            grads: &mut Gradients,
            checkpointer: &mut Checkpointer,
        ) {
            let grad = grads.consume::<LibTorch>(&ops.node);
            let ([q, k, v], output, logsumexp) = ops.state;
            let [q, k, v] = [q, k, v].map(|id| checkpointer.retrieve_node_output::<TchTensor>(id));
            let (grad_q, grad_k, grad_v) =
                tch::Tensor::internal_scaled_dot_product_flash_attention_for_cpu_backward(
                    &grad.tensor,
                    &q.tensor,
                    &k.tensor,
                    &v.tensor,
                    &output.tensor,
                    &logsumexp.tensor,
                    0.0,
                    false,
                    None::<&tch::Tensor>,
                    None,
                );
            for (parent, grad) in ops.parents.into_iter().zip([grad_q, grad_k, grad_v]) {
                if let Some(parent) = parent {
                    grads.register::<LibTorch>(parent.id, TchTensor::new(grad));
                }
            }
        }
    }

    fn forward(q: &TchTensor, k: &TchTensor, v: &TchTensor) -> (tch::Tensor, tch::Tensor) {
        tch::Tensor::internal_scaled_dot_product_flash_attention_for_cpu(
            &q.tensor,
            &k.tensor,
            &v.tensor,
            0.0,
            false,
            None::<&tch::Tensor>,
            None,
        )
    }

    /// Attention over autodiff LibTorch tensors as one node of their graph.
    pub(super) fn attention(
        strategy: GradientCheckpointingStrategy,
        q: Tensor<4>,
        k: Tensor<4>,
        v: Tensor<4>,
    ) -> Tensor<4> {
        with_strategy!(strategy, C => Tensor::from_primitive::<Tracked<C>>(node::<C>(
            primitive!(C, q),
            primitive!(C, k),
            primitive!(C, v),
        )))
    }

    fn node<C: CheckpointStrategy>(q: Primitive, k: Primitive, v: Primitive) -> Primitive {
        let inner = |x: &Primitive| Tracked::<C>::inner(x.clone());
        match FlashAttention
            .prepare::<C>([q.node(), k.node(), v.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let saved = [
                    prep.checkpoint(&q),
                    prep.checkpoint(&k),
                    prep.checkpoint(&v),
                ];
                let (output, logsumexp) = forward(&inner(&q), &inner(&k), &inner(&v));
                let state = (
                    saved,
                    TchTensor::new(output.shallow_clone()),
                    TchTensor::new(logsumexp),
                );
                prep.finish(state, TchTensor::new(output))
            }
            OpsKind::UnTracked(prep) => prep.finish(TchTensor::new(
                forward(&inner(&q), &inner(&k), &inner(&v)).0,
            )),
        }
    }
}
