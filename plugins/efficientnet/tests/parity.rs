//! EfficientNet against its references, through the SDK's weight loader: features equal the
//! reference's within 1e-4 (fixtures from `scripts/efficientnet-fixtures.sh`: EfficientNet-PyTorch
//! 0.7.1 and torchvision 0.26 with random weights and randomised batch-norm statistics, in both
//! naming schemes and in safetensors, zip and legacy-pickle files), and full-size parameter
//! counts equal the references'.

use rateme_efficientnet::{EfficientNetOptions, build, schemes};
use rateme_parity::{check_cases, context, fixtures, json};
use rateme_sdk::prelude::*;
use serde_json::Value;

fn options(v: &Value) -> EfficientNetOptions {
    serde_json::from_value(v.clone()).unwrap()
}

fn backbone(variant: &str, options: EfficientNetOptions) -> Backbone {
    build(&context(variant), options).unwrap()
}

#[test]
fn features_match_the_references_in_both_naming_schemes() {
    let dir = fixtures(env!("CARGO_MANIFEST_DIR"));
    // Only the reference's classifier is left over.
    let n = check_cases(
        &dir,
        |variant, o| backbone(variant, options(o)),
        &schemes::all(),
        |name| name.starts_with("_fc.") || name.starts_with("classifier."),
    );
    assert!(n >= 4);
}

#[test]
fn full_size_parameter_counts_equal_the_references() {
    let counts = json(&fixtures(env!("CARGO_MANIFEST_DIR")).join("param_counts.json"));
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
