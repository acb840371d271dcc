//! The colour half of the augmentation: torchvision's `adjust_brightness`, `adjust_contrast`,
//! `adjust_saturation` and `adjust_hue` on float images (`torchvision.transforms.functional` on
//! tensors), with explicit factors, over CHW planes of values in [0, 1].
//!
//! The arithmetic is torch's, in `f32` and in its order (`_blend(a, b, r) = (r·a + (1 − r)·b)`
//! clamped to [0, 1], grey `0.2989·r + 0.587·g + 0.114·b`, `_rgb2hsv`/`_hsv2rgb`), so the
//! results equal torchvision's bit for bit, except the contrast mean, which is summed in `f64`
//! (torch sums `f32` in its own order: the two differ in the last bits). The committed fixtures
//! (`tests/fixtures/augment/`) check this.
//!
//! Every operation is a [`Step`] that works on a run of pixels on its own (contrast too, once
//! its mean is known), so a chain of them runs as one pass over the image in short runs that
//! stay in cache ([`apply_steps`], with [`accumulate_grey`] for the mean the next contrast
//! needs) instead of one pass over the whole image per operation. The result is the same bits.

/// One per-value colour step with its factors as torch rounds them to `f32`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    /// Every value divided by this (`/ 255` of bytes).
    Divide(f32),
    /// `adjust_brightness`: blend with black.
    Brightness {
        /// The factor.
        ratio: f32,
        /// 1 − the factor.
        rest: f32,
    },
    /// `adjust_contrast`: blend with the image's mean grey level.
    Contrast {
        /// The factor.
        ratio: f32,
        /// 1 − the factor.
        rest: f32,
        /// The mean grey level of the whole image before this step.
        mean: f32,
    },
    /// `adjust_saturation`: blend with the pixel's own grey level.
    Saturation {
        /// The factor.
        ratio: f32,
        /// 1 − the factor.
        rest: f32,
    },
    /// `adjust_hue`: hue shifted by this share of the circle.
    Hue(f32),
    /// `(v / scale − mean) / std` per channel.
    Normalise {
        /// Divides first (1 leaves the value as it is).
        scale: f32,
        /// Per-channel mean.
        mean: [f32; 3],
        /// Per-channel standard deviation.
        std: [f32; 3],
    },
}

impl Step {
    /// Brightness by `factor` (≥ 0).
    pub fn brightness(factor: f64) -> Step {
        Step::Brightness {
            ratio: factor as f32,
            rest: (1.0 - factor) as f32,
        }
    }

    /// Contrast by `factor` (≥ 0) about `mean`, the mean grey level ([`accumulate_grey`] over
    /// the whole image, divided by its number of pixels).
    pub fn contrast(factor: f64, mean: f32) -> Step {
        Step::Contrast {
            ratio: factor as f32,
            rest: (1.0 - factor) as f32,
            mean,
        }
    }

    /// Saturation by `factor` (≥ 0).
    pub fn saturation(factor: f64) -> Step {
        Step::Saturation {
            ratio: factor as f32,
            rest: (1.0 - factor) as f32,
        }
    }

    /// Hue shift by `factor` (in [−0.5, 0.5] as torchvision requires; otherwise modulo 1).
    pub fn hue(factor: f64) -> Step {
        let shift = if (-0.5..=0.5).contains(&factor) {
            factor as f32
        } else {
            (factor as f32).rem_euclid(1.0)
        };
        Step::Hue(shift)
    }
}

/// Applies `steps` in order to the pixels whose channels are `r`, `g` and `b` (equal lengths:
/// a row, or the whole planes). Each step runs over the whole run before the next, so keep
/// runs short (a row) for the values to stay in cache.
pub fn apply_steps(r: &mut [f32], g: &mut [f32], b: &mut [f32], steps: &[Step]) {
    let n = r.len().min(g.len()).min(b.len());
    let (r, g, b) = (&mut r[..n], &mut g[..n], &mut b[..n]);
    for step in steps {
        match *step {
            Step::Divide(d) => {
                for plane in [&mut *r, &mut *g, &mut *b] {
                    plane.iter_mut().for_each(|v| *v /= d);
                }
            }
            Step::Brightness { ratio, rest } => {
                for plane in [&mut *r, &mut *g, &mut *b] {
                    plane
                        .iter_mut()
                        .for_each(|v| *v = blend(*v, 0.0, ratio, rest));
                }
            }
            Step::Contrast { ratio, rest, mean } => {
                for plane in [&mut *r, &mut *g, &mut *b] {
                    plane
                        .iter_mut()
                        .for_each(|v| *v = blend(*v, mean, ratio, rest));
                }
            }
            Step::Saturation { ratio, rest } => {
                for ((r, g), b) in r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut()) {
                    let l = grey(*r, *g, *b);
                    *r = blend(*r, l, ratio, rest);
                    *g = blend(*g, l, ratio, rest);
                    *b = blend(*b, l, ratio, rest);
                }
            }
            Step::Hue(shift) => {
                for ((r, g), b) in r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut()) {
                    let [h, s, v] = rgb_to_hsv(*r, *g, *b);
                    let h = mod1(h + shift);
                    let [nr, ng, nb] = hsv_to_rgb(h, s, v);
                    *r = nr.clamp(0.0, 1.0);
                    *g = ng.clamp(0.0, 1.0);
                    *b = nb.clamp(0.0, 1.0);
                }
            }
            Step::Normalise { scale, mean, std } => {
                for (c, plane) in [&mut *r, &mut *g, &mut *b].into_iter().enumerate() {
                    let (m, s) = (mean[c], std[c]);
                    plane.iter_mut().for_each(|v| *v = (*v / scale - m) / s);
                }
            }
        }
    }
}

/// Adds the grey level of each pixel, in order, to `sum` (`f64`, one addition per pixel: the
/// same total whether the image comes whole or row by row).
pub fn accumulate_grey(sum: &mut f64, r: &[f32], g: &[f32], b: &[f32]) {
    for ((&r, &g), &b) in r.iter().zip(g).zip(b) {
        *sum += f64::from(grey(r, g, b));
    }
}

/// The three planes of a CHW image (`chw.len()` must be a multiple of 3).
fn planes(chw: &mut [f32]) -> (&mut [f32], &mut [f32], &mut [f32]) {
    let plane = chw.len() / 3;
    let (r, rest) = chw[..3 * plane].split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    (r, g, b)
}

/// torchvision's `rgb_to_grayscale` of one pixel (float images).
#[inline]
pub fn grey(r: f32, g: f32, b: f32) -> f32 {
    0.2989 * r + 0.587 * g + 0.114 * b
}

/// `_blend(x, other, ratio)` with the ratio's two halves as torch rounds them to `f32`.
#[inline]
fn blend(x: f32, other: f32, ratio: f32, rest: f32) -> f32 {
    (ratio * x + rest * other).clamp(0.0, 1.0)
}

/// `adjust_brightness(img, factor)`: every value times `factor` (≥ 0), clamped to [0, 1].
pub fn adjust_brightness(chw: &mut [f32], factor: f64) {
    let (r, g, b) = planes(chw);
    apply_steps(r, g, b, &[Step::brightness(factor)]);
}

/// `adjust_contrast(img, factor)`: every value blended with the mean grey level of the image,
/// `factor` (≥ 0) of the value; clamped to [0, 1].
pub fn adjust_contrast(chw: &mut [f32], factor: f64) {
    let (r, g, b) = planes(chw);
    if r.is_empty() {
        return;
    }
    let mut sum = 0.0;
    accumulate_grey(&mut sum, r, g, b);
    let mean = (sum / r.len() as f64) as f32;
    apply_steps(r, g, b, &[Step::contrast(factor, mean)]);
}

/// `adjust_saturation(img, factor)`: every pixel blended with its own grey level, `factor`
/// (≥ 0) of the pixel; clamped to [0, 1].
pub fn adjust_saturation(chw: &mut [f32], factor: f64) {
    let (r, g, b) = planes(chw);
    apply_steps(r, g, b, &[Step::saturation(factor)]);
}

/// `adjust_hue(img, factor)`: every pixel to HSV, hue shifted by `factor` (in [−0.5, 0.5] as
/// torchvision requires, of the full circle, modulo 1), back to RGB; clamped to [0, 1] (a no-op
/// for inputs in range). Written without branches so that it vectorises.
pub fn adjust_hue(chw: &mut [f32], factor: f64) {
    let (r, g, b) = planes(chw);
    apply_steps(r, g, b, &[Step::hue(factor)]);
}

/// `if c { a } else { b }`, for the vectoriser.
#[inline(always)]
fn sel(c: bool, a: f32, b: f32) -> f32 {
    if c { a } else { b }
}

/// `x mod 1` for x in [−1, 2), as torch's `%` (the sign of the divisor) and `fmod` (x ≥ 0)
/// compute it: subtracting 1 is exact there, adding 1 rounds as torch's does.
#[inline(always)]
fn mod1(x: f32) -> f32 {
    let x = sel(x >= 1.0, x - 1.0, x);
    sel(x < 0.0, x + 1.0, x)
}

/// torchvision's `_rgb2hsv` of one pixel: `[h, s, v]`, h in [0, 1).
#[inline(always)]
pub fn rgb_to_hsv(r: f32, g: f32, b: f32) -> [f32; 3] {
    let maxc = r.max(g).max(b);
    let minc = r.min(g).min(b);
    let eqc = maxc == minc;
    let cr = maxc - minc;
    let s = cr / sel(eqc, 1.0, maxc);
    let cr_divisor = sel(eqc, 1.0, cr);
    let rc = (maxc - r) / cr_divisor;
    let gc = (maxc - g) / cr_divisor;
    let bc = (maxc - b) / cr_divisor;
    // torch sums the three masked terms; exactly one mask is set (the others add 0).
    let hr = sel(maxc == r, bc - gc, 0.0);
    let hg = sel(maxc == g && maxc != r, 2.0 + rc - bc, 0.0);
    let hb = sel(maxc != g && maxc != r, 4.0 + gc - rc, 0.0);
    let h = hr + hg + hb;
    // torch.fmod(h / 6 + 1, 1); h / 6 + 1 lies in [5/6, 11/6].
    let h = mod1(h / 6.0 + 1.0);
    [h, s, maxc]
}

/// torchvision's `_hsv2rgb` of one pixel (h in [0, 1)).
#[inline(always)]
pub fn hsv_to_rgb(h: f32, s: f32, v: f32) -> [f32; 3] {
    let h6 = h * 6.0;
    // floor(h6) for h6 in [0, 6], by comparisons (no libm call, vectorises).
    let i = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]
        .iter()
        .fold(0.0, |i, &k| i + sel(h6 >= k, 1.0, 0.0));
    let f = h6 - i;
    let p = (v * (1.0 - s)).clamp(0.0, 1.0);
    let q = (v * (1.0 - s * f)).clamp(0.0, 1.0);
    let t = (v * (1.0 - s * (1.0 - f))).clamp(0.0, 1.0);
    let i = sel(i >= 6.0, i - 6.0, i);
    // i: 0 → (v, t, p), 1 → (q, v, p), 2 → (p, v, t), 3 → (p, q, v), 4 → (t, p, v),
    // 5 → (v, p, q).
    let r = sel(
        i == 0.0 || i == 5.0,
        v,
        sel(i == 1.0, q, sel(i == 4.0, t, p)),
    );
    let g = sel(
        i == 1.0 || i == 2.0,
        v,
        sel(i == 0.0, t, sel(i == 3.0, q, p)),
    );
    let b = sel(
        i == 3.0 || i == 4.0,
        v,
        sel(i == 2.0, t, sel(i == 5.0, q, p)),
    );
    [r, g, b]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsv_round_trips_and_grey_has_no_hue() {
        for rgb in [
            [0.2f32, 0.5, 0.9],
            [1.0, 0.0, 0.0],
            [0.3, 0.3, 0.3],
            [0.0, 0.7, 0.7],
        ] {
            let [h, s, v] = rgb_to_hsv(rgb[0], rgb[1], rgb[2]);
            let back = hsv_to_rgb(h, s, v);
            for k in 0..3 {
                assert!((back[k] - rgb[k]).abs() < 1e-6, "{rgb:?} → {back:?}");
            }
        }
        let mut grey_px = vec![0.4f32, 0.4, 0.4];
        adjust_hue(&mut grey_px, 0.3);
        assert_eq!(grey_px, vec![0.4; 3]);
    }

    #[test]
    fn factor_one_is_the_identity_and_zero_contrast_is_the_mean() {
        let img: Vec<f32> = (0..12).map(|i| i as f32 / 12.0).collect();
        for op in [adjust_brightness, adjust_contrast, adjust_saturation] {
            let mut x = img.clone();
            op(&mut x, 1.0);
            assert_eq!(x, img);
        }
        let mut x = img.clone();
        adjust_contrast(&mut x, 0.0);
        assert!(x.iter().all(|&v| (v - x[0]).abs() < 1e-7), "{x:?}");
    }
}
