//! The standard normal distribution as TrueSkill needs it: cdf, pdf, ppf, and the truncated
//! Gaussian corrections `v` and `w` for a win and a draw.
//!
//! `cdf` and `ppf` use the same rational approximation of erfc (Numerical Recipes' `erfcc`,
//! relative error below 1.2e-7) and the same two Newton steps for its inverse as Python
//! `trueskill` 0.4.5's default backend, so updates agree with it to about 1e-12 rather than 1e-7.
//!
//! Far in the tail (a very unexpected result, more than 10 standard deviations of the
//! performance difference), where that backend loses accuracy and then gives up (`cdf`
//! underflows, or `w` leaves (0, 1) by rounding), [`v_w_win`] and [`v_w_draw`] switch to a
//! continued fraction of the Mills ratio, which stays accurate for any argument. Python `trueskill` raises `FloatingPointError`
//! there; its `mpmath` backend agrees with these values.

use std::f64::consts::{FRAC_2_SQRT_PI, PI, SQRT_2};

/// Below `-TAIL_CUT` (in units of the performance spread) the tail formulas replace the ratio of
/// the approximated pdf and cdf, whose error in `w` grows like the argument squared (about 1e-5
/// relative at the cut). Up to the cut, results stay identical to Python's default backend.
const TAIL_CUT: f64 = 10.0;

/// Complementary error function (rational Chebyshev fit, |relative error| < 1.2e-7).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + z / 2.0);
    let poly = -1.26551223
        + t * (1.00002368
            + t * (0.37409196
                + t * (0.09678418
                    + t * (-0.18628806
                        + t * (0.27886807
                            + t * (-1.13520398
                                + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
    let r = t * (-z * z + poly).exp();
    if x < 0.0 { 2.0 - r } else { r }
}

/// Inverse of [`erfc`] (an initial guess and two Newton steps on `erfc` itself).
// The guess's -0.70711 is the reference implementation's literal, kept for identical results.
#[allow(clippy::approx_constant)]
pub fn erfc_inv(y: f64) -> f64 {
    if y >= 2.0 {
        return -100.0;
    }
    if y <= 0.0 {
        return 100.0;
    }
    let lower_half = y < 1.0;
    let y = if lower_half { y } else { 2.0 - y };
    let t = (-2.0 * (y / 2.0).ln()).sqrt();
    let mut x = -0.70711 * ((2.30753 + t * 0.27061) / (1.0 + t * (0.99229 + t * 0.04481)) - t);
    for _ in 0..2 {
        let err = erfc(x) - y;
        x += err / (FRAC_2_SQRT_PI * (-(x * x)).exp() - x * err);
    }
    if lower_half { x } else { -x }
}

/// Standard normal cumulative distribution function.
pub fn cdf(x: f64) -> f64 {
    0.5 * erfc(-x / SQRT_2)
}

/// Standard normal density.
pub fn pdf(x: f64) -> f64 {
    (-x * x / 2.0).exp() / (2.0 * PI).sqrt()
}

/// Standard normal quantile function (inverse of [`cdf`]).
pub fn ppf(p: f64) -> f64 {
    -SQRT_2 * erfc_inv(2.0 * p)
}

/// Mills ratio tail for `y >= TAIL_CUT`: returns `k` with `pdf(y) / cdf(-y) = y + k`.
///
/// From the continued fraction `cdf(-y) / pdf(y) = 1/(y + 1/(y + 2/(y + 3/(y + ...))))`, so
/// `k = 1/(y + 2/(y + 3/(y + ...)))`, evaluated from the back.
fn mills_tail(y: f64) -> f64 {
    let mut f = 0.0;
    for n in (2..=80).rev() {
        f = n as f64 / (y + f);
    }
    1.0 / (y + f)
}

/// `cdf(-y) / pdf(y)` for `y >= TAIL_CUT`.
fn mills_ratio(y: f64) -> f64 {
    1.0 / (y + mills_tail(y))
}

/// TrueSkill's `v` and `w` for a win: the mean shift and the variance shrink factor of the
/// performance difference `t` (in units of its standard deviation) truncated to `t > margin`.
pub fn v_w_win(t: f64, margin: f64) -> (f64, f64) {
    let x = t - margin;
    if x < -TAIL_CUT {
        let y = -x;
        let k = mills_tail(y);
        let v = y + k;
        return (v, v * k);
    }
    let denom = cdf(x);
    let v = if denom != 0.0 { pdf(x) / denom } else { -x };
    let w = v * (v + x);
    (v, w.clamp(0.0, 1.0))
}

/// TrueSkill's `v` and `w` for a draw: the performance difference `t` truncated to
/// `|t| <= margin`. Returns `None` where a draw is impossible (zero margin).
pub fn v_w_draw(t: f64, margin: f64) -> Option<(f64, f64)> {
    if margin <= 0.0 {
        return None;
    }
    let abs_t = t.abs();
    let sign = if t < 0.0 { -1.0 } else { 1.0 };
    let a = margin - abs_t;
    let b = -margin - abs_t;
    if a < -TAIL_CUT {
        // Both ends in the far tail: scale everything by pdf(a), which cancels.
        let (ya, yb) = (-a, -b);
        let r = (-2.0 * margin * abs_t).exp(); // pdf(b) / pdf(a)
        let denom = mills_ratio(ya) - r * mills_ratio(yb);
        let v = (r - 1.0) / denom;
        let w = v * v + (yb * r - ya) / denom;
        return Some((v * sign, w));
    }
    let denom = cdf(a) - cdf(b);
    if denom == 0.0 {
        return None;
    }
    let v = (pdf(b) - pdf(a)) / denom;
    let w = v * v + (a * pdf(a) - b * pdf(b)) / denom;
    Some((v * sign, w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdf_and_ppf_invert_each_other() {
        for &p in &[1e-6, 0.01, 0.3, 0.5, 0.55, 0.9, 0.999] {
            assert!((cdf(ppf(p)) - p).abs() < 1e-9 * p.max(1e-3), "{p}");
        }
        assert!((cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((cdf(1.0) - 0.841_344_746).abs() < 2e-7);
    }

    #[test]
    fn win_tail_joins_the_direct_formula() {
        // Just inside the cut both formulas are accurate; they must agree.
        let inside = -TAIL_CUT + 1e-9;
        let outside = -TAIL_CUT - 1e-9;
        let (v1, w1) = v_w_win(inside, 0.0);
        let (v2, w2) = v_w_win(outside, 0.0);
        assert!((v1 - v2).abs() / v1 < 1e-6, "{v1} {v2}");
        assert!((w1 - w2).abs() / w1 < 1e-5, "{w1} {w2}");
    }

    #[test]
    fn win_tail_stays_in_range_far_out() {
        for &x in &[-10.0, -40.0, -1e3, -1e6] {
            let (v, w) = v_w_win(x, 0.0);
            assert!(v > -x && v.is_finite(), "{x} {v}");
            assert!(w > 0.0 && w < 1.0, "{x} {w}");
        }
        let (v, w) = v_w_win(60.0, 0.0);
        assert_eq!((v, w), (0.0, 0.0));
    }

    #[test]
    fn draw_tail_joins_the_direct_formula() {
        let margin = 0.3;
        let t_in = TAIL_CUT + margin - 1e-9;
        let t_out = TAIL_CUT + margin + 1e-9;
        let (v1, w1) = v_w_draw(t_in, margin).unwrap();
        let (v2, w2) = v_w_draw(t_out, margin).unwrap();
        assert!((v1 - v2).abs() / v1.abs() < 1e-5, "{v1} {v2}");
        assert!((w1 - w2).abs() / w1 < 1e-4, "{w1} {w2}");
        let (v, w) = v_w_draw(-300.0, margin).unwrap();
        assert!(v > 0.0 && w > 0.0 && w < 1.0, "{v} {w}");
    }
}
