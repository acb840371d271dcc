//! Pad-to-square + resize against Pillow's (`Image.new` black square, `paste` at
//! ((side - w) // 2, (side - h) // 2), `resize(..., BILINEAR)`), from the fixtures of
//! `scripts/pixel-fixtures.sh`: every sample within ±1.

use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};
use rateme_pixels::prepare;
use serde_json::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/decode")
}

fn read(name: &str, w: u64, h: u64) -> RgbImage {
    let raw = std::fs::read(dir().join(name)).expect("fixtures: run scripts/pixel-fixtures.sh");
    RgbImage::from_raw(w as u32, h as u32, raw).expect("fixture size")
}

#[test]
fn prepare_matches_pillow_within_one_level() {
    let text = std::fs::read_to_string(dir().join("cases.json")).expect("cases.json");
    let all: Value = serde_json::from_str(&text).expect("JSON");
    let mut failures = Vec::new();
    let (mut worst, mut sum, mut n) = (0u8, 0u64, 0usize);
    for c in all["prepare"].as_array().expect("cases") {
        let num = |k: &str| c[k].as_u64().expect("number");
        let input = read(
            c["input"].as_str().expect("input"),
            num("in_width"),
            num("in_height"),
        );
        let want = read(
            c["expect"].as_str().expect("expect"),
            num("width"),
            num("height"),
        );
        let pad = c["pad"].as_bool().expect("pad");
        let got = prepare(&input, num("width") as u32, num("height") as u32, pad);
        assert_eq!(got.dimensions(), want.dimensions());
        let max = got
            .as_raw()
            .iter()
            .zip(want.as_raw())
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap_or(0);
        sum += got
            .as_raw()
            .iter()
            .zip(want.as_raw())
            .map(|(a, b)| u64::from(a.abs_diff(*b)))
            .sum::<u64>();
        n += got.as_raw().len();
        worst = worst.max(max);
        if max > 1 {
            failures.push(format!("{}: max difference {max}", c["expect"]));
        }
    }
    println!("worst {worst}, mean {:.4}", sum as f64 / n as f64);
    assert!(
        failures.is_empty(),
        "differ from Pillow by more than 1:\n{}",
        failures.join("\n")
    );
}

#[test]
fn odd_remainder_goes_right_and_bottom() {
    let white = Rgb([255, 255, 255]);
    // 2×1 white on a 2×2 square: top = (2 - 1) / 2 = 0, so the black row is the bottom one.
    let wide = RgbImage::from_pixel(2, 1, white);
    let sq = prepare(&wide, 2, 2, true);
    assert_eq!(
        (sq[(0, 0)], sq[(1, 0)], sq[(0, 1)]),
        (white, white, Rgb([0, 0, 0]))
    );
    // 1×2 white: left = 0, the black column is the right one.
    let tall = RgbImage::from_pixel(1, 2, white);
    let sq = prepare(&tall, 2, 2, true);
    assert_eq!(
        (sq[(0, 0)], sq[(0, 1)], sq[(1, 0)]),
        (white, white, Rgb([0, 0, 0]))
    );
}

#[test]
fn degenerate_sizes_do_not_panic() {
    let img = RgbImage::from_pixel(3, 1, Rgb([9, 9, 9]));
    assert_eq!(prepare(&img, 0, 5, true).dimensions(), (0, 5));
    assert_eq!(
        prepare(&RgbImage::new(0, 0), 4, 4, true),
        RgbImage::new(4, 4)
    );
    assert_eq!(prepare(&img, 1, 1, false).dimensions(), (1, 1));
    assert_eq!(prepare(&img, 3, 1, false), img);
}
