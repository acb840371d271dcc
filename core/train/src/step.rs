//! The optimisation step without waiting for the device: the gradient norm, its clipping scale
//! and the losses stay device tensors; the loop reads the losses of a window of batches back in
//! one go ([`LossWindow`]), where it logs and evaluates anyway.

use rateme_sdk::burn::tensor::{Tensor, TensorData};

use super::model::BuiltModel;

/// Global-norm gradient clipping and the optimizer step of both parts, on the device.
///
/// With `grad_clip = Some(max_norm)`: the global norm over both parts' collected gradients and
/// PyTorch's `clip_grad_norm_` scale, `min(1, max_norm / (norm + 1e-6))`, in `f32` on the
/// device, multiply every gradient before the step. Returns the norm (a one-element tensor, not
/// read) so a non-finite one can be reported later. Without clipping the gradients are applied
/// as they are.
pub fn clip_and_step(
    model: &mut BuiltModel,
    lr: f64,
    backbone_lr_scale: f64,
    grad_clip: Option<f64>,
) -> Option<Tensor<1>> {
    let (backbone, head) = (&mut model.backbone, &mut model.head);
    let Some(max_norm) = grad_clip else {
        backbone.part().step(lr * backbone_lr_scale, 1.0);
        head.part().step(lr, 1.0);
        return None;
    };
    let sum = [
        backbone.part_ref().grad_sq_norm_tensor(),
        head.part_ref().grad_sq_norm_tensor(),
    ]
    .into_iter()
    .flatten()
    .reduce(|a, b| a + b);
    let Some(sum) = sum else {
        // Nothing collected: nothing to apply (both steps do nothing).
        backbone.part().step(lr * backbone_lr_scale, 1.0);
        head.part().step(lr, 1.0);
        return None;
    };
    let norm = sum.sqrt();
    let max = Tensor::<1>::from_data(TensorData::new(vec![max_norm as f32], [1]), &norm.device());
    let scale = (max / norm.clone().add_scalar(1e-6)).clamp_max(1.0);
    backbone.part().step_scaled(lr * backbone_lr_scale, &scale);
    head.part().step_scaled(lr, &scale);
    Some(norm)
}

/// A step's results not read yet.
struct Pending {
    batch: u64,
    lr: f64,
    loss: Tensor<1>,
    norm: Option<Tensor<1>>,
}

/// One batch's loss, read back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReadLoss {
    /// Batch number.
    pub batch: u64,
    /// Learning rate it trained with.
    pub lr: f64,
    /// Its loss.
    pub loss: f64,
}

/// A batch whose loss or gradient norm was NaN or infinite: the first of its window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NonFinite {
    /// `training loss` or `gradient norm`.
    pub what: &'static str,
    /// Batch number.
    pub batch: u64,
    /// The value (loss, or gradient norm when the loss was finite).
    pub value: f64,
    /// Learning rate it trained with.
    pub lr: f64,
}

/// The losses (and gradient norms) of the batches since the last read, kept on the device.
#[derive(Default)]
pub struct LossWindow {
    pending: Vec<Pending>,
}

impl LossWindow {
    /// Batches a window holds before the loop reads it, when no evaluation or checkpoint
    /// comes first: the step waits for the device once per this many batches.
    pub const BATCHES: u64 = 10;

    /// Keeps batch `batch`'s loss and gradient norm (detached one-element tensors).
    pub fn push(&mut self, batch: u64, lr: f64, loss: Tensor<1>, norm: Option<Tensor<1>>) {
        self.pending.push(Pending {
            batch,
            lr,
            loss,
            norm,
        });
    }

    /// Whether nothing is waiting to be read.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Reads every pending loss and norm with one transfer, in batch order; the first batch
    /// with a NaN or infinite loss or norm is an error (the later ones are dropped).
    pub fn read(&mut self) -> Result<Vec<ReadLoss>, NonFinite> {
        let pending = std::mem::take(&mut self.pending);
        if pending.is_empty() {
            return Ok(Vec::new());
        }
        let mut parts = Vec::with_capacity(2 * pending.len());
        for p in &pending {
            parts.push(p.loss.clone());
            if let Some(norm) = &p.norm {
                parts.push(norm.clone());
            }
        }
        let values = Tensor::cat(parts, 0)
            .into_data()
            .try_to_vec::<f32>()
            .expect("f32 losses");
        let mut values = values.into_iter().map(f64::from);
        let mut out = Vec::with_capacity(pending.len());
        for p in pending {
            let loss = values.next().expect("one value per loss");
            let norm = p
                .norm
                .is_some()
                .then(|| values.next().expect("one value per norm"));
            if !loss.is_finite() {
                return Err(NonFinite {
                    what: "training loss",
                    batch: p.batch,
                    value: loss,
                    lr: p.lr,
                });
            }
            if let Some(norm) = norm.filter(|n| !n.is_finite()) {
                return Err(NonFinite {
                    what: "gradient norm",
                    batch: p.batch,
                    value: norm,
                    lr: p.lr,
                });
            }
            out.push(ReadLoss {
                batch: p.batch,
                lr: p.lr,
                loss,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rateme_sdk::burn::tensor::Device;

    fn scalar(v: f32) -> Tensor<1> {
        Tensor::from_data(TensorData::new(vec![v], [1]), &Device::flex())
    }

    #[test]
    fn a_window_reads_in_order_and_names_the_first_bad_batch() {
        let mut w = LossWindow::default();
        w.push(1, 0.1, scalar(2.0), Some(scalar(3.0)));
        w.push(2, 0.1, scalar(4.0), None);
        let read = w.read().unwrap();
        assert_eq!(
            read.iter().map(|r| (r.batch, r.loss)).collect::<Vec<_>>(),
            [(1, 2.0), (2, 4.0)]
        );
        assert!(w.is_empty());
        w.push(3, 0.2, scalar(1.0), Some(scalar(f32::INFINITY)));
        w.push(4, 0.2, scalar(f32::NAN), None);
        let bad = w.read().unwrap_err();
        assert_eq!((bad.what, bad.batch, bad.lr), ("gradient norm", 3, 0.2));
        w.push(5, 0.3, scalar(1.0), None);
        w.push(6, 0.3, scalar(f32::NAN), Some(scalar(1.0)));
        let bad = w.read().unwrap_err();
        assert_eq!((bad.what, bad.batch), ("training loss", 6));
        assert!(bad.value.is_nan());
    }
}
