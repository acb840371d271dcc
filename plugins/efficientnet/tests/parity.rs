//! EfficientNet against its references, through the SDK's weight loader: features equal the
//! reference's within 1e-4 (fixtures from `scripts/efficientnet-fixtures.sh`: EfficientNet-PyTorch
//! 0.7.1 and torchvision 0.26 with random weights and randomised batch-norm statistics, in both
//! naming schemes and in safetensors, zip and legacy-pickle files), and full-size parameter
//! counts equal the references'.

use std::path::{Path, PathBuf};

use rateme_efficientnet::{EfficientNetOptions, build, schemes};
use rateme_sdk::prelude::*;
use rateme_sdk::weights::{FileTensor, load_pretrained, read_weights};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn options(v: &Value) -> EfficientNetOptions {
    serde_json::from_value(v.clone()).unwrap()
}

fn backbone(variant: &str, options: EfficientNetOptions) -> Backbone {
    let ctx = BuildContext {
        device: Device::default(),
        seed: 0,
        variant: variant.to_owned(),
    };
    build(&ctx, options).unwrap()
}

fn tensor_named<'a>(tensors: &'a [FileTensor], name: &str) -> &'a FileTensor {
    tensors
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no `{name}`"))
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn features_match_the_references_in_both_naming_schemes() {
    let cases = json(&fixtures().join("cases.json"));
    let cases = cases.as_array().unwrap();
    assert!(cases.len() >= 4);
    let mut failures: Vec<String> = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let mut bb = backbone(case["variant"].as_str().unwrap(), options(&case["options"]));
        assert_eq!(
            bb.part_ref().num_params() as u64,
            case["backbone_params"].as_u64().unwrap(),
            "{name}: parameter count"
        );
        let file = read_weights(&fixtures().join(case["weights"].as_str().unwrap())).unwrap();
        let report = load_pretrained(bb.part(), name, &file, &schemes::all(), None, false)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            report.matching.scheme,
            case["scheme"].as_str().unwrap(),
            "{report}"
        );
        // Only the reference's classifier is left over.
        assert!(
            report
                .matching
                .unexpected
                .iter()
                .all(|t| t.name.starts_with("_fc.") || t.name.starts_with("classifier.")),
            "{report}"
        );

        let io = read_weights(&fixtures().join(case["io"].as_str().unwrap())).unwrap();
        let input = tensor_named(&io.tensors, "input");
        let want = tensor_named(&io.tensors, "features");
        bb.part().set_training(false);
        let x: Tensor<4> = Tensor::from_data(input.data.clone(), &Device::default());
        let got = bb.forward_features(x).into_data();
        assert_eq!(got.shape().to_vec(), want.shape, "{name}");
        let diff = max_abs_diff(
            &got.try_to_vec::<f32>().unwrap(),
            &want.data.try_to_vec::<f32>().unwrap(),
        );
        eprintln!(
            "{name}: max abs difference {diff:.2e} ({})",
            report.matching.scheme
        );
        if diff >= 1e-4 {
            failures.push(format!("{name}: max abs difference {diff}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn full_size_parameter_counts_equal_the_references() {
    let counts = json(&fixtures().join("param_counts.json"));
    for variant in ["b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7"] {
        for (flavour, library, classifier) in [
            ("torchvision", "torchvision", "classifier"),
            ("efficientnet-pytorch", "efficientnet-pytorch", "fc"),
        ] {
            let want = &counts[library][variant];
            let bb = backbone(variant, options(&serde_json::json!({ "flavour": flavour })));
            let features = bb.num_features();
            let head = want[classifier].as_u64().unwrap();
            assert_eq!(
                head,
                (features * 1000 + 1000) as u64,
                "{library} {variant} classifier"
            );
            assert_eq!(
                bb.part_ref().num_params() as u64 + head,
                want["total"].as_u64().unwrap(),
                "{library} {variant}"
            );
        }
    }
    // The brief's anchor: torchvision's B5 with its classifier.
    assert_eq!(
        counts["torchvision"]["b5"]["total"].as_u64(),
        Some(30_389_784)
    );
}

#[test]
fn variants_declare_input_size_normalisation_and_stages() {
    let b5 = backbone("b5", options(&serde_json::json!({})));
    assert_eq!((b5.input_spec().height, b5.input_spec().width), (456, 456));
    assert_eq!(b5.input_spec().mean, InputSpec::IMAGENET_MEAN);
    let names: Vec<&str> = b5.stages().iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "stem", "stage:1", "stage:2", "stage:3", "stage:4", "stage:5", "stage:6", "stage:7",
            "head"
        ]
    );
    let lite = backbone("lite0", options(&serde_json::json!({})));
    assert_eq!(lite.input_spec().height, 224);
    assert_eq!(lite.num_features(), 1280);
}
