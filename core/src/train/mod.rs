//! Training: the loop (in core, not in plugins), its schedule, checkpoints, metrics and events.

pub mod checkpoint;
pub mod events;
pub mod metrics;
mod model;
mod run;
pub mod schedule;

pub use model::{BuiltModel, ModelCard, build_model, check_run};
pub use run::{RunError, RunOptions, RunSummary, run};
