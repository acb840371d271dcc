//! ViT against torchvision 0.26 and timm 1.0 (fixtures from `scripts/backbone-fixtures.sh`:
//! small models with random weights, in both naming schemes, torchvision's pre-0.13 MLP names,
//! and position embeddings trained on another grid, resized on load up and down as
//! `F.interpolate(mode="bicubic", align_corners=False)` does): features within 1e-4 through the
//! real loader; full-size parameter counts equal the references'.

use rateme_parity::{check_cases, check_spared_from_decay, context, fixtures, json};
use rateme_sdk::prelude::*;
use rateme_vit::{VitOptions, build, schemes};
use serde_json::Value;

fn backbone(variant: &str, options: &Value) -> Backbone {
    let options: VitOptions = serde_json::from_value(options.clone()).unwrap();
    build(&context(variant), options).unwrap()
}

#[test]
fn features_match_torchvision_and_timm_at_any_grid() {
    let dir = fixtures(env!("CARGO_MANIFEST_DIR"));
    let n = check_cases(&dir, backbone, &schemes::all(), |name| {
        name.starts_with("heads.") || name.starts_with("head.")
    });
    assert!(n >= 6);
}

#[test]
fn full_size_parameter_counts_equal_the_references() {
    let counts = json(&fixtures(env!("CARGO_MANIFEST_DIR")).join("param_counts.json"));
    for variant in ["ti16", "ti32", "s16", "s32", "b16", "b32", "l16", "l32"] {
        let bb = backbone(variant, &serde_json::json!({}));
        for library in ["torchvision", "timm"] {
            let want = &counts[library][variant];
            if want.is_null() {
                continue; // torchvision has no Ti or S
            }
            assert_eq!(
                bb.part_ref().num_params() as u64 + want["classifier"].as_u64().unwrap(),
                want["total"].as_u64().unwrap(),
                "{library} {variant}"
            );
        }
    }
    assert_eq!(
        counts["torchvision"]["b16"]["total"].as_u64(),
        Some(86_567_656)
    );
}

#[test]
fn the_grid_follows_the_input_size() {
    // RateMeAI's ViT-B/16 at 456: a 28×28 grid and the class token, 785 tokens.
    let bb = backbone("b16", &serde_json::json!({ "input_size": 456 }));
    let pos = bb
        .part_ref()
        .tensor_layout()
        .into_iter()
        .find(|t| t.name == "pos_embedding")
        .unwrap();
    assert_eq!(pos.shape, [1, 785, 768]);
    assert_eq!(bb.input_spec().height, 456);
    let names: Vec<String> = bb.stages().iter().map(|s| s.name.clone()).collect();
    assert_eq!(names.first().map(String::as_str), Some("embed"));
    assert_eq!(names.get(12).map(String::as_str), Some("block:12"));
    assert_eq!(names.last().map(String::as_str), Some("head"));
}

#[test]
fn sparing_norm_and_bias_from_weight_decay_also_spares_the_embeddings_as_timm_does() {
    let mut bb = backbone("ti16", &serde_json::json!({}));
    check_spared_from_decay(&mut bb, &["class_token", "pos_embedding"]);
}
