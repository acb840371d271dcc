//! The architecture as numbers: the B0 block table, the compound-scaling coefficients of each
//! variant, and the two libraries' rounding rules (they agree for B0-B7; Lite fixes the stem and
//! head widths and does not scale the first and last stages' repeats).

/// One row of the B0 block table (a stage).
#[derive(Debug, Clone, Copy)]
pub struct StageArgs {
    pub kernel: usize,
    pub stride: usize,
    pub expand: usize,
    pub out_ch: usize,
    pub repeats: usize,
}

/// EfficientNet-B0's seven stages (the paper's Table 1).
pub const B0_STAGES: [StageArgs; 7] = [
    StageArgs {
        kernel: 3,
        stride: 1,
        expand: 1,
        out_ch: 16,
        repeats: 1,
    },
    StageArgs {
        kernel: 3,
        stride: 2,
        expand: 6,
        out_ch: 24,
        repeats: 2,
    },
    StageArgs {
        kernel: 5,
        stride: 2,
        expand: 6,
        out_ch: 40,
        repeats: 2,
    },
    StageArgs {
        kernel: 3,
        stride: 2,
        expand: 6,
        out_ch: 80,
        repeats: 3,
    },
    StageArgs {
        kernel: 5,
        stride: 1,
        expand: 6,
        out_ch: 112,
        repeats: 3,
    },
    StageArgs {
        kernel: 5,
        stride: 2,
        expand: 6,
        out_ch: 192,
        repeats: 4,
    },
    StageArgs {
        kernel: 3,
        stride: 1,
        expand: 6,
        out_ch: 320,
        repeats: 1,
    },
];

/// A variant's compound scaling.
#[derive(Debug, Clone, Copy)]
pub struct Variant {
    pub name: &'static str,
    pub width: f64,
    pub depth: f64,
    /// Native input size (the paper's resolution).
    pub resolution: u32,
    /// Dropout before the classifier (here: on the pooled features while training).
    pub dropout: f64,
    /// Lite: no squeeze-excitation, ReLU6, stem and head widths fixed, first and last stages'
    /// repeats not scaled.
    pub lite: bool,
}

const fn v(
    name: &'static str,
    width: f64,
    depth: f64,
    resolution: u32,
    dropout: f64,
    lite: bool,
) -> Variant {
    Variant {
        name,
        width,
        depth,
        resolution,
        dropout,
        lite,
    }
}

/// B0-B7 (EfficientNet-PyTorch's and torchvision's tables agree) and Lite0-Lite4 (TensorFlow's
/// efficientnet_lite_builder).
pub const VARIANTS: [Variant; 13] = [
    v("b0", 1.0, 1.0, 224, 0.2, false),
    v("b1", 1.0, 1.1, 240, 0.2, false),
    v("b2", 1.1, 1.2, 260, 0.3, false),
    v("b3", 1.2, 1.4, 300, 0.3, false),
    v("b4", 1.4, 1.8, 380, 0.4, false),
    v("b5", 1.6, 2.2, 456, 0.4, false),
    v("b6", 1.8, 2.6, 528, 0.5, false),
    v("b7", 2.0, 3.1, 600, 0.5, false),
    v("lite0", 1.0, 1.0, 224, 0.2, true),
    v("lite1", 1.0, 1.1, 240, 0.2, true),
    v("lite2", 1.1, 1.2, 260, 0.3, true),
    v("lite3", 1.2, 1.4, 280, 0.3, true),
    v("lite4", 1.4, 1.8, 300, 0.3, true),
];

/// Channels scaled by `width` and rounded to a multiple of 8, never more than 10% below the
/// scaled value (EfficientNet-PyTorch's `round_filters`, torchvision's `_make_divisible`).
pub fn round_channels(channels: usize, width: f64) -> usize {
    const DIVISOR: f64 = 8.0;
    let scaled = channels as f64 * width;
    let mut rounded = DIVISOR.max(((scaled + DIVISOR / 2.0) / DIVISOR).floor() * DIVISOR);
    if rounded < 0.9 * scaled {
        rounded += DIVISOR;
    }
    rounded as usize
}

/// Repeats scaled by `depth`, rounded up.
pub fn round_repeats(repeats: usize, depth: f64) -> usize {
    (repeats as f64 * depth).ceil() as usize
}

/// Output size of a "SAME" convolution with this stride.
pub fn same_output(size: usize, stride: usize) -> usize {
    size.div_ceil(stride)
}

/// TensorFlow "SAME" padding for `size`: (before, after), the odd pixel after.
pub fn same_padding(size: usize, kernel: usize, stride: usize) -> (usize, usize) {
    let out = same_output(size, stride);
    let total = ((out - 1) * stride + kernel).saturating_sub(size);
    (total / 2, total - total / 2)
}
