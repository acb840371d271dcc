//! Images/s of the training image pipeline on a folder of photographs, on a fixed number of
//! threads (benches/pipeline.sh runs it beside RateMeAI's PIL + torchvision pipeline):
//!   cargo bench -p rateme-pixels --bench pipeline -- DIR [threads] [repetitions] [passes]
//! Each timed run goes over every file of DIR `passes` times, split between `threads` worker
//! threads that take the next image from a shared counter (as a data loader's workers do).
//! Prints one line per measurement: `<name> images_per_s <median> <best> <images per run>`.
//!   full          decode_file (DCT-scaled to a longer side ≥ 456) + prepare + Augment::RECIPE
//!   decode456     decode_file with min_side 456 only
//!   decodefull    decode_file at full size only
//!   cached        Augment::RECIPE from images already prepared to 456×456 (a cached epoch)

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use rateme_pixels::{Augment, DecodeLimits, PixelSpec, decode_file, prepare};
use rateme_util::rng::Rng;

const SIDE: u32 = 456;
const SPEC: PixelSpec = PixelSpec {
    width: SIDE,
    height: SIDE,
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
};

/// Runs `work(i, out)` for every i in 0..n on `threads` threads (each with its own CHW output
/// buffer) and returns the seconds it took.
fn timed(threads: usize, n: usize, work: &(dyn Fn(usize, &mut [f32]) + Sync)) -> f64 {
    let next = AtomicUsize::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut out = vec![0f32; 3 * (SIDE * SIDE) as usize];
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    work(i, &mut out);
                }
            });
        }
    });
    start.elapsed().as_secs_f64()
}

/// One warm-up run, then `reps` timed runs; prints the median and best images/s.
fn measure(
    name: &str,
    threads: usize,
    reps: usize,
    n: usize,
    work: &(dyn Fn(usize, &mut [f32]) + Sync),
) {
    timed(threads, n, work);
    let mut rates: Vec<f64> = (0..reps)
        .map(|_| n as f64 / timed(threads, n, work))
        .collect();
    rates.sort_by(f64::total_cmp);
    let median = if reps % 2 == 1 {
        rates[reps / 2]
    } else {
        (rates[reps / 2 - 1] + rates[reps / 2]) / 2.0
    };
    println!("{name} images_per_s {median:.1} {:.1} {n}", rates[reps - 1]);
}

fn arg(args: &[String], i: usize, default: usize) -> usize {
    args.get(i).map_or(default, |a| {
        a.parse()
            .unwrap_or_else(|_| panic!("argument {i} is not a count: {a}"))
    })
}

fn main() {
    // `cargo bench` adds `--bench`; everything else is positional.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let Some(dir) = args.first() else {
        // `cargo test --benches` runs this without a folder: nothing to measure then.
        eprintln!(
            "usage: pipeline DIR [threads] [repetitions] [passes] (benches/pipeline.sh makes DIR)"
        );
        return;
    };
    let threads = arg(&args, 1, 2).max(1);
    let reps = arg(&args, 2, 5).max(1);
    let passes = arg(&args, 3, 2).max(1);
    let mut files: Vec<PathBuf> = std::fs::read_dir(Path::new(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "jpg"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .jpg files in {dir}");
    let n = files.len() * passes;
    let limits = DecodeLimits::default();
    let file = |i: usize| &files[i % files.len()];
    let augment = |img: &_, i: usize, out: &mut [f32]| {
        let mut rng = Rng::new(19, &[i as u64]);
        Augment::apply(Some(&Augment::RECIPE), img, &SPEC, &mut rng, out);
    };

    measure("full", threads, reps, n, &|i, out| {
        let img = decode_file(file(i), &limits, Some(SIDE)).expect("a decodable photo");
        augment(&prepare(&img, SIDE, SIDE, true), i, out);
    });
    measure("decode456", threads, reps, n, &|i, _| {
        decode_file(file(i), &limits, Some(SIDE)).expect("a decodable photo");
    });
    measure("decodefull", threads, reps, n, &|i, _| {
        decode_file(file(i), &limits, None).expect("a decodable photo");
    });
    let prepared: Vec<_> = files
        .iter()
        .map(|f| {
            let img = decode_file(f, &limits, Some(SIDE)).expect("a decodable photo");
            prepare(&img, SIDE, SIDE, true)
        })
        .collect();
    measure("cached", threads, reps, n, &|i, out| {
        augment(&prepared[i % prepared.len()], i, out);
    });
}
