//! # rateme
//!
//! The runner's facade over rateme's crates, so that users and tests have one import:
//! experiment specs ([`spec`], `rateme-spec`), data ([`data`], `rateme-data`), plugin loading,
//! the training loop, sweeps and prediction ([`train`], [`plugins`], [`sweep`], [`predict`]:
//! `rateme-train`), results ([`report`], `rateme-report`), MLflow tracking ([`tracking`],
//! `rateme-tracking`) and the Reddit ingest ([`ingest`], `rateme-ingest`). The `runner` binary
//! in `src/bin/runner.rs` is CLI and wiring only.

pub use rateme_data as data;
pub use rateme_ingest as ingest;
pub use rateme_report as report;
pub use rateme_sdk as sdk;
pub use rateme_spec as spec;
pub use rateme_spec::device;
pub use rateme_tracking as tracking;
pub use rateme_train as train;
pub use rateme_train::{Predictor, evaluate_image, plugins, predict, sweep};
pub use rateme_util as util;
pub use rateme_util::{fsutil, http, interrupt, rng};
