use serde::{Deserialize, Serialize};

/// What a backbone expects from the data pipeline (timm's `pretrained_cfg` idea): the loader
/// resizes and normalises every image to this spec, so adding a backbone never touches data code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    /// Input height in pixels.
    pub height: u32,
    /// Input width in pixels.
    pub width: u32,
    /// Per-channel (RGB) mean subtracted after scaling pixels to 0..1.
    pub mean: [f32; 3],
    /// Per-channel (RGB) standard deviation divided after subtracting the mean.
    pub std: [f32; 3],
}

impl InputSpec {
    /// ImageNet statistics, the usual default for ImageNet-pretrained backbones.
    pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
    /// ImageNet standard deviations.
    pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];
    /// CLIP's statistics (OpenAI CLIP image preprocessing).
    pub const CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
    /// CLIP's standard deviations.
    pub const CLIP_STD: [f32; 3] = [0.268_629_54, 0.261_302_6, 0.275_777_1];

    /// A square input with ImageNet normalisation.
    pub fn square_imagenet(size: u32) -> Self {
        Self {
            height: size,
            width: size,
            mean: Self::IMAGENET_MEAN,
            std: Self::IMAGENET_STD,
        }
    }
}
