//! Throughput of the JPEG decoders and of `prepare`, on one thread. Not part of the suite
//! (`#[ignore]`); run it on a folder of JPEGs:
//!
//! ```sh
//! RATEME_BENCH_JPEGS=/path/to/jpegs cargo test -p rateme-pixels --test speed -- --ignored --nocapture
//! ```
//!
//! The crate README has the numbers and how the folder was made.

use std::time::Instant;

use image::RgbImage;
use rateme_pixels::{DecodeLimits, decode_bytes, prepare};

const SIDE: u32 = 456;

fn files() -> Vec<Vec<u8>> {
    let Ok(dir) = std::env::var("RATEME_BENCH_JPEGS") else {
        return Vec::new();
    };
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("RATEME_BENCH_JPEGS is a folder")
        .map(|e| e.expect("entry").path())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| std::fs::read(p).expect("readable"))
        .collect()
}

/// Images per second of `f` over every file, best of five passes.
fn rate(name: &str, files: &[Vec<u8>], mut f: impl FnMut(&[u8]) -> RgbImage) {
    let mut best = f64::MAX;
    let mut checksum = 0u64;
    for _ in 0..5 {
        let t = Instant::now();
        for bytes in files {
            let img = f(bytes);
            checksum += u64::from(img.as_raw()[img.as_raw().len() / 2]);
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "{name:<48} {:>7.1} img/s  ({:.2} ms/img, checksum {checksum})",
        files.len() as f64 / best,
        best * 1e3 / files.len() as f64
    );
}

#[test]
#[ignore = "benchmark: needs RATEME_BENCH_JPEGS"]
fn jpeg_decoders_and_prepare() {
    let files = files();
    assert!(
        !files.is_empty(),
        "set RATEME_BENCH_JPEGS to a folder of JPEGs"
    );
    let limits = DecodeLimits::default();
    rate("image (zune-jpeg), full size", &files, |b| {
        image::load_from_memory_with_format(b, image::ImageFormat::Jpeg)
            .expect("decodes")
            .into_rgb8()
    });
    rate("decode_bytes, full size (zune-jpeg)", &files, |b| {
        decode_bytes(b, &limits, None).expect("decodes")
    });
    rate(
        "decode_bytes(min_side 456) (DCT-scaled if >= 912)",
        &files,
        |b| decode_bytes(b, &limits, Some(SIDE)).expect("decodes"),
    );
    let full: Vec<RgbImage> = files
        .iter()
        .map(|b| decode_bytes(b, &limits, None).expect("decodes"))
        .collect();
    let mut next = full.iter().cycle();
    rate("prepare alone (pad + resize to 456)", &files, |_| {
        prepare(next.next().expect("cycle"), SIDE, SIDE, true)
    });
    rate("zune-jpeg full + prepare 456", &files, |b| {
        let img = image::load_from_memory_with_format(b, image::ImageFormat::Jpeg)
            .expect("decodes")
            .into_rgb8();
        prepare(&img, SIDE, SIDE, true)
    });
    rate("decode_bytes full + prepare 456", &files, |b| {
        prepare(
            &decode_bytes(b, &limits, None).expect("decodes"),
            SIDE,
            SIDE,
            true,
        )
    });
    rate("decode_bytes(min_side 456) + prepare 456", &files, |b| {
        prepare(
            &decode_bytes(b, &limits, Some(SIDE)).expect("decodes"),
            SIDE,
            SIDE,
            true,
        )
    });
}
