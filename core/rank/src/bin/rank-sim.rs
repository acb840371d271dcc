//! `rank-sim`: the pairing-mode benchmark (see `rateme_rank::sim`). Prints a markdown report
//! and writes it with a CSV of every row and an SVG plot to the output directory.
//!
//! ```text
//! rank-sim [--items 100,500] [--noise 0.3,0.85] [--seeds S] [--ks 2,3,4,5,6,8,10,15,20,30,40]
//!          [--modes random,smart-shuffle,elimination,active] [--threads N] [--out results/rank-sim]
//!          [--latency-items 2000] [--seed-set held-out|tune]
//! ```
//!
//! Seeds default to max(5, 2000/N) per N (20 for N = 100, 5 for N = 500): small N needs more
//! seeds for the same spread of the mean. `--latency-items 0` skips the latency measurement.
//! Settings are tuned on `--seed-set tune` (seeds 1, 2, ...) and reported on the default
//! `held-out` set (seeds 1000001, 1000002, ...), which no tuning has seen.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use rateme_rank::sim::{self, ModeKind, RunSpec};

struct Args {
    items: Vec<usize>,
    noise: Vec<f64>,
    /// `None`: max(5, 2000 / N) seeds for N items.
    seeds: Option<u64>,
    ks: Vec<u32>,
    modes: Vec<ModeKind>,
    threads: usize,
    out: PathBuf,
    latency_items: usize,
    /// First seed: 1 (tuning) or `HELD_OUT` (reporting).
    first_seed: u64,
}

/// First seed of the held-out set.
const HELD_OUT: u64 = 1_000_001;

fn list<T: std::str::FromStr>(flag: &str, value: &str) -> Result<Vec<T>, String> {
    value
        .split(',')
        .map(|v| {
            v.trim()
                .parse()
                .map_err(|_| format!("{flag}: cannot parse {v:?}"))
        })
        .collect()
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        items: vec![100, 500],
        noise: vec![0.3, 0.85],
        seeds: None,
        ks: vec![2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 40],
        modes: ModeKind::DEFAULT.to_vec(),
        threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        out: PathBuf::from("results/rank-sim"),
        latency_items: 2000,
        first_seed: HELD_OUT,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--items" => a.items = list(&flag, &value)?,
            "--noise" => a.noise = list(&flag, &value)?,
            "--seeds" => a.seeds = Some(value.parse().map_err(|_| format!("--seeds: {value:?}"))?),
            "--ks" => a.ks = list(&flag, &value)?,
            "--modes" => {
                a.modes = value
                    .split(',')
                    .map(|m| ModeKind::parse(m.trim()).ok_or_else(|| format!("unknown mode {m:?}")))
                    .collect::<Result<_, _>>()?
            }
            "--threads" => {
                a.threads = value.parse().map_err(|_| format!("--threads: {value:?}"))?
            }
            "--out" => a.out = PathBuf::from(value),
            "--seed-set" => {
                a.first_seed = match value.as_str() {
                    "held-out" => HELD_OUT,
                    "tune" => 1,
                    _ => return Err(format!("--seed-set: {value:?} (held-out or tune)")),
                }
            }
            "--latency-items" => {
                a.latency_items = value
                    .parse()
                    .map_err(|_| format!("--latency-items: {value:?}"))?
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    a.ks.sort_unstable();
    a.ks.dedup();
    if a.items.iter().any(|&n| n < 2)
        || a.noise.iter().any(|&s| s <= 0.0)
        || a.seeds == Some(0)
        || a.ks.contains(&0)
    {
        return Err("items >= 2, noise > 0, seeds >= 1, k >= 1".into());
    }
    Ok(a)
}

fn seeds_for(args: &Args, items: usize) -> u64 {
    args.seeds.unwrap_or((2000 / items as u64).max(5))
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("error: {e}");
            }
            eprintln!(
                "usage: rank-sim [--items 100,500] [--noise 0.3,0.85] [--seeds S (default max(5, 2000/N))] [--ks 2,3,4,5,6,8,10,15,20,30,40] \
                 [--modes {}] [--threads N] [--out results/rank-sim] [--latency-items 2000 (0: skip)] [--seed-set held-out|tune]",
                ModeKind::ALL.map(|m| m.label()).join(",")
            );
            return ExitCode::from(2);
        }
    };
    let mut specs = Vec::new();
    for &items in &args.items {
        for &noise in &args.noise {
            for &mode in &args.modes {
                for seed in args.first_seed..args.first_seed + seeds_for(&args, items) {
                    specs.push(RunSpec {
                        items,
                        noise,
                        mode,
                        seed,
                        ks: args.ks.clone(),
                    });
                }
            }
        }
    }
    let start = Instant::now();
    let results = sim::run_all(&specs, args.threads, &|done, total| {
        eprint!(
            "\r{done}/{total} runs ({:.0} s)",
            start.elapsed().as_secs_f64()
        );
    });
    eprintln!();
    let rows = sim::summarise(&specs, &results);
    let elapsed = start.elapsed().as_secs_f64();
    let latency = if args.latency_items >= 4 {
        let l = sim::latency(args.latency_items, 20, 200, 1);
        format!(
            "Active mode, time per step with N = {} after k = {} (posterior refresh + choice, {} steps, release build): \
             next pair mean {:.2} ms, median {:.2} ms, max {:.2} ms; next group of four mean {:.2} ms, median {:.2} ms, max {:.2} ms. \
             One posterior sweep over all {} comparisons: {:.2} ms (two run once the results added since the last reach 1/16 of all).\n\n",
            l.items,
            l.k,
            l.steps,
            l.pair_ms.0,
            l.pair_ms.1,
            l.pair_ms.2,
            l.group_ms.0,
            l.group_ms.1,
            l.group_ms.2,
            l.items * l.k as usize / 2,
            l.sweep_ms
        )
    } else {
        String::new()
    };
    let modes: Vec<&str> = args.modes.iter().map(|m| m.label()).collect();
    let report = format!(
        "## Pairing modes: simulated rater\n\n{}\n{latency}_{} runs (N {:?}, σ {:?}, seeds {}, modes {}), {elapsed:.0} s on {} threads; `benches/rank-sim.sh`._\n",
        sim::markdown(&rows, &specs, &results),
        specs.len(),
        args.items,
        args.noise,
        args.items
            .iter()
            .map(|&n| format!(
                "{}..={} ({}) for N = {n}",
                args.first_seed,
                args.first_seed + seeds_for(&args, n) - 1,
                if args.first_seed == HELD_OUT {
                    "held out"
                } else {
                    "tuning"
                }
            ))
            .collect::<Vec<_>>()
            .join(", "),
        modes.join(","),
        args.threads
    );
    print!("{report}");
    if let Err(e) = std::fs::create_dir_all(&args.out)
        .and_then(|_| std::fs::write(args.out.join("rank-sim.md"), &report))
        .and_then(|_| std::fs::write(args.out.join("rank-sim.csv"), sim::csv(&rows)))
        .and_then(|_| std::fs::write(args.out.join("rank-sim.svg"), sim::svg(&rows)))
    {
        eprintln!("error: writing {}: {e}", args.out.display());
        return ExitCode::FAILURE;
    }
    eprintln!("wrote {}/rank-sim.{{md,csv,svg}}", args.out.display());
    ExitCode::SUCCESS
}
