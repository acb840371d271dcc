//! Decoding against Pillow: fixtures from `scripts/pixel-fixtures.sh` (see its script for how
//! each file and each reference is made). Lossless formats must match exactly; lossy ones
//! (JPEG, lossy WebP) within the tolerance below, measured on these fixtures.

use std::path::{Path, PathBuf};

use image::RgbImage;
use rateme_pixels::{DecodeLimits, Skip, decode_bytes, decode_file, probe};
use serde_json::Value;

/// Largest per-sample difference from Pillow (libjpeg-turbo, libwebp) allowed for lossy files.
/// Measured on these fixtures: zune-jpeg (full-size JPEGs) max 3, mean at most 0.37 (4:2:0,
/// its chroma upsampling differs from libjpeg-turbo's); jpeg-decoder (the DCT-scaling path,
/// compared in `decode.rs`'s unit tests) max 3, mean at most 0.22; lossy WebP matches libwebp
/// exactly. An orientation or colour mistake gives differences in the tens.
const LOSSY_MAX: u8 = 4;
/// Largest mean per-sample difference allowed for lossy files.
const LOSSY_MEAN: f64 = 0.5;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/decode")
}

fn cases(kind: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(dir().join("cases.json"))
        .expect("fixtures: run scripts/pixel-fixtures.sh");
    let all: Value = serde_json::from_str(&text).expect("cases.json is JSON");
    all[kind].as_array().expect("a list of cases").clone()
}

fn str_of<'a>(c: &'a Value, key: &str) -> &'a str {
    c[key].as_str().unwrap_or_else(|| panic!("{key} in {c}"))
}

fn u32_of(c: &Value, key: &str) -> u32 {
    c[key].as_u64().unwrap_or_else(|| panic!("{key} in {c}")) as u32
}

fn expected(c: &Value) -> RgbImage {
    let raw = std::fs::read(dir().join(str_of(c, "expect"))).expect("reference pixels");
    RgbImage::from_raw(u32_of(c, "width"), u32_of(c, "height"), raw).expect("reference size")
}

/// (max, mean) absolute per-sample difference.
fn diff(a: &RgbImage, b: &RgbImage) -> (u8, f64) {
    assert_eq!(a.dimensions(), b.dimensions());
    let mut max = 0u8;
    let mut sum = 0u64;
    for (x, y) in a.as_raw().iter().zip(b.as_raw()) {
        let d = x.abs_diff(*y);
        max = max.max(d);
        sum += u64::from(d);
    }
    (max, sum as f64 / a.as_raw().len() as f64)
}

fn decode_case(c: &Value) -> RgbImage {
    let file = str_of(c, "file");
    decode_file(&dir().join(file), &DecodeLimits::default(), None)
        .unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn lossless_formats_match_pillow_exactly() {
    let mut failures = Vec::new();
    for c in cases("decode").iter().filter(|c| c["lossy"] == false) {
        let (got, want) = (decode_case(c), expected(c));
        if got.dimensions() != want.dimensions() {
            failures.push(format!(
                "{}: {:?} != {:?}",
                c["file"],
                got.dimensions(),
                want.dimensions()
            ));
        } else if got != want {
            let (max, mean) = diff(&got, &want);
            // The `image` crate converts CMYK TIFF to RGB itself and rounds differently from
            // Pillow's round((255 - C)(255 - K) / 255): measured max 1, mean 0.49.
            let cmyk_rounding = c["file"] == "tiff_cmyk.tiff" && max <= 1;
            if !cmyk_rounding {
                failures.push(format!("{}: max {max}, mean {mean:.3}", c["file"]));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "differ from Pillow:\n{}",
        failures.join("\n")
    );
}

#[test]
fn lossy_formats_are_close_to_pillow() {
    let mut failures = Vec::new();
    let (mut worst, mut worst_mean) = (0u8, 0f64);
    for c in cases("decode").iter().filter(|c| c["lossy"] == true) {
        let (got, want) = (decode_case(c), expected(c));
        if got.dimensions() != want.dimensions() {
            failures.push(format!(
                "{}: {:?} != {:?}",
                c["file"],
                got.dimensions(),
                want.dimensions()
            ));
            continue;
        }
        let (max, mean) = diff(&got, &want);
        println!("{}: max {max}, mean {mean:.3}", c["file"]);
        (worst, worst_mean) = (worst.max(max), worst_mean.max(mean));
        if max > LOSSY_MAX || mean > LOSSY_MEAN {
            failures.push(format!("{}: max {max}, mean {mean:.3}", c["file"]));
        }
    }
    println!("worst: max {worst}, mean {worst_mean:.3}");
    assert!(
        failures.is_empty(),
        "too far from Pillow:\n{}",
        failures.join("\n")
    );
}

#[test]
fn probe_reads_the_oriented_size_and_format() {
    for c in cases("decode") {
        let file = str_of(&c, "file");
        let h = probe(&dir().join(file), &DecodeLimits::default())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            (h.width, h.height),
            (u32_of(&c, "width"), u32_of(&c, "height")),
            "{file}"
        );
        let prefix = file.split('_').next().unwrap_or_default();
        assert_eq!(
            h.format.to_ascii_lowercase(),
            prefix,
            "{file}: format from magic bytes"
        );
    }
}

#[test]
fn bad_inputs_are_skipped_with_their_reason() {
    for c in cases("bad") {
        let file = str_of(&c, "file");
        let want = str_of(&c, "kind");
        let got = decode_file(&dir().join(file), &DecodeLimits::default(), None).expect_err(file);
        assert_eq!(got.kind(), want, "{file}: {got}");
        let bytes = std::fs::read(dir().join(file)).expect("fixture");
        let from_bytes = decode_bytes(&bytes, &DecodeLimits::default(), Some(8)).expect_err(file);
        assert_eq!(from_bytes.kind(), want, "{file} from bytes: {from_bytes}");
    }
}

#[test]
fn skip_reasons_name_what_was_found() {
    let limits = DecodeLimits::default();
    let html = decode_file(&dir().join("html.jpg"), &limits, None);
    assert_eq!(
        html,
        Err(Skip::NotAnImage {
            found: "HTML".to_string()
        })
    );
    let text = decode_file(&dir().join("text.png"), &limits, None);
    assert_eq!(
        text,
        Err(Skip::NotAnImage {
            found: "text".to_string()
        })
    );
    let bomb = decode_file(&dir().join("bomb.png"), &limits, None);
    assert_eq!(
        bomb,
        Err(Skip::TooLarge {
            width: 60000,
            height: 60000,
            limit: limits.max_pixels
        })
    );
    assert_eq!(
        probe(&dir().join("bomb.png"), &limits).map_err(|e| e.kind()),
        Err("too-large")
    );
    assert_eq!(probe(&dir().join("empty.jpg"), &limits), Err(Skip::Empty));
    assert_eq!(
        probe(&dir().join("html.jpg"), &limits).map_err(|e| e.kind()),
        Err("not-an-image")
    );
    // A chunk declaring more bytes than the file holds is refused before any decoder reads it
    // (image-webp would allocate the declared 3.4 GB for the EXIF orientation).
    let overrun = probe(&dir().join("webp_exif_overrun.webp"), &limits).expect_err("overrun");
    assert_eq!(overrun.kind(), "corrupt", "{overrun}");
    assert!(overrun.to_string().contains("\"EXIF\""), "{overrun}");
    let message = bomb.expect_err("too large").to_string();
    assert!(
        message.contains("60000x60000") && !message.contains("bomb.png"),
        "{message}"
    );
}

#[test]
fn file_system_failures() {
    let limits = DecodeLimits::default();
    let missing = dir().join("no-such-file.jpg");
    assert_eq!(decode_file(&missing, &limits, None), Err(Skip::Missing));
    assert_eq!(probe(&missing, &limits), Err(Skip::Missing));
    assert_eq!(
        decode_file(&dir(), &limits, None).map_err(|e| e.kind()),
        Err("unreadable")
    );
    let small = DecodeLimits {
        max_file_bytes: 100,
        ..limits
    };
    let big = decode_file(&dir().join("png_rgb.png"), &small, None);
    assert_eq!(big.map_err(|e| e.kind()), Err("too-large"));
    let few_pixels = DecodeLimits {
        max_pixels: 36 * 23,
        ..limits
    };
    for file in [
        "png_rgb.png",
        "jpeg_420.jpg",
        "gif_grey.gif",
        "webp_lossy.webp",
        "tiff_rgb.tiff",
        "bmp_rgb.bmp",
    ] {
        let got = decode_file(&dir().join(file), &few_pixels, None);
        assert_eq!(
            got,
            Err(Skip::TooLarge {
                width: 37,
                height: 23,
                limit: 36 * 23
            }),
            "{file}"
        );
    }
}

#[cfg(unix)]
#[test]
fn permission_denied_is_unreadable() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = std::env::temp_dir().join(format!("rateme-pixels-perm-{}.png", std::process::id()));
    std::fs::copy(dir().join("png_rgb.png"), &tmp).expect("copy");
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    let readable_anyway = std::fs::read(&tmp).is_ok(); // root reads everything
    let got = decode_file(&tmp, &DecodeLimits::default(), None);
    std::fs::remove_file(&tmp).expect("cleanup");
    if readable_anyway {
        eprintln!("running as root: permission bits are not enforced, skipping");
        return;
    }
    assert_eq!(got.map_err(|e| e.kind()), Err("unreadable"));
}

#[test]
fn jpeg_dct_downscaling_keeps_the_longer_side() {
    let limits = DecodeLimits::default();
    for (min_side, want) in [
        (None, (37, 23)),
        (Some(19), (19, 12)),
        (Some(10), (10, 6)),
        (Some(5), (5, 3)),
        (Some(1), (5, 3)),
    ] {
        let got = decode_file(&dir().join("jpeg_444.jpg"), &limits, min_side).expect("decodes");
        assert_eq!(got.dimensions(), want, "min_side {min_side:?}");
    }
    // Orientation is applied after scaling: a 90° EXIF rotation swaps the sides.
    let rotated = decode_file(&dir().join("jpeg_orient6.jpg"), &limits, Some(10)).expect("decodes");
    assert_eq!(rotated.dimensions(), (6, 10));
    // A scaled decode is a downscaled version of the full one: compare with a 2×2 box filter.
    let full = decode_file(&dir().join("jpeg_444.jpg"), &limits, None).expect("decodes");
    let half = decode_file(&dir().join("jpeg_444.jpg"), &limits, Some(19)).expect("decodes");
    let (mut sum, mut n) = (0f64, 0f64);
    for (x, y, p) in half.enumerate_pixels() {
        if 2 * x + 1 >= full.width() || 2 * y + 1 >= full.height() {
            continue;
        }
        for c in 0..3 {
            let box_mean = [(0, 0), (1, 0), (0, 1), (1, 1)]
                .iter()
                .map(|(dx, dy)| f64::from(full.get_pixel(2 * x + dx, 2 * y + dy)[c]))
                .sum::<f64>()
                / 4.0;
            sum += (box_mean - f64::from(p[c])).abs();
            n += 1.0;
        }
    }
    assert!(
        sum / n < 6.0,
        "mean difference to a box-filtered full decode: {}",
        sum / n
    );
}
