//! Match quality: the probability of a draw between all teams relative to the highest draw
//! probability possible, as TrueSkill defines it (Herbrich et al.; the matrix form of
//! Python `trueskill`'s `quality`).
//!
//! With `A` the (teams-1) x players matrix that maps player skills to differences of
//! neighbouring team performances (`+w` for the left team's players, `-w` for the right's),
//! `m` the skill means and `S` their variances on the diagonal:
//! `quality = exp(-0.5 mᵀAᵀ (b²AAᵀ + ASAᵀ)⁻¹ A m) · sqrt(det(b²AAᵀ) / det(b²AAᵀ + ASAᵀ))`.

use super::Rating;

/// Quality of a match between teams; `weights` per player (1 for full play).
pub(super) fn quality(beta: f64, teams: &[Vec<Rating>], weights: &[Vec<f64>]) -> f64 {
    let ratings: Vec<Rating> = teams.iter().flatten().copied().collect();
    let w: Vec<f64> = weights.iter().flatten().copied().collect();
    let n = ratings.len();
    let rows = teams.len() - 1;
    // A, row r: team r's players with +w, team r+1's with -w.
    let mut a = vec![vec![0.0; n]; rows];
    let mut start = 0;
    for r in 0..rows {
        let mid = start + teams[r].len();
        let end = mid + teams[r + 1].len();
        a[r][start..mid].copy_from_slice(&w[start..mid]);
        for (cell, &weight) in a[r][mid..end].iter_mut().zip(&w[mid..end]) {
            *cell = -weight;
        }
        start = mid;
    }
    let beta2 = beta * beta;
    let mut ata = vec![vec![0.0; rows]; rows];
    let mut middle = vec![vec![0.0; rows]; rows];
    for i in 0..rows {
        for j in 0..rows {
            let mut plain = 0.0;
            let mut with_var = 0.0;
            for (x, r) in ratings.iter().enumerate() {
                plain += a[i][x] * a[j][x];
                with_var += a[i][x] * r.sigma * r.sigma * a[j][x];
            }
            ata[i][j] = beta2 * plain;
            middle[i][j] = beta2 * plain + with_var;
        }
    }
    let am: Vec<f64> = (0..rows)
        .map(|i| (0..n).map(|x| a[i][x] * ratings[x].mu).sum())
        .collect();
    let Some(solved) = solve(&middle, &am) else {
        return 0.0;
    };
    let e_arg = -0.5 * am.iter().zip(&solved).map(|(x, y)| x * y).sum::<f64>();
    let s_arg = determinant(&ata) / determinant(&middle);
    e_arg.exp() * s_arg.sqrt()
}

/// LU decomposition with partial pivoting, in place; returns the sign of the permutation and
/// the row order, or `None` for a singular matrix.
fn lu(m: &mut [Vec<f64>]) -> Option<(f64, Vec<usize>)> {
    let n = m.len();
    let mut sign = 1.0;
    let mut order: Vec<usize> = (0..n).collect();
    for k in 0..n {
        let p = (k..n).max_by(|&i, &j| m[i][k].abs().total_cmp(&m[j][k].abs()))?;
        if m[p][k] == 0.0 {
            return None;
        }
        if p != k {
            m.swap(p, k);
            order.swap(p, k);
            sign = -sign;
        }
        let (top, bottom) = m.split_at_mut(k + 1);
        let pivot = &top[k];
        for row in bottom.iter_mut() {
            let f = row[k] / pivot[k];
            row[k] = f;
            for (x, &y) in row[k + 1..].iter_mut().zip(&pivot[k + 1..]) {
                *x -= f * y;
            }
        }
    }
    Some((sign, order))
}

fn determinant(m: &[Vec<f64>]) -> f64 {
    let mut m = m.to_vec();
    match lu(&mut m) {
        Some((sign, _)) => sign * (0..m.len()).map(|i| m[i][i]).product::<f64>(),
        None => 0.0,
    }
}

/// Solves `m x = b`.
fn solve(m: &[Vec<f64>], b: &[f64]) -> Option<Vec<f64>> {
    let mut m = m.to_vec();
    let (_, order) = lu(&mut m)?;
    let n = m.len();
    let mut x: Vec<f64> = order.iter().map(|&i| b[i]).collect();
    for i in 0..n {
        for j in 0..i {
            x[i] -= m[i][j] * x[j];
        }
    }
    for i in (0..n).rev() {
        for j in i + 1..n {
            x[i] -= m[i][j] * x[j];
        }
        x[i] /= m[i][i];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solve_and_determinant_of_a_small_matrix() {
        let m = vec![vec![1.0, 2.0], vec![3.0, 4.0]];
        assert!((determinant(&m) + 2.0).abs() < 1e-12);
        let x = solve(&m, &[5.0, 6.0]).unwrap();
        assert!(
            (x[0] + 4.0).abs() < 1e-12 && (x[1] - 4.5).abs() < 1e-12,
            "{x:?}"
        );
    }
}
