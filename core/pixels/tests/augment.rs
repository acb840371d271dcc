//! rateme's augmentation against torchvision (fixtures written by scripts/augment-fixtures.sh
//! with the project's pinned PyTorch): the colour operations with given factors, the
//! RandomResizedCrop box for given draws, the direction of a rotation.

use image::RgbImage;
use rateme_pixels::colour::{adjust_brightness, adjust_contrast, adjust_hue, adjust_saturation};
use rateme_pixels::geometry::{CropBox, center_crop_box, resized_crop_box};
use rateme_pixels::{Augment, ColourOp, Draws, PixelSpec};
use serde_json::Value;

fn fixtures() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/augment/torchvision.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json")
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

fn bytes(v: &Value) -> Vec<u8> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("byte") as u8)
        .collect()
}

fn usize_of(v: &Value) -> usize {
    v.as_u64().expect("integer") as usize
}

/// A CHW u8 list as an image.
fn rgb(chw: &[u8], width: usize, height: usize) -> RgbImage {
    let plane = width * height;
    RgbImage::from_fn(width as u32, height as u32, |x, y| {
        let p = y as usize * width + x as usize;
        image::Rgb([chw[p], chw[plane + p], chw[2 * plane + p]])
    })
}

/// Largest difference, and whether every value has the same bits.
fn compare(ours: &[f32], theirs: &[f32]) -> (f32, bool) {
    assert_eq!(ours.len(), theirs.len());
    let max = ours
        .iter()
        .zip(theirs)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    let same = ours
        .iter()
        .zip(theirs)
        .all(|(a, b)| a.to_bits() == b.to_bits());
    (max, same)
}

#[test]
fn colour_operations_equal_torchvision() {
    let doc = fixtures();
    let cases = doc["colour"].as_array().expect("colour cases");
    assert!(cases.len() >= 10);
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let input = bytes(&case["input"]);
        let mut x: Vec<f32> = input.iter().map(|&v| f32::from(v) / 255.0).collect();
        let steps = case["steps"].as_array().expect("steps");
        for step in steps {
            let factor = step[1].as_f64().expect("factor");
            match step[0].as_str().expect("op") {
                "brightness" => adjust_brightness(&mut x, factor),
                "contrast" => adjust_contrast(&mut x, factor),
                "saturation" => adjust_saturation(&mut x, factor),
                "hue" => adjust_hue(&mut x, factor),
                other => panic!("unknown op {other}"),
            }
        }
        let expected = floats(&case["output"]);
        let (max, same) = compare(&x, &expected);
        let has_contrast = steps.iter().any(|s| s[0] == "contrast");
        if has_contrast {
            // The mean grey level is summed in another order than torch's.
            assert!(max <= 2e-7, "{name}: max difference {max}");
        } else {
            assert!(same, "{name}: not bit-identical, max difference {max}");
        }
    }
}

#[test]
fn the_whole_pipeline_with_identity_geometry_runs_the_colour_steps_in_order() {
    let doc = fixtures();
    for case in doc["colour"].as_array().expect("colour cases") {
        let steps = case["steps"].as_array().expect("steps");
        if steps.len() != 4 {
            continue;
        }
        let (w, h) = (usize_of(&case["width"]), usize_of(&case["height"]));
        let img = rgb(&bytes(&case["input"]), w, h);
        let mut draws = Draws {
            crop: center_crop_box((w as u32, h as u32), (w as u32, h as u32)),
            flip: false,
            angle_deg: 0.0,
            translate: (0, 0),
            order: [ColourOp::Brightness; 4],
            brightness: 1.0,
            contrast: 1.0,
            saturation: 1.0,
            hue: 0.0,
        };
        for (k, step) in steps.iter().enumerate() {
            let factor = step[1].as_f64().expect("factor");
            draws.order[k] = match step[0].as_str().expect("op") {
                "brightness" => {
                    draws.brightness = factor;
                    ColourOp::Brightness
                }
                "contrast" => {
                    draws.contrast = factor;
                    ColourOp::Contrast
                }
                "saturation" => {
                    draws.saturation = factor;
                    ColourOp::Saturation
                }
                _ => {
                    draws.hue = factor;
                    ColourOp::Hue
                }
            };
        }
        let aug = Augment {
            brightness: 0.5,
            contrast: 0.5,
            saturation: 0.5,
            hue: 0.5,
            ..Augment::IDENTITY
        };
        let spec = PixelSpec {
            width: w as u32,
            height: h as u32,
            mean: [0.0; 3],
            std: [1.0; 3],
        };
        let mut out = vec![0f32; 3 * w * h];
        Augment::apply_draws(&aug, &draws, &img, &spec, &mut out);
        let (max, _) = compare(&out, &floats(&case["output"]));
        assert!(max <= 2e-7, "{}: max difference {max}", case["name"]);
    }
}

#[test]
fn resized_crop_boxes_equal_torchvision_for_the_same_draws() {
    let doc = fixtures();
    let cases = doc["resized_crop"].as_array().expect("resized_crop cases");
    assert!(cases.len() >= 20);
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let pair = |v: &Value| [v[0].as_f64().expect("f64"), v[1].as_f64().expect("f64")];
        let draws: Vec<f64> = case["draws"]
            .as_array()
            .expect("draws")
            .iter()
            .map(|v| v.as_f64().expect("draw"))
            .collect();
        let mut next = draws.iter().copied();
        let mut used = 0;
        let bx = resized_crop_box(
            (
                case["width"].as_u64().expect("w") as u32,
                case["height"].as_u64().expect("h") as u32,
            ),
            pair(&case["scale"]),
            pair(&case["ratio"]),
            &mut || {
                used += 1;
                next.next().expect("enough draws")
            },
        );
        let b = &case["box"];
        let expected = CropBox {
            top: b[0].as_i64().expect("top"),
            left: b[1].as_i64().expect("left"),
            height: b[2].as_u64().expect("height") as u32,
            width: b[3].as_u64().expect("width") as u32,
        };
        assert_eq!(bx, expected, "{name}");
        assert_eq!(used, usize_of(&case["used"]), "{name}: draws taken");
    }
}

#[test]
fn rotation_turns_the_way_torchvision_does() {
    let doc = fixtures();
    for case in doc["rotate"].as_array().expect("rotate cases") {
        let (w, h) = (usize_of(&case["width"]), usize_of(&case["height"]));
        let img = rgb(&bytes(&case["input"]), w, h);
        let draws = Draws {
            crop: center_crop_box((w as u32, h as u32), (w as u32, h as u32)),
            flip: false,
            angle_deg: case["angle"].as_f64().expect("angle"),
            translate: (0, 0),
            order: [ColourOp::Brightness; 4],
            brightness: 1.0,
            contrast: 1.0,
            saturation: 1.0,
            hue: 0.0,
        };
        let spec = PixelSpec {
            width: w as u32,
            height: h as u32,
            mean: [0.0; 3],
            std: [1.0; 3],
        };
        let mut out = vec![0f32; 3 * w * h];
        Augment::apply_draws(&Augment::IDENTITY, &draws, &img, &spec, &mut out);
        let (max, _) = compare(&out, &floats(&case["output"]));
        assert!(max <= 1e-6, "{}: max difference {max}", case["name"]);
    }
}
