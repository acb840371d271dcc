//! The heads against their Python references (fixtures from `scripts/head-fixtures.sh`: RateMeAI's
//! ComplexHead inside each of its three models' wrappers, LAION's MLP), loaded through the SDK's
//! weight loader from the references' own state-dict names: outputs within 1e-4 in evaluation
//! mode, and the full-size widths and parameter counts.

use std::path::PathBuf;

use rateme_heads::attention_mlp::{self, AttentionMlpOptions};
use rateme_heads::mlp::{self, MlpOptions};
use rateme_parity::{json, named};
use rateme_sdk::prelude::*;
use rateme_sdk::weights::{load_pretrained, read_weights};
use serde_json::Value;

fn fixtures() -> PathBuf {
    rateme_parity::fixtures(env!("CARGO_MANIFEST_DIR"))
}

fn ctx() -> BuildContext {
    rateme_parity::context("")
}

fn head(kind: &str, in_features: usize, options: &Value) -> (Head, Vec<NamingScheme>) {
    match kind {
        "attention-mlp" => {
            let o: AttentionMlpOptions = serde_json::from_value(options.clone()).unwrap();
            (
                attention_mlp::build(&ctx(), in_features, o).unwrap(),
                attention_mlp::schemes(),
            )
        }
        "mlp" => {
            let o: MlpOptions = serde_json::from_value(options.clone()).unwrap();
            (mlp::build(&ctx(), in_features, o).unwrap(), mlp::schemes())
        }
        other => panic!("unknown head {other}"),
    }
}

#[test]
fn outputs_match_the_references() {
    let cases = json(&fixtures().join("cases.json"));
    let cases = cases.as_array().unwrap();
    assert!(cases.len() >= 4);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let in_features = case["in_features"].as_u64().unwrap() as usize;
        let (mut h, schemes) = head(
            case["head"].as_str().unwrap(),
            in_features,
            &case["options"],
        );
        let file = read_weights(&fixtures().join(case["weights"].as_str().unwrap())).unwrap();
        let report = load_pretrained(h.part(), name, &file, &schemes, None, false)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(report.matching.unexpected.is_empty(), "{report}");
        let io = read_weights(&fixtures().join(case["io"].as_str().unwrap())).unwrap();
        h.part().set_training(false);
        let x: Tensor<2> =
            Tensor::from_data(named(&io.tensors, "input").data.clone(), &Device::default());
        let got = h.forward(x).into_data().try_to_vec::<f32>().unwrap();
        let want = named(&io.tensors, "output")
            .data
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(got.len(), want.len(), "{name}");
        let diff = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(diff < 1e-4, "{name}: max abs difference {diff}");
        eprintln!("{name}: max abs difference {diff:.2e}");
    }
}

#[test]
fn full_size_widths_and_parameter_counts_equal_ratemeai() {
    let counts = json(&fixtures().join("head_param_counts.json"));
    for (in_features, dims, params) in [
        (2048, [2048, 1024, 512, 256, 128, 1], 3_136_513u64),
        (768, [768, 467, 284, 173, 105, 1], 684_349),
        (4096, [4096, 1783, 776, 338, 147, 1], 9_747_967),
    ] {
        assert_eq!(attention_mlp::widths(in_features), dims);
        let (h, _) = head("attention-mlp", in_features, &serde_json::json!({}));
        assert_eq!(h.part_ref().num_params() as u64, params, "{in_features}");
        assert_eq!(
            counts["complex_head"][in_features.to_string()]["params"].as_u64(),
            Some(params),
            "the reference's count"
        );
    }
    let (clip, _) = head(
        "attention-mlp",
        768,
        &serde_json::json!({"front": "layernorm"}),
    );
    let (convnext, _) = head(
        "attention-mlp",
        1024,
        &serde_json::json!({"front": "convnext"}),
    );
    assert_eq!(
        clip.part_ref().num_params() as u64,
        counts["clip_front_768"]["params"].as_u64().unwrap()
    );
    assert_eq!(
        convnext.part_ref().num_params() as u64,
        counts["convnext_front_1024"]["params"].as_u64().unwrap()
    );
    for width in [768usize, 1024] {
        let (m, _) = head("mlp", width, &serde_json::json!({}));
        assert_eq!(
            m.part_ref().num_params() as u64,
            counts["mlp"][width.to_string()]["params"].as_u64().unwrap()
        );
    }
}

#[test]
fn ratemeai_init_is_kaiming_normal_on_the_fan_out_with_zero_bias() {
    let device = Device::default();
    device.seed(7);
    let options: AttentionMlpOptions = serde_json::from_value(serde_json::json!({})).unwrap();
    let model = attention_mlp::build_model(2048, &options, &device).unwrap();
    for (name, linear, fan_out) in [
        ("block1", &model.block1.linear, 1024.0f64),
        ("block2", &model.block2.linear, 512.0),
        ("skip1_3", &model.skip1_3.linear, 256.0),
    ] {
        let w = linear.weight.val().into_data().try_to_vec::<f32>().unwrap();
        let n = w.len() as f64;
        let mean = w.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let std = (w
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n)
            .sqrt();
        let want = (2.0 / fan_out).sqrt();
        assert!(
            (std / want - 1.0).abs() < 0.02,
            "{name}: std {std} vs {want}"
        );
        assert!(mean.abs() < 0.05 * want, "{name}: mean {mean}");
        let b = linear
            .bias
            .as_ref()
            .unwrap()
            .val()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert!(b.iter().all(|&v| v == 0.0), "{name}: bias not zero");
    }
}
