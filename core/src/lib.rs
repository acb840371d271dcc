//! # rateme (core)
//!
//! The runner's library: experiment specs ([`spec`]), plugin loading ([`plugins`]), data
//! ([`data`]), the training loop ([`train`]), sweeps ([`sweep`]), MLflow tracking ([`tracking`]),
//! results ([`report`]) and inference ([`predict`]). The `runner` binary is CLI and wiring only.

pub mod data;
pub mod device;
pub mod fsutil;
pub mod http;
pub mod ingest;
pub mod interrupt;
pub mod plugins;
pub mod rng;
pub mod spec;
pub mod train;

pub use rateme_sdk as sdk;
pub mod predict;
pub mod report;
pub mod sweep;
pub mod tracking;

pub use predict::{Predictor, evaluate_image};
