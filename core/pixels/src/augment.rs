use crate::PixelSpec;
use image::RgbImage;

use rateme_util::rng::Rng;

/// Training augmentation parameters (RateMeAI's recipe by default).
#[derive(Debug, Clone, PartialEq)]
pub struct Augment {
    /// Probability of a horizontal flip.
    pub flip: f64,
    /// Maximum rotation in degrees (uniform ±).
    pub rotate_deg: f64,
    /// Maximum translation as a fraction of the side (uniform ±, per axis).
    pub translate: f64,
    /// Brightness factor range ±.
    pub brightness: f64,
    /// Contrast factor range ±.
    pub contrast: f64,
}

impl Augment {
    /// RateMeAI's: flip p=.5, rotation ±15°, translation ±10%, brightness and contrast ±0.1.
    pub const RECIPE: Augment = Augment {
        flip: 0.5,
        rotate_deg: 15.0,
        translate: 0.1,
        brightness: 0.1,
        contrast: 0.1,
    };

    /// Writes the image into `out` (CHW, normalised per `spec`), augmented with draws from `rng`
    /// when `self` is given.
    pub fn apply(
        aug: Option<&Augment>,
        img: &RgbImage,
        spec: &PixelSpec,
        rng: &mut Rng,
        out: &mut [f32],
    ) {
        let (w, h) = img.dimensions();
        let (w, h) = (w as usize, h as usize);
        debug_assert_eq!(out.len(), 3 * w * h);
        let raw = img.as_raw();
        let plane = w * h;
        match aug {
            None => {
                for (p, px) in raw.chunks_exact(3).enumerate() {
                    for c in 0..3 {
                        out[c * plane + p] =
                            (f32::from(px[c]) / 255.0 - spec.mean[c]) / spec.std[c];
                    }
                }
            }
            Some(a) => {
                let flip = rng.uniform() < a.flip;
                let angle = rng.range(-a.rotate_deg, a.rotate_deg).to_radians();
                let tx = rng.range(-a.translate, a.translate) * w as f64;
                let ty = rng.range(-a.translate, a.translate) * h as f64;
                let bright = rng.range(1.0 - a.brightness, 1.0 + a.brightness) as f32;
                let contrast = rng.range(1.0 - a.contrast, 1.0 + a.contrast) as f32;
                let (sin, cos) = angle.sin_cos();
                let (cx, cy) = ((w as f64 - 1.0) / 2.0, (h as f64 - 1.0) / 2.0);
                // Inverse map every output pixel to the source (rotation about the centre, then
                // translation), bilinear sampling, black outside.
                let mut rgb = vec![0f32; 3 * plane];
                for y in 0..h {
                    for x in 0..w {
                        let dx = x as f64 - cx - tx;
                        let dy = y as f64 - cy - ty;
                        let mut sx = cos * dx + sin * dy + cx;
                        let sy = -sin * dx + cos * dy + cy;
                        if flip {
                            sx = w as f64 - 1.0 - sx;
                        }
                        let px = bilinear(raw, w, h, sx, sy);
                        for c in 0..3 {
                            rgb[c * plane + y * w + x] = px[c] / 255.0 * bright;
                        }
                    }
                }
                // Contrast blends with the mean grey level, as torchvision's ColorJitter does.
                let grey: f32 = (0..plane)
                    .map(|p| 0.299 * rgb[p] + 0.587 * rgb[plane + p] + 0.114 * rgb[2 * plane + p])
                    .sum::<f32>()
                    / plane as f32;
                for c in 0..3 {
                    for p in 0..plane {
                        let v = (grey + contrast * (rgb[c * plane + p] - grey)).clamp(0.0, 1.0);
                        out[c * plane + p] = (v - spec.mean[c]) / spec.std[c];
                    }
                }
            }
        }
    }
}

fn bilinear(raw: &[u8], w: usize, h: usize, x: f64, y: f64) -> [f32; 3] {
    if x < -1.0 || y < -1.0 || x > w as f64 || y > h as f64 {
        return [0.0; 3];
    }
    let x0 = x.floor();
    let y0 = y.floor();
    let fx = (x - x0) as f32;
    let fy = (y - y0) as f32;
    let at = |xi: f64, yi: f64| -> [f32; 3] {
        if xi < 0.0 || yi < 0.0 || xi >= w as f64 || yi >= h as f64 {
            return [0.0; 3];
        }
        let i = (yi as usize * w + xi as usize) * 3;
        [
            f32::from(raw[i]),
            f32::from(raw[i + 1]),
            f32::from(raw[i + 2]),
        ]
    };
    let (a, b, c, d) = (
        at(x0, y0),
        at(x0 + 1.0, y0),
        at(x0, y0 + 1.0),
        at(x0 + 1.0, y0 + 1.0),
    );
    let mut out = [0.0; 3];
    for k in 0..3 {
        let top = a[k] + (b[k] - a[k]) * fx;
        let bottom = c[k] + (d[k] - c[k]) * fx;
        out[k] = top + (bottom - top) * fy;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_path_normalises_and_identity_augment_keeps_pixels() {
        let img = RgbImage::from_fn(4, 4, |x, y| {
            image::Rgb([(x * 60) as u8, (y * 60) as u8, 128])
        });
        let spec = PixelSpec {
            height: 4,
            width: 4,
            mean: [0.5; 3],
            std: [0.25; 3],
        };
        let mut plain = vec![0f32; 48];
        Augment::apply(None, &img, &spec, &mut Rng::new(0, &[]), &mut plain);
        assert!((plain[1] - ((60.0 / 255.0 - 0.5) / 0.25)).abs() < 1e-6);
        let identity = Augment {
            flip: 0.0,
            rotate_deg: 0.0,
            translate: 0.0,
            brightness: 0.0,
            contrast: 0.0,
        };
        let mut aug = vec![0f32; 48];
        Augment::apply(
            Some(&identity),
            &img,
            &spec,
            &mut Rng::new(0, &[]),
            &mut aug,
        );
        for (a, b) in plain.iter().zip(&aug) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
    }

    #[test]
    fn flip_mirrors() {
        let img = RgbImage::from_fn(3, 1, |x, _| image::Rgb([(x * 100) as u8, 0, 0]));
        let spec = PixelSpec {
            height: 1,
            width: 3,
            mean: [0.0; 3],
            std: [1.0; 3],
        };
        let flip = Augment {
            flip: 1.0,
            rotate_deg: 0.0,
            translate: 0.0,
            brightness: 0.0,
            contrast: 0.0,
        };
        let mut out = vec![0f32; 9];
        Augment::apply(Some(&flip), &img, &spec, &mut Rng::new(0, &[]), &mut out);
        let red: Vec<u8> = out[..3].iter().map(|v| (v * 255.0).round() as u8).collect();
        assert_eq!(red, vec![200, 100, 0]);
    }
}
