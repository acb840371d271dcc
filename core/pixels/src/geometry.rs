//! The geometric half of the augmentation: crop boxes (center, torchvision's
//! `RandomResizedCrop`), the one inverse affine map that fuses crop, resize, flip, rotation and
//! translation, and the single bilinear pass that applies it.
//!
//! Coordinates are pixel indices with pixel centres at integers (pixel `(0, 0)` covers
//! `[-0.5, 0.5)²`), as in torchvision's tensor transforms.

use image::RgbImage;

/// A box of the source image, in pixels. It may reach past the image (a center crop larger than
/// the image): black there, as torchvision pads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CropBox {
    /// Column of the box's left edge.
    pub left: i64,
    /// Row of the box's top edge.
    pub top: i64,
    /// Width in pixels (at least 1).
    pub width: u32,
    /// Height in pixels (at least 1).
    pub height: u32,
}

/// torchvision's `center_crop` box of `out` (width, height) in an image of `src` (width,
/// height): offsets `round((src − out) / 2)` (ties to even, as Python rounds) when the image is
/// larger, `−((out − src) / 2)` (integer division, the padding's left/top part) when smaller.
pub fn center_crop_box(src: (u32, u32), out: (u32, u32)) -> CropBox {
    let offset = |s: u32, o: u32| -> i64 {
        if s >= o {
            ((f64::from(s) - f64::from(o)) / 2.0).round_ties_even() as i64
        } else {
            -(i64::from(o - s) / 2)
        }
    };
    CropBox {
        left: offset(src.0, out.0),
        top: offset(src.1, out.1),
        width: out.0.max(1),
        height: out.1.max(1),
    }
}

/// torchvision's `RandomResizedCrop.get_params` for an image of `src` (width, height): up to 10
/// attempts of an area share uniform in `scale` and an aspect ratio (width / height)
/// log-uniform in `ratio`; the first box that fits is placed uniformly; after 10 misses, the
/// central box of the image clamped to `ratio`.
///
/// Draws from `uniform` (values in [0, 1)), in this order, per attempt: the area share, the
/// log-ratio, and when the box fits its top row then its left column (`floor(u · choices)`, as
/// `torch.randint`). Values are rounded as torchvision rounds them: the two uniforms to `f32`
/// (torch's float tensors), sizes with ties to even (Python's `round`).
pub fn resized_crop_box(
    src: (u32, u32),
    scale: [f64; 2],
    ratio: [f64; 2],
    uniform: &mut impl FnMut() -> f64,
) -> CropBox {
    let (width, height) = (i64::from(src.0), i64::from(src.1));
    let area = (width * height) as f64;
    // torch.log(torch.tensor(ratio)): float32.
    let log_ratio = [
        f64::from((ratio[0] as f32).ln()),
        f64::from((ratio[1] as f32).ln()),
    ];
    let between = |u: f64, lo: f64, hi: f64| f64::from((lo + (hi - lo) * u) as f32);
    for _ in 0..10 {
        let target_area = area * between(uniform(), scale[0], scale[1]);
        let aspect = f64::from((between(uniform(), log_ratio[0], log_ratio[1]) as f32).exp());
        let w = (target_area * aspect).sqrt().round_ties_even() as i64;
        let h = (target_area / aspect).sqrt().round_ties_even() as i64;
        if 0 < w && w <= width && 0 < h && h <= height {
            let top = randint(uniform(), height - h + 1);
            let left = randint(uniform(), width - w + 1);
            return CropBox {
                left,
                top,
                width: w as u32,
                height: h as u32,
            };
        }
    }
    let in_ratio = width as f64 / height.max(1) as f64;
    let (lo, hi) = (ratio[0].min(ratio[1]), ratio[0].max(ratio[1]));
    let (w, h) = if in_ratio < lo {
        (width, (width as f64 / lo).round_ties_even() as i64)
    } else if in_ratio > hi {
        ((height as f64 * hi).round_ties_even() as i64, height)
    } else {
        (width, height)
    };
    CropBox {
        left: (width - w).div_euclid(2),
        top: (height - h).div_euclid(2),
        width: w.max(1) as u32,
        height: h.max(1) as u32,
    }
}

/// `torch.randint(0, n)` from a uniform draw: `floor(u · n)`, kept below `n`.
fn randint(u: f64, n: i64) -> i64 {
    ((u * n as f64) as i64).clamp(0, n.max(1) - 1)
}

/// An affine map from output pixel `(x, y)` to source position
/// `(a·x + b·y + c, d·x + e·y + f)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine {
    /// ∂source_x/∂x.
    pub a: f64,
    /// ∂source_x/∂y.
    pub b: f64,
    /// source_x at the origin.
    pub c: f64,
    /// ∂source_y/∂x.
    pub d: f64,
    /// ∂source_y/∂y.
    pub e: f64,
    /// source_y at the origin.
    pub f: f64,
}

impl Affine {
    /// The identity map.
    pub const IDENTITY: Affine = Affine {
        a: 1.0,
        b: 0.0,
        c: 0.0,
        d: 0.0,
        e: 1.0,
        f: 0.0,
    };

    /// The inverse map of this pipeline, for an output of `out` (width, height) pixels:
    /// crop `crop` of the source and resize it to `out` (torchvision's `resize`, pixel centres
    /// aligned: `src = left + (x + 0.5)·crop_w/out_w − 0.5`), then flip horizontally when
    /// `flip`, then rotate by `angle_deg` counter-clockwise (as torchvision's `rotate` and
    /// `affine`) about the output's centre `((w − 1)/2, (h − 1)/2)` and shift by
    /// `translate` pixels (right, down).
    pub fn pipeline(
        crop: CropBox,
        out: (u32, u32),
        flip: bool,
        angle_deg: f64,
        translate: (f64, f64),
    ) -> Affine {
        let (ow, oh) = (f64::from(out.0.max(1)), f64::from(out.1.max(1)));
        let (cx, cy) = ((ow - 1.0) / 2.0, (oh - 1.0) / 2.0);
        // Output → before the rotation and shift: p = R⁻¹(q − c − t) + c, with R rotating
        // counter-clockwise on screen (y down).
        let (sin, cos) = angle_deg.to_radians().sin_cos();
        let (u0, v0) = (-cx - translate.0, -cy - translate.1);
        let rot = Affine {
            a: cos,
            b: -sin,
            c: cos * u0 - sin * v0 + cx,
            d: sin,
            e: cos,
            f: sin * u0 + cos * v0 + cy,
        };
        // Undo the flip: x → (w − 1) − x.
        let unflip = if flip {
            Affine {
                a: -1.0,
                b: 0.0,
                c: ow - 1.0,
                ..Affine::IDENTITY
            }
        } else {
            Affine::IDENTITY
        };
        // Undo the resize of the crop box.
        let (sx, sy) = (f64::from(crop.width) / ow, f64::from(crop.height) / oh);
        let uncrop = Affine {
            a: sx,
            b: 0.0,
            c: crop.left as f64 + 0.5 * sx - 0.5,
            d: 0.0,
            e: sy,
            f: crop.top as f64 + 0.5 * sy - 0.5,
        };
        uncrop.after(unflip.after(rot))
    }

    /// `self ∘ first`: the map that applies `first`, then `self`.
    pub fn after(&self, first: Affine) -> Affine {
        let s = self;
        Affine {
            a: s.a * first.a + s.b * first.d,
            b: s.a * first.b + s.b * first.e,
            c: s.a * first.c + s.b * first.f + s.c,
            d: s.d * first.a + s.e * first.d,
            e: s.d * first.b + s.e * first.e,
            f: s.d * first.c + s.e * first.f + s.f,
        }
    }
}

/// Writes `src` seen through `map` into `out`: CHW, `out_w` × `out_h`, values 0..=255 as `f32`.
/// Bilinear between the four nearest source pixels, taps outside the image black (zero
/// padding, as `grid_sample`'s). One pass: per row the start position, per pixel one step
/// (`f32`). Integer positions reproduce the source values exactly.
pub fn warp(src: &RgbImage, map: &Affine, out_w: usize, out_h: usize, out: &mut [f32]) {
    warp_rows(src, map, out_w, out_h, out, |_, _, _| {});
}

/// [`warp`], handing each output row (its red, green and blue values) to `row_done` as soon
/// as it is written, while it is still in cache.
///
/// Pixels go in runs of [`LANES`]: positions, taps and weights of a run are computed lane by
/// lane in arrays (loops the compiler turns into SIMD), the 12 source bytes of each pixel are
/// gathered, and the interpolation runs over the lanes. Per pixel the arithmetic is the one
/// [`warp_pixel`] does, so both give the same bits; a run with a tap outside the image, and
/// the last pixels of a row, go pixel by pixel through [`warp_pixel`].
pub fn warp_rows(
    src: &RgbImage,
    map: &Affine,
    out_w: usize,
    out_h: usize,
    out: &mut [f32],
    mut row_done: impl FnMut(&mut [f32], &mut [f32], &mut [f32]),
) {
    let plane = out_w * out_h;
    let (r_out, rest) = out[..3 * plane].split_at_mut(plane);
    let (g_out, b_out) = rest.split_at_mut(plane);
    let (w, h) = (src.width() as i32, src.height() as i32);
    let raw = src.as_raw();
    let stride = 3 * w as usize;
    let (a, d) = (map.a as f32, map.d as f32);
    let row = out_w.max(1);
    let rows = r_out
        .chunks_exact_mut(row)
        .zip(g_out.chunks_exact_mut(row))
        .zip(b_out.chunks_exact_mut(row));
    for (y, ((r_row, g_row), b_row)) in rows.take(out_h).enumerate() {
        let yf = y as f64;
        let sx0 = (map.b * yf + map.c) as f32;
        let sy0 = (map.e * yf + map.f) as f32;
        let mut x = 0;
        while x < out_w {
            let n = LANES.min(out_w - x);
            let mut x0 = [0i32; LANES];
            let mut y0 = [0i32; LANES];
            let mut fx = [0f32; LANES];
            let mut fy = [0f32; LANES];
            for k in 0..LANES {
                let xf = (x + k) as f32;
                let (sx, sy) = (sx0 + a * xf, sy0 + d * xf);
                x0[k] = floor_lane(sx);
                y0[k] = floor_lane(sy);
                fx[k] = sx - x0[k] as f32;
                fy[k] = sy - y0[k] as f32;
            }
            let inside =
                (0..LANES).all(|k| x0[k] >= 0 && y0[k] >= 0 && x0[k] < w - 1 && y0[k] < h - 1);
            if n < LANES || !inside {
                for k in 0..n {
                    let px = warp_pixel(raw, w, h, x0[k], y0[k], fx[k], fy[k]);
                    r_row[x + k] = px[0];
                    g_row[x + k] = px[1];
                    b_row[x + k] = px[2];
                }
                x += n;
                continue;
            }
            // taps[corner][channel][lane]: corners 00, 10, 01, 11.
            let mut taps = [[[0u8; LANES]; 3]; 4];
            for k in 0..LANES {
                let i = y0[k] as usize * stride + 3 * x0[k] as usize;
                let (top, bottom) = (&raw[i..i + 6], &raw[i + stride..i + stride + 6]);
                for c in 0..3 {
                    taps[0][c][k] = top[c];
                    taps[1][c][k] = top[c + 3];
                    taps[2][c][k] = bottom[c];
                    taps[3][c][k] = bottom[c + 3];
                }
            }
            for (c, row) in [&mut *r_row, &mut *g_row, &mut *b_row]
                .into_iter()
                .enumerate()
            {
                let mut v = [0f32; LANES];
                for k in 0..LANES {
                    let p00 = f32::from(taps[0][c][k]);
                    let p10 = f32::from(taps[1][c][k]);
                    let p01 = f32::from(taps[2][c][k]);
                    let p11 = f32::from(taps[3][c][k]);
                    let t = p00 + (p10 - p00) * fx[k];
                    let b = p01 + (p11 - p01) * fx[k];
                    v[k] = t + (b - t) * fy[k];
                }
                // A fixed-size copy: a couple of vector stores, not a memcpy call.
                let dst: &mut [f32; LANES] =
                    (&mut row[x..x + LANES]).try_into().expect("LANES values");
                *dst = v;
            }
            x += n;
        }
        row_done(r_row, g_row, b_row);
    }
}

/// `floor(v)` for the lanes of [`warp_rows`], in operations that vectorise (no saturating
/// float-to-int conversion): adding 1.5·2²³ leaves round-to-nearest(v) in the low mantissa
/// bits, and one comparison turns it into the floor. Exact for |v| < 2²²; positions beyond
/// (every tap black there) are clamped to that range first.
#[inline(always)]
fn floor_lane(v: f32) -> i32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 · 2²³
    let v = v.clamp(-4_194_304.0, 4_194_303.0);
    let nearest = (v + MAGIC).to_bits() as i32 - MAGIC.to_bits() as i32;
    nearest - i32::from((nearest as f32) > v)
}

/// Output pixels [`warp_rows`] computes together.
const LANES: usize = 8;

/// One output pixel whose top-left tap is `(x0, y0)` with weights `fx`, `fy`: bilinear between
/// the four taps, a tap outside the image black.
fn warp_pixel(raw: &[u8], w: i32, h: i32, x0: i32, y0: i32, fx: f32, fy: f32) -> [f32; 3] {
    if x0 < -1 || y0 < -1 || x0 >= w || y0 >= h {
        return [0.0; 3];
    }
    let stride = 3 * w as usize;
    let tap = |xi: i32, yi: i32| -> [f32; 3] {
        if xi < 0 || yi < 0 || xi >= w || yi >= h {
            return [0.0; 3];
        }
        let i = yi as usize * stride + 3 * xi as usize;
        [
            f32::from(raw[i]),
            f32::from(raw[i + 1]),
            f32::from(raw[i + 2]),
        ]
    };
    let (p00, p10) = (tap(x0, y0), tap(x0 + 1, y0));
    let (p01, p11) = (tap(x0, y0 + 1), tap(x0 + 1, y0 + 1));
    let lerp = |k: usize| {
        let t = p00[k] + (p10[k] - p00[k]) * fx;
        let b = p01[k] + (p11[k] - p01[k]) * fx;
        t + (b - t) * fy
    };
    [lerp(0), lerp(1), lerp(2)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn center_crop_offsets_round_like_python_and_pad_when_smaller() {
        let b = center_crop_box((10, 7), (4, 4));
        assert_eq!(
            (b.left, b.top, b.width, b.height),
            (3, 2, 4, 4),
            "3.0, 1.5 → 2"
        );
        assert_eq!(
            center_crop_box((5, 5), (4, 4)).left,
            0,
            "0.5 → 0 (ties to even)"
        );
        assert_eq!(center_crop_box((7, 7), (4, 4)).left, 2, "1.5 → 2");
        assert_eq!(
            center_crop_box((4, 4), (7, 4)).left,
            -1,
            "padding 3: 1 left, 2 right"
        );
        assert_eq!(
            center_crop_box((4, 4), (4, 4)),
            CropBox {
                left: 0,
                top: 0,
                width: 4,
                height: 4
            }
        );
    }

    #[test]
    fn taps_past_the_right_and_bottom_edges_are_black() {
        // Half a pixel right and down: the last column and row blend with black, never with
        // the next row's first pixel.
        let img = RgbImage::from_fn(2, 3, |x, y| {
            image::Rgb([100 + 50 * x as u8 + 10 * y as u8, 0, 0])
        });
        let map = Affine {
            c: 0.5,
            f: 0.5,
            ..Affine::IDENTITY
        };
        let mut out = vec![f32::NAN; 18];
        warp(&img, &map, 2, 3, &mut out);
        let p = |x: u32, y: u32| f32::from(img.get_pixel(x, y)[0]);
        let mut want = Vec::new();
        for y in 0..2 {
            want.push((p(0, y) + p(1, y) + p(0, y + 1) + p(1, y + 1)) / 4.0);
            want.push((p(1, y) + p(1, y + 1)) / 4.0);
        }
        want.push((p(0, 2) + p(1, 2)) / 4.0);
        want.push(p(1, 2) / 4.0);
        assert_eq!(&out[..6], &want[..]);
        assert!(out[6..].iter().all(|&v| v == 0.0));
    }

    /// The reference warp's `floor`, for positions well inside `i32` (a truncating conversion and a fix-up: no libm
    /// call on the baseline x86-64 target). Saturates far outside, where every tap is black.
    fn floor(v: f32) -> i32 {
        let t = v as i32;
        if (t as f32) > v { t - 1 } else { t }
    }

    /// The warp as it was before it went in runs of lanes: one pixel at a time.
    fn warp_reference(src: &RgbImage, map: &Affine, out_w: usize, out_h: usize, out: &mut [f32]) {
        let plane = out_w * out_h;
        let (r_out, rest) = out[..3 * plane].split_at_mut(plane);
        let (g_out, b_out) = rest.split_at_mut(plane);
        let (w, h) = (src.width() as i32, src.height() as i32);
        let raw = src.as_raw();
        let stride = 3 * w as usize;
        let (a, d) = (map.a as f32, map.d as f32);
        // Positions whose 4 taps all lie inside: x0 ∈ [0, w − 2], y0 ∈ [0, h − 2].
        let tap = |xi: i32, yi: i32| -> [f32; 3] {
            if xi < 0 || yi < 0 || xi >= w || yi >= h {
                return [0.0; 3];
            }
            let i = yi as usize * stride + 3 * xi as usize;
            [
                f32::from(raw[i]),
                f32::from(raw[i + 1]),
                f32::from(raw[i + 2]),
            ]
        };
        let rows = r_out
            .chunks_exact_mut(out_w)
            .zip(g_out.chunks_exact_mut(out_w))
            .zip(b_out.chunks_exact_mut(out_w));
        for (y, ((r_row, g_row), b_row)) in rows.take(out_h).enumerate() {
            let yf = y as f64;
            let sx0 = (map.b * yf + map.c) as f32;
            let sy0 = (map.e * yf + map.f) as f32;
            let mut xf = 0f32;
            let pixels = r_row.iter_mut().zip(g_row.iter_mut()).zip(b_row.iter_mut());
            for ((r, g), b) in pixels {
                let sx = sx0 + a * xf;
                let sy = sy0 + d * xf;
                xf += 1.0;
                let (x0, y0) = (floor(sx), floor(sy));
                let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
                let inside = x0 >= 0 && y0 >= 0 && x0 < w - 1 && y0 < h - 1;
                let i = if inside {
                    y0 as usize * stride + 3 * x0 as usize
                } else {
                    0
                };
                let px = match (raw.get(i..i + 6), raw.get(i + stride..i + stride + 6)) {
                    (Some(top), Some(bottom)) if inside => {
                        let lerp = |k: usize| {
                            let p00 = f32::from(top[k]);
                            let p10 = f32::from(top[k + 3]);
                            let p01 = f32::from(bottom[k]);
                            let p11 = f32::from(bottom[k + 3]);
                            let t = p00 + (p10 - p00) * fx;
                            let b = p01 + (p11 - p01) * fx;
                            t + (b - t) * fy
                        };
                        [lerp(0), lerp(1), lerp(2)]
                    }
                    _ if x0 < -1 || y0 < -1 || x0 >= w || y0 >= h => [0.0; 3],
                    _ => {
                        let (p00, p10) = (tap(x0, y0), tap(x0 + 1, y0));
                        let (p01, p11) = (tap(x0, y0 + 1), tap(x0 + 1, y0 + 1));
                        let lerp = |k: usize| {
                            let t = p00[k] + (p10[k] - p00[k]) * fx;
                            let b = p01[k] + (p11[k] - p01[k]) * fx;
                            t + (b - t) * fy
                        };
                        [lerp(0), lerp(1), lerp(2)]
                    }
                };
                *r = px[0];
                *g = px[1];
                *b = px[2];
            }
        }
    }

    /// The lane-wise warp gives the same bits as the pixel-by-pixel one, for maps that rotate,
    /// flip, scale and reach past every edge.
    #[test]
    fn the_lane_wise_warp_equals_the_pixel_wise_one() {
        let img = RgbImage::from_fn(37, 29, |x, y| {
            image::Rgb([(x * 7 + y * 3) as u8, (x * y) as u8, (255 - x * 5) as u8])
        });
        let mut seed = 7u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        for case in 0..200 {
            let crop = CropBox {
                left: (next() * 20.0) as i64 - 5,
                top: (next() * 16.0) as i64 - 4,
                width: 5 + (next() * 40.0) as u32,
                height: 5 + (next() * 30.0) as u32,
            };
            let out = (1 + (next() * 30.0) as u32, 1 + (next() * 25.0) as u32);
            let map = Affine::pipeline(
                crop,
                out,
                next() < 0.5,
                next() * 90.0 - 45.0,
                (next() * 8.0 - 4.0, next() * 8.0 - 4.0),
            );
            let n = 3 * (out.0 * out.1) as usize;
            let (mut a, mut b) = (vec![f32::NAN; n], vec![f32::NAN; n]);
            warp(&img, &map, out.0 as usize, out.1 as usize, &mut a);
            warp_reference(&img, &map, out.0 as usize, out.1 as usize, &mut b);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&a), bits(&b), "case {case}: {map:?} {out:?}");
        }
    }

    #[test]
    fn floor_matches_std() {
        for v in [-2.5f32, -1.0, -0.999, -0.0, 0.0, 0.3, 1.0, 7.999, 455.5] {
            assert_eq!(floor(v), v.floor() as i32, "{v}");
            assert_eq!(floor_lane(v), v.floor() as i32, "{v}");
        }
        for i in -20_000i32..20_000 {
            let v = i as f32 * 0.37 + 0.001;
            assert_eq!(floor_lane(v), v.floor() as i32, "{v}");
            let next = f32::from_bits((i.unsigned_abs().max(1) as f32).to_bits() - 1);
            assert_eq!(floor_lane(next), next.floor() as i32, "{next}");
        }
        assert!(floor_lane(1e9) >= 4_000_000 && floor_lane(-1e9) <= -4_000_000);
    }

    #[test]
    fn pipeline_without_changes_is_the_crop_offset() {
        let crop = CropBox {
            left: 3,
            top: -2,
            width: 8,
            height: 8,
        };
        let m = Affine::pipeline(crop, (8, 8), false, 0.0, (0.0, 0.0));
        assert_eq!(
            m,
            Affine {
                a: 1.0,
                b: 0.0,
                c: 3.0,
                d: 0.0,
                e: 1.0,
                f: -2.0
            }
        );
        let m = Affine::pipeline(crop, (8, 8), true, 0.0, (1.0, 0.0));
        // x' = 7 − (x − 1) + 3.
        assert_eq!((m.a, m.c), (-1.0, 11.0));
    }
}
