//! Parity of a backbone plugin with its reference implementation, from fixtures the reference
//! wrote (see the README).

use std::path::{Path, PathBuf};

use rateme_sdk::OptimizerSettings;
use rateme_sdk::prelude::*;
use rateme_sdk::weights::{FileTensor, load_pretrained, read_weights};
use serde_json::Value;

/// Features must equal the reference's within this (max abs difference).
pub const TOLERANCE: f32 = 1e-4;

/// A crate's `tests/fixtures` folder (pass `env!("CARGO_MANIFEST_DIR")`).
pub fn fixtures(manifest_dir: &str) -> PathBuf {
    Path::new(manifest_dir).join("tests/fixtures")
}

/// A JSON file.
pub fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}; run the fixture script", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The build context of a test: default device, seed 0, `variant`.
pub fn context(variant: &str) -> BuildContext {
    BuildContext {
        device: Device::default(),
        seed: 0,
        variant: variant.to_owned(),
    }
}

/// The tensor named `name`.
pub fn named<'a>(tensors: &'a [FileTensor], name: &str) -> &'a FileTensor {
    tensors
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no tensor `{name}`"))
}

/// Largest absolute difference of two equally long slices.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Pooled features of the io file's `input` in evaluation mode, and the reference's.
pub fn features(bb: &mut Backbone, io: &Path) -> (Vec<usize>, Vec<f32>, Vec<usize>, Vec<f32>) {
    let io = read_weights(io).unwrap_or_else(|e| panic!("{e}"));
    let input = named(&io.tensors, "input");
    let want = named(&io.tensors, "features");
    bb.part().set_training(false);
    let x: Tensor<4> = Tensor::from_data(input.data.clone(), &Device::default());
    let got = bb.forward_features(x).into_data();
    (
        got.shape().to_vec(),
        got.try_to_vec::<f32>().expect("f32"),
        want.shape.clone(),
        want.data.try_to_vec::<f32>().expect("f32"),
    )
}

/// Checks every case of `dir/cases.json`: `build(variant, options)` makes the backbone, whose
/// parameter count must equal `backbone_params`; the weights file loads completely with the
/// case's `scheme` chosen among `schemes`, leaving unused only tensors `unused_ok` accepts (the
/// reference's classifier, another tower); features equal the reference's within
/// [`TOLERANCE`]. Panics listing every failing case; returns the number of cases.
pub fn check_cases(
    dir: &Path,
    build: impl Fn(&str, &Value) -> Backbone,
    schemes: &[NamingScheme],
    unused_ok: impl Fn(&str) -> bool,
) -> usize {
    let cases = json(&dir.join("cases.json"));
    let cases = cases.as_array().expect("cases.json holds a list");
    let mut failures: Vec<String> = Vec::new();
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let mut bb = build(case["variant"].as_str().expect("variant"), &case["options"]);
        let params = bb.part_ref().num_params() as u64;
        let want_params = case["backbone_params"].as_u64().expect("backbone_params");
        if params != want_params {
            failures.push(format!(
                "{name}: {params} parameters, reference {want_params}"
            ));
        }
        let file = read_weights(&dir.join(case["weights"].as_str().expect("weights")))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let report = match load_pretrained(bb.part(), name, &file, schemes, None, false) {
            Ok(report) => report,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let scheme = case["scheme"].as_str().expect("scheme");
        if report.matching.scheme != scheme {
            failures.push(format!(
                "{name}: chose `{}`, want `{scheme}`",
                report.matching.scheme
            ));
        }
        let stray: Vec<&str> = report
            .matching
            .unexpected
            .iter()
            .map(|t| t.name.as_str())
            .filter(|n| !unused_ok(n))
            .collect();
        if !stray.is_empty() {
            failures.push(format!("{name}: unused tensors {stray:?}"));
        }
        let io = dir.join(case["io"].as_str().expect("io"));
        let (shape, got, want_shape, want) = features(&mut bb, &io);
        if shape != want_shape {
            failures.push(format!(
                "{name}: features {shape:?}, reference {want_shape:?}"
            ));
            continue;
        }
        let diff = max_abs_diff(&got, &want);
        eprintln!("{name}: max abs difference {diff:.2e} (scheme {scheme})");
        if diff >= TOLERANCE {
            failures.push(format!("{name}: max abs difference {diff}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    cases.len()
}

/// Checks timm's fine-tuning rule for weight decay on `bb`: with
/// `decay_norm_and_bias = false`, the optimizer spares every one-dimensional parameter (biases,
/// norm `gamma`/`beta`) and the `declared` paths (timm's `no_weight_decay()`), and nothing else.
pub fn check_spared_from_decay(bb: &mut Backbone, declared: &[&str]) {
    let settings: OptimizerSettings = serde_json::from_value(
        serde_json::json!({ "name": "adamw", "decay_norm_and_bias": false }),
    )
    .expect("settings");
    bb.part().configure_optimizer(&settings);
    let spared = bb.part_ref().spared_from_decay();
    for path in declared {
        assert!(spared.iter().any(|p| p == path), "{path}: {spared:?}");
    }
    let one_dimensional = |p: &str| ["bias", "gamma", "beta"].iter().any(|s| p.ends_with(s));
    assert!(
        spared
            .iter()
            .all(|p| one_dimensional(p) || declared.contains(&p.as_str())),
        "{spared:?}"
    );
    assert!(spared.len() > declared.len() + 10, "{spared:?}");
}
