//! One training run, start to end (or resumed from its checkpoint).

use std::path::{Path, PathBuf};
use std::time::Instant;

use rateme_sdk::burn::tensor::{Device, Tensor, TensorData};
use rateme_sdk::{Backbone, Head, PluginError};
use serde::{Deserialize, Serialize};

use super::checkpoint::{self, Tensors, TrainState};
use super::events::{CsvSink, EvalRecord, Event, Sink};
use super::feed::{self, Cursor, Feed};
use super::metrics;
use super::model::{BuiltModel, ModelCard, apply_freeze, build_model, check_run, load_pretrained};
use super::schedule::Plateau;
use super::step::{self, LossWindow};
use super::writer::{Job, WriteFailed, Writer};
use crate::plugins::PluginHost;
use rateme_data::{self as data, Batch, DataError};
use rateme_sdk::{InputSpec, Precision};
use rateme_spec::device::DeviceSpec;
use rateme_spec::{Experiment, RunSpec};
use rateme_util::rng::Rng;

const STREAM_DROPOUT: u64 = 0xd20;

/// Why a run failed. The sweep reports it and goes on with the next run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The run's plugins or options are wrong (located in the experiment file).
    #[error(transparent)]
    Spec(#[from] super::model::PluginSpecError),
    /// The device cannot be used by this build.
    #[error("device: {0}")]
    Device(String),
    /// Data problem.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A plugin reported an error.
    #[error("plugin: {0}")]
    Plugin(#[from] PluginError),
    /// The loss or the gradient norm became NaN or infinite (`what` says which).
    #[error(
        "{what} is {value} at batch {batch} (lr {lr:e}); lower optimizer.lr or set optimizer.grad_clip"
    )]
    NonFinite {
        what: &'static str,
        batch: u64,
        value: f64,
        lr: f64,
    },
    /// The checkpoint cannot be resumed.
    #[error("cannot resume from {}: {message}", path.display())]
    Resume { path: PathBuf, message: String },
    /// Writing outputs failed.
    #[error("{}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    /// A fresh start would replace results already there: the user must choose.
    #[error("{}", would_overwrite(run, dir, found))]
    WouldOverwrite {
        /// Run name.
        run: String,
        /// Its output directory.
        dir: PathBuf,
        /// What is there (names from [`RUN_OUTPUTS`]).
        found: Vec<&'static str>,
    },
    /// Another process is training this run now (its directory's lock is held).
    #[error(
        "run `{run}` is being trained by another process now (it holds {}): wait for it, or stop it first; nothing was changed",
        path.display()
    )]
    Busy { run: String, path: PathBuf },
    /// Ctrl-C or SIGTERM: stopped after `batch` with a checkpoint written.
    #[error("stopped by the user after batch {batch}; `--resume` continues from there")]
    Interrupted { batch: u64 },
}

/// What a run writes into its directory that a fresh start replaces.
pub const RUN_OUTPUTS: [&str; 6] = [
    "checkpoint",
    "checkpoint.old",
    "checkpoint.new",
    "best",
    "summary.json",
    "metrics.csv",
];

/// A run that failed: `failed.json` in its directory, written by the sweep when the run fails
/// (not when the user stops it) and removed when it starts again. `runner report` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedRun {
    /// Run name.
    pub run: String,
    /// Why it failed (the sweep's message).
    pub error: String,
}

impl FailedRun {
    /// The record's file name in a run directory.
    pub const FILE: &'static str = "failed.json";

    /// Writes the record into `dir` (created when missing) and gives the message back. A record
    /// that cannot be written is only logged: the sweep reports the failure either way.
    pub fn record(dir: &Path, run: &str, error: String) -> String {
        let record = Self {
            run: run.to_owned(),
            error,
        };
        let json = serde_json::to_vec_pretty(&record).expect("a failure record serialises");
        let path = dir.join(Self::FILE);
        if let Err(e) = std::fs::create_dir_all(dir)
            .and_then(|()| rateme_util::fsutil::write_atomic(&path, &json))
        {
            tracing::warn!(path = %path.display(), "recording the failure: {e}");
        }
        record.error
    }

    /// Removes the record from `dir`, if there is one.
    pub fn clear(dir: &Path) {
        let path = dir.join(Self::FILE);
        if let Err(e) = std::fs::remove_file(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), "removing an old failure record: {e}");
        }
    }

    /// The record in `dir`, if there is a readable one.
    pub fn read(dir: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(dir.join(Self::FILE)).ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// The [`RUN_OUTPUTS`] present in `dir`.
pub fn existing_outputs(dir: &Path) -> Vec<&'static str> {
    RUN_OUTPUTS
        .into_iter()
        .filter(|name| dir.join(name).exists())
        .collect()
}

/// The one-line refusal to start a run over its earlier results.
pub fn would_overwrite(run: &str, dir: &Path, found: &[&str]) -> String {
    format!(
        "run `{run}` already has results in {} ({}): pass --resume to continue it from its \
         checkpoint (a finished run is kept as it is), or --restart to delete them and train it \
         from scratch; nothing was deleted",
        dir.display(),
        found.join(", ")
    )
}

/// The lock file in a run directory (kept; only its lock matters).
pub const LOCK_FILE: &str = "run.lock";

fn lock_run_dir(dir: &Path, run: &str) -> Result<std::fs::File, RunError> {
    let path = dir.join(LOCK_FILE);
    let file = rateme_util::fsutil::lock_file(&path).map_err(io(&path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(RunError::Busy {
            run: run.to_owned(),
            path,
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(io(&path)(e)),
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> RunError + '_ {
    move |e| RunError::Io {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

/// The results of a run: one row of the results table (saved as `summary.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Run name.
    pub run: String,
    /// `plugin/variant` of the backbone.
    pub backbone: String,
    /// Head plugin.
    pub head: String,
    /// Parameters (backbone + head).
    pub params: usize,
    /// Trainable parameters.
    pub trainable_params: usize,
    /// Mean training loss in the interval that ended at the best evaluation.
    pub train_loss: f64,
    /// Validation MSE at the best evaluation.
    pub val_loss: f64,
    /// Validation MAE at the best evaluation.
    pub val_mae: f64,
    /// MAE of always predicting the training-set mean.
    pub baseline_mae: f64,
    /// Spearman ρ at the best evaluation.
    pub spearman: f64,
    /// Batch of the best evaluation (lowest validation loss).
    pub best_batch: u64,
    /// Batches trained.
    pub batches: u64,
    /// Wall time in seconds (all sessions of the run).
    pub wall_s: f64,
    /// Training images per second (training steps only).
    pub images_per_s: f64,
    /// Device name.
    pub device: String,
    /// Training / validation sizes.
    pub train_size: usize,
    /// Validation size.
    pub val_size: usize,
    /// Every evaluation (for plots).
    pub history: Vec<EvalRecord>,
    /// Rows left out because their image cannot be used (listed in `skipped.csv`).
    #[serde(default)]
    pub skipped: u64,
    /// Seconds the training step waited for the loader (all sessions).
    #[serde(default)]
    pub loader_wait_s: f64,
    /// Upper bound of the loader's memory (batches, decoding, cache), in bytes.
    #[serde(default)]
    pub loader_memory_bytes: u64,
}

/// How to run.
pub struct RunOptions<'a> {
    /// The experiment the run belongs to.
    pub experiment: &'a Experiment,
    /// The run.
    pub spec: &'a RunSpec,
    /// Loaded plugins.
    pub host: &'a PluginHost,
    /// Device override (`--device`).
    pub device: Option<DeviceSpec>,
    /// Continue from the run's checkpoint when there is one.
    pub resume: bool,
    /// Start from scratch even when the run has results: they are deleted. Without `resume` or
    /// `restart`, a run with results is refused ([`RunError::WouldOverwrite`]).
    pub restart: bool,
    /// Extra listeners (progress display, ...). The CSV sink is always added.
    pub sinks: Vec<Box<dyn Sink + 'a>>,
}

fn column(values: &[f32], idx: &[usize], ok: &[bool], device: &Device) -> Tensor<2> {
    let v: Vec<f32> = idx
        .iter()
        .zip(ok)
        .map(|(&i, &ok)| if ok { values[i] } else { 0.0 })
        .collect();
    Tensor::from_data(TensorData::new(v, [idx.len(), 1]), device)
}

fn pixels(batch: Batch, input: &InputSpec, device: &Device) -> Tensor<4> {
    let n = batch.indices.len();
    let shape = [n, 3, input.height as usize, input.width as usize];
    Tensor::from_data(TensorData::new(batch.pixels, shape), device)
}

fn predict(backbone: &Backbone, head: &Head, x: Tensor<4>) -> Tensor<2> {
    head.forward(backbone.forward_features(x))
}

/// One optimisation step on `batch`, returning its loss and (when clipping) gradient norm as
/// device tensors, not read (see [`step`](super::step)). Rows whose image could not be used
/// weigh nothing; a batch with none usable is skipped (`None`).
fn train_step(
    model: &mut BuiltModel,
    feed: &Feed,
    device: &Device,
    spec: &RunSpec,
    batch: Batch,
    lr: f64,
) -> Option<(Tensor<1>, Option<Tensor<1>>)> {
    let batch_no = batch.batch_no;
    let usable = batch
        .indices
        .iter()
        .zip(&batch.ok)
        .filter(|&(&i, &ok)| ok && feed.weights[i] > 0.0)
        .count();
    if usable == 0 {
        tracing::warn!(
            batch = batch_no,
            "no usable image in the batch; step skipped"
        );
        return None;
    }
    let y = column(&feed.targets, &batch.indices, &batch.ok, device);
    let w = column(&feed.weights, &batch.indices, &batch.ok, device);
    let x = pixels(batch, model.backbone.input_spec(), device);
    let pred = predict(&model.backbone, &model.head, x);
    let loss = ((pred - y).square() * w.clone()).sum() / w.sum();
    let value = loss.clone().detach();
    let mut grads = loss.backward();
    model.backbone.part().collect_grads(&mut grads);
    model.head.part().collect_grads(&mut grads);
    let norm = step::clip_and_step(model, lr, spec.backbone.lr_scale, spec.optimizer.grad_clip);
    Some((value, norm))
}

/// Predictions and targets of the validation rows whose image could be used, in order.
fn evaluate(
    model: &mut BuiltModel,
    feed: &Feed,
    batch_size: usize,
    device: &Device,
) -> (Vec<f32>, Vec<f32>) {
    model.backbone.part().set_training(false);
    model.head.part().set_training(false);
    let plain = device.clone().inner();
    let mut preds = Vec::with_capacity(feed.val.len());
    let mut targets = Vec::with_capacity(feed.val.len());
    let plan = feed::eval_plan(&feed.val, batch_size);
    let half = plan.len() / 2;
    for (k, batch) in feed.loader.stream(plan, None, 0).enumerate() {
        if k == half {
            rateme_util::crash::point("eval");
        }
        let rows: Vec<(usize, bool)> = batch
            .indices
            .iter()
            .copied()
            .zip(batch.ok.clone())
            .collect();
        let x = pixels(batch, model.backbone.input_spec(), &plain);
        let p = predict(&model.backbone, &model.head, x);
        let p = p.into_data().try_to_vec::<f32>().expect("f32 predictions");
        for ((i, ok), p) in rows.into_iter().zip(p) {
            if ok {
                preds.push(p);
                targets.push(feed.targets[i]);
            }
        }
    }
    model.backbone.part().set_training(true);
    model.head.part().set_training(true);
    (preds, targets)
}

/// What every use of a run starts with: its device (`device` overrides the run's own), checked
/// for its precision, and its model built there with the optimizer the run asks for (no
/// pretrained weights or freezing yet).
pub(crate) fn start_run(
    exp: &Experiment,
    spec: &RunSpec,
    host: &PluginHost,
    device: Option<&DeviceSpec>,
) -> Result<(DeviceSpec, Precision, Device, BuiltModel), RunError> {
    let device_spec = match device {
        Some(d) => d.clone(),
        None => DeviceSpec::parse(&spec.device).map_err(RunError::Device)?,
    };
    let precision = device_spec
        .check_precision(&spec.precision)
        .map_err(RunError::Device)?;
    let device = device_spec.device().map_err(RunError::Device)?.autodiff();
    let (variant, bb_options, head_options) = check_run(exp, spec, host)?;
    let mut model = build_model(
        host,
        (
            spec.backbone.plugin.get_ref(),
            &variant,
            &bb_options,
            spec.head.plugin.get_ref(),
            &head_options,
        ),
        spec.data.pad_to_square,
        &device,
        spec.seed,
    )?;
    for (name, part) in [
        ("backbone", model.backbone.part()),
        ("head", model.head.part()),
    ] {
        part.configure_optimizer(&spec.optimizer.settings());
        let spared = part.spared_from_decay();
        if !spared.is_empty() {
            tracing::info!(
                "{name}: no weight decay on {} parameter tensors (biases, norms and declared embeddings: {})",
                spared.len(),
                abbreviate(spared)
            );
        }
    }
    Ok((device_spec, precision, device, model))
}

/// The first few names and how many more.
fn abbreviate(names: &[String]) -> String {
    const SHOWN: usize = 4;
    let mut text = names[..names.len().min(SHOWN)].join(", ");
    if names.len() > SHOWN {
        text.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    text
}

fn spec_hash(spec: &RunSpec, card: &ModelCard) -> String {
    // What must not change across a resume: everything but the length of the run, the
    // checkpoint interval, the device and its precision, and where files go.
    let mut s = spec.clone();
    s.batches = 0;
    s.checkpoint_every = 0;
    s.device = String::new();
    s.precision = "f32".into();
    s.output_dir = None;
    s.plugins = None;
    s.data.loader = Default::default();
    let text = format!(
        "{}|{}",
        serde_json::to_string(&s).unwrap_or_default(),
        serde_json::to_string(card).unwrap_or_default()
    );
    rateme_util::fsutil::fnv1a_hex(text.as_bytes())
}

fn weights(model: &BuiltModel, with_optim: bool) -> Result<Tensors, PluginError> {
    Ok(Tensors {
        backbone: model.backbone.part_ref().weights_to_bytes()?,
        head: model.head.part_ref().weights_to_bytes()?,
        backbone_optim: with_optim
            .then(|| model.backbone.part_ref().optimizer_to_bytes())
            .transpose()?,
        head_optim: with_optim
            .then(|| model.head.part_ref().optimizer_to_bytes())
            .transpose()?,
    })
}

/// Trains one run. Writes `<run dir>/metrics.csv`, `checkpoint/`, `best/` and `summary.json`.
/// The sinks hear how it ends: `Finished`, `Interrupted` or `Failed`.
pub fn run(mut opts: RunOptions<'_>) -> Result<RunSummary, RunError> {
    let mut sinks = std::mem::take(&mut opts.sinks);
    let result = run_with(opts, &mut sinks);
    if let Err(e) = &result
        && !matches!(e, RunError::Interrupted { .. })
    {
        let message = e.to_string();
        for s in sinks.iter_mut() {
            if let Err(err) = s.on_event(&Event::Failed { message: &message }) {
                tracing::warn!("reporting the failure: {err}");
            }
        }
    }
    result
}

fn run_with<'a>(
    opts: RunOptions<'a>,
    sinks: &mut Vec<Box<dyn Sink + 'a>>,
) -> Result<RunSummary, RunError> {
    let spec = opts.spec;
    let exp = opts.experiment;
    let session_start = Instant::now();
    let dir = spec.run_dir(&exp.name);
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    // One process at a time per run, whatever shares the folder (a shard started twice, a
    // requeued task whose first copy still runs). The OS drops the lock when the process ends,
    // however it ends, so a killed run never leaves a stale one.
    let _lock = lock_run_dir(&dir, &spec.name)?;
    let ckpt_dir = dir.join("checkpoint");
    let summary_path = dir.join("summary.json");

    let (device_spec, precision, device, mut model) =
        start_run(exp, spec, opts.host, opts.device.as_ref())?;
    // Convolutions and matrix products of this run, training and evaluation, in its precision
    // (this thread only).
    let _precision = rateme_sdk::autocast::scoped(precision);
    let input = model.backbone.input_spec();
    let prepared = data::prepared_size(&spec.data, (input.width, input.height));
    if prepared != (input.width, input.height) {
        model.card.prepared = Some(prepared);
    }
    let card_json = serde_json::to_string_pretty(&model.card).expect("card serialises");
    let hash = spec_hash(spec, &model.card);

    let feed = feed::open(spec, model.backbone.input_spec(), &dir)?;
    if feed.train.len() < 2 {
        return Err(DataError::Row {
            path: spec.data.table.display().to_string(),
            line: 0,
            message: format!(
                "only {} usable training rows after the split; need at least 2",
                feed.train.len()
            ),
        }
        .into());
    }
    let train_mean = feed
        .train
        .iter()
        .map(|&i| f64::from(feed.targets[i]))
        .sum::<f64>()
        / feed.train.len() as f64;
    let val_targets: Vec<f32> = feed.val.iter().map(|&i| feed.targets[i]).collect();
    let baseline_mae = metrics::constant_mae(train_mean, &val_targets);
    let batch_size = spec.batch_size.min(feed.train.len());
    let bound = feed.loader.memory_bound(batch_size);
    let settings = feed.loader.settings();
    tracing::info!(
        run = %spec.name,
        "loader: {} workers, {} batches ahead, cache {}; holds at most {} MiB (batches {}, decoding {}, cache {}) for {} images",
        settings.workers,
        settings.prefetch,
        settings.cache,
        bound.total() >> 20,
        bound.batches >> 20,
        bound.decode >> 20,
        bound.cache >> 20,
        feed.rows,
    );

    let fresh = || TrainState {
        batch: 0,
        epoch: 0,
        pos: 0,
        order: Cursor::start(&feed.train, spec.seed).order,
        schedule: Plateau::new(&spec.schedule, spec.optimizer.lr),
        history: Vec::new(),
        loss_sum: 0.0,
        loss_count: 0,
        elapsed_s: 0.0,
        train_s: 0.0,
        best: None,
        spec_hash: hash.clone(),
        loader_wait_s: 0.0,
    };
    let mut state = match (opts.resume, checkpoint::find(&ckpt_dir)) {
        (true, Some(found)) => {
            let (tensors, state) = checkpoint::load(&found).map_err(|e| RunError::Resume {
                path: found.clone(),
                message: e.to_string(),
            })?;
            if state.spec_hash != hash {
                return Err(RunError::Resume {
                    path: found,
                    message: "the run's settings changed since the checkpoint (only `batches`, `checkpoint_every`, `device`, `precision`, `output_dir` and `plugins` may change); start it from scratch with --restart (which deletes its results) instead of --resume".into(),
                });
            }
            model.backbone.part().load_weights(tensors.backbone)?;
            model.head.part().load_weights(tensors.head)?;
            if let Some(b) = tensors.backbone_optim {
                model.backbone.part().load_optimizer(b)?;
            }
            if let Some(h) = tensors.head_optim {
                model.head.part().load_optimizer(h)?;
            }
            tracing::info!(run = %spec.name, batch = state.batch, "resuming from checkpoint");
            state
        }
        (resume, _) => {
            // A fresh start replaces earlier results: only when asked for (`--restart`), or when
            // `--resume` finds no checkpoint to continue (a run killed before its first one).
            let found = existing_outputs(&dir);
            if !found.is_empty() && !opts.restart && !resume {
                return Err(RunError::WouldOverwrite {
                    run: spec.name.clone(),
                    dir,
                    found,
                });
            }
            if !found.is_empty() {
                tracing::warn!(run = %spec.name, dir = %dir.display(), "starting from scratch: deleting {}", found.join(", "));
            }
            for stale in found {
                let p = dir.join(stale);
                if p.is_dir() {
                    std::fs::remove_dir_all(&p).map_err(io(&p))?;
                } else if p.exists() {
                    std::fs::remove_file(&p).map_err(io(&p))?;
                }
            }
            load_pretrained(exp, spec, opts.host, &mut model)?;
            fresh()
        }
    };
    // After any weights are in place: loading replaces parameters.
    apply_freeze(exp, spec, &mut model)?;
    if state.batch >= spec.batches && summary_path.exists() {
        let text = std::fs::read_to_string(&summary_path).map_err(io(&summary_path))?;
        if let Ok(summary) = serde_json::from_str::<RunSummary>(&text) {
            tracing::info!(run = %spec.name, "already finished; kept its results");
            return Ok(summary);
        }
    }

    let csv_path = dir.join("metrics.csv");
    sinks.insert(
        0,
        Box::new(CsvSink::new(csv_path.clone(), &state.history).map_err(io(&csv_path))?),
    );
    let device_name = match precision {
        rateme_sdk::Precision::F32 => device_spec.to_string(),
        other => format!("{device_spec} {other}"),
    };
    let mut emit = |e: Event<'_>| -> Result<(), RunError> {
        for s in sinks.iter_mut() {
            s.on_event(&e).map_err(io(&dir))?;
        }
        Ok(())
    };
    emit(Event::Started {
        run: &spec.name,
        start: state.batch,
        total: spec.batches,
        device: &device_name,
    })?;

    let augment = data::augment_for(&spec.data);
    let mut cursor = Cursor {
        epoch: state.epoch,
        pos: state.pos,
        order: std::mem::take(&mut state.order),
    };
    let mut batches = feed.loader.stream(
        feed::train_plan(
            cursor.clone(),
            feed.train.clone(),
            spec.seed,
            batch_size,
            state.batch + 1,
            spec.batches,
        ),
        augment,
        spec.seed,
    );
    let mut writer = Writer::start();
    let write_failed = |e: WriteFailed| RunError::Io {
        path: e.path,
        message: e.message,
    };
    let elapsed_before = state.elapsed_s;
    let mut losses = LossWindow::default();
    while state.batch < spec.batches {
        let rows = cursor.take(&feed.train, spec.seed, batch_size);
        let batch_no = state.batch + 1;
        let lr = state.schedule.lr;

        rateme_util::crash::point("batch");
        let batch = batches.next().ok_or_else(|| RunError::Io {
            path: dir.clone(),
            message: "the data loader stopped early (a loader thread failed; see the log)".into(),
        })?;
        debug_assert!(batch.batch_no == batch_no && batch.indices == rows);
        let step_start = Instant::now();
        device.seed(Rng::new(spec.seed, &[STREAM_DROPOUT, batch_no]).next_u64());
        if let Some((loss, norm)) = train_step(&mut model, &feed, &device, spec, batch, lr) {
            losses.push(batch_no, lr, loss, norm);
        }
        state.batch = batch_no;

        let last = batch_no == spec.batches;
        let evaluate_now = batch_no % spec.eval_every == 0 || last;
        let stop = rateme_util::interrupt::requested() && !last;
        let checkpoint_now =
            (spec.checkpoint_every > 0 && batch_no % spec.checkpoint_every == 0) || last || stop;
        // The losses are read (the one wait for the device) every LossWindow::BATCHES batches
        // and before anything is evaluated or written, so a NaN never reaches a checkpoint.
        if batch_no % LossWindow::BATCHES == 0 || evaluate_now || checkpoint_now {
            let read = losses.read().map_err(|bad| RunError::NonFinite {
                what: bad.what,
                batch: bad.batch,
                value: bad.value,
                lr: bad.lr,
            })?;
            for r in read {
                state.loss_sum += r.loss;
                state.loss_count += 1;
                emit(Event::Batch {
                    batch: r.batch,
                    loss: r.loss,
                    lr: r.lr,
                })?;
            }
        }
        state.train_s += step_start.elapsed().as_secs_f64();

        if evaluate_now {
            let (preds, targets) = evaluate(&mut model, &feed, batch_size, &device);
            state.elapsed_s = elapsed_before + session_start.elapsed().as_secs_f64();
            let record = EvalRecord {
                batch: batch_no,
                lr,
                train_loss: state.loss_sum / state.loss_count.max(1) as f64,
                val_loss: metrics::mse(&preds, &targets),
                val_mae: metrics::mae(&preds, &targets),
                val_spearman: metrics::spearman(&preds, &targets),
                elapsed_s: state.elapsed_s,
            };
            state.loss_sum = 0.0;
            state.loss_count = 0;
            state.schedule.step(record.val_loss);
            if state.best.is_none_or(|(best, _)| record.val_loss < best) {
                state.best = Some((record.val_loss, batch_no));
                writer
                    .send(Job::Best {
                        dir: dir.join("best"),
                        tensors: weights(&model, false)?,
                        card: card_json.clone(),
                    })
                    .map_err(write_failed)?;
            }
            state.history.push(record.clone());
            emit(Event::Evaluated(&record))?;
        }
        if checkpoint_now {
            state.elapsed_s = elapsed_before + session_start.elapsed().as_secs_f64();
            let mut saved = state.clone();
            (saved.epoch, saved.pos, saved.order) =
                (cursor.epoch, cursor.pos, cursor.order.clone());
            saved.loader_wait_s += batches.waited().as_secs_f64();
            writer
                .send(Job::Checkpoint {
                    dir: ckpt_dir.clone(),
                    tensors: weights(&model, true)?,
                    state: Box::new(saved),
                    card: card_json.clone(),
                })
                .map_err(write_failed)?;
            data::write_skipped(&feed.skipped_list, &feed.loader.skipped())?;
            emit(Event::Checkpointed { batch: batch_no })?;
        }
        if stop {
            writer.finish().map_err(write_failed)?;
            tracing::warn!(run = %spec.name, batch = batch_no, "stopped by the user; checkpoint written");
            emit(Event::Interrupted { batch: batch_no })?;
            return Err(RunError::Interrupted { batch: batch_no });
        }
    }
    writer.finish().map_err(write_failed)?;
    let waited = batches.waited().as_secs_f64();
    state.loader_wait_s += waited;
    drop(batches);
    let stats = feed.loader.stats();
    tracing::info!(
        run = %spec.name,
        "data: the step waited {waited:.1} s for batches ({:.1}% of training time); {} images decoded, {} from the cache, {} skipped",
        100.0 * waited / (state.train_s + waited).max(1e-9),
        stats.decoded,
        stats.cache_hits,
        stats.skipped,
    );

    let best_batch = state.best.map_or(state.batch, |(_, b)| b);
    let best = state
        .history
        .iter()
        .find(|r| r.batch == best_batch)
        .or(state.history.last())
        .cloned()
        .expect("at least one evaluation");
    let summary = RunSummary {
        run: spec.name.clone(),
        backbone: if model.card.variant.is_empty() {
            model.card.backbone.clone()
        } else {
            format!("{}/{}", model.card.backbone, model.card.variant)
        },
        head: model.card.head.clone(),
        params: model.backbone.part_ref().num_params() + model.head.part_ref().num_params(),
        trainable_params: model.backbone.part_ref().num_trainable_params()
            + model.head.part_ref().num_trainable_params(),
        train_loss: best.train_loss,
        val_loss: best.val_loss,
        val_mae: best.val_mae,
        baseline_mae,
        spearman: best.val_spearman,
        best_batch,
        batches: state.batch,
        wall_s: state.elapsed_s,
        images_per_s: (state.batch as f64 * batch_size as f64) / state.train_s.max(1e-9),
        device: device_name.clone(),
        train_size: feed.train.len(),
        val_size: feed.val.len(),
        skipped: stats.skipped,
        loader_wait_s: state.loader_wait_s,
        loader_memory_bytes: bound.total(),
        history: state.history.clone(),
    };
    rateme_util::fsutil::write_atomic(
        &summary_path,
        serde_json::to_string_pretty(&summary)
            .expect("summary serialises")
            .as_bytes(),
    )
    .map_err(io(&summary_path))?;
    emit(Event::Finished(&summary))?;
    Ok(summary)
}
