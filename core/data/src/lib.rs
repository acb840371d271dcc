//! The data path: ratings table → split → header check of every image → the streaming loader
//! (decoded, prepared per the backbone's [`InputSpec`](rateme_sdk::InputSpec), augmented,
//! normalised batches made ahead of the step, with an optional cache).

mod cache;
mod loader;
mod probe;
mod split;
pub mod synthetic;
mod table;
mod transforms;

pub use cache::CacheSettings;
pub use loader::{
    AUG_STREAM, Batch, Loader, LoaderSettings, LoaderStats, MemoryBound, Request, Stream,
};
pub use probe::{ProbeReport, SkipRecord, check_valid_fraction, probe, write_skipped};
pub use rateme_pixels::{Augment, DecodeLimits, PixelSpec};
pub use split::{Split, split};
pub use table::{Sample, read_table};
pub use transforms::{augment_for, prepared_size};

use thiserror::Error;

/// A data problem, naming the file (and line) and what to do.
#[derive(Debug, Error)]
pub enum DataError {
    /// Reading or writing a file failed.
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    /// A row of the ratings table is wrong.
    #[error("{path}:{line}: {message}")]
    Row {
        path: String,
        line: u64,
        message: String,
    },
    /// An image cannot be used.
    #[error("{path}: {message}")]
    Image { path: String, message: String },
}

/// The pixel side of a backbone's declared input.
pub fn pixel_spec(spec: &rateme_sdk::InputSpec) -> PixelSpec {
    PixelSpec {
        width: spec.width,
        height: spec.height,
        mean: spec.mean,
        std: spec.std,
    }
}
