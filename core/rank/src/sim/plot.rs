//! An SVG plot of the simulator's results: one panel per (N, σ), Spearman against comparisons
//! per item (log scale), one line per mode with its ±1 standard deviation band.

use std::fmt::Write;

use super::report::{Summary, series};
use super::{Estimate, ModeKind};

const PANEL_W: f64 = 420.0;
const PANEL_H: f64 = 300.0;
const MARGIN: (f64, f64, f64, f64) = (60.0, 20.0, 40.0, 50.0); // left, right, top, bottom
const COLOURS: [&str; 7] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
];
/// Legend entries per row, and the width of one.
const LEGEND_COLS: usize = 3;
const LEGEND_W: f64 = 260.0;

/// The plot; each mode is drawn from its own estimate (see [`ModeKind::own_estimate`]).
pub fn svg(rows: &[Summary]) -> String {
    let mut cases: Vec<(usize, u64)> = rows.iter().map(|r| (r.items, r.noise.to_bits())).collect();
    cases.sort();
    cases.dedup();
    let mut modes: Vec<ModeKind> = rows.iter().map(|r| r.mode).collect();
    modes.sort();
    modes.dedup();
    let cols = 2usize;
    let panels_y = cases.len().div_ceil(cols);
    let legend_h = 10.0 + 20.0 * modes.len().div_ceil(LEGEND_COLS) as f64;
    let (w, h) = (PANEL_W * cols as f64, PANEL_H * panels_y as f64 + legend_h);
    let mut s = String::new();
    writeln!(s, r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">"#).unwrap();
    writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#).unwrap();
    for (p, &(items, noise_bits)) in cases.iter().enumerate() {
        let (ox, oy) = ((p % cols) as f64 * PANEL_W, (p / cols) as f64 * PANEL_H);
        panel(
            &mut s,
            rows,
            &modes,
            items,
            f64::from_bits(noise_bits),
            ox,
            oy,
        );
    }
    // Legend.
    for (i, m) in modes.iter().enumerate() {
        let x = MARGIN.0 + (i % LEGEND_COLS) as f64 * LEGEND_W;
        let ly = h - legend_h + 15.0 + 20.0 * (i / LEGEND_COLS) as f64;
        let c = COLOURS[i % COLOURS.len()];
        let est = match m.own_estimate() {
            Estimate::TrueSkill => "TrueSkill μ",
            Estimate::Posterior => "posterior",
        };
        writeln!(
            s,
            r#"<line x1="{x}" y1="{ly}" x2="{}" y2="{ly}" stroke="{c}" stroke-width="2.5"/>"#,
            x + 22.0
        )
        .unwrap();
        writeln!(
            s,
            r#"<text x="{}" y="{}">{} ({est})</text>"#,
            x + 27.0,
            ly + 4.0,
            m.label()
        )
        .unwrap();
    }
    s.push_str("</svg>\n");
    s
}

fn panel(
    s: &mut String,
    rows: &[Summary],
    modes: &[ModeKind],
    items: usize,
    noise: f64,
    ox: f64,
    oy: f64,
) {
    let (l, r, t, b) = MARGIN;
    let (pw, ph) = (PANEL_W - l - r, PANEL_H - t - b);
    let all: Vec<&Summary> = rows
        .iter()
        .filter(|x| x.items == items && x.noise == noise)
        .collect();
    let kmin = all.iter().map(|x| x.k).min().unwrap_or(1).max(1) as f64;
    let kmax = all.iter().map(|x| x.k).max().unwrap_or(2).max(2) as f64;
    let ymin = (all
        .iter()
        .map(|x| x.spearman.0 - x.spearman.1)
        .fold(1.0, f64::min)
        * 10.0)
        .floor()
        / 10.0;
    let ymin = ymin.clamp(-1.0, 0.9);
    let xmap = |k: f64| ox + l + (k.ln() - kmin.ln()) / (kmax.ln() - kmin.ln()) * pw;
    let ymap = |y: f64| oy + t + (1.0 - (y - ymin) / (1.0 - ymin)) * ph;
    // Frame, grid, labels.
    writeln!(
        s,
        r##"<rect x="{}" y="{}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>"##,
        ox + l,
        oy + t
    )
    .unwrap();
    let mut y = ymin;
    while y <= 1.0 + 1e-9 {
        let py = ymap(y);
        writeln!(
            s,
            r##"<line x1="{}" y1="{py}" x2="{}" y2="{py}" stroke="#ddd"/>"##,
            ox + l,
            ox + l + pw
        )
        .unwrap();
        writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{y:.1}</text>"#,
            ox + l - 5.0,
            py + 4.0
        )
        .unwrap();
        y += 0.1;
    }
    let mut ks: Vec<u32> = all.iter().map(|x| x.k).collect();
    ks.sort();
    ks.dedup();
    for k in ks {
        let px = xmap(k as f64);
        writeln!(
            s,
            r##"<line x1="{px}" y1="{}" x2="{px}" y2="{}" stroke="#eee"/>"##,
            oy + t,
            oy + t + ph
        )
        .unwrap();
        writeln!(
            s,
            r#"<text x="{px}" y="{}" text-anchor="middle">{k}</text>"#,
            oy + t + ph + 15.0
        )
        .unwrap();
    }
    writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">comparisons per item k</text>"#,
        ox + l + pw / 2.0,
        oy + t + ph + 32.0
    )
    .unwrap();
    writeln!(s, r#"<text x="{}" y="{}" text-anchor="middle" transform="rotate(-90 {} {})">Spearman ρ</text>"#, ox + 15.0, oy + t + ph / 2.0, ox + 15.0, oy + t + ph / 2.0).unwrap();
    writeln!(s, r#"<text x="{}" y="{}" text-anchor="middle" font-weight="bold">N = {items}, σ = {noise}</text>"#, ox + l + pw / 2.0, oy + t - 10.0).unwrap();
    for (i, &m) in modes.iter().enumerate() {
        let c = COLOURS[i % COLOURS.len()];
        let pts = series(rows, items, noise, m, m.own_estimate());
        if pts.is_empty() {
            continue;
        }
        let upper: Vec<String> = pts
            .iter()
            .map(|p| {
                format!(
                    "{:.1},{:.1}",
                    xmap(p.k as f64),
                    ymap((p.spearman.0 + p.spearman.1).min(1.0))
                )
            })
            .collect();
        let lower: Vec<String> = pts
            .iter()
            .rev()
            .map(|p| {
                format!(
                    "{:.1},{:.1}",
                    xmap(p.k as f64),
                    ymap(p.spearman.0 - p.spearman.1)
                )
            })
            .collect();
        writeln!(
            s,
            r#"<polygon points="{} {}" fill="{c}" fill-opacity="0.15" stroke="none"/>"#,
            upper.join(" "),
            lower.join(" ")
        )
        .unwrap();
        let line: Vec<String> = pts
            .iter()
            .map(|p| format!("{:.1},{:.1}", xmap(p.k as f64), ymap(p.spearman.0)))
            .collect();
        writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{c}" stroke-width="2"/>"#,
            line.join(" ")
        )
        .unwrap();
    }
}
