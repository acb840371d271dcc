//! From a run's `[data]` to the augmentation and the image size the loader prepares:
//! `data.augment` ([`rateme_spec::AugmentSpec`]) to [`Augment`], `data.crop_pct` to the
//! prepared size (timm's convention).

use rateme_pixels::{Augment, ResizedCrop};
use rateme_spec::{AugmentSpec, DataSpec};

/// The training augmentation of a run: `None` for `augment = false`, else its settings (keys
/// not given take RateMeAI's recipe). Evaluation and prediction pass `None` to
/// [`Augment::apply`] instead.
pub fn augment_for(spec: &DataSpec) -> Option<Augment> {
    match &spec.augment {
        AugmentSpec::Off => None,
        AugmentSpec::On(a) => Some(Augment {
            flip: a.flip,
            rotate_deg: a.rotate,
            translate: a.translate,
            brightness: a.brightness,
            contrast: a.contrast,
            saturation: a.saturation,
            hue: a.hue,
            random_resized_crop: a.random_resized_crop.as_ref().map(|r| ResizedCrop {
                scale: r.scale,
                ratio: r.ratio,
            }),
        }),
    }
}

/// The size (width, height) images are prepared at (decoded, padded, resized, cached) for a
/// backbone input of `input` (width, height): `floor(side / crop_pct)` as timm's
/// `transforms_factory` computes its `scale_size`; the input itself for `crop_pct = 1`.
/// [`Augment::apply`] then takes the center crop of the input size (or, with
/// `random_resized_crop`, a random box resized to it).
pub fn prepared_size(spec: &DataSpec, input: (u32, u32)) -> (u32, u32) {
    let side = |s: u32| -> u32 {
        if spec.crop_pct >= 1.0 || spec.crop_pct <= 0.0 || !spec.crop_pct.is_finite() {
            s
        } else {
            (f64::from(s) / spec.crop_pct)
                .floor()
                .min(f64::from(u32::MAX)) as u32
        }
    };
    (side(input.0), side(input.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `[data]` table from the JSON of its keys after `table`.
    fn data(extra: &str) -> DataSpec {
        let sep = if extra.is_empty() { "" } else { ", " };
        let text = format!("{{\"table\": \"t.csv\"{sep}{extra}}}");
        serde_json::from_str(&text).expect("data table")
    }

    #[test]
    fn the_default_is_rateme_ais_recipe_and_false_is_none() {
        assert_eq!(augment_for(&data("")), Some(Augment::RECIPE));
        assert_eq!(
            augment_for(&data("\"augment\": true")),
            Some(Augment::RECIPE)
        );
        assert_eq!(augment_for(&data("\"augment\": false")), None);
        let a = augment_for(&data(
            r#""augment": { "hue": 0.1, "rotate": 5, "random_resized_crop": {} }"#,
        ))
        .expect("on");
        assert_eq!((a.hue, a.rotate_deg, a.flip), (0.1, 5.0, 0.5));
        assert_eq!(a.random_resized_crop, Some(ResizedCrop::DEFAULT));
    }

    #[test]
    fn prepared_size_is_timms_scale_size() {
        assert_eq!(prepared_size(&data(""), (456, 456)), (456, 456));
        assert_eq!(
            prepared_size(&data("\"crop_pct\": 0.875"), (224, 224)),
            (256, 256)
        );
        assert_eq!(
            prepared_size(&data("\"crop_pct\": 0.9"), (456, 300)),
            (506, 333)
        );
    }
}
