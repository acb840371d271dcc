//! # rateme-ranker
//!
//! The web app behind `runner rank <folder>`: a person compares images two (or four) at a time
//! in the browser and TrueSkill turns the votes into scores to train on.
//!
//! - [`folder`]: which files are listed and served (never anything outside the folder).
//! - [`store`]: the SQLite log every action is committed to before its response returns.
//! - [`app`]: the session rebuilt from the log, pairing, undo, exclusion, import and exports.
//! - [`server`]: the axum routes and the embedded pages.
//!
//! The ranking algorithms (TrueSkill, pairing modes) live in `rateme-rank`.

pub mod app;
pub mod folder;
pub mod server;
pub mod store;

pub use app::{ModelPrior, Ranker, Settings, open_folder};
pub use server::{ServeOptions, serve};
