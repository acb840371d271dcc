//! ConvNeXt against torchvision 0.26 and timm 1.0 (fixtures from `scripts/backbone-fixtures.sh`:
//! small models with random weights, random layer scales and norms, in both naming schemes and
//! in safetensors, zip and legacy-pickle files): features within 1e-4 through the real loader,
//! with and without the classifier's norm; full-size parameter counts equal the references'.

use rateme_convnext::{ConvNextOptions, build, schemes};
use rateme_parity::{check_cases, context, fixtures, json};
use rateme_sdk::prelude::*;
use serde_json::Value;

fn backbone(variant: &str, options: &Value) -> Backbone {
    let options: ConvNextOptions = serde_json::from_value(options.clone()).unwrap();
    build(&context(variant), options).unwrap()
}

#[test]
fn features_match_torchvision_and_timm() {
    let dir = fixtures(env!("CARGO_MANIFEST_DIR"));
    // Only the references' classifier is left over (and its norm where the case drops it).
    let n = check_cases(&dir, backbone, &schemes::all(), |name| {
        name.starts_with("classifier.") || name.starts_with("head.")
    });
    assert!(n >= 3);
}

#[test]
fn full_size_parameter_counts_equal_the_references() {
    let counts = json(&fixtures(env!("CARGO_MANIFEST_DIR")).join("param_counts.json"));
    for variant in ["tiny", "small", "base", "large"] {
        let bb = backbone(variant, &serde_json::json!({}));
        for library in ["torchvision", "timm"] {
            let want = &counts[library][variant];
            let classifier = want["classifier"].as_u64().unwrap();
            assert_eq!(classifier, (bb.num_features() * 1000 + 1000) as u64);
            assert_eq!(
                bb.part_ref().num_params() as u64 + classifier,
                want["total"].as_u64().unwrap(),
                "{library} {variant}"
            );
        }
        let bare = backbone(variant, &serde_json::json!({ "head_norm": false }));
        assert_eq!(
            (bb.part_ref().num_params() - bare.part_ref().num_params()) as u64,
            counts["torchvision"][variant]["head_norm"]
                .as_u64()
                .unwrap()
        );
    }
    assert_eq!(
        counts["torchvision"]["base"]["total"].as_u64(),
        Some(88_591_464)
    );
}

#[test]
fn variants_declare_input_normalisation_and_stages() {
    let base = backbone("base", &serde_json::json!({}));
    assert_eq!(base.num_features(), 1024);
    assert_eq!(
        (base.input_spec().height, base.input_spec().width),
        (224, 224)
    );
    assert_eq!(base.input_spec().mean, InputSpec::IMAGENET_MEAN);
    let names: Vec<&str> = base.stages().iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["stem", "stage:1", "stage:2", "stage:3", "stage:4", "head"]
    );
    let mut small = backbone(
        "tiny",
        &serde_json::json!({ "depths": [1, 1, 1, 1], "dims": [8, 8, 8, 8], "input_size": 64 }),
    );
    let all = small.part_ref().num_trainable_params();
    small.freeze_through("stage:4").unwrap();
    // What is left to train: the head's norm, 8 weights and 8 biases.
    assert_eq!(small.part_ref().num_trainable_params(), 16, "of {all}");
}
