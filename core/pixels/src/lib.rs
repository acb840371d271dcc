//! Image files to normalised pixels, one image at a time: decoding (with the reason a file
//! cannot be used), pad-to-square and resize, and the training augmentation that writes the
//! normalised CHW floats. Knows nothing of tensors or datasets (`rateme-data` does), so it can
//! be fuzzed and benchmarked on its own.

mod augment;
pub mod colour;
mod decode;
pub mod geometry;
mod prepare;

pub use augment::{Augment, ColourOp, Draws, ResizedCrop};
pub use decode::{DecodeLimits, Header, Skip, decode_bytes, decode_file, probe};
pub use prepare::prepare;

/// The floats an image becomes: its size and per-channel normalisation (the backbone's
/// declared input, as in the SDK's `InputSpec`, without depending on burn).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PixelSpec {
    /// Output width in pixels.
    pub width: u32,
    /// Output height in pixels.
    pub height: u32,
    /// Per-channel (RGB) mean subtracted after scaling to 0..1.
    pub mean: [f32; 3],
    /// Per-channel (RGB) standard deviation divided after subtracting the mean.
    pub std: [f32; 3],
}
