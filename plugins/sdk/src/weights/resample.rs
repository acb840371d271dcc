//! Bicubic resampling of a grid of vectors, as PyTorch computes it.

/// PyTorch's cubic convolution constant (`upsample_bicubic2d`; PIL and antialiased resizes use
/// -0.5).
const A: f64 = -0.75;

/// The four weights of the taps at offsets -1, 0, 1, 2 around a source position `t` past its
/// floor (PyTorch's `get_cubic_upsample_coefficients`).
fn cubic_weights(t: f64) -> [f64; 4] {
    let near = |x: f64| ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
    let far = |x: f64| ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A;
    [far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)]
}

/// For each output index along an axis of `from` → `to` samples: the four source indices
/// (clamped to the edge, as PyTorch reads out-of-range taps) and their weights, with
/// `align_corners=False` and no explicit scale (source = (out + 0.5) · from/to − 0.5, unclamped
/// for cubic).
fn taps(from: usize, to: usize) -> Vec<([usize; 4], [f64; 4])> {
    let scale = from as f32 / to as f32;
    (0..to)
        .map(|o| {
            let src = f64::from(scale) * (o as f64 + 0.5) - 0.5;
            let floor = src.floor();
            let index = |k: i64| (floor as i64 + k).clamp(0, from as i64 - 1) as usize;
            (
                [index(-1), index(0), index(1), index(2)],
                cubic_weights(src - floor),
            )
        })
        .collect()
}

/// Resizes a `side_in × side_in` grid of `dim`-wide vectors (row-major: `[rows, cols, dim]`)
/// to `side_out × side_out` by bicubic interpolation of each channel, as PyTorch's
/// `F.interpolate(x, size=(side_out, side_out), mode="bicubic", align_corners=False)` computes
/// it on the grid laid out `[1, dim, side_in, side_in]` (no antialiasing, so downsizing reads
/// only the four nearest taps, as PyTorch does).
pub fn bicubic_grid(grid: &[f32], side_in: usize, side_out: usize, dim: usize) -> Vec<f32> {
    assert_eq!(
        grid.len(),
        side_in * side_in * dim,
        "grid of {side_in}² × {dim}"
    );
    let taps = taps(side_in, side_out);
    let mut out = vec![0.0f32; side_out * side_out * dim];
    let mut acc = vec![0.0f64; dim];
    for (oy, (rows, wy)) in taps.iter().enumerate() {
        for (ox, (cols, wx)) in taps.iter().enumerate() {
            acc.fill(0.0);
            for (&r, &w_r) in rows.iter().zip(wy) {
                for (&c, &w_c) in cols.iter().zip(wx) {
                    let w = w_r * w_c;
                    let src = &grid[(r * side_in + c) * dim..][..dim];
                    for (a, &v) in acc.iter_mut().zip(src) {
                        *a += w * f64::from(v);
                    }
                }
            }
            let dst = &mut out[(oy * side_out + ox) * dim..][..dim];
            for (d, a) in dst.iter_mut().zip(&acc) {
                *d = *a as f32;
            }
        }
    }
    out
}
