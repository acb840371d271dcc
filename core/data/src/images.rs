use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use image::imageops::FilterType;
use image::{RgbImage, imageops};
use rateme_sdk::InputSpec;

use super::{DataError, Sample};

/// Decodes an image file, pads it to a square with black borders (centred; an odd remainder goes
/// right/bottom, like RateMeAI) when `pad_to_square`, and resizes it to the input spec. Returns
/// interleaved RGB bytes, `height · width · 3`.
pub fn load_image(
    path: &Path,
    spec: &InputSpec,
    pad_to_square: bool,
) -> Result<RgbImage, DataError> {
    let img = image::open(path)
        .map_err(|e| DataError::Image {
            path: path.display().to_string(),
            message: format!("cannot decode image: {e}"),
        })?
        .to_rgb8();
    let (w, h) = img.dimensions();
    if w == 0 || h == 0 {
        return Err(DataError::Image {
            path: path.display().to_string(),
            message: "image is empty".into(),
        });
    }
    let img = if pad_to_square && w != h {
        let side = w.max(h);
        let mut square = RgbImage::new(side, side);
        let left = (side - w) / 2;
        let top = (side - h) / 2;
        imageops::replace(&mut square, &img, i64::from(left), i64::from(top));
        square
    } else {
        img
    };
    if img.dimensions() == (spec.width, spec.height) {
        return Ok(img);
    }
    Ok(imageops::resize(
        &img,
        spec.width,
        spec.height,
        FilterType::Triangle,
    ))
}

/// Every image of a dataset, decoded and resized once, kept in memory as RGB bytes
/// (`3·H·W` bytes per image). Augmentation and normalisation happen per batch.
#[derive(Debug)]
pub struct ImageSet {
    /// Decoded images, in sample order.
    pub images: Vec<RgbImage>,
    /// The spec they were resized to.
    pub spec: InputSpec,
}

impl ImageSet {
    /// Loads all images on all cores; stops at the first image that cannot be used.
    pub fn load(
        samples: &[Sample],
        spec: &InputSpec,
        pad_to_square: bool,
    ) -> Result<Self, DataError> {
        let workers = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .min(16);
        let next = AtomicUsize::new(0);
        let mut slots: Vec<Option<Result<RgbImage, DataError>>> =
            (0..samples.len()).map(|_| None).collect();
        let chunks: Vec<Vec<(usize, Result<RgbImage, DataError>)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    scope.spawn(|| {
                        let mut out = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            if i >= samples.len() {
                                break;
                            }
                            let s = &samples[i];
                            let r = load_image(&s.path, spec, pad_to_square).map_err(|e| match e {
                                DataError::Image { path, message } => DataError::Image {
                                    path,
                                    message: format!(
                                        "{message} (ratings table line {}); fix or remove that row",
                                        s.line
                                    ),
                                },
                                other => other,
                            });
                            let failed = r.is_err();
                            out.push((i, r));
                            if failed {
                                next.store(samples.len(), Ordering::Relaxed);
                            }
                        }
                        out
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("image loader thread panicked"))
                .collect()
        });
        for (i, r) in chunks.into_iter().flatten() {
            slots[i] = Some(r);
        }
        let mut images = Vec::with_capacity(samples.len());
        for slot in slots {
            match slot {
                Some(Ok(img)) => images.push(img),
                Some(Err(e)) => return Err(e),
                None => {}
            }
        }
        Ok(Self {
            images,
            spec: spec.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_centred_with_odd_remainder_right() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wide.png");
        // 5 wide, 2 high, all white: padding 3 rows → 1 top, 2 bottom.
        RgbImage::from_pixel(5, 2, image::Rgb([255, 255, 255]))
            .save(&p)
            .unwrap();
        let spec = InputSpec {
            height: 5,
            width: 5,
            mean: [0.0; 3],
            std: [1.0; 3],
        };
        let img = load_image(&p, &spec, true).unwrap();
        let rows: Vec<u8> = (0..5).map(|y| img.get_pixel(2, y)[0]).collect();
        assert_eq!(rows, vec![0, 255, 255, 0, 0]);
        let stretched = load_image(&p, &spec, false).unwrap();
        assert_eq!(stretched.get_pixel(2, 0)[0], 255);
    }

    #[test]
    fn garbage_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.jpg");
        std::fs::write(&p, b"<html>404</html>").unwrap();
        let spec = InputSpec::square_imagenet(8);
        let err = load_image(&p, &spec, true).unwrap_err().to_string();
        assert!(err.contains("bad.jpg: cannot decode image"), "{err}");
    }
}
