//! # rateme-train
//!
//! Training: plugin loading ([`plugins`]), model assembly, the loop (in core, not in plugins),
//! its schedule, checkpoints, metrics and events; the runs of a sweep one by one ([`sweep`]);
//! scoring new images with a trained run ([`predict`]).

pub mod bench;
pub mod catalog;
pub mod checkpoint;
pub mod events;
mod feed;
pub mod inspect;
pub mod metrics;
mod model;
pub mod plugins;
pub mod predict;
mod run;
pub mod schedule;
pub mod shard;
pub mod step;
pub mod sweep;
mod writer;

pub use model::{BuiltModel, ModelCard, apply_freeze, build_model, check_run, load_pretrained};
pub use predict::{Predictor, evaluate_image};
pub use run::{FailedRun, RUN_OUTPUTS, RunError, RunOptions, RunSummary, existing_outputs, run};
