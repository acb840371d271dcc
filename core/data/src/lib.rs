//! The data path: ratings table → split → decoded, resized images (per the backbone's
//! [`InputSpec`](rateme_sdk::InputSpec)) → augmented, normalised batches.

mod images;
mod split;
pub mod synthetic;
mod table;

pub use images::{ImageSet, load_image};
pub use rateme_pixels::{Augment, PixelSpec};
pub use split::{Split, split};
pub use table::{Sample, read_table};

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
