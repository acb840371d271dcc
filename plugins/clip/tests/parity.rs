//! CLIP's image tower against open_clip 3.3 (`-quickgelu`, OpenAI's names) and transformers
//! 5.24 (`CLIPVisionModel`, `CLIPModel`; with and without the `vision_model.` prefix) from
//! `scripts/backbone-fixtures.sh`: small towers with random weights, with and without the
//! projection, features within 1e-4 through the real loader; full-size parameter counts equal
//! the references'.

use rateme_clip::{CLIP_MEAN, ClipOptions, build, schemes};
use rateme_parity::{check_cases, check_spared_from_decay, context, fixtures, json};
use rateme_sdk::prelude::*;
use serde_json::Value;

fn backbone(variant: &str, options: &Value) -> Backbone {
    let options: ClipOptions = serde_json::from_value(options.clone()).unwrap();
    build(&context(variant), options).unwrap()
}

#[test]
fn features_match_open_clip_and_transformers() {
    let dir = fixtures(env!("CARGO_MANIFEST_DIR"));
    // Left over: the text tower (and the projection where the case does not project).
    let n = check_cases(&dir, backbone, &schemes::all(), |name| {
        !name.starts_with("visual.") && !name.starts_with("vision_model.") || name == "visual.proj"
    });
    assert!(n >= 5);
}

#[test]
fn full_size_parameter_counts_equal_the_references() {
    let counts = json(&fixtures(env!("CARGO_MANIFEST_DIR")).join("param_counts.json"));
    for variant in ["vit-b32", "vit-b16", "vit-l14"] {
        let projected = backbone(variant, &serde_json::json!({ "projection": true }));
        let bare = backbone(variant, &serde_json::json!({}));
        assert_eq!(
            projected.part_ref().num_params() as u64,
            counts["open_clip"][variant]["with_projection"]
                .as_u64()
                .unwrap(),
            "open_clip {variant}"
        );
        assert_eq!(
            bare.part_ref().num_params() as u64,
            counts["huggingface"][variant]["vision_model"]
                .as_u64()
                .unwrap(),
            "transformers {variant}"
        );
        assert_eq!(
            projected.num_features() as u64,
            counts["open_clip"][variant]["output_dim"].as_u64().unwrap()
        );
    }
    assert_eq!(
        counts["open_clip"]["vit-b32"]["with_projection"].as_u64(),
        Some(87_849_216)
    );
    assert_eq!(
        counts["huggingface"]["vit-b32"]["vision_model"].as_u64(),
        Some(87_456_000)
    );
}

#[test]
fn declares_clips_normalisation_and_width() {
    let bb = backbone("vit-b32", &serde_json::json!({}));
    assert_eq!(bb.num_features(), 768);
    assert_eq!(bb.input_spec().mean, CLIP_MEAN);
    assert_eq!(bb.input_spec().height, 224);
}

#[test]
fn sparing_norm_and_bias_from_weight_decay_also_spares_the_embeddings_as_timm_does() {
    let mut bb = backbone("vit-b32", &serde_json::json!({}));
    check_spared_from_decay(&mut bb, &["class_embedding", "pos_embedding"]);
}
