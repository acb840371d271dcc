//! Simulator results: mean and spread over seeds, as a markdown report and CSV.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{Checkpoint, Estimate, ModeKind, RunSpec};
use crate::rng::Rng;

/// Mean and sample standard deviation over seeds of one (N, σ, mode, estimate, k).
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Number of items.
    pub items: usize,
    /// Rater noise σ.
    pub noise: f64,
    /// Pairing mode.
    pub mode: ModeKind,
    /// Estimate scored.
    pub estimate: Estimate,
    /// Comparisons per item.
    pub k: u32,
    /// Comparisons made (mean over seeds).
    pub comparisons: f64,
    /// Seeds averaged.
    pub seeds: usize,
    /// Spearman's rho: mean, standard deviation.
    pub spearman: (f64, f64),
    /// Kendall's tau: mean, standard deviation.
    pub kendall: (f64, f64),
}

fn mean_sd(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = if x.len() > 1 {
        x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

type Key = (usize, u64, ModeKind, Estimate, u32);

/// Groups the checkpoints of all runs by (N, σ, mode, estimate, k) and averages over seeds.
pub fn summarise(specs: &[RunSpec], results: &[Vec<Checkpoint>]) -> Vec<Summary> {
    let mut groups: BTreeMap<Key, Vec<&Checkpoint>> = BTreeMap::new();
    for (spec, checkpoints) in specs.iter().zip(results) {
        for c in checkpoints {
            groups
                .entry((spec.items, spec.noise.to_bits(), spec.mode, c.estimate, c.k))
                .or_default()
                .push(c);
        }
    }
    groups
        .into_iter()
        .map(|((items, noise, mode, estimate, k), cs)| {
            let rho: Vec<f64> = cs.iter().map(|c| c.spearman).collect();
            let tau: Vec<f64> = cs.iter().map(|c| c.kendall).collect();
            Summary {
                items,
                noise: f64::from_bits(noise),
                mode,
                estimate,
                k,
                comparisons: cs.iter().map(|c| c.comparisons as f64).sum::<f64>() / cs.len() as f64,
                seeds: cs.len(),
                spearman: mean_sd(&rho),
                kendall: mean_sd(&tau),
            }
        })
        .collect()
}

/// Every summary as CSV.
pub fn csv(rows: &[Summary]) -> String {
    let mut s = String::from(
        "items,noise,mode,estimate,k,comparisons,seeds,spearman_mean,spearman_sd,kendall_mean,kendall_sd\n",
    );
    for r in rows {
        writeln!(
            s,
            "{},{},{},{},{},{},{},{:.5},{:.5},{:.5},{:.5}",
            r.items,
            r.noise,
            r.mode.label(),
            r.estimate.label(),
            r.k,
            r.comparisons,
            r.seeds,
            r.spearman.0,
            r.spearman.1,
            r.kendall.0,
            r.kendall.1
        )
        .unwrap();
    }
    s
}

/// Comparisons per item at which the mean Spearman first reaches `level` (linear
/// interpolation between measured `k`); `None` if it never does.
pub fn k_to_reach(rows: &[&Summary], level: f64) -> Option<f64> {
    let curve: Vec<(u32, f64)> = rows.iter().map(|r| (r.k, r.spearman.0)).collect();
    k_on_curve(&curve, level)
}

/// [`k_to_reach`] on (k, mean Spearman) points ascending in k.
fn k_on_curve(curve: &[(u32, f64)], level: f64) -> Option<f64> {
    let mut prev: Option<(u32, f64)> = None;
    for &(k, rho) in curve {
        if rho >= level {
            return Some(match prev {
                None => k as f64,
                Some((pk, prho)) => pk as f64 + (level - prho) / (rho - prho) * (k - pk) as f64,
            });
        }
        prev = Some((k, rho));
    }
    None
}

/// 95 % bootstrap interval (percentiles of 2000 resamples of the seeds, the two modes
/// resampled together since a seed fixes the truth) of the ratio of comparisons per item to
/// reach mean Spearman `level`: `num` read from `num_est` over `den` read from `den_est`.
#[allow(clippy::too_many_arguments)]
pub fn ratio_interval(
    specs: &[RunSpec],
    results: &[Vec<Checkpoint>],
    items: usize,
    noise: f64,
    (num, num_est): (ModeKind, Estimate),
    (den, den_est): (ModeKind, Estimate),
    level: f64,
) -> Option<(f64, f64)> {
    let per_seed = |m: ModeKind, e: Estimate| -> BTreeMap<u64, Vec<(u32, f64)>> {
        specs
            .iter()
            .zip(results)
            .filter(|(sp, _)| sp.items == items && sp.noise == noise && sp.mode == m)
            .map(|(sp, cs)| {
                let curve = cs
                    .iter()
                    .filter(|c| c.estimate == e)
                    .map(|c| (c.k, c.spearman))
                    .collect();
                (sp.seed, curve)
            })
            .collect()
    };
    let (a, b) = (per_seed(num, num_est), per_seed(den, den_est));
    let seeds: Vec<u64> = a.keys().filter(|s| b.contains_key(s)).copied().collect();
    if seeds.len() < 2 {
        return None;
    }
    let mean_curve = |runs: &BTreeMap<u64, Vec<(u32, f64)>>, pick: &[u64]| -> Vec<(u32, f64)> {
        let first = &runs[&pick[0]];
        (0..first.len())
            .map(|i| {
                let sum: f64 = pick.iter().map(|s| runs[s][i].1).sum();
                (first[i].0, sum / pick.len() as f64)
            })
            .collect()
    };
    let mut rng = Rng::new(items as u64, &[noise.to_bits(), 0x626f_6f74]);
    let mut ratios = Vec::new();
    for _ in 0..2000 {
        let pick: Vec<u64> = (0..seeds.len())
            .map(|_| seeds[rng.below(seeds.len())])
            .collect();
        if let (Some(x), Some(y)) = (
            k_on_curve(&mean_curve(&a, &pick), level),
            k_on_curve(&mean_curve(&b, &pick), level),
        ) {
            ratios.push(x / y);
        }
    }
    if ratios.len() < 1900 {
        return None; // the level is often not reached: no interval
    }
    ratios.sort_by(f64::total_cmp);
    let at = |q: f64| ratios[((q * ratios.len() as f64) as usize).min(ratios.len() - 1)];
    Some((at(0.025), at(0.975)))
}

/// The rows of one (N, σ, mode, estimate), by k.
pub(crate) fn series(
    rows: &[Summary],
    items: usize,
    noise: f64,
    mode: ModeKind,
    estimate: Estimate,
) -> Vec<&Summary> {
    rows.iter()
        .filter(|r| {
            r.items == items && r.noise == noise && r.mode == mode && r.estimate == estimate
        })
        .collect()
}

/// The report: per (N, σ) a table of Spearman and Kendall by k for each mode (each read from
/// its own estimate), the comparisons each needs to reach Spearman 0.9, the targets,
/// and the same table with every mode read from the converged posterior.
pub fn markdown(rows: &[Summary], specs: &[RunSpec], results: &[Vec<Checkpoint>]) -> String {
    let mut cases: Vec<(usize, u64)> = rows.iter().map(|r| (r.items, r.noise.to_bits())).collect();
    cases.sort();
    cases.dedup();
    let mut modes: Vec<ModeKind> = rows.iter().map(|r| r.mode).collect();
    modes.sort();
    modes.dedup();
    let mut s = String::new();
    writeln!(
        s,
        "Mean ± standard deviation over seeds. k = comparisons per item (k·N/2 comparisons in all)."
    )
    .unwrap();
    writeln!(s, "Every mode is read from the converged posterior mean: TrueSkill's model fitted to all comparisons,").unwrap();
    writeln!(
        s,
        "what the ranker's page, exports and manifest rank by. Intervals are 95 % bootstrap intervals over seeds.\n"
    )
    .unwrap();
    for &(items, noise_bits) in &cases {
        let noise = f64::from_bits(noise_bits);
        let seeds = rows
            .iter()
            .filter(|r| r.items == items && r.noise == noise)
            .map(|r| r.seeds)
            .min()
            .unwrap_or(0);
        writeln!(s, "### N = {items}, σ = {noise} ({seeds} seeds)\n").unwrap();
        table(&mut s, rows, items, noise, &modes, None);
        reach(&mut s, rows, items, noise, &modes, None);
        versus_original(&mut s, rows, specs, results, items, noise);
        paired(&mut s, rows, specs, results, items, noise);
    }
    writeln!(
        s,
        "### Every mode read from the online TrueSkill mean (same comparisons)\n"
    )
    .unwrap();
    writeln!(s, "What image-ranker's page showed: the same runs, ranked by the online TrueSkill mean (one update per comparison, in order).\n").unwrap();
    for &(items, noise_bits) in &cases {
        let noise = f64::from_bits(noise_bits);
        writeln!(s, "#### N = {items}, σ = {noise}\n").unwrap();
        table(
            &mut s,
            rows,
            items,
            noise,
            &modes,
            Some(Estimate::TrueSkill),
        );
        reach(
            &mut s,
            rows,
            items,
            noise,
            &modes,
            Some(Estimate::TrueSkill),
        );
        writeln!(s).unwrap();
    }

    s
}

fn table(
    s: &mut String,
    rows: &[Summary],
    items: usize,
    noise: f64,
    modes: &[ModeKind],
    estimate: Option<Estimate>,
) {
    write!(s, "| k |").unwrap();
    for m in modes {
        write!(s, " {} ρ | {} τ |", m.label(), m.label()).unwrap();
    }
    write!(s, "\n|---:|").unwrap();
    for _ in modes {
        write!(s, "---:|---:|").unwrap();
    }
    writeln!(s).unwrap();
    let mut ks: Vec<u32> = rows
        .iter()
        .filter(|r| r.items == items && r.noise == noise)
        .map(|r| r.k)
        .collect();
    ks.sort();
    ks.dedup();
    for k in ks {
        write!(s, "| {k} |").unwrap();
        for &m in modes {
            let e = estimate.unwrap_or(m.own_estimate());
            match series(rows, items, noise, m, e)
                .into_iter()
                .find(|r| r.k == k)
            {
                Some(r) => write!(
                    s,
                    " {:.3} ± {:.3} | {:.3} ± {:.3} |",
                    r.spearman.0, r.spearman.1, r.kendall.0, r.kendall.1
                )
                .unwrap(),
                None => write!(s, " | |").unwrap(),
            }
        }
        writeln!(s).unwrap();
    }
    writeln!(s).unwrap();
}

fn reach(
    s: &mut String,
    rows: &[Summary],
    items: usize,
    noise: f64,
    modes: &[ModeKind],
    estimate: Option<Estimate>,
) {
    write!(s, "Comparisons per item to reach mean Spearman 0.9:").unwrap();
    let mut reached = Vec::new();
    for &m in modes {
        let k = k_to_reach(
            &series(rows, items, noise, m, estimate.unwrap_or(m.own_estimate())),
            0.9,
        );
        reached.push((m, k));
        match k {
            Some(k) => write!(s, " {} {:.1};", m.label(), k).unwrap(),
            None => write!(s, " {} not reached;", m.label()).unwrap(),
        }
    }
    let get = |m: ModeKind| reached.iter().find(|r| r.0 == m).and_then(|r| r.1);
    if let (Some(a), Some(b)) = (get(ModeKind::Active), get(ModeKind::SmartShuffle)) {
        write!(s, " smart-shuffle / active = {:.2}×.", b / a).unwrap();
    }
    writeln!(s).unwrap();
}

/// The headline ratios with intervals: smart shuffle over active, both by the posterior (the
/// choice of pairs alone), and smart shuffle ranked as image-ranker ranked (online TrueSkill)
/// over active (what a user of either page sees).
fn versus_original(
    s: &mut String,
    rows: &[Summary],
    specs: &[RunSpec],
    results: &[Vec<Checkpoint>],
    items: usize,
    noise: f64,
) {
    let reach_of = |m: ModeKind, e: Estimate| k_to_reach(&series(rows, items, noise, m, e), 0.9);
    let Some(active) = reach_of(ModeKind::Active, Estimate::Posterior) else {
        return;
    };
    for (est, what) in [
        (
            Estimate::Posterior,
            "both ranked by the posterior (the pairs alone)",
        ),
        (
            Estimate::TrueSkill,
            "smart-shuffle ranked by the online TrueSkill mean, as image-ranker's page showed it",
        ),
    ] {
        let Some(smart) = reach_of(ModeKind::SmartShuffle, est) else {
            continue;
        };
        let interval = ratio_interval(
            specs,
            results,
            items,
            noise,
            (ModeKind::SmartShuffle, est),
            (ModeKind::Active, Estimate::Posterior),
            0.9,
        )
        .map_or(String::new(), |(lo, hi)| format!(" [{lo:.2}–{hi:.2}]"));
        writeln!(
            s,
            "Smart-shuffle / active, {what}: {smart:.1} / {active:.1} = {:.2}×{interval}.",
            smart / active
        )
        .unwrap();
    }
}

/// Spearman of one run at `k`, read from its mode's own estimate.
fn run_spearman(spec: &RunSpec, checkpoints: &[Checkpoint], k: u32) -> Option<f64> {
    checkpoints
        .iter()
        .find(|c| c.k == k && c.estimate == spec.mode.own_estimate())
        .map(|c| c.spearman)
}

/// Active against the better (by mean) of random and smart shuffle at every k, paired by seed
/// (the same seed has the same truth): the k where active does worst, as mean difference ±
/// standard error.
fn paired(
    s: &mut String,
    rows: &[Summary],
    specs: &[RunSpec],
    results: &[Vec<Checkpoint>],
    items: usize,
    noise: f64,
) {
    let own = |m: ModeKind| series(rows, items, noise, m, m.own_estimate());
    let (active, random, smart) = (
        own(ModeKind::Active),
        own(ModeKind::Random),
        own(ModeKind::SmartShuffle),
    );
    if active.is_empty() || random.is_empty() || smart.is_empty() {
        return;
    }
    let runs = |m: ModeKind| -> BTreeMap<u64, (&RunSpec, &Vec<Checkpoint>)> {
        specs
            .iter()
            .zip(results)
            .filter(|(sp, _)| sp.items == items && sp.noise == noise && sp.mode == m)
            .map(|(sp, r)| (sp.seed, (sp, r)))
            .collect()
    };
    let active_runs = runs(ModeKind::Active);
    let mut worst: Option<(f64, f64, u32, ModeKind)> = None;
    let mut significant = Vec::new();
    for a in &active {
        let (Some(r), Some(m)) = (
            random.iter().find(|r| r.k == a.k),
            smart.iter().find(|m| m.k == a.k),
        ) else {
            continue;
        };
        let best = if r.spearman.0 > m.spearman.0 {
            ModeKind::Random
        } else {
            ModeKind::SmartShuffle
        };
        let base_runs = runs(best);
        let diffs: Vec<f64> = active_runs
            .iter()
            .filter_map(|(seed, (sp, cs))| {
                let (bsp, bcs) = base_runs.get(seed)?;
                Some(run_spearman(sp, cs, a.k)? - run_spearman(bsp, bcs, a.k)?)
            })
            .collect();
        if diffs.is_empty() {
            continue;
        }
        let (mean, sd) = mean_sd(&diffs);
        let se = sd / (diffs.len() as f64).sqrt();
        if mean + 2.0 * se < 0.0 {
            significant.push(a.k);
        }
        if worst.is_none_or(|w| mean < w.0) {
            worst = Some((mean, se, a.k, best));
        }
    }
    if let Some((mean, se, k, best)) = worst {
        writeln!(
            s,
            "Active minus the better of random and smart-shuffle (Spearman, paired by seed), worst k: {mean:+.4} ± {se:.4} (standard error) at k = {k} (vs {}); \
             significantly worse (mean + 2 SE < 0) at {}.",
            best.label(),
            if significant.is_empty() { "no k".to_string() } else { format!("k = {significant:?}") }
        )
        .unwrap();
    }
    writeln!(s).unwrap();
}
