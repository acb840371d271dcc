//! Pretrained weights through the SDK's loader: naming-scheme rules, the report, and that values
//! land where PyTorch had them (a linear weight stored `[out, in]` computes the same outputs).

use std::path::Path;

use rateme_sdk::burn::nn::conv::{Conv2d, Conv2dConfig};
use rateme_sdk::burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
use rateme_sdk::burn::tensor::{DType, TensorData};
use rateme_sdk::prelude::*;
use rateme_sdk::weights::{FileTensor, NamingScheme, WeightsError, load_pretrained, read_weights};

/// Writes a safetensors file by hand (header length, JSON header, little-endian f32 data), as
/// PyTorch's `safetensors.torch.save_file` lays it out.
fn write_safetensors(path: &Path, tensors: &[(&str, Vec<usize>, Vec<f32>)]) {
    let mut header = serde_json::Map::new();
    let mut data = Vec::new();
    for (name, shape, values) in tensors {
        let start = data.len();
        for v in values {
            data.extend_from_slice(&v.to_le_bytes());
        }
        header.insert(
            (*name).to_owned(),
            serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [start, data.len()]}),
        );
    }
    let mut json = serde_json::to_vec(&serde_json::Value::Object(header)).unwrap();
    while !json.len().is_multiple_of(8) {
        json.push(b' ');
    }
    let mut bytes = (json.len() as u64).to_le_bytes().to_vec();
    bytes.extend(json);
    bytes.extend(data);
    std::fs::write(path, bytes).unwrap();
}

#[derive(Module, Debug)]
struct Tiny {
    linear: Linear,
    norm: BatchNorm,
}

impl HeadModel for Tiny {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.norm.forward(self.linear.forward(x))
    }
}

fn tiny() -> Head {
    let device = Device::default();
    Head::new(
        "tiny",
        3,
        Tiny {
            linear: LinearConfig::new(3, 2).init(&device),
            norm: BatchNormConfig::new(2).init(&device),
        },
    )
}

/// A PyTorch `nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))`'s names, nested under
/// `model_state_dict` beside an optimizer state.
fn reference_tensors(
    weight: Vec<f32>,
    weight_shape: Vec<usize>,
) -> Vec<(&'static str, Vec<usize>, Vec<f32>)> {
    vec![
        ("model_state_dict.0.weight", weight_shape, weight),
        ("model_state_dict.0.bias", vec![2], vec![0.5, -0.5]),
        ("model_state_dict.1.weight", vec![2], vec![2.0, 3.0]),
        ("model_state_dict.1.bias", vec![2], vec![0.1, 0.2]),
        ("model_state_dict.1.running_mean", vec![2], vec![1.0, -1.0]),
        ("model_state_dict.1.running_var", vec![2], vec![4.0, 0.25]),
        ("model_state_dict.1.num_batches_tracked", vec![], vec![7.0]),
        ("model_state_dict.2.weight", vec![1, 2], vec![9.0, 9.0]),
        (
            "optimizer_state_dict.state.0.exp_avg",
            vec![2, 3],
            vec![0.0; 6],
        ),
    ]
}

fn sequential_scheme() -> NamingScheme {
    NamingScheme::new("sequential", "a torch nn.Sequential")
        .rename(r"^0\.", "linear.")
        .rename(r"^1\.", "norm.")
}

const W: [f32; 6] = [1.0, 2.0, 3.0, -1.0, 0.0, 1.0];

#[test]
fn pytorch_names_and_layout_load_and_compute_what_pytorch_computes() {
    let dir = tempdir();
    let path = dir.join("seq.safetensors");
    write_safetensors(&path, &reference_tensors(W.to_vec(), vec![2, 3]));
    let file = read_weights(&path).unwrap();
    assert_eq!(file.format, "safetensors");
    assert_eq!(file.container.as_deref(), Some("model_state_dict"));

    let mut head = tiny();
    let report = load_pretrained(
        head.part(),
        "head `tiny`",
        &file,
        &[sequential_scheme()],
        None,
        false,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let m = &report.matching;
    assert_eq!(m.scheme, "sequential");
    assert_eq!(m.applied.len(), 6, "{report}");
    assert_eq!(m.ignored, 1, "num_batches_tracked is bookkeeping");
    assert_eq!(m.unexpected.len(), 1, "{report}");
    assert_eq!(m.unexpected[0].name, "2.weight");
    let text = report.to_string();
    assert!(
        text.contains("6 tensors applied") && text.contains("2.weight [1, 2]"),
        "{text}"
    );

    // PyTorch: y = W x + b with W [out, in]; BatchNorm1d in eval mode.
    head.part().set_training(false);
    let x = [1.0f32, 2.0, 3.0];
    let y = head.forward(Tensor::from_data(
        TensorData::new(x.to_vec(), [1, 3]),
        &Device::default(),
    ));
    let y = y.into_data().try_to_vec::<f32>().unwrap();
    let lin = [
        W[0] * x[0] + W[1] * x[1] + W[2] * x[2] + 0.5,
        W[3] * x[0] + W[4] * x[1] + W[5] * x[2] - 0.5,
    ];
    let want = [
        (lin[0] - 1.0) / (4.0f32 + 1e-5).sqrt() * 2.0 + 0.1,
        (lin[1] + 1.0) / (0.25f32 + 1e-5).sqrt() * 3.0 + 0.2,
    ];
    for (got, want) in y.iter().zip(want) {
        assert!((got - want).abs() < 1e-5, "{y:?} vs {want:?}");
    }
}

#[test]
fn mis_shaped_and_missing_tensors_stop_the_load_unless_partial() {
    let dir = tempdir();
    let path = dir.join("wrong.safetensors");
    let mut tensors = reference_tensors(W.to_vec(), vec![3, 2]);
    tensors.retain(|(name, ..)| *name != "model_state_dict.1.running_var");
    write_safetensors(&path, &tensors);
    let file = read_weights(&path).unwrap();
    let mut head = tiny();
    let err = load_pretrained(
        head.part(),
        "head `tiny`",
        &file,
        &[sequential_scheme()],
        None,
        false,
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, WeightsError::Incomplete(_)), "{text}");
    assert!(
        text.contains("linear.weight expects [2, 3], file's 0.weight has [3, 2]"),
        "{text}"
    );
    assert!(text.contains("missing: norm.running_var [2]"), "{text}");
    assert!(text.contains("pretrained_partial = true"), "{text}");

    let report = load_pretrained(
        head.part(),
        "head `tiny`",
        &file,
        &[sequential_scheme()],
        None,
        true,
    )
    .unwrap();
    assert_eq!(report.matching.applied.len(), 4);
}

#[test]
fn the_scheme_can_be_named_and_an_unknown_one_is_refused() {
    let dir = tempdir();
    let path = dir.join("seq.safetensors");
    write_safetensors(&path, &reference_tensors(W.to_vec(), vec![2, 3]));
    let file = read_weights(&path).unwrap();
    let mut head = tiny();
    let err = load_pretrained(
        head.part(),
        "head `tiny`",
        &file,
        &[sequential_scheme()],
        Some("timm"),
        false,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("it has: rateme, sequential"),
        "{err}"
    );
    // The plugin's own names do not fit this file: nothing applied is an error, not a silent
    // no-op.
    let err = load_pretrained(
        head.part(),
        "head `tiny`",
        &file,
        &[sequential_scheme()],
        Some("rateme"),
        false,
    )
    .unwrap_err();
    assert!(matches!(err, WeightsError::NoMatch { .. }), "{err}");
}

fn tensor(name: &str, shape: &[usize], values: Vec<f32>) -> FileTensor {
    FileTensor {
        name: name.to_owned(),
        source: name.to_owned(),
        stored_dtype: DType::F32,
        shape: shape.to_vec(),
        data: TensorData::new(values, shape.to_vec()),
    }
}

#[test]
fn rules_rename_in_order_and_number_nested_indices() {
    let scheme = NamingScheme::new("t", "test")
        .rename(r"^features\.0\.", "stem.")
        .rename(r"^(features\.[1-2]\.\d+)\.block\.", "$1.")
        .number(r"^features\.(\d+)\.(\d+)\.", "blocks.{n}.");
    let names: Vec<String> = [
        "features.0.weight",
        "features.2.0.block.w",
        "features.1.1.block.w",
        "features.1.0.block.w",
        "features.2.10.w",
        "features.2.9.w",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    assert_eq!(
        scheme.rename_all(&names),
        [
            "stem.weight",
            "blocks.2.w",
            "blocks.1.w",
            "blocks.0.w",
            "blocks.4.w",
            "blocks.3.w"
        ]
    );
}

#[test]
fn transforms_split_join_transpose_reshape() {
    let qkv = tensor(
        "attn.in_proj_weight",
        &[6, 2],
        (0..12).map(|v| v as f32).collect(),
    );
    let split = NamingScheme::new("s", "split")
        .split(
            r"^(.*)\.in_proj_weight$",
            &["$1.q.weight", "$1.k.weight", "$1.v.weight"],
        )
        .apply(std::slice::from_ref(&qkv))
        .unwrap();
    let names: Vec<&str> = split.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["attn.q.weight", "attn.k.weight", "attn.v.weight"]);
    assert_eq!(
        split[1].data.try_to_vec::<f32>().unwrap(),
        [4.0, 5.0, 6.0, 7.0]
    );
    assert!(split.iter().all(|t| t.source == "attn.in_proj_weight"));

    let joined = NamingScheme::new("j", "join")
        .join(
            r"^(.*)\.q\.weight$",
            &["$1.q.weight", "$1.k.weight", "$1.v.weight"],
            "$1.qkv.weight",
        )
        .apply(&split)
        .unwrap();
    assert_eq!(joined.len(), 1);
    assert_eq!(joined[0].name, "attn.qkv.weight");
    assert_eq!(joined[0].shape, [6, 2]);
    assert_eq!(
        joined[0].data.try_to_vec::<f32>().unwrap(),
        qkv.data.try_to_vec::<f32>().unwrap()
    );
    let err = NamingScheme::new("j", "join")
        .join(
            r"^(.*)\.q\.weight$",
            &["$1.q.weight", "$1.x.weight"],
            "$1.qkv.weight",
        )
        .apply(&split)
        .unwrap_err();
    assert!(err.contains("which the file lacks"), "{err}");

    let m = tensor("proj", &[2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let t = NamingScheme::new("t", "t")
        .transpose("^proj$")
        .apply(std::slice::from_ref(&m))
        .unwrap();
    assert_eq!(t[0].shape, [3, 2]);
    assert_eq!(
        t[0].data.try_to_vec::<f32>().unwrap(),
        [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]
    );
    let r = NamingScheme::new("r", "r")
        .reshape("^proj$", &[6])
        .apply(std::slice::from_ref(&m))
        .unwrap();
    assert_eq!(r[0].shape, [6]);
    assert!(
        NamingScheme::new("r", "r")
            .reshape("^proj$", &[4])
            .apply(&[m])
            .is_err()
    );
}

#[derive(Module, Debug)]
struct TwoStage {
    stem: Conv2d,
    body: Conv2d,
}

impl BackboneModel for TwoStage {
    fn forward_features(&self, images: Tensor<4>) -> Tensor<2> {
        self.body.forward(self.stem.forward(images)).flatten(1, 3)
    }
}

#[test]
fn freezing_through_a_stage_stops_exactly_its_parameters() {
    let device = Device::default();
    let model = TwoStage {
        stem: Conv2dConfig::new([3, 4], [1, 1]).init(&device),
        body: Conv2dConfig::new([4, 2], [1, 1]).init(&device),
    };
    let stages = vec![Stage::new("stem", &["stem"]), Stage::new("body", &["body"])];
    let mut backbone =
        Backbone::new("two", "", 2, InputSpec::square_imagenet(1), model).with_stages(stages);
    assert_eq!(backbone.part_ref().num_trainable_params(), 16 + 10);
    backbone.freeze_through("stem").unwrap();
    assert_eq!(backbone.part_ref().num_trainable_params(), 10);
    let err = backbone.freeze_through("stage:9").unwrap_err().to_string();
    assert!(
        err.contains("its stages, input to output: stem, body"),
        "{err}"
    );
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "rateme-sdk-weights-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
