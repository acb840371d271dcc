//! `runner bench`: how many images per second a run's training step takes, model alone.
//!
//! The run's backbone and head are built as training builds them (options, variant, freezing,
//! optimizer, gradient clipping, device and precision from the experiment file), then trained on
//! one batch of synthetic images and targets that stays on the device, so the number measures
//! forward, backward, clipping and the optimizer step and nothing of the data pipeline or of
//! the disk. The device is waited for once after the warm-up steps and once after the timed
//! ones (reading the loss back); the steps in between are queued as training queues them.
//! Nothing is written.

use std::time::Instant;

use rateme_sdk::burn::tensor::{Distribution, Tensor};
use rateme_spec::device::DeviceSpec;
use rateme_spec::{Experiment, RunSpec};

use super::model::apply_freeze;
use super::run::{RunError, start_run};
use super::step;
use crate::plugins::PluginHost;

/// One run's measured training throughput.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchResult {
    /// Run name.
    pub run: String,
    /// `plugin/variant` of the backbone.
    pub backbone: String,
    /// Head plugin.
    pub head: String,
    /// Input height and width.
    pub input: (u32, u32),
    /// Images per step.
    pub batch: usize,
    /// Device name.
    pub device: String,
    /// `f32` or `bf16`.
    pub precision: String,
    /// Parameters of backbone and head.
    pub params: usize,
    /// Training images per second over the timed steps.
    pub images_per_s: f64,
    /// Milliseconds per step.
    pub step_ms: f64,
    /// The last step's loss (finite, or the measurement is refused).
    pub loss: f64,
}

/// Measures `spec`'s training step: `warmup` steps, then `steps` timed ones.
pub fn bench_run(
    exp: &Experiment,
    spec: &RunSpec,
    host: &PluginHost,
    device: Option<&DeviceSpec>,
    warmup: usize,
    steps: usize,
) -> Result<BenchResult, RunError> {
    let (device_spec, precision, device, mut model) = start_run(exp, spec, host, device)?;
    let _precision = rateme_sdk::autocast::scoped(precision);
    apply_freeze(exp, spec, &mut model)?;
    let input = model.backbone.input_spec().clone();
    let batch = spec.batch_size;
    let (h, w) = (input.height as usize, input.width as usize);
    let x = Tensor::<4>::random([batch, 3, h, w], Distribution::Normal(0.0, 1.0), &device);
    let y = Tensor::<2>::random([batch, 1], Distribution::Uniform(0.0, 10.0), &device);
    let lr = spec.optimizer.lr;
    let mut train_step = || {
        let pred = model
            .head
            .forward(model.backbone.forward_features(x.clone()));
        let loss = (pred - y.clone()).square().mean();
        let value = loss.clone().detach();
        let mut grads = loss.backward();
        model.backbone.part().collect_grads(&mut grads);
        model.head.part().collect_grads(&mut grads);
        step::clip_and_step(
            &mut model,
            lr,
            spec.backbone.lr_scale,
            spec.optimizer.grad_clip,
        );
        value
    };
    let read = |loss: Tensor<1>| -> f64 { f64::from(loss.into_scalar::<f32>()) };
    let mut last = None;
    for _ in 0..warmup {
        last = Some(train_step());
    }
    if let Some(loss) = last.take() {
        read(loss);
    }
    let start = Instant::now();
    for _ in 0..steps {
        last = Some(train_step());
    }
    let loss = last.map(read).unwrap_or(f64::NAN);
    let seconds = start.elapsed().as_secs_f64();
    if steps > 0 && !loss.is_finite() {
        return Err(RunError::NonFinite {
            what: "training loss",
            value: loss,
            batch: (warmup + steps) as u64,
            lr,
        });
    }
    let params = model.backbone.part_ref().num_params() + model.head.part_ref().num_params();
    Ok(BenchResult {
        run: spec.name.clone(),
        backbone: format!("{}/{}", model.card.backbone, model.card.variant),
        head: spec.head.plugin.get_ref().clone(),
        input: (input.height, input.width),
        batch,
        device: device_spec.to_string(),
        precision: precision.to_string(),
        params,
        images_per_s: (batch * steps) as f64 / seconds,
        step_ms: seconds * 1e3 / steps.max(1) as f64,
        loss,
    })
}
