//! The training augmentation: one image (u8 RGB, as prepared by the loader) to the normalised
//! CHW floats a backbone reads, with random crop, flip, rotation, translation and colour jitter.
//!
//! [`Augment::apply`] draws every parameter first ([`Draws::sample`], in a fixed order), fuses
//! crop, resize, flip, rotation and translation into one inverse affine map and samples the
//! source once through it ([`geometry::warp`]), then applies the colour jitter in place over the
//! floats ([`colour`]) and normalises. Without augmentation an image of the output size is only
//! normalised (a table lookup per value), a larger one center-cropped first.

use crate::PixelSpec;
use crate::colour::{self, Step};
use crate::geometry::{self, Affine, CropBox};
use image::RgbImage;

use rateme_util::rng::Rng;

/// Training augmentation parameters (RateMeAI's recipe by default). Ranges follow torchvision:
/// `RandomHorizontalFlip(flip)`, `RandomAffine(rotate_deg, translate=(translate, translate))`,
/// `ColorJitter(brightness, contrast, saturation, hue)`, `RandomResizedCrop(scale, ratio)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Augment {
    /// Probability of a horizontal flip.
    pub flip: f64,
    /// Maximum rotation in degrees (uniform ±, counter-clockwise positive).
    pub rotate_deg: f64,
    /// Maximum translation as a fraction of the output side (uniform ±, per axis, rounded to
    /// whole pixels as torchvision's `RandomAffine` does).
    pub translate: f64,
    /// Brightness factor uniform in [max(0, 1 − b), 1 + b].
    pub brightness: f64,
    /// Contrast factor uniform in [max(0, 1 − c), 1 + c].
    pub contrast: f64,
    /// Saturation factor uniform in [max(0, 1 − s), 1 + s].
    pub saturation: f64,
    /// Hue shift uniform in [−h, h] (h ≤ 0.5).
    pub hue: f64,
    /// A random resized crop of the source instead of its center crop.
    pub random_resized_crop: Option<ResizedCrop>,
}

/// torchvision's `RandomResizedCrop` ranges.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResizedCrop {
    /// Range of the box's share of the source area.
    pub scale: [f64; 2],
    /// Range of the box's aspect ratio (width / height), drawn log-uniformly.
    pub ratio: [f64; 2],
}

impl ResizedCrop {
    /// torchvision's defaults: scale [0.08, 1], ratio [3/4, 4/3].
    pub const DEFAULT: ResizedCrop = ResizedCrop {
        scale: [0.08, 1.0],
        ratio: [3.0 / 4.0, 4.0 / 3.0],
    };
}

/// The four colour operations, in torchvision's `ColorJitter` numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColourOp {
    /// [`colour::adjust_brightness`].
    Brightness,
    /// [`colour::adjust_contrast`].
    Contrast,
    /// [`colour::adjust_saturation`].
    Saturation,
    /// [`colour::adjust_hue`].
    Hue,
}

/// Everything random about one augmented image, drawn by [`Draws::sample`].
#[derive(Debug, Clone, PartialEq)]
pub struct Draws {
    /// The source box the output shows (before flip, rotation and translation).
    pub crop: CropBox,
    /// Flip horizontally.
    pub flip: bool,
    /// Rotation in degrees, counter-clockwise.
    pub angle_deg: f64,
    /// Shift in whole output pixels (right, down).
    pub translate: (i64, i64),
    /// The order the colour operations run in (ColorJitter's `randperm(4)`).
    pub order: [ColourOp; 4],
    /// Brightness factor.
    pub brightness: f64,
    /// Contrast factor.
    pub contrast: f64,
    /// Saturation factor.
    pub saturation: f64,
    /// Hue shift.
    pub hue: f64,
}

impl Draws {
    /// Draws the parameters of one image of `src` (width, height) pixels made into `out` (width,
    /// height), from `rng`, in this order:
    ///
    /// 1. with `random_resized_crop`, the box ([`geometry::resized_crop_box`]: 2 draws per
    ///    attempt, 2 more for the placement of the box that fits; up to 10 attempts); without,
    ///    nothing (the center crop);
    /// 2. flip: 1 draw (`u < flip`);
    /// 3. angle, then the x and y shifts: 3 draws;
    /// 4. the colour order: 3 draws (a Fisher–Yates shuffle, [`Rng::shuffle`]);
    /// 5. the brightness, contrast, saturation and hue factors: 4 draws.
    ///
    /// Steps 2–5 draw even when their range is empty, so the number of draws depends only on
    /// the crop.
    pub fn sample(aug: &Augment, src: (u32, u32), out: (u32, u32), rng: &mut Rng) -> Draws {
        let crop = match &aug.random_resized_crop {
            Some(rrc) => {
                geometry::resized_crop_box(src, rrc.scale, rrc.ratio, &mut || rng.uniform())
            }
            None => geometry::center_crop_box(src, out),
        };
        let flip = rng.uniform() < aug.flip;
        let angle_deg = rng.range(-aug.rotate_deg, aug.rotate_deg);
        let max_dx = aug.translate * f64::from(out.0);
        let max_dy = aug.translate * f64::from(out.1);
        let tx = rng.range(-max_dx, max_dx).round_ties_even() as i64;
        let ty = rng.range(-max_dy, max_dy).round_ties_even() as i64;
        let mut order = [
            ColourOp::Brightness,
            ColourOp::Contrast,
            ColourOp::Saturation,
            ColourOp::Hue,
        ];
        rng.shuffle(&mut order);
        let factor = |rng: &mut Rng, b: f64| rng.range((1.0 - b).max(0.0), 1.0 + b);
        let brightness = factor(rng, aug.brightness);
        let contrast = factor(rng, aug.contrast);
        let saturation = factor(rng, aug.saturation);
        let hue = rng.range(-aug.hue, aug.hue);
        Draws {
            crop,
            flip,
            angle_deg,
            translate: (tx, ty),
            order,
            brightness,
            contrast,
            saturation,
            hue,
        }
    }
}

impl Augment {
    /// RateMeAI's: flip p=.5, rotation ±15°, translation ±10%, brightness and contrast ±0.1.
    pub const RECIPE: Augment = Augment {
        flip: 0.5,
        rotate_deg: 15.0,
        translate: 0.1,
        brightness: 0.1,
        contrast: 0.1,
        saturation: 0.0,
        hue: 0.0,
        random_resized_crop: None,
    };

    /// No change at all (every range empty): the same floats as no augmentation.
    pub const IDENTITY: Augment = Augment {
        flip: 0.0,
        rotate_deg: 0.0,
        translate: 0.0,
        brightness: 0.0,
        contrast: 0.0,
        saturation: 0.0,
        hue: 0.0,
        random_resized_crop: None,
    };

    /// Writes the image into `out` (CHW, `spec.width` × `spec.height`, normalised per `spec`),
    /// augmented with draws from `rng` when `aug` is given. An image larger (or smaller) than
    /// the output is center-cropped (padded with black) to it unless the augmentation takes a
    /// random resized crop. Without augmentation `rng` is not used.
    ///
    /// # Panics
    /// When `out` is shorter than `3 · spec.width · spec.height` (a caller's bug).
    pub fn apply(
        aug: Option<&Augment>,
        img: &RgbImage,
        spec: &PixelSpec,
        rng: &mut Rng,
        out: &mut [f32],
    ) {
        let (ow, oh) = (spec.width, spec.height);
        let plane = ow as usize * oh as usize;
        let out = &mut out[..3 * plane];
        let Some(aug) = aug else {
            normalise_u8(img, center_crop_box(img, spec), spec, out);
            return;
        };
        let draws = Draws::sample(aug, img.dimensions(), (ow, oh), rng);
        Self::apply_draws(aug, &draws, img, spec, out);
    }

    /// [`Augment::apply`] with the draws given: the warp, the colour operations whose range is
    /// not empty (in `draws.order`), the normalisation.
    pub fn apply_draws(
        aug: &Augment,
        draws: &Draws,
        img: &RgbImage,
        spec: &PixelSpec,
        out: &mut [f32],
    ) {
        let (ow, oh) = (spec.width, spec.height);
        let plane = ow as usize * oh as usize;
        let out = &mut out[..3 * plane];
        let map = Affine::pipeline(
            draws.crop,
            (ow, oh),
            draws.flip,
            draws.angle_deg,
            (draws.translate.0 as f64, draws.translate.1 as f64),
        );
        let steps: Vec<Step> = draws
            .order
            .iter()
            .filter_map(|&op| match op {
                ColourOp::Brightness if aug.brightness > 0.0 => {
                    Some(Step::brightness(draws.brightness))
                }
                // The mean is filled in once the pass before has summed the grey levels.
                ColourOp::Contrast if aug.contrast > 0.0 => {
                    Some(Step::contrast(draws.contrast, 0.0))
                }
                ColourOp::Saturation if aug.saturation > 0.0 => {
                    Some(Step::saturation(draws.saturation))
                }
                ColourOp::Hue if aug.hue > 0.0 => Some(Step::hue(draws.hue)),
                _ => None,
            })
            .collect();
        let mut passes = colour_passes(steps, spec);
        // The first pass runs on each row as the warp writes it; every later pass (one per
        // contrast step, which needs the mean grey level of the whole image before it) goes
        // over the image again row by row, summing the grey levels for the next.
        let mut sum = 0.0;
        let summing = passes.len() > 1;
        geometry::warp_rows(img, &map, ow as usize, oh as usize, out, |r, g, b| {
            colour::apply_steps(r, g, b, &passes[0]);
            if summing {
                colour::accumulate_grey(&mut sum, r, g, b);
            }
        });
        let count = passes.len();
        for (k, pass) in passes.iter_mut().enumerate().skip(1) {
            if let Some(Step::Contrast { mean, .. }) = pass.first_mut() {
                *mean = (sum / plane as f64) as f32;
            }
            sum = 0.0;
            let (r, rest) = out.split_at_mut(plane);
            let (g, b) = rest.split_at_mut(plane);
            let row = (ow as usize).max(1);
            let rows = r
                .chunks_mut(row)
                .zip(g.chunks_mut(row))
                .zip(b.chunks_mut(row));
            for ((r, g), b) in rows {
                colour::apply_steps(r, g, b, pass);
                if k + 1 < count {
                    colour::accumulate_grey(&mut sum, r, g, b);
                }
            }
        }
    }
}

/// The colour steps after the warp (bytes as floats) split into passes: the first divides by
/// 255 and runs the steps up to the first contrast step; each later pass starts with a
/// contrast step (its mean to be filled in) and runs up to the next; the last ends with the
/// normalisation. Without colour steps: one pass that normalises straight from 0..255, the
/// same bits as the un-augmented path's table.
fn colour_passes(steps: Vec<Step>, spec: &PixelSpec) -> Vec<Vec<Step>> {
    let normalise = |scale| Step::Normalise {
        scale,
        mean: spec.mean,
        std: spec.std,
    };
    if steps.is_empty() {
        return vec![vec![normalise(255.0)]];
    }
    let mut passes = vec![vec![Step::Divide(255.0)]];
    for step in steps {
        if matches!(step, Step::Contrast { .. }) {
            passes.push(Vec::new());
        }
        passes.last_mut().expect("one pass at least").push(step);
    }
    passes
        .last_mut()
        .expect("one pass at least")
        .push(normalise(1.0));
    passes
}

/// The box of a plain (un-augmented) image: its center crop of the output size.
fn center_crop_box(img: &RgbImage, spec: &PixelSpec) -> CropBox {
    geometry::center_crop_box(img.dimensions(), (spec.width, spec.height))
}

/// The un-augmented path: the values of `bx` (black outside the image) normalised through a
/// per-channel table of the 256 byte values, `(v / 255 − mean) / std`.
fn normalise_u8(img: &RgbImage, bx: CropBox, spec: &PixelSpec, out: &mut [f32]) {
    let (ow, oh) = (spec.width as usize, spec.height as usize);
    let plane = ow * oh;
    let mut lut = [[0f32; 256]; 3];
    for (c, table) in lut.iter_mut().enumerate() {
        for (v, x) in table.iter_mut().enumerate() {
            *x = (v as f32 / 255.0 - spec.mean[c]) / spec.std[c];
        }
    }
    let (w, h) = (i64::from(img.width()), i64::from(img.height()));
    let raw = img.as_raw();
    // Columns of the output that fall inside the image: x_lo..x_hi.
    let x_lo = (-bx.left).clamp(0, ow as i64) as usize;
    let x_hi = (w - bx.left).clamp(x_lo as i64, ow as i64) as usize;
    for y in 0..oh {
        let sy = bx.top + y as i64;
        let inside = sy >= 0 && sy < h && x_lo < x_hi;
        let start = if inside {
            ((sy * w + bx.left + x_lo as i64) * 3) as usize
        } else {
            0
        };
        let (r_out, rest) = out.split_at_mut(plane);
        let (g_out, b_out) = rest.split_at_mut(plane);
        let rows = [
            &mut r_out[y * ow..(y + 1) * ow],
            &mut g_out[y * ow..(y + 1) * ow],
            &mut b_out[y * ow..(y + 1) * ow],
        ];
        let [r_row, g_row, b_row] = rows;
        for (row, table) in [&mut *r_row, &mut *g_row, &mut *b_row]
            .into_iter()
            .zip(&lut)
        {
            if !inside {
                row.fill(table[0]);
            } else {
                row[..x_lo].fill(table[0]);
                row[x_hi..].fill(table[0]);
            }
        }
        if !inside {
            continue;
        }
        let src = &raw[start..start + 3 * (x_hi - x_lo)];
        let pixels = r_row[x_lo..x_hi]
            .iter_mut()
            .zip(g_row[x_lo..x_hi].iter_mut())
            .zip(b_row[x_lo..x_hi].iter_mut());
        for (((r, g), b), px) in pixels.zip(src.chunks_exact(3)) {
            *r = lut[0][usize::from(px[0])];
            *g = lut[1][usize::from(px[1])];
            *b = lut[2][usize::from(px[2])];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(width: u32, height: u32) -> PixelSpec {
        PixelSpec {
            width,
            height,
            mean: [0.5, 0.4, 0.3],
            std: [0.25, 0.2, 0.3],
        }
    }

    /// Pixels with distinct values per position and channel.
    fn test_image(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([
                (x * 20 + y) as u8,
                (y * 20 + x) as u8,
                (x * 7 + y * 3 + 5) as u8,
            ])
        })
    }

    fn run(aug: Option<&Augment>, img: &RgbImage, spec: &PixelSpec, seed: u64) -> Vec<f32> {
        let mut out = vec![f32::NAN; 3 * spec.width as usize * spec.height as usize];
        Augment::apply(aug, img, spec, &mut Rng::new(seed, &[1]), &mut out);
        out
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// The red channel back as bytes (mean 0, std 1 specs).
    fn red(out: &[f32], plane: usize) -> Vec<u8> {
        out[..plane]
            .iter()
            .map(|v| (v * 255.0).round() as u8)
            .collect()
    }

    #[test]
    fn plain_path_normalises_and_identity_augment_is_the_same_bits() {
        let img = test_image(6, 5);
        let s = spec(6, 5);
        let plain = run(None, &img, &s, 0);
        let px = img.get_pixel(1, 0);
        assert_eq!(plain[1], (f32::from(px[0]) / 255.0 - 0.5) / 0.25);
        assert_eq!(plain[30 + 1], (f32::from(px[1]) / 255.0 - 0.4) / 0.2);
        let identity = run(Some(&Augment::IDENTITY), &img, &s, 3);
        assert_eq!(bits(&plain), bits(&identity));
        // Also when the image is larger (center crop) or smaller (black padding).
        for (w, h) in [(9, 8), (4, 3)] {
            let img = test_image(w, h);
            let plain = run(None, &img, &s, 0);
            assert!(plain.iter().all(|v| v.is_finite()));
            assert_eq!(
                bits(&plain),
                bits(&run(Some(&Augment::IDENTITY), &img, &s, 5))
            );
        }
    }

    #[test]
    fn a_larger_image_is_center_cropped_and_a_smaller_one_padded() {
        let s = PixelSpec {
            mean: [0.0; 3],
            std: [1.0; 3],
            ..spec(4, 3)
        };
        let img = test_image(9, 8); // offsets round(2.5) = 2, round(2.5) = 2
        let out = run(None, &img, &s, 0);
        for y in 0..3 {
            for x in 0..4 {
                let want = img.get_pixel(x + 2, y + 2)[0];
                assert_eq!(red(&out, 12)[(y * 4 + x) as usize], want, "({x}, {y})");
            }
        }
        let small = test_image(2, 3); // padding 2: 1 left, 1 right
        let out = run(None, &small, &s, 0);
        let r = red(&out, 12);
        for y in 0..3u32 {
            let row = &r[y as usize * 4..y as usize * 4 + 4];
            let (a, b) = (small.get_pixel(0, y)[0], small.get_pixel(1, y)[0]);
            assert_eq!(row, [0, a, b, 0]);
        }
    }

    #[test]
    fn flip_mirrors() {
        let img = RgbImage::from_fn(3, 1, |x, _| image::Rgb([(x * 100) as u8, 0, 0]));
        let s = PixelSpec {
            mean: [0.0; 3],
            std: [1.0; 3],
            ..spec(3, 1)
        };
        let flip = Augment {
            flip: 1.0,
            ..Augment::IDENTITY
        };
        assert_eq!(red(&run(Some(&flip), &img, &s, 0), 3), vec![200, 100, 0]);
        let never = Augment {
            flip: 0.0,
            ..Augment::IDENTITY
        };
        assert_eq!(red(&run(Some(&never), &img, &s, 0), 3), vec![0, 100, 200]);
    }

    fn draws(crop: CropBox) -> Draws {
        Draws {
            crop,
            flip: false,
            angle_deg: 0.0,
            translate: (0, 0),
            order: [
                ColourOp::Brightness,
                ColourOp::Contrast,
                ColourOp::Saturation,
                ColourOp::Hue,
            ],
            brightness: 1.0,
            contrast: 1.0,
            saturation: 1.0,
            hue: 0.0,
        }
    }

    fn with_draws(d: &Draws, img: &RgbImage, w: u32, h: u32) -> Vec<u8> {
        let s = PixelSpec {
            width: w,
            height: h,
            mean: [0.0; 3],
            std: [1.0; 3],
        };
        let mut out = vec![0f32; 3 * (w * h) as usize];
        Augment::apply_draws(&Augment::IDENTITY, d, img, &s, &mut out);
        red(&out, (w * h) as usize)
    }

    #[test]
    fn a_quarter_turn_turns_counter_clockwise() {
        let img = test_image(5, 5);
        let full = geometry::center_crop_box((5, 5), (5, 5));
        let d = Draws {
            angle_deg: 90.0,
            ..draws(full)
        };
        let r = with_draws(&d, &img, 5, 5);
        for y in 0..5u32 {
            for x in 0..5u32 {
                // Counter-clockwise: the top row becomes the left column, read upwards.
                let want = img.get_pixel(4 - y, x)[0];
                assert_eq!(r[(y * 5 + x) as usize], want, "({x}, {y})");
            }
        }
    }

    #[test]
    fn a_shift_moves_right_and_down_with_black_behind() {
        let img = test_image(4, 4);
        let full = geometry::center_crop_box((4, 4), (4, 4));
        let d = Draws {
            translate: (1, 2),
            ..draws(full)
        };
        let r = with_draws(&d, &img, 4, 4);
        for y in 0..4u32 {
            for x in 0..4u32 {
                let want = if x < 1 || y < 2 {
                    0
                } else {
                    img.get_pixel(x - 1, y - 2)[0]
                };
                assert_eq!(r[(y * 4 + x) as usize], want, "({x}, {y})");
            }
        }
    }

    #[test]
    fn a_crop_box_is_resized_with_pixel_centres_aligned() {
        // The whole 8×8 image to 4×4: each output pixel is the mean of a 2×2 block.
        let img = test_image(8, 8);
        let whole = CropBox {
            left: 0,
            top: 0,
            width: 8,
            height: 8,
        };
        let r = with_draws(&draws(whole), &img, 4, 4);
        for y in 0..4u32 {
            for x in 0..4u32 {
                let sum: u32 = [(0, 0), (1, 0), (0, 1), (1, 1)]
                    .iter()
                    .map(|(dx, dy)| u32::from(img.get_pixel(2 * x + dx, 2 * y + dy)[0]))
                    .sum();
                let want = (sum as f32 / 4.0).round() as u8;
                assert_eq!(r[(y * 4 + x) as usize], want, "({x}, {y})");
            }
        }
        // An offset box of the output size is a plain window.
        let window = CropBox {
            left: 3,
            top: 1,
            width: 4,
            height: 4,
        };
        let r = with_draws(&draws(window), &img, 4, 4);
        assert_eq!(r[0], img.get_pixel(3, 1)[0]);
        assert_eq!(r[15], img.get_pixel(6, 4)[0]);
    }

    #[test]
    fn the_same_rng_gives_the_same_bits_and_another_differs() {
        let img = test_image(40, 36);
        let s = spec(32, 32);
        let aug = Augment {
            saturation: 0.3,
            hue: 0.1,
            random_resized_crop: Some(ResizedCrop::DEFAULT),
            ..Augment::RECIPE
        };
        for a in [&Augment::RECIPE, &aug] {
            let one = run(Some(a), &img, &s, 11);
            assert_eq!(bits(&one), bits(&run(Some(a), &img, &s, 11)));
            assert_ne!(bits(&one), bits(&run(Some(a), &img, &s, 12)));
            assert!(one.iter().all(|v| v.is_finite()));
        }
    }

    #[test]
    fn the_draws_come_in_the_documented_order_and_number() {
        let mut rng = Rng::new(4, &[]);
        let d = Draws::sample(&Augment::RECIPE, (10, 10), (10, 10), &mut rng);
        // Without a random resized crop: 1 flip + 3 affine + 3 order + 4 factors.
        let mut replay = Rng::new(4, &[]);
        let u: Vec<f64> = (0..11).map(|_| replay.uniform()).collect();
        assert_eq!(rng.next_u64(), replay.next_u64(), "11 draws");
        assert_eq!(d.flip, u[0] < 0.5);
        assert_eq!(d.angle_deg, -15.0 + 30.0 * u[1]);
        assert_eq!(d.translate.0, (-1.0 + 2.0 * u[2]).round_ties_even() as i64);
        assert_eq!(d.brightness, 0.9 + (1.1 - 0.9) * u[7]);
        assert_eq!(d.hue, 0.0);
        assert_eq!(d.crop, geometry::center_crop_box((10, 10), (10, 10)));
    }
}
